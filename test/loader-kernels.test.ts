/**
 * Kernel parsing and placement: real kernels (Debian's cloud kernel, the bundled
 * guest, and ELF vmlinux images decompressed from their payloads) and every refusal
 * the loader must make, each an InputError (exit 2) with a clear message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InputError } from '../src/errors.ts';
import { planBoot, applyBootPlan, type BootOptions } from '../src/loader/boot-plan.ts';
import { parseKernel } from '../src/loader/load-kernel.ts';
import { buildCmdline, DEFAULT_CMDLINE_PARAMS } from '../src/loader/cmdline.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';
import { ramLayout, MIB, GIB } from '../src/memory/layout.ts';
import {
  bundledBzImage, debianKernel, syntheticBzImage, syntheticElf, syntheticVmlinux, vmlinuxFromBzImage, le32,
  SKIP_NO_BUNDLED, SKIP_NO_DEBIAN,
} from './helpers/kernels.ts';

function refuses(kernel: Uint8Array, options: Partial<BootOptions>, pattern: RegExp): void {
  assert.throws(
    () => planBoot(kernel, { memoryBytes: 256 * MIB, kernelName: 'k', ...options }),
    (err: unknown) => {
      assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    },
  );
}

const patch = (b: Uint8Array, f: (dv: DataView, b: Uint8Array) => void) => {
  const c = b.slice();
  f(new DataView(c.buffer), c);
  return c;
};

test('Debian kernel: protocol, version, entry64, compression from the magic', (t) => {
  const deb = debianKernel();
  if (!deb) return t.skip(SKIP_NO_DEBIAN);
  const bytes = new Uint8Array(readFileSync(deb.path));
  const k = parseKernel(bytes, deb.path);
  assert.equal(k.format, 'bzImage');
  if (k.format !== 'bzImage') return;
  assert.match(k.protocol!, /^2\.(1[2-9]|[2-9]\d)$/);
  assert.equal(k.protocol, `2.${String(bytes[0x206]).padStart(2, '0')}`);
  assert.ok(k.version!.startsWith(deb.release + ' '), k.version!);
  assert.equal(k.entry64, true);
  const payload = bytes.subarray(k.setupSize + k.payloadOffset);
  const magic = le32(payload, 0);
  const expected = magic === 0x184c2102 ? 'lz4' : (magic & 0xffff) === 0x8b1f ? 'gzip' : magic === 0xfd2fb528 ? 'zstd' : (magic & 0xffff) === 0x37fd ? 'xz' : '?';
  assert.equal(k.compression, expected);
  assert.equal(k.relocatable, true);
  assert.equal(k.prefAddress, 0x1000000);
  assert.equal(k.initSize, le32(bytes, 0x260));
  assert.equal(k.cmdlineSize, le32(bytes, 0x238));
});

test('Debian kernel: the ELF vmlinux inside its payload loads at p_paddr with a physical entry', (t) => {
  const deb = debianKernel();
  if (!deb) return t.skip(SKIP_NO_DEBIAN);
  const vmlinux = vmlinuxFromBzImage(new Uint8Array(readFileSync(deb.path)));
  const plan = planBoot(vmlinux, { memoryBytes: 256 * MIB });
  assert.equal(plan.kernel.format, 'elf');
  if (plan.kernel.format !== 'elf') return;
  assert.ok(plan.kernel.version!.startsWith(deb.release + ' '));
  assert.equal(plan.layout.kernel.addr, 0x1000000);
  assert.equal(plan.cpu.rip, 0x1000000, 'phys_startup_64');
  const mem = GuestRam.allocate(ramLayout(256 * MIB));
  applyBootPlan(plan, mem);
  for (const s of plan.kernel.segments) {
    assert.deepEqual(mem.view(s.paddr, 64), s.data.subarray(0, 64), `segment at 0x${s.paddr.toString(16)}`);
  }
});

test('bundled guest kernel: bzImage and its gunzipped ELF vmlinux both plan', (t) => {
  const bz = bundledBzImage();
  if (!bz) return t.skip(SKIP_NO_BUNDLED);
  const k = parseKernel(bz, 'guest/bzImage');
  assert.equal(k.format, 'bzImage');
  assert.equal(k.compression, 'gzip');
  assert.equal(k.entry64, true);
  assert.match(k.version ?? '', /^\d+\.\d+/);
  const elf = vmlinuxFromBzImage(bz);
  const plan = planBoot(elf, { memoryBytes: 128 * MIB, initrd: new Uint8Array(4096) });
  assert.equal(plan.kernel.format, 'elf');
  assert.equal(plan.kernel.version?.split(' ')[0], k.version?.split(' ')[0], 'same release in the banner');
  assert.ok(plan.cpu.rip >= plan.layout.kernel.addr && plan.cpu.rip < plan.layout.kernel.addr + plan.layout.kernel.size);
});

test('synthetic bzImage: the fields inspect reports', () => {
  const k = parseKernel(syntheticBzImage({ payloadMagic: [0x28, 0xb5, 0x2f, 0xfd] }), 's');
  assert.equal(k.format, 'bzImage');
  assert.equal(k.protocol, '2.15');
  assert.equal(k.version, '9.9.9-synthetic (test@loader) #1 SMP');
  assert.equal(k.compression, 'zstd');
  assert.equal(k.alignment, 0x200000);
  assert.equal(k.initSize, 0x400000);
  for (const [magic, name] of [
    [[0x1f, 0x8b], 'gzip'], [[0x42, 0x5a, 0x68], 'bzip2'], [[0x5d, 0, 0], 'lzma'], [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0], 'xz'],
    [[0x89, 0x4c, 0x5a, 0x4f], 'lzo'], [[0x02, 0x21, 0x4c, 0x18], 'lz4'], [[0x7f, 0x45, 0x4c, 0x46], 'none'], [[1, 2, 3, 4], 'unknown'],
  ] as const) {
    assert.equal(parseKernel(syntheticBzImage({ payloadMagic: [...magic] })).compression, name);
  }
});

test('relocatable bzImage with pref_address below 1 MiB is placed at an aligned address ≥ 1 MiB', () => {
  const p = planBoot(syntheticBzImage({ prefAddress: 0x80000, kernelAlignment: 0x400000 }), { memoryBytes: 64 * MIB });
  assert.equal(p.layout.kernel.addr, 0x400000);
  const q = planBoot(syntheticBzImage({ prefAddress: 0x1100000, kernelAlignment: 0x200000 }), { memoryBytes: 64 * MIB });
  assert.equal(q.layout.kernel.addr, 0x1200000, 'aligned up');
  const r = planBoot(syntheticBzImage({ relocatable: false, prefAddress: 0x1100000 }), { memoryBytes: 64 * MIB });
  assert.equal(r.layout.kernel.addr, 0x1100000, 'non-relocatable: exactly pref_address');
});

test('command line: defaults for our devices, then the user additions; pci=off unless PCI', () => {
  const line = buildCmdline({ extra: '  console=hvc0 quiet ' });
  assert.ok(line.startsWith('console=ttyS0 '));
  assert.ok(line.endsWith(' pci=off console=hvc0 quiet'), 'user text last, so it overrides');
  for (const p of ['reboot=k', 'panic=-1', 'no_timer_check']) assert.ok(DEFAULT_CMDLINE_PARAMS.includes(p), p);
  assert.ok(!buildCmdline({ pci: true }).includes('pci=off'));
  assert.ok(!line.includes('acpi=off'), 'acpi=off would disable the APIC on kernels without MPPARSE');
  assert.equal(buildCmdline({ noDefaults: true, extra: 'a=b' }), 'a=b');
});

test('refusals: not a kernel, too old, 32-bit, truncated', () => {
  refuses(new Uint8Array(0), {}, /kernel 'k' is empty/);
  refuses(new Uint8Array(100), {}, /is not a Linux kernel \(only 100 bytes/);
  refuses(new TextEncoder().encode('#!/bin/sh\n'.repeat(200)), {}, /is not a Linux kernel: neither an ELF vmlinux nor a bzImage/);
  refuses(patch(syntheticBzImage(), (dv) => dv.setUint32(0x202, 0)), {}, /boot protocol before 2\.00/);
  refuses(syntheticBzImage({ version: 0x020b }), {}, /boot protocol 2\.11; 64-bit direct boot needs 2\.12 or later/);
  refuses(syntheticBzImage({ xloadflags: 0 }), {}, /no 64-bit entry point \(xloadflags\.XLF_KERNEL_64 is clear\): it is a 32-bit kernel/);
  refuses(syntheticBzImage({ loadflags: 0 }), {}, /is a zImage/);
  refuses(syntheticBzImage().subarray(0, 0x1000), {}, /is truncated: protected-mode code/);
  refuses(syntheticBzImage().subarray(0, 0x230), {}, /is truncated: setup header needs bytes 0x1f1\.\.0x26c but the file has 560 bytes/);
  refuses(syntheticBzImage({ kernelAlignment: 0x300000 }), {}, /kernel_alignment 0x300000 \(not a power of two\)/);
});

test('refusals: ELF that is not x86-64, not executable, broken segments', () => {
  const seg = { paddr: 0x1000000, vaddr: 0x1000000n, data: new Uint8Array(16), memSize: 16 };
  refuses(syntheticElf([seg], 0x1000000n, { machine: 183 }), {}, /ELF for machine 183, not x86-64/);
  refuses(syntheticElf([seg], 0x1000000n, { cls: 1 }), {}, /32-bit \(ELFCLASS32\) ELF/);
  refuses(syntheticElf([seg], 0x1000000n, { type: 1 }), {}, /not an executable ELF \(e_type 1\)/);
  refuses(syntheticElf([seg], 0x2000000n), {}, /entry point 0x2000000 outside every PT_LOAD segment/);
  refuses(syntheticElf([], 0n), {}, /no usable program headers/);
  refuses(syntheticElf([{ ...seg, paddr: 0x1000 }], 0x1000n), {}, /PT_LOAD segment at 0x1000, below 1 MiB/);
  refuses(syntheticVmlinux().subarray(0, 200), {}, /is truncated: PT_LOAD segment #0/);
  refuses(syntheticElf([seg, { ...seg, paddr: 0x1000008 }], 0x1000000n), {}, /overlapping PT_LOAD segments/);
});

test('refusals: memory size, initrd that does not fit, command line too long', () => {
  const bz = syntheticBzImage({ initSize: 0x2000000 }); // 32 MiB from 16 MiB: needs 48 MiB
  refuses(bz, { memoryBytes: 8 * MIB }, /guest memory of 8 MiB is below the minimum of 16 MiB/);
  refuses(bz, { memoryBytes: 2048 * GIB }, /above the maximum of 1048576 MiB/);
  refuses(bz, { memoryBytes: 32 * MIB }, /guest memory of 32 MiB is too small for kernel 'k': it needs 0x1000000\.\.0x3000000 \(init_size 32 MiB from 16 MiB\)/);
  refuses(bz, { memoryBytes: 64 * MIB, initrd: new Uint8Array(20 * MIB), initrdName: 'big.img' },
    /initrd 'big\.img' \(20 MiB\) does not fit: 16 MiB free between the kernel's end \(0x3000000\) and the end of 64 MiB of low guest memory/);
  // initrd_addr_max, not the memory, is the limit here.
  refuses(syntheticBzImage({ initrdAddrMax: 0x1fffffff }), { memoryBytes: 2 * GIB, initrd: new Uint8Array(500 * MIB) },
    /does not fit: .* the kernel's initrd_addr_max \(0x1fffffff\)/);
  refuses(syntheticBzImage({ cmdlineSize: 255 }), { cmdline: 'x'.repeat(200) }, /command line is \d+ bytes but this kernel accepts at most 255 \(cmdline_size\)/);
  refuses(bz, { initrd: new Uint8Array(0), initrdName: 'e' }, /initrd 'e' is empty/);
});

test('an initrd that just fits is placed page-aligned right below the ceiling', () => {
  const bz = syntheticBzImage({ initSize: 0x2000000 });
  const room = 64 * MIB - 0x3000000;
  const p = planBoot(bz, { memoryBytes: 64 * MIB, initrd: new Uint8Array(room) });
  assert.equal(p.layout.initrd!.addr, 0x3000000);
  const q = planBoot(syntheticBzImage({ initrdAddrMax: 0x1fffffff }), { memoryBytes: 2 * GIB, initrd: new Uint8Array(MIB + 1) });
  assert.equal(q.layout.initrd!.addr + q.layout.initrd!.size - 1 <= 0x1fffffff, true);
  assert.equal(q.layout.initrd!.addr, 0x20000000 - MIB - 4096);
});

test("boot.rst's initrd_addr_max example: a 131072-byte ramdisk under 0x37FFFFFF starts at 0x37FE0000", () => {
  // Documentation/x86/boot.rst, initrd_addr_max: "the address of the highest safe byte, so if your
  // ramdisk is exactly 131072 bytes long and this field is 0x37FFFFFF, you can start your ramdisk
  // at 0x37FE0000". With RAM beyond that address, the highest placement is exactly there.
  const p = planBoot(syntheticBzImage({ initrdAddrMax: 0x37ffffff }), { memoryBytes: 1 * GIB, initrd: new Uint8Array(131072) });
  assert.equal(p.layout.initrd!.addr, 0x37fe0000);
});

test('an initrd that no --mem could place gets a "smaller initrd" hint, not a --mem it would refuse again', () => {
  const hintFor = (kernel: Uint8Array, options: Partial<BootOptions>): string => {
    try {
      planBoot(kernel, { memoryBytes: 256 * MIB, kernelName: 'k', ...options });
    } catch (err) {
      assert.ok(err instanceof InputError);
      return err.hint ?? '';
    }
    assert.fail('expected a refusal');
  };
  // 600 MiB cannot sit below initrd_addr_max 0x1FFFFFFF (512 MiB) whatever the memory size.
  const capped = syntheticBzImage({ initrdAddrMax: 0x1fffffff });
  const hint = hintFor(capped, { initrd: new Uint8Array(600 * MIB) });
  assert.doesNotMatch(hint, /--mem \d/);
  assert.match(hint, /smaller initrd: at most 492 MiB fits between this kernel and initrd_addr_max 0x1fffffff/); // 512 MiB − (16 MiB + 4 MiB init_size)
  // A 100 MiB initrd in 64 MiB fits with more memory: 0x1400000 + 100 MiB = 120 MiB.
  assert.match(hintFor(capped, { memoryBytes: 64 * MIB, initrd: new Uint8Array(100 * MIB) }), /use --mem 120 or more/);
});

test('refusal: a setup header without the short jump at 0x200 has no known length', () => {
  const bz = syntheticBzImage();
  bz[0x200] = 0xe9; // boot.rst: the header's length is 0x202 + the byte at 0x201 of a `jmp short` (0xEB)
  refuses(bz, {}, /malformed setup header: no short jump \(0xEB\) at 0x200/);
});
