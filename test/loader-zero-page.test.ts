/**
 * The zero page (struct boot_params) as it lands in guest memory, byte by byte,
 * against the offsets in Documentation/x86/boot.rst and zero-page.rst /
 * arch/x86/include/uapi/asm/bootparam.h. The offsets are spelled out here on
 * purpose (not imported from src/loader) so the test checks the document, not us.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { planBoot, applyBootPlan, type BootPlan } from '../src/loader/boot-plan.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';
import { ramLayout, MIB, GIB } from '../src/memory/layout.ts';
import { bundledBzImage, debianKernel, syntheticBzImage, syntheticVmlinux, SKIP_NO_BUNDLED, SKIP_NO_DEBIAN } from './helpers/kernels.ts';

function boot(kernel: Uint8Array, memoryBytes: number, extra: { initrd?: Uint8Array; cmdline?: string } = {}) {
  const plan = planBoot(kernel, { memoryBytes, ...extra });
  const mem = GuestRam.allocate(ramLayout(memoryBytes));
  applyBootPlan(plan, mem);
  return { plan, mem };
}

/** Reads the zero page the CPU will find at RSI. */
function zeroPage(plan: BootPlan, mem: GuestRam) {
  const zp = plan.cpu.rsi;
  return {
    u8: (o: number) => mem.readU8(zp + o),
    u16: (o: number) => mem.readU16(zp + o),
    u32: (o: number) => mem.readU32(zp + o),
    u64: (o: number) => mem.readU64(zp + o),
    bytes: (o: number, n: number) => mem.view(zp + o, n),
  };
}

function cString(mem: GuestRam, gpa: number): string {
  let s = '';
  for (let a = gpa; ; a++) {
    const c = mem.readU8(a);
    if (c === 0) return s;
    s += String.fromCharCode(c);
  }
}

function checkZeroPage(kernel: Uint8Array, opts: { memoryBytes: number; initrd?: Uint8Array; cmdline?: string }) {
  const { plan, mem } = boot(kernel, opts.memoryBytes, opts);
  const zp = zeroPage(plan, mem);

  // Setup header copied from file offset 0x1F1 to the end given by the jump at 0x200 (boot.rst).
  const hdrEnd = Math.min(0x202 + kernel[0x201]!, 0x290);
  const fileHdr = kernel.subarray(0x1f1, hdrEnd);
  const bpHdr = zp.bytes(0x1f1, fileHdr.length);
  const writable = new Set<number>();
  // Fields a loader writes: type_of_loader 0x210, loadflags 0x211, code32_start 0x214..0x217,
  // ramdisk_image 0x218..0x21B, ramdisk_size 0x21C..0x21F, cmd_line_ptr 0x228..0x22B.
  for (const [o, n] of [[0x210, 1], [0x211, 1], [0x214, 4], [0x218, 4], [0x21c, 4], [0x228, 4]] as const) {
    for (let i = 0; i < n; i++) writable.add(o + i);
  }
  for (let i = 0; i < fileHdr.length; i++) {
    if (!writable.has(0x1f1 + i)) assert.equal(bpHdr[i], fileHdr[i], `setup header byte 0x${(0x1f1 + i).toString(16)}`);
  }
  assert.equal(zp.u16(0x1fe), 0xaa55, 'boot_flag');
  assert.equal(zp.u32(0x202), 0x53726448, '"HdrS"');

  // type_of_loader 0x210: 0xFF, "undefined" — with 0, Linux ignores the initrd.
  assert.equal(zp.u8(0x210), 0xff);
  // loadflags 0x211: LOADED_HIGH set, QUIET_FLAG (bit 5) and CAN_USE_HEAP (bit 7) clear.
  assert.equal(zp.u8(0x211) & 0x01, 0x01);
  assert.equal(zp.u8(0x211) & 0xa0, 0);
  // code32_start 0x214 = where the protected-mode code was loaded.
  assert.equal(zp.u32(0x214), plan.layout.kernel.addr);

  // cmd_line_ptr 0x228 (low 32 bits) + ext_cmd_line_ptr 0x0C8 (high 32 bits).
  const cmdPtr = zp.u32(0x228) + zp.u32(0x0c8) * 2 ** 32;
  assert.equal(cmdPtr, plan.layout.cmdline.addr);
  assert.equal(cString(mem, cmdPtr), plan.cmdline);
  assert.ok(plan.cmdline.length <= zp.u32(0x238), 'within cmdline_size');

  // ramdisk_image 0x218 / ext_ramdisk_image 0x0C0, ramdisk_size 0x21C / ext_ramdisk_size 0x0C4.
  const rdImage = zp.u32(0x218) + zp.u32(0x0c0) * 2 ** 32;
  const rdSize = zp.u32(0x21c) + zp.u32(0x0c4) * 2 ** 32;
  if (opts.initrd) {
    assert.equal(rdSize, opts.initrd.length);
    assert.equal(rdImage % 4096, 0, 'initrd page-aligned');
    assert.ok(rdImage + rdSize - 1 <= zp.u32(0x22c), 'initrd below initrd_addr_max (0x22C)');
    assert.ok(rdImage >= plan.layout.kernelFootprint.addr + plan.layout.kernelFootprint.size, 'initrd above the kernel init_size area');
    assert.deepEqual(mem.view(rdImage, rdSize), opts.initrd);
  } else {
    assert.equal(rdImage, 0);
    assert.equal(rdSize, 0);
  }

  // Sentinel 0x1EF stays 0 (bootparam_utils.h: non-zero means "broken loader, sanitize").
  assert.equal(zp.u8(0x1ef), 0);

  // e820_entries 0x1E8 (u8), e820_table 0x2D0: 20-byte packed {u64 addr, u64 size, u32 type}.
  const n = zp.u8(0x1e8);
  const entries: { addr: number; size: number; type: number }[] = [];
  for (let i = 0; i < n; i++) {
    const at = 0x2d0 + i * 20;
    entries.push({ addr: Number(zp.u64(at)), size: Number(zp.u64(at + 8)), type: zp.u32(at + 16) });
  }
  return { plan, mem, zp, entries };
}

test('zero page of a synthetic bzImage matches boot.rst offsets (with initrd)', () => {
  const kernel = syntheticBzImage();
  const initrd = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  const { entries, zp } = checkZeroPage(kernel, { memoryBytes: 64 * MIB, initrd, cmdline: 'rdinit=/init quiet' });
  // RAM [0, 0x9FC00), reserved [0x9FC00, 1 MiB), RAM [1 MiB, 64 MiB).
  assert.deepEqual(entries, [
    { addr: 0, size: 0x9fc00, type: 1 },
    { addr: 0x9fc00, size: 0x100000 - 0x9fc00, type: 2 },
    { addr: 0x100000, size: 63 * MIB, type: 1 },
  ]);
  // The kernel version pointer field is copied untouched (0x20E).
  assert.equal(zp.u16(0x20e), 0x200);
  // The initrd goes as high as it can: right below the end of RAM, page aligned.
  assert.equal(zp.u32(0x218), Math.floor((64 * MIB - 300_000) / 4096) * 4096);
});

test('e820 leaves the MMIO hole [3 GiB, 4 GiB) out and continues at 4 GiB', () => {
  const { entries } = checkZeroPage(syntheticBzImage(), { memoryBytes: 5 * GIB });
  assert.deepEqual(entries, [
    { addr: 0, size: 0x9fc00, type: 1 },
    { addr: 0x9fc00, size: 0x60400, type: 2 },
    { addr: 0x100000, size: 3 * GIB - 0x100000, type: 1 },
    { addr: 4 * GIB, size: 2 * GIB, type: 1 },
  ]);
  for (const e of entries) assert.ok(e.addr + e.size <= 3 * GIB || e.addr >= 4 * GIB, 'nothing inside the hole');
});

test('zero page for an ELF vmlinux: minimal header, loader type, command line', () => {
  const { plan, mem } = boot(syntheticVmlinux(), 32 * MIB, { cmdline: 'init=/bin/sh' });
  const zp = zeroPage(plan, mem);
  assert.equal(zp.u16(0x1fe), 0xaa55);
  assert.equal(zp.u32(0x202), 0x53726448);
  assert.notEqual(zp.u16(0x206), 0, 'version non-zero (head64.c copies boot_params again when 0)');
  assert.equal(zp.u8(0x210), 0xff);
  assert.equal(cString(mem, zp.u32(0x228)), plan.cmdline);
  assert.ok(plan.cmdline.endsWith(' init=/bin/sh'));
  assert.equal(zp.u8(0x1e8), 3);
});

test('Debian kernel: zero page, header copy and initrd placement', (t) => {
  const deb = debianKernel();
  if (!deb) return t.skip(SKIP_NO_DEBIAN);
  const kernel = new Uint8Array(readFileSync(deb.path));
  const initrd = new Uint8Array(3 * MIB + 123).fill(0x5a);
  const { zp, plan } = checkZeroPage(kernel, { memoryBytes: 256 * MIB, initrd });
  assert.equal(zp.u16(0x206), (kernel[0x207]! << 8) | kernel[0x206]!);
  assert.equal(plan.layout.kernel.addr, 0x1000000, 'loaded at pref_address (16 MiB)');
});

test('bundled guest kernel: zero page and header copy', (t) => {
  const kernel = bundledBzImage();
  if (!kernel) return t.skip(SKIP_NO_BUNDLED);
  checkZeroPage(kernel, { memoryBytes: 128 * MIB, initrd: new Uint8Array(4096 * 3 + 1).fill(1) });
});

test('e820 is sorted and disjoint, and every boot structure lies in usable RAM inside the identity map', () => {
  // boot.rst "64-bit Boot Protocol": the kernel's [start, start + init_size), the zero page and
  // the command line must be identity-mapped; the initrd is read through the same mapping.
  // Everything we place must also be RAM the e820 map calls usable (type 1), or Linux may
  // treat it as a hole. Checked over sizes around the 3 GiB MMIO hole.
  for (const mib of [21, 64, 3071, 3072, 3073, 4096, 8192]) {
    const plan = planBoot(syntheticBzImage(), { memoryBytes: mib * MIB, initrd: new Uint8Array(123_456) });
    const e = plan.layout.e820;
    for (let i = 0; i < e.length; i++) {
      assert.ok(e[i]!.size > 0, `${mib} MiB: entry ${i} empty`);
      if (i > 0) assert.ok(e[i - 1]!.addr + e[i - 1]!.size <= e[i]!.addr, `${mib} MiB: entries ${i - 1}/${i} unsorted or overlapping`);
      assert.ok(e[i]!.addr + e[i]!.size <= 3 * GIB || e[i]!.addr >= 4 * GIB, `${mib} MiB: entry ${i} in the MMIO hole`);
    }
    const usable = e.filter((x) => x.type === 1).reduce((n, x) => n + x.size, 0);
    assert.equal(usable, mib * MIB - (0x100000 - 0x9fc00), `${mib} MiB: all RAM but the legacy area is usable`);
    const l = plan.layout;
    for (const [name, r] of Object.entries({ gdt: l.gdt, zeroPage: l.zeroPage, cmdline: l.cmdline, pageTables: l.pageTables, kernel: l.kernelFootprint, initrd: l.initrd! })) {
      assert.ok(e.some((x) => x.type === 1 && x.addr <= r.addr && r.addr + r.size <= x.addr + x.size), `${mib} MiB: ${name} not in usable RAM`);
      assert.ok(r.addr + r.size <= l.identityMapped, `${mib} MiB: ${name} not identity-mapped`);
    }
  }
});
