/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line)
 * and prints each result beside its reference and goal. `--json` prints the raw results.
 */
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './harness.ts';

const dir = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const only = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const all: Record<string, BenchResult[]> = {};
for (const f of files) {
  const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run: () => Promise<BenchResult[]> };
  const results = await mod.run();
  all[f] = results;
  if (!json) {
    console.log(`\n${f}`);
    for (const r of results) {
      const ref = r.reference ? `  (ref ${r.reference.name}: ${fmt(r.reference.value)} ${r.unit})` : '';
      const goal = r.goal ? `  goal ${r.goal}: ${r.pass === undefined ? '-' : r.pass ? 'met' : 'NOT met'}` : '';
      console.log(`  ${r.name.padEnd(48)} ${fmt(r.value).padStart(10)} ${r.unit}${ref}${goal}`);
    }
  }
}
if (json) console.log(JSON.stringify(all, null, 2));

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}
