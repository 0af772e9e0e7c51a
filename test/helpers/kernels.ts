/**
 * Kernel images for the loader tests:
 *  - the bundled guest kernel (guest/bzImage, gzip payload) when it has been built;
 *  - Debian's cloud kernel (.cache/kernels/vmlinuz-*, from scripts/fetch-debian-kernel.sh);
 *  - synthetic bzImage and ELF images built here from the specs (boot.rst setup header
 *    table; ELF64 gABI), independent of the loader's own constants;
 *  - an ELF vmlinux derived from a real bzImage by decompressing its payload
 *    (gzip with node:zlib; LZ4 legacy frames with the small decoder below).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ROOT } from './cli.ts';

export const BUNDLED_BZIMAGE = join(ROOT, 'guest', 'bzImage');
export const KERNEL_CACHE = join(ROOT, '.cache', 'kernels');

export function bundledBzImage(): Uint8Array | null {
  return existsSync(BUNDLED_BZIMAGE) ? new Uint8Array(readFileSync(BUNDLED_BZIMAGE)) : null;
}

/** Path and release ("6.1.0-56-cloud-amd64") of the fetched Debian kernel, or null. */
export function debianKernel(): { path: string; release: string } | null {
  if (!existsSync(KERNEL_CACHE)) return null;
  const name = readdirSync(KERNEL_CACHE).filter((f) => /^vmlinuz-\d/.test(f)).sort().pop();
  return name ? { path: join(KERNEL_CACHE, name), release: name.slice('vmlinuz-'.length) } : null;
}

export const SKIP_NO_BUNDLED = 'guest/bzImage is not built yet (scripts/build-guest.sh)';
export const SKIP_NO_DEBIAN = 'Debian kernel not fetched (run scripts/fetch-debian-kernel.sh)';

const le16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const le32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** The compressed payload of a bzImage: (setup_sects+1)*512 + payload_offset, payload_length bytes (boot.rst). */
export function bzPayload(bz: Uint8Array): Uint8Array {
  const setup = ((bz[0x1f1] || 4) + 1) * 512;
  const off = setup + le32(bz, 0x248);
  return bz.subarray(off, off + le32(bz, 0x24c));
}

/** Decompresses a bzImage payload (gzip or LZ4 legacy) to the ELF vmlinux inside it. */
export function vmlinuxFromBzImage(bz: Uint8Array): Uint8Array {
  const p = bzPayload(bz);
  if (p[0] === 0x1f && p[1] === 0x8b) return new Uint8Array(gunzipSync(p));
  if (le32(p, 0) === 0x184c2102) return lz4LegacyDecode(p);
  throw new Error(`unsupported payload magic ${p[0]!.toString(16)} ${p[1]!.toString(16)}`);
}

/**
 * LZ4 "legacy frame" decoder (lz4 format docs: magic 0x184C2102, then blocks of
 * [u32 compressed size][LZ4 block]); the kernel's build appends the uncompressed size
 * as a final u32. Block format: token (literal length high nibble, match length low
 * nibble, 15 = more bytes follow), literals, u16 offset, match (min 4 bytes).
 */
export function lz4LegacyDecode(src: Uint8Array): Uint8Array {
  const total = le32(src, src.length - 4);
  const out = new Uint8Array(total);
  let o = 0;
  let p = 4;
  while (p + 4 <= src.length) {
    const size = le32(src, p);
    if (size === 0x184c2102) {
      p += 4;
      continue;
    }
    if (p + 4 + size > src.length) break; // the trailing uncompressed-size word
    let i = p + 4;
    const end = i + size;
    while (i < end) {
      const token = src[i++]!;
      let lit = token >> 4;
      if (lit === 15) for (let b = 255; b === 255; ) lit += b = src[i++]!;
      out.set(src.subarray(i, i + lit), o);
      i += lit;
      o += lit;
      if (i >= end) break;
      const offset = le16(src, i);
      i += 2;
      let len = token & 15;
      if (len === 15) for (let b = 255; b === 255; ) len += b = src[i++]!;
      len += 4;
      for (let k = 0; k < len; k++, o++) out[o] = out[o - offset]!;
    }
    p = end;
  }
  if (o !== total) throw new Error(`lz4: decoded ${o} bytes, expected ${total}`);
  return out;
}

export interface SyntheticBzOptions {
  version?: number;
  xloadflags?: number;
  loadflags?: number;
  relocatable?: boolean;
  kernelAlignment?: number;
  prefAddress?: number;
  initSize?: number;
  cmdlineSize?: number;
  initrdAddrMax?: number;
  payloadMagic?: number[];
  versionString?: string;
  protectedModeSize?: number;
}

/**
 * A minimal bzImage built from the boot.rst header table: 4 setup sectors + boot
 * sector, then `protectedModeSize` bytes of "protected-mode code" holding a payload
 * whose first bytes are `payloadMagic`.
 */
export function syntheticBzImage(o: SyntheticBzOptions = {}): Uint8Array {
  const setupSects = 4;
  const setupSize = (setupSects + 1) * 512;
  const pmSize = o.protectedModeSize ?? 0x4000;
  const b = new Uint8Array(setupSize + pmSize);
  const dv = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  dv.setUint32(0x1f4, Math.ceil(pmSize / 16), true); // syssize
  dv.setUint16(0x1fa, 0xffff, true); // vid_mode NORMAL_VGA
  dv.setUint16(0x1fe, 0xaa55, true); // boot_flag
  b[0x200] = 0xeb; // jmp short
  b[0x201] = 0x6a; // header ends at 0x26c (kernel_info_offset included)
  b.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  dv.setUint16(0x206, o.version ?? 0x020f, true);
  const vs = o.versionString ?? '9.9.9-synthetic (test@loader) #1 SMP';
  dv.setUint16(0x20e, 0x400 - 0x200, true); // kernel_version: string at file offset 0x400
  b.set(new TextEncoder().encode(vs), 0x400);
  b[0x211] = o.loadflags ?? 0x01; // LOADED_HIGH
  dv.setUint32(0x214, 0x100000, true); // code32_start
  dv.setUint32(0x22c, o.initrdAddrMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, o.kernelAlignment ?? 0x200000, true);
  b[0x234] = o.relocatable === false ? 0 : 1;
  b[0x235] = 21;
  dv.setUint16(0x236, o.xloadflags ?? 0x0003, true); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  dv.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  const payloadOffset = 0x100;
  const payloadLength = pmSize - payloadOffset - 0x100;
  dv.setUint32(0x248, payloadOffset, true);
  dv.setUint32(0x24c, payloadLength, true);
  dv.setBigUint64(0x258, BigInt(o.prefAddress ?? 0x1000000), true);
  dv.setUint32(0x260, o.initSize ?? 0x400000, true);
  b.set(o.payloadMagic ?? [0x1f, 0x8b, 0x08, 0x00], setupSize + payloadOffset);
  // Something recognisable at the 64-bit entry (+0x200): the tests look for it in guest memory.
  b.set([0xde, 0xad, 0xbe, 0xef], setupSize + 0x200);
  return b;
}

export interface SyntheticElfSegment {
  paddr: number;
  vaddr: bigint;
  data: Uint8Array;
  memSize: number;
}

/** A minimal ELF64 x86-64 ET_EXEC with the given PT_LOAD segments (gABI layouts). */
export function syntheticElf(
  segments: SyntheticElfSegment[],
  entry: bigint,
  o: { machine?: number; cls?: number; type?: number } = {},
): Uint8Array {
  const phoff = 64;
  let dataOff = phoff + 56 * segments.length;
  const offsets = segments.map((s) => {
    const at = dataOff;
    dataOff += s.data.length;
    return at;
  });
  const b = new Uint8Array(dataOff);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, o.cls ?? 2, 1, 1, 0], 0); // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  dv.setUint16(0x10, o.type ?? 2, true); // ET_EXEC
  dv.setUint16(0x12, o.machine ?? 62, true); // EM_X86_64
  dv.setUint32(0x14, 1, true);
  dv.setBigUint64(0x18, entry, true);
  dv.setBigUint64(0x20, BigInt(phoff), true);
  dv.setUint16(0x34, 64, true); // e_ehsize
  dv.setUint16(0x36, 56, true); // e_phentsize
  dv.setUint16(0x38, segments.length, true);
  segments.forEach((s, i) => {
    const ph = phoff + i * 56;
    dv.setUint32(ph, 1, true); // PT_LOAD
    dv.setUint32(ph + 4, 7, true); // RWX
    dv.setBigUint64(ph + 8, BigInt(offsets[i]!), true);
    dv.setBigUint64(ph + 0x10, s.vaddr, true);
    dv.setBigUint64(ph + 0x18, BigInt(s.paddr), true);
    dv.setBigUint64(ph + 0x20, BigInt(s.data.length), true);
    dv.setBigUint64(ph + 0x28, BigInt(s.memSize), true);
    dv.setBigUint64(ph + 0x30, 0x200000n, true);
    b.set(s.data, offsets[i]!);
  });
  return b;
}

/** A small two-segment "vmlinux": text at 16 MiB (virtual 0xffffffff81000000) and data + .bss after it. */
export function syntheticVmlinux(): Uint8Array {
  const text = new Uint8Array(0x3000).fill(0x90);
  text.set([0xf4], 0); // hlt at the entry
  const data = new Uint8Array(0x1000).fill(0xaa);
  data.set(new TextEncoder().encode('Linux version 9.9.9-elf (test@loader) #1 SMP\n\0'), 0x10);
  return syntheticElf(
    [
      { paddr: 0x1000000, vaddr: 0xffffffff81000000n, data: text, memSize: 0x3000 },
      { paddr: 0x1004000, vaddr: 0xffffffff81004000n, data, memSize: 0x3000 }, // 0x2000 bytes of .bss
    ],
    0xffffffff81000000n, // a virtual entry: the loader must translate it
  );
}

export { le16, le32 };
