/**
 * `krun-whp inspect` as a user runs it (the built bundle): JSON fields, human output,
 * and every bad input ending in exit 2 with exactly one `krun-whp: error:` line.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync, mkdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';
import { debianKernel, bundledBzImage, syntheticBzImage, syntheticElf, syntheticVmlinux, SKIP_NO_DEBIAN, SKIP_NO_BUNDLED } from './helpers/kernels.ts';

const dir = mkdtempSync(join(tmpdir(), 'krun-inspect-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const BZ = file('bzImage', syntheticBzImage({ initSize: 0x2000000, cmdlineSize: 300 }));
const ELF = file('vmlinux', syntheticVmlinux());
const INITRD = file('initrd.img', new Uint8Array(100_000).fill(7));

function json(args: string[]) {
  const r = runCli(['--json', 'inspect', ...args]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return JSON.parse(r.stdout);
}

function fails(args: string[], pattern: RegExp) {
  const r = runCli(['inspect', ...args]);
  assert.equal(r.status, 2, `exit code for ${args.join(' ')}: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^krun-whp: error: /);
  assert.match(lines[0]!, pattern);
  assert.equal(r.stdout, '');
}

test('--json for a bzImage: format, protocol, version, entry64 and the layout', () => {
  const j = json(['--kernel', BZ, '--initrd', INITRD, '--mem', '64', '--cmdline', 'quiet']);
  assert.equal(j.format, 'bzImage');
  assert.equal(j.protocol, '2.15');
  assert.equal(j.version, '9.9.9-synthetic (test@loader) #1 SMP');
  assert.equal(j.entry64, true);
  assert.equal(j.relocatable, true);
  assert.equal(j.alignment, 0x200000);
  assert.equal(j.initSize, 0x2000000);
  assert.equal(j.prefAddress, 0x1000000);
  assert.equal(j.compression, 'gzip');
  assert.equal(j.memoryMiB, 64);
  assert.ok(j.cmdline.startsWith('console=ttyS0') && j.cmdline.endsWith(' quiet'));
  assert.deepEqual(j.layout.zeroPage, { addr: 0x7000, size: 4096 });
  assert.equal(j.layout.kernel.addr, 0x1000000);
  assert.equal(j.layout.entry, 0x1000200);
  assert.equal(j.layout.initrd.size, 100_000);
  assert.equal(j.layout.initrd.addr % 4096, 0);
  assert.equal(j.layout.cmdline.size, j.cmdline.length + 1);
  assert.equal(j.registers.rsi, 0x7000);
  assert.equal(j.registers.cs, 0x10);
  assert.deepEqual(j.e820.map((e: { typeName: string }) => e.typeName), ['usable', 'reserved', 'usable']);
  assert.equal(j.e820.at(-1).addr + j.e820.at(-1).size, 64 * 1024 * 1024);
});

test('--json for an ELF vmlinux: protocol null, compression none, physical entry', () => {
  const j = json(['--kernel', ELF]);
  assert.equal(j.format, 'elf');
  assert.equal(j.protocol, null);
  assert.equal(j.version, '9.9.9-elf (test@loader) #1 SMP');
  assert.equal(j.entry64, true);
  assert.equal(j.compression, 'none');
  assert.equal(j.layout.entry, 0x1000000);
  assert.equal(j.memoryMiB, 512, 'default --mem');
  assert.equal(j.segments.length, 2);
});

test('human output: aligned sections, no colour when NO_COLOR, colour when forced', () => {
  const r = runCli(['inspect', '--kernel', BZ, '--initrd', INITRD]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!/\u001b\[/.test(r.stdout), 'no ANSI with NO_COLOR');
  for (const s of ['format', 'bzImage, boot protocol 2.15', '64-bit entry', 'gzip', 'zero page', 'page tables', 'entry point', '0x1000200', 'e820 map', 'initrd', 'Guest memory layout (512 MiB)']) {
    assert.ok(r.stdout.includes(s), s);
  }
  // Key/value rows share one column: every value in the kernel block starts at the same offset.
  const block = r.stdout.split('\n\n')[0]!.split('\n').slice(1);
  const starts = new Set(block.map((l) => l.match(/^ +\S+(?: \S+)* +/)![0].length));
  assert.equal(starts.size, 1, block.join('\n'));
  const colored = runCli(['inspect', '--kernel', BZ], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
  assert.equal(colored.status, 0);
  assert.ok(/\u001b\[/.test(colored.stdout), 'ANSI when colour is forced');
});

test('Debian kernel: inspect reports protocol, version, entry64 and its compression', (t) => {
  const deb = debianKernel();
  if (!deb) return t.skip(SKIP_NO_DEBIAN);
  const j = json(['--kernel', deb.path]);
  const bytes = readFileSync(deb.path);
  assert.equal(j.format, 'bzImage');
  assert.equal(j.protocol, `${bytes[0x207]}.${String(bytes[0x206]).padStart(2, '0')}`);
  assert.ok(j.version.startsWith(deb.release + ' '), j.version);
  assert.equal(j.entry64, true);
  const p = bytes.subarray(j.payload.offset);
  const compression = p.readUInt32LE(0) === 0x184c2102 ? 'lz4' : p[0] === 0x1f && p[1] === 0x8b ? 'gzip' : p.readUInt32LE(0) === 0xfd2fb528 ? 'zstd' : p[0] === 0xfd && p[1] === 0x37 ? 'xz' : 'other';
  assert.equal(j.compression, compression);
});

test('bundled kernel: inspect --json', (t) => {
  if (!bundledBzImage()) return t.skip(SKIP_NO_BUNDLED);
  const j = json(['--kernel', 'guest/bzImage']);
  assert.equal(j.format, 'bzImage');
  assert.equal(j.entry64, true);
  assert.equal(j.compression, 'gzip');
});

test('bad inputs: exit 2 with exactly one error line', () => {
  const sub = join(dir, 'adir');
  mkdirSync(sub, { recursive: true });
  const bz = syntheticBzImage();
  const seg = { paddr: 0x1000000, vaddr: 0x1000000n, data: new Uint8Array(16), memSize: 16 };
  fails(['--kernel', join(dir, 'nope')], /kernel '.*nope' does not exist/);
  fails(['--kernel', sub], /kernel '.*adir' is a directory/);
  fails(['--kernel', BZ, '--initrd', join(dir, 'missing.img')], /initrd '.*missing\.img' does not exist/);
  fails(['--kernel', file('text', 'hello, I am not a kernel\n'.repeat(100))], /is not a Linux kernel/);
  fails(['--kernel', file('trunc', bz.subarray(0, 0x1000))], /is truncated/);
  fails(['--kernel', file('old', syntheticBzImage({ version: 0x0206 }))], /boot protocol 2\.06; 64-bit direct boot needs 2\.12 or later/);
  fails(['--kernel', file('k32', syntheticBzImage({ xloadflags: 0 }))], /32-bit kernel/);
  fails(['--kernel', file('arm', syntheticElf([seg], 0x1000000n, { machine: 183 }))], /not x86-64/);
  const big = file('big', '');
  truncateSync(big, 40 * 1024 * 1024); // sparse: 40 MiB to the loader, nothing on disk
  fails(['--kernel', BZ, '--initrd', big, '--mem', '64'], /initrd '.*big' \(40 MiB\) does not fit/);
  fails(['--kernel', BZ, '--cmdline', 'z'.repeat(400)], /accepts at most 300 \(cmdline_size\)/);
  // --mem's range is the loader's (16 MiB..1 TiB), stated in the message.
  fails(['--kernel', BZ, '--mem', '8'], /--mem expects an integer from 16 to 1048576, got '8'/);
  fails(['--kernel', BZ, '--mem', '0'], /--mem expects an integer from 16 to 1048576, got '0'/);
  fails(['--kernel', BZ, '--mem', '40'], /guest memory of 40 MiB is too small for kernel/);
  fails(['--kernel', BZ, '--mem', String(2 * 1024 * 1024)], /--mem expects an integer from 16 to 1048576, got '2097152'/);
  fails(['--kernel', BZ, '--mem', 'lots'], /--mem expects an integer/);
  fails([], /required option '--kernel <file>' not specified/);
});

test('an unreadable kernel file is an input error', (t) => {
  // Root reads any file whatever its mode, so as root the CLI runs as 'nobody' for this case.
  const asRoot = process.getuid?.() === 0;
  const NOBODY = 65534;
  if (asRoot) {
    const probe = runCli(['--version'], { uid: NOBODY });
    if (probe.status !== 0) return t.skip(`running as root and user 'nobody' cannot run the CLI from this checkout: ${probe.stderr.trim().split('\n')[0]}`);
  }
  const open = mkdtempSync(join(tmpdir(), 'krun-unreadable-'));
  t.after(() => rmSync(open, { recursive: true, force: true }));
  chmodSync(open, 0o755);
  const p = join(open, 'secret');
  writeFileSync(p, syntheticBzImage());
  chmodSync(p, 0o000);
  const r = runCli(['inspect', '--kernel', p], asRoot ? { uid: NOBODY } : {});
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^krun-whp: error: .*is not readable/);
});

test('human output: the entry point lines up with the region starts; ELF values not read from a header say so', () => {
  const r = runCli(['inspect', '--kernel', ELF, '--mem', '64']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const header = lines.find((l) => /^ +region +start +end \(excl\.\) +size +note$/.test(l));
  assert.ok(header, r.stdout);
  const startCol = header.indexOf('start');
  const zeroPage = lines.find((l) => l.trimStart().startsWith('zero page'))!;
  const entry = lines.find((l) => l.trimStart().startsWith('entry point'))!;
  assert.equal(zeroPage.indexOf('0x7000'), startCol);
  assert.equal(entry.indexOf('0x1000000'), startCol, entry);
  // An ELF has no setup header: no "init_size"/"pref_address" claims; assumed limits are marked.
  const kernelBlock = r.stdout.split('\n\n')[0]!;
  assert.doesNotMatch(kernelBlock, /init_size|pref_address|preferred/);
  assert.match(kernelBlock, /load address +0x1000000 \(lowest p_paddr\)/);
  assert.match(kernelBlock, /cmdline_size +2047 bytes \(assumed: /);
  assert.match(kernelBlock, /initrd_addr_max +0x7fffffff \(assumed: /);
});
