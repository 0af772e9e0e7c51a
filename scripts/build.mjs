// Bundles src/cli/main.ts into dist/krun-whp.cjs with esbuild, then records V8's
// code cache for it (dist/krun-whp.cjs.cache) so bin/krun-whp starts without
// compiling the bundle.
// `--if-stale` skips the build when the bundle is newer than every source file,
// so `npm test` and `npm start` stay fast on a warm tree but never run stale code.
//
// Why one CommonJS file and not ESM chunks: measured on Node 20, the ESM loader
// cost about 15 ms of a 78 ms `--version` (resolving and linking the entry and its
// chunks), and Node 20 has no module compile cache (module.enableCompileCache is
// Node 22). A single CJS file run through vm.Script with cachedData avoids both.
import { build } from 'esbuild';
import { readdirSync, statSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');
const out = join(outdir, 'krun-whp.cjs');
const cache = `${out}.cache`;

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

if (process.argv.includes('--if-stale') && existsSync(out) && existsSync(cache)) {
  const srcTime = Math.max(
    newestMtime(join(root, 'src')),
    statSync(join(root, 'package.json')).mtimeMs,
    statSync(join(root, 'bin', 'krun-whp')).mtimeMs,
  );
  if (statSync(out).mtimeMs >= srcTime && statSync(cache).mtimeMs >= statSync(out).mtimeMs) process.exit(0);
}

// Leftovers of the earlier ESM layout would otherwise linger in dist/.
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // koffi loads a native addon by path at run time, so it stays external.
  // pino is external because it resolves worker-thread transports by file name.
  external: ['koffi', 'pino'],
  sourcemap: 'linked',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  define: {
    KRUN_VERSION: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version),
    // The sources are ESM; in the CJS bundle import.meta.url is the bundle's own URL.
    'import.meta.url': '__krunBundleUrl',
  },
  banner: { js: "var __krunBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

// Record the code cache after a real start-up, so it holds the functions that
// start-up compiles (top level, commander, option parsing), not just the top level.
const r = spawnSync(process.execPath, [join(root, 'bin', 'krun-whp'), '--help'], {
  env: { ...process.env, KRUN_WRITE_CODE_CACHE: '1' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (r.status !== 0 || !existsSync(cache)) {
  console.error('build: could not record the code cache (start-up will compile the bundle instead)');
}
