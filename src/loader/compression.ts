/**
 * Identifies a bzImage payload's compression from its magic bytes. The formats and
 * magics are the ones listed for `payload_offset` in Documentation/x86/boot.rst
 * (gzip 1F 8B/1F 9E, bzip2 42 5A, LZMA 5D 00, XZ FD 37, LZ4 02 21, ZSTD 28 B5, ELF
 * 7F 45 4C 46), plus LZO, whose decompressor the kernel also builds
 * (CONFIG_KERNEL_LZO; lzop's file magic 89 4C 5A 4F).
 */
export type PayloadCompression = 'gzip' | 'bzip2' | 'lzma' | 'xz' | 'lzo' | 'lz4' | 'zstd' | 'none' | 'unknown';

const MAGICS: readonly (readonly [PayloadCompression, readonly number[]])[] = [
  ['gzip', [0x1f, 0x8b]],
  ['gzip', [0x1f, 0x9e]], // old gzip
  ['bzip2', [0x42, 0x5a, 0x68]], // "BZh"
  ['lzma', [0x5d, 0x00, 0x00]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]], // FD "7zXZ" 00
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]], // 89 "LZO"
  ['lz4', [0x02, 0x21, 0x4c, 0x18]], // LZ4 legacy frame, magic 0x184C2102 LE (what the kernel's build uses)
  ['lz4', [0x04, 0x22, 0x4d, 0x18]], // LZ4 frame format, magic 0x184D2204 LE
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['none', [0x7f, 0x45, 0x4c, 0x46]], // an uncompressed ELF
];

export function detectCompression(bytes: Uint8Array): PayloadCompression {
  for (const [name, magic] of MAGICS) {
    if (bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b)) return name;
  }
  return 'unknown';
}
