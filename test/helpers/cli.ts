/** Runs the built CLI (bin/krun-whp → dist bundle) as a user would, capturing output and exit code. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'krun-whp');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; uid?: number; gid?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 60_000,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
