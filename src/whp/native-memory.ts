/**
 * Native buffers for WHP calls.
 *
 * - AlignedBlock: small, long-lived, 16-byte-aligned buffers (exit contexts,
 *   WHV_REGISTER_VALUE arrays). WHV_REGISTER_VALUE and WHV_RUN_VP_EXIT_CONTEXT
 *   are DECLSPEC_ALIGN(16) in the header and koffi cannot express alignment
 *   above 8, so we over-allocate with koffi.alloc and round the address up
 *   ourselves. Allocated once per vCPU, never on the exit path.
 * - Guest RAM: page-aligned memory from VirtualAlloc (WHvMapGpaRange needs a
 *   page-aligned host address and size), Windows only.
 */
import type { Koffi } from '../native/koffi.ts';
import { HostError } from '../errors.ts';

export interface NativeBlock {
  /** Address to pass to native code (aligned as requested). */
  readonly address: bigint;
  /** Bytes at `address`, zero-copy (koffi.view). */
  readonly bytes: Uint8Array;
  free(): void;
}

/** Allocates `size` zeroed bytes at an address that is a multiple of `align` (a power of two). */
export function allocAligned(koffi: Koffi, size: number, align = 16): NativeBlock {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`allocation size must be a positive integer, got ${size}`);
  if (align & (align - 1) || align <= 0) throw new RangeError(`alignment must be a power of two, got ${align}`);
  // koffi.alloc is calloc (zeroed); the extra align-1 bytes let us round up.
  const raw = koffi.alloc('uint8_t', size + align - 1) as unknown;
  const base = typeof raw === 'bigint' ? raw : koffi.address(raw);
  const mask = BigInt(align - 1);
  const address = (base + mask) & ~mask;
  return nativeBlock(address, new Uint8Array(koffi.view(address, size)), () => koffi.free(raw));
}

// ---- VirtualAlloc (kernel32), Windows only -------------------------------------

/** winnt.h memory constants. */
const MEM_COMMIT = 0x1000;
const MEM_RESERVE = 0x2000;
const MEM_RELEASE = 0x8000;
const PAGE_READWRITE = 0x04;
export const HOST_PAGE_SIZE = 4096;

interface Kernel32 {
  VirtualAlloc(addr: bigint | null, size: number, type: number, protect: number): bigint | null;
  VirtualFree(addr: bigint, size: number, type: number): number;
  GetLastError(): number;
}

const kernel32Cache = new WeakMap<object, Kernel32>();

function kernel32(koffi: Koffi): Kernel32 {
  let k = kernel32Cache.get(koffi);
  if (!k) {
    const lib = koffi.load('kernel32.dll');
    k = {
      VirtualAlloc: lib.func('VirtualAlloc', 'void *', ['void *', 'size_t', 'uint32_t', 'uint32_t']) as Kernel32['VirtualAlloc'],
      VirtualFree: lib.func('VirtualFree', 'int32_t', ['void *', 'size_t', 'uint32_t']) as Kernel32['VirtualFree'],
      GetLastError: lib.func('GetLastError', 'uint32_t', []) as Kernel32['GetLastError'],
    };
    kernel32Cache.set(koffi, k);
  }
  return k;
}

/** Page-aligned, committed, zeroed read/write memory for guest RAM. */
export function virtualAlloc(koffi: Koffi, size: number): NativeBlock {
  if (size <= 0 || size % HOST_PAGE_SIZE !== 0) throw new RangeError(`guest RAM size must be a positive multiple of ${HOST_PAGE_SIZE}, got ${size}`);
  const k = kernel32(koffi);
  const address = k.VirtualAlloc(null, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!address) {
    throw new HostError(`VirtualAlloc of ${size} bytes for guest RAM failed (Win32 error ${k.GetLastError()})`, { hint: 'use less guest memory (--memory) or close other programs' });
  }
  return nativeBlock(address, new Uint8Array(koffi.view(address, size)), () => k.VirtualFree(address, 0, MEM_RELEASE));
}

/** A NativeBlock whose free() calls `release` once (later calls do nothing). */
function nativeBlock(address: bigint, bytes: Uint8Array, release: () => void): NativeBlock {
  let freed = false;
  return {
    address,
    bytes,
    free() {
      if (freed) return;
      freed = true;
      release();
    },
  };
}
