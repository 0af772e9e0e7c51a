/**
 * The bundled test guest (guest/) is what scripts/build-guest.sh produced and
 * MANIFEST.json describes: same bytes, a bzImage with a boot-protocol header,
 * and an initramfs holding /init and /dev/console.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GUEST_DIR } from './helpers/qemu.ts';

interface FileEntry {
  sha256: string;
  size: number;
}
interface Manifest {
  kernel: { release: string; source_package: string; source_package_version: string };
  config_fragment: { file: string; sha256: string };
  initramfs: { init: FileEntry };
  files: Record<string, FileEntry>;
  build: { source_date_epoch: number; kbuild_build_timestamp: string; gcc: string };
  reproducibility: { checked: boolean; identical?: boolean };
}

const manifest = JSON.parse(readFileSync(join(GUEST_DIR, 'MANIFEST.json'), 'utf8')) as Manifest;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

test('every built guest file matches the sha256 and size in MANIFEST.json', () => {
  const names = Object.keys(manifest.files);
  for (const required of ['bzImage', 'initramfs.cpio.gz', 'kernel.config', 'kernel.config.full', 'init.c']) {
    assert.ok(names.includes(required), `MANIFEST.json lists ${required}`);
  }
  for (const [name, entry] of Object.entries(manifest.files)) {
    const path = join(GUEST_DIR, name);
    assert.equal(statSync(path).size, entry.size, `${name}: size`);
    assert.equal(sha256(readFileSync(path)), entry.sha256, `${name}: sha256 (rebuild with scripts/build-guest.sh?)`);
  }
  assert.equal(manifest.config_fragment.sha256, manifest.files['kernel.config']!.sha256);
  assert.match(manifest.kernel.release, /^6\.1\.\d+/);
  assert.equal(manifest.kernel.source_package, 'linux-source-6.1');
  assert.equal(typeof manifest.reproducibility.checked, 'boolean');
});

test('every option of the config fragment is in the resolved kernel.config.full', () => {
  const full = new Set(readFileSync(join(GUEST_DIR, 'kernel.config.full'), 'utf8').split('\n'));
  const fragment = readFileSync(join(GUEST_DIR, 'kernel.config'), 'utf8').split('\n');
  let checked = 0;
  for (const line of fragment) {
    const set = /^(CONFIG_\w+)=/.exec(line);
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (set) assert.ok(full.has(line), `kernel.config.full has ${line}`);
    if (unset) assert.ok(![...full].some((l) => l.startsWith(`${unset[1]}=`)), `${unset[1]} is not set`);
    if (set || unset) checked++;
  }
  assert.ok(checked > 20, `fragment has ${checked} options`);
});

test('the bzImage starts with a Linux boot-protocol setup header', () => {
  const image = readFileSync(join(GUEST_DIR, 'bzImage'));
  // Documentation/arch/x86/boot.rst: boot_flag 0xAA55 at 0x1FE, "HdrS" at 0x202.
  assert.equal(image.readUInt16LE(0x1fe), 0xaa55, 'boot_flag');
  assert.equal(image.toString('latin1', 0x202, 0x206), 'HdrS', 'header magic');
});

test('the bzImage payload is gzip and unpacks with zlib to an x86-64 ELF vmlinux', () => {
  const image = readFileSync(join(GUEST_DIR, 'bzImage'));
  // boot.rst: the protected-mode code starts at (setup_sects + 1) * 512 (0 means 4);
  // payload_offset (0x248) and payload_length (0x24C) are relative to it.
  const protectedMode = ((image[0x1f1] || 4) + 1) * 512;
  const start = protectedMode + image.readUInt32LE(0x248);
  const payload = image.subarray(start, start + image.readUInt32LE(0x24c));
  assert.deepEqual([...payload.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic (CONFIG_KERNEL_GZIP)');
  const vmlinux = gunzipSync(payload);
  assert.equal(vmlinux.toString('latin1', 0, 4), '\x7fELF');
  assert.equal(vmlinux[4], 2, 'ELFCLASS64');
  assert.equal(vmlinux.readUInt16LE(18), 62, 'EM_X86_64');
});

interface CpioEntry {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

/** Parses a "newc" cpio archive (magic 070701: 13 eight-digit hex fields, 4-byte alignment). */
function parseNewc(archive: Buffer): CpioEntry[] {
  const entries: CpioEntry[] = [];
  const align4 = (n: number): number => (n + 3) & ~3;
  let off = 0;
  for (;;) {
    assert.ok(off + 110 <= archive.length, 'cpio ends before TRAILER!!!');
    assert.equal(archive.toString('latin1', off, off + 6), '070701', `newc magic at ${off}`);
    const field = (i: number): number => parseInt(archive.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const [mode, uid, gid, mtime, size, rdevMajor, rdevMinor, nameSize] = [1, 2, 3, 5, 6, 9, 10, 11].map(field) as number[];
    const name = archive.toString('latin1', off + 110, off + 110 + nameSize! - 1);
    const dataStart = align4(off + 110 + nameSize!);
    if (name === 'TRAILER!!!') break;
    entries.push({
      name, mode: mode!, uid: uid!, gid: gid!, mtime: mtime!, rdevMajor: rdevMajor!, rdevMinor: rdevMinor!,
      data: archive.subarray(dataStart, dataStart + size!),
    });
    off = align4(dataStart + size!);
  }
  return entries;
}

test('the initramfs is a gzip of a newc cpio with /init (ELF x86-64) and /dev/console', () => {
  const entries = parseNewc(gunzipSync(readFileSync(join(GUEST_DIR, 'initramfs.cpio.gz'))));
  const byName = new Map(entries.map((e) => [e.name.replace(/^\//, ''), e]));

  const console = byName.get('dev/console');
  assert.ok(console, 'dev/console is in the archive');
  assert.equal(console.mode & 0o170000, 0o020000, '/dev/console is a character device');
  assert.deepEqual([console.rdevMajor, console.rdevMinor], [5, 1]);

  const init = byName.get('init');
  assert.ok(init, 'init is in the archive');
  assert.equal(init.mode & 0o170000, 0o100000, '/init is a regular file');
  assert.ok(init.mode & 0o100, '/init is executable');
  const elf = init.data;
  assert.equal(elf.toString('latin1', 0, 4), '\x7fELF');
  assert.equal(elf[4], 2, 'ELFCLASS64');
  assert.equal(elf[5], 1, 'little-endian');
  assert.equal(elf.readUInt16LE(16), 2, 'ET_EXEC (static, not PIE)');
  assert.equal(elf.readUInt16LE(18), 62, 'EM_X86_64');
  assert.equal(sha256(elf), manifest.initramfs.init.sha256, '/init is the binary the manifest names');

  // Reproducibility: root-owned, one fixed mtime, sorted names.
  for (const e of entries) {
    assert.deepEqual([e.uid, e.gid], [0, 0], `${e.name} owned by root`);
    assert.equal(e.mtime, manifest.build.source_date_epoch, `${e.name} mtime`);
  }
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort(), 'entries in sorted order');
});
