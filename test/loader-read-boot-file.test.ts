/**
 * readBootFile and the version banner on hostile or unusual inputs: devices
 * (/dev/zero), FIFOs with and without a writer, `cat bzImage | … --kernel /dev/stdin`,
 * paths Node could not decode as UTF-8, and a vmlinux banner carrying terminal escapes.
 * Each bad input must end in exit 2 with one `krun-whp: error:` line, never a hang.
 * The CLI cases run the built bundle (npm run build).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../src/errors.ts';
import { parseKernel } from '../src/loader/load-kernel.ts';
import { readBootFile } from '../src/loader/read-boot-file.ts';
import { BIN, runCli } from './helpers/cli.ts';
import { BUNDLED_BZIMAGE, syntheticBzImage, syntheticElf } from './helpers/kernels.ts';

const dir = mkdtempSync(join(tmpdir(), 'krun-read-boot-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const POSIX = process.platform !== 'win32';
const SKIP_NO_POSIX = 'needs /dev/zero, mkfifo and sh';

/** A kernel to stream: the bundled guest (1.3 MB, more than a pipe buffer) when built, else a synthetic one. */
const KERNEL = existsSync(BUNDLED_BZIMAGE) ? BUNDLED_BZIMAGE : join(dir, 'bzImage');
if (KERNEL !== BUNDLED_BZIMAGE) writeFileSync(KERNEL, syntheticBzImage());

function fifo(name: string): string {
  const p = join(dir, name);
  const r = spawnSync('mkfifo', [p]);
  assert.equal(r.status, 0, `mkfifo: ${r.stderr}`);
  return p;
}

/** Exit 2, exactly one `krun-whp: error:` line matching `pattern`, nothing on stdout; a hang is killed at `timeoutMs` (status null). */
function failsQuickly(args: string[], pattern: RegExp, timeoutMs = 20_000): void {
  const r = runCli(['inspect', ...args], { timeoutMs });
  assert.equal(r.status, 2, `exit code for ${args.join(' ')} (null = killed at the timeout): ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^krun-whp: error: /);
  assert.match(lines[0]!, pattern);
  assert.equal(r.stdout, '');
}

function inputError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

test('readBootFile: a missing path holding U+FFFD (argv bytes that were not UTF-8) says so, not "does not exist"', () => {
  const p = join(dir, 'vmlinuz-\uFFFD\uFFFD');
  inputError(() => readBootFile(p, 'kernel'), /^kernel path '.*vmlinuz-\uFFFD\uFFFD' is not valid UTF-8/);
  assert.throws(() => readBootFile(p, 'initrd'), (err: InputError) => {
    assert.doesNotMatch(err.message, /does not exist/);
    assert.match(err.hint ?? '', /rename the file .*--initrd a path without such bytes/);
    return true;
  });
});

test('readBootFile: regular files, missing paths and directories behave as before', () => {
  const p = join(dir, 'small.img');
  writeFileSync(p, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readBootFile(p, 'initrd')], [1, 2, 3]);
  inputError(() => readBootFile(join(dir, 'nope'), 'kernel'), /^kernel '.*nope' does not exist$/);
  const sub = join(dir, 'adir');
  mkdirSync(sub);
  inputError(() => readBootFile(sub, 'initrd'), /^initrd '.*adir' is a directory, not a file$/);
});

test('readBootFile: an existing file whose name holds U+FFFD is read normally', () => {
  const p = join(dir, 'real-\uFFFD.img');
  writeFileSync(p, 'x');
  assert.equal(readBootFile(p, 'initrd').length, 1);
});

test('inspect --kernel /dev/zero: a device is refused at once (exit 2, one line), not read forever', (t) => {
  if (!POSIX) return t.skip(SKIP_NO_POSIX);
  failsQuickly(['--kernel', '/dev/zero'], /kernel '\/dev\/zero' is a character device, not a file/);
});

test('inspect --initrd /dev/zero: a device is refused at once (exit 2, one line)', (t) => {
  if (!POSIX) return t.skip(SKIP_NO_POSIX);
  failsQuickly(['--kernel', KERNEL, '--initrd', '/dev/zero'], /initrd '\/dev\/zero' is a character device, not a file/);
});

test('inspect with a FIFO nobody writes to: exit 2 and one line at once, for --kernel and --initrd', (t) => {
  if (!POSIX) return t.skip(SKIP_NO_POSIX);
  const f = fifo('no-writer');
  failsQuickly(['--kernel', f], /kernel '.*no-writer' is a pipe with nothing to read/, 10_000);
  failsQuickly(['--kernel', KERNEL, '--initrd', f], /initrd '.*no-writer' is a pipe with nothing to read/, 10_000);
});

/** Runs `inspect --json --kernel <fifo>` while `script` (sh, with $F = the FIFO and $K = the kernel) writes to it. */
async function inspectFifoWith(script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const f = fifo(`fifo-${Math.random().toString(36).slice(2)}`);
  const writer = spawn('sh', ['-c', script], { env: { ...process.env, F: f, K: KERNEL }, stdio: 'ignore' });
  const exited = new Promise((resolve) => writer.once('exit', resolve));
  try {
    return runCli(['--json', 'inspect', '--kernel', f], { timeoutMs: 20_000 });
  } finally {
    writer.kill();
    await exited;
  }
}

test('inspect --kernel <FIFO with a writer>: reads the whole kernel (exit 0)', async (t) => {
  if (!POSIX) return t.skip(SKIP_NO_POSIX);
  const r = await inspectFifoWith('cat "$K" > "$F"');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).format, 'bzImage');
});

test('inspect --kernel <FIFO whose writer is open but slow>: waits for the data instead of failing', async (t) => {
  if (!POSIX) return t.skip(SKIP_NO_POSIX);
  // The writer holds the FIFO open for a second before sending anything: reads see EAGAIN, not EOF.
  const r = await inspectFifoWith('exec 3>"$F"; sleep 1; cat "$K" >&3');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).format, 'bzImage');
});

test('cat bzImage | inspect --kernel /dev/stdin: a pipe is read to EOF', (t) => {
  if (!POSIX) return t.skip(SKIP_NO_POSIX);
  // Through sh so stdin is a real pipe (Node's own stdio pipes are sockets, which /dev/stdin cannot reopen).
  const r = spawnSync('sh', ['-c', 'cat "$K" | "$NODE" "$BIN" --json inspect --kernel /dev/stdin'], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, NO_COLOR: '1', K: KERNEL, NODE: process.execPath, BIN },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).format, 'bzImage');
});

/** An ELF vmlinux whose linux_banner carries a clear-screen, a window-title escape, BEL and CR. */
function elfWithHostileBanner(): Uint8Array {
  const text = new Uint8Array(0x1000).fill(0x90);
  const banner = 'Linux version 6.6.6-evil \x1b[2J\x1b]0;PWNED\x07\r\x7f\x9b #1 SMP\n\0';
  text.set(Buffer.from(banner, 'latin1'), 0x100);
  return syntheticElf([{ paddr: 0x1000000, vaddr: 0xffffffff81000000n, data: text, memSize: 0x1000 }], 0x1000000n);
}

const hasControl = (s: string) => [...s].some((ch) => ch.charCodeAt(0) < 0x20 || (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f));

test('ELF banner with terminal escapes: the version keeps the text and replaces control bytes with ?', () => {
  const k = parseKernel(elfWithHostileBanner(), 'evil');
  assert.equal(k.format, 'elf');
  assert.ok(k.version !== null);
  assert.ok(!hasControl(k.version), JSON.stringify(k.version));
  assert.equal(k.version, '6.6.6-evil ?[2J?]0;PWNED???? #1 SMP');
});

test('inspect of that ELF prints no control bytes', () => {
  const p = join(dir, 'evil-vmlinux');
  writeFileSync(p, elfWithHostileBanner());
  const r = runCli(['inspect', '--kernel', p], { timeoutMs: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /6\.6\.6-evil \?\[2J/);
  assert.ok(!hasControl(r.stdout.replaceAll('\n', '')), JSON.stringify(r.stdout));
});

test('a file larger than the guest memory is refused from its size, before it is read', () => {
  const p = join(dir, 'sparse-initrd.img');
  // Sparse: 64 MiB on paper, nothing on disk. A read would take time and memory for nothing.
  writeFileSync(p, '');
  truncateSync(p, 64 * 2 ** 20);
  inputError(() => readBootFile(p, 'initrd', 32 * 2 ** 20), /^initrd '.*sparse-initrd\.img' is 64\.0 MiB, larger than the guest's 32\.0 MiB of memory$/);
  assert.equal(readBootFile(p, 'initrd', 128 * 2 ** 20).length, 64 * 2 ** 20, 'it still loads when it fits');
});
