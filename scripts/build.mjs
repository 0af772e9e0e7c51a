// Bundles src/cli/main.ts into dist/krun-whp.mjs with esbuild.
// `--if-stale` skips the build when the bundle is newer than every source file,
// so `npm test` and `npm start` stay fast on a warm tree but never run stale code.
import { build } from 'esbuild';
import { readdirSync, statSync, existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');
const out = join(outdir, 'krun-whp.mjs');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

if (process.argv.includes('--if-stale') && existsSync(out)) {
  const srcTime = Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'package.json')).mtimeMs);
  if (statSync(out).mtimeMs >= srcTime) process.exit(0);
}

await build({
  // Code splitting: each dynamically imported module (a command's implementation,
  // the WHP bindings, ora) becomes its own chunk, so `--version` and `--help`
  // parse only the CLI shell.
  entryPoints: { 'krun-whp': join(root, 'src', 'cli', 'main.ts') },
  outdir,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // koffi loads a native addon by path at run time, so it stays external.
  // pino is external because it resolves worker-thread transports by file name.
  external: ['koffi', 'pino'],
  sourcemap: 'linked',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  define: { KRUN_VERSION: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
  logLevel: 'warning',
  banner: { js: "import { createRequire as __krunCreateRequire } from 'node:module'; const require = __krunCreateRequire(import.meta.url);" },
});
