/** Small human-output helpers shared by commands: aligned key/value blocks and hex numbers. */
import type { ChalkInstance } from 'chalk';

export function hex(value: number | bigint, width = 0): string {
  return '0x' + value.toString(16).padStart(width, '0');
}

/** Renders `[key, value]` rows with the keys padded to one column. */
export function keyValues(chalk: ChalkInstance, rows: readonly (readonly [string, string])[], indent = 2): string[] {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => ' '.repeat(indent) + chalk.dim(k.padEnd(width)) + '  ' + v);
}

/** Renders a table with a header row; columns padded to their widest cell. */
export function table(chalk: ChalkInstance, header: readonly string[], rows: readonly (readonly string[])[], indent = 2): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const pad = (cell: string, i: number) => cell + ' '.repeat(Math.max(0, widths[i]! - visibleLength(cell)));
  const lines = [' '.repeat(indent) + chalk.bold(header.map(pad).join('  ').trimEnd())];
  for (const r of rows) lines.push(' '.repeat(indent) + r.map(pad).join('  ').trimEnd());
  return lines;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
export function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}
