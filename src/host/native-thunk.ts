/**
 * CPUID and RDTSC for Node: a few bytes of x86-64 machine code in an executable
 * page, called through koffi as a function pointer.
 *
 * W^X: the page is mapped read-write, the code written, then the page switched
 * to read-execute before the first call; it is never writable and executable at
 * once. Linux: mmap/mprotect from libc. Windows: VirtualAlloc/VirtualProtect,
 * then FlushInstructionCache as the Win32 docs ask after writing code.
 *
 * Calling conventions (System V AMD64 ABI §3.2.3; Microsoft x64 calling
 * convention): integer arguments arrive in RDI, RSI, RDX (SysV) or RCX, RDX, R8
 * (Win64); RBX is callee-saved in both, and CPUID writes EBX, so the thunk saves
 * and restores it. RDTSC needs no arguments and is the same code for both.
 */
import { loadKoffi, type Koffi } from '../native/koffi.ts';
import { HostError } from '../errors.ts';
import type { CpuidRegisters } from '../x86/cpuid/cpuid-leaf.ts';

type KoffiType = ReturnType<Koffi['proto']>;

/** cpuid_fn(uint32 leaf, uint32 subleaf, uint32 out[4]) — System V: leaf=EDI, subleaf=ESI, out=RDX. */
export const CPUID_THUNK_SYSV = Uint8Array.of(
  0x53, //                   push rbx
  0x89, 0xf8, //             mov  eax, edi
  0x89, 0xf1, //             mov  ecx, esi
  0x49, 0x89, 0xd0, //       mov  r8, rdx        (CPUID clobbers EDX)
  0x0f, 0xa2, //             cpuid
  0x41, 0x89, 0x00, //       mov  [r8], eax
  0x41, 0x89, 0x58, 0x04, // mov  [r8+4], ebx
  0x41, 0x89, 0x48, 0x08, // mov  [r8+8], ecx
  0x41, 0x89, 0x50, 0x0c, // mov  [r8+12], edx
  0x5b, //                   pop  rbx
  0xc3, //                   ret
);

/** Same function, Win64: leaf=ECX, subleaf=EDX, out=R8 (CPUID leaves R8 alone). */
export const CPUID_THUNK_WIN64 = Uint8Array.of(
  0x53, //                   push rbx
  0x89, 0xc8, //             mov  eax, ecx
  0x89, 0xd1, //             mov  ecx, edx
  0x0f, 0xa2, //             cpuid
  0x41, 0x89, 0x00, //       mov  [r8], eax
  0x41, 0x89, 0x58, 0x04, // mov  [r8+4], ebx
  0x41, 0x89, 0x48, 0x08, // mov  [r8+8], ecx
  0x41, 0x89, 0x50, 0x0c, // mov  [r8+12], edx
  0x5b, //                   pop  rbx
  0xc3, //                   ret
);

/**
 * uint64 rdtsc_fn(void). LFENCE first so earlier instructions complete before
 * the TSC is read (Intel SDM vol. 2B, RDTSC; AMD makes LFENCE dispatch-serialising
 * on the CPUs Linux and Windows configure), then EDX:EAX → RAX.
 */
export const RDTSC_THUNK = Uint8Array.of(
  0x0f, 0xae, 0xe8, //       lfence
  0x0f, 0x31, //             rdtsc
  0x48, 0xc1, 0xe2, 0x20, // shl  rdx, 32
  0x48, 0x09, 0xd0, //       or   rax, rdx
  0xc3, //                   ret
);

const PAGE = 4096;
const RDTSC_OFFSET = 64;

export interface HostThunks {
  /** Executes CPUID on the current host CPU. */
  cpuid(leaf: number, subleaf: number): CpuidRegisters;
  /** Reads the host TSC. */
  rdtsc(): bigint;
  /** Releases the page. */
  dispose(): void;
}

/** Why thunks cannot run here, or undefined if they can. */
export function thunkUnsupportedReason(arch: string = process.arch, platform: string = process.platform): string | undefined {
  if (arch !== 'x64') return `the host CPU is ${arch}, not x86-64: CPUID and RDTSC do not exist here`;
  if (platform !== 'linux' && platform !== 'win32') return `platform ${platform} is not supported (Linux or Windows only)`;
  return undefined;
}

/**
 * @param cpuidCode replaces the CPUID thunk for this platform's convention (tests
 *   use it to run the Win64 body behind a SysV-to-Win64 argument shim on Linux).
 */
export function createHostThunks(koffi: Koffi = loadKoffi(), cpuidCode?: Uint8Array): HostThunks {
  const unsupported = thunkUnsupportedReason();
  if (unsupported) throw new HostError(unsupported);
  const win = process.platform === 'win32';
  if (cpuidCode && cpuidCode.length > RDTSC_OFFSET) throw new RangeError(`CPUID thunk of ${cpuidCode.length} bytes overlaps the RDTSC thunk at ${RDTSC_OFFSET}`);
  const mem = win ? windowsMemory(koffi) : linuxMemory(koffi);
  const page = mem.allocRw(PAGE);
  try {
    const bytes = new Uint8Array(koffi.view(page, PAGE));
    bytes.set(cpuidCode ?? (win ? CPUID_THUNK_WIN64 : CPUID_THUNK_SYSV), 0);
    bytes.set(RDTSC_THUNK, RDTSC_OFFSET);
    mem.makeRx(page, PAGE);
  } catch (err) {
    mem.free(page, PAGE);
    throw err;
  }
  const base = koffi.address(page);
  const { cpuidProto, rdtscProto } = prototypes(koffi);
  const rdtscAddr = base + BigInt(RDTSC_OFFSET);
  const out = new Uint32Array(4);
  let live = true;
  return {
    cpuid(leaf, subleaf) {
      if (!live) throw new Error('host thunks used after dispose()');
      koffi.call(base, cpuidProto, leaf >>> 0, subleaf >>> 0, out);
      return [out[0]!, out[1]!, out[2]!, out[3]!];
    },
    rdtsc() {
      if (!live) throw new Error('host thunks used after dispose()');
      return BigInt(koffi.call(rdtscAddr, rdtscProto) as number | bigint);
    },
    dispose() {
      if (!live) return;
      live = false;
      mem.free(page, PAGE);
    },
  };
}

// koffi registers named prototypes globally, so they are declared once per process.
let protos: { cpuidProto: KoffiType; rdtscProto: KoffiType } | undefined;
function prototypes(koffi: Koffi): { cpuidProto: KoffiType; rdtscProto: KoffiType } {
  protos ??= {
    cpuidProto: koffi.proto('void krun_cpuid_fn(uint32_t leaf, uint32_t subleaf, _Out_ uint32_t *out)'),
    rdtscProto: koffi.proto('uint64_t krun_rdtsc_fn(void)'),
  };
  return protos;
}

interface ExecMemory {
  allocRw(size: number): unknown;
  makeRx(ptr: unknown, size: number): void;
  free(ptr: unknown, size: number): void;
}

function linuxMemory(koffi: Koffi): ExecMemory {
  // <sys/mman.h>: PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4; MAP_PRIVATE 0x02, MAP_ANONYMOUS 0x20.
  const libc = koffi.load('libc.so.6');
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset)');
  const mprotect = libc.func('int mprotect(void *addr, size_t len, int prot)');
  const munmap = libc.func('int munmap(void *addr, size_t length)');
  return {
    allocRw(size) {
      const p = mmap(null, size, 1 | 2, 0x02 | 0x20, -1, 0);
      if (p === null || koffi.address(p) === 0xffff_ffff_ffff_ffffn) throw new HostError('mmap of one read-write page for the CPUID thunk failed');
      return p;
    },
    makeRx(p, size) {
      if (mprotect(p, size, 1 | 4) !== 0) throw new HostError('mprotect(PROT_READ|PROT_EXEC) of the CPUID thunk page failed', { hint: 'a policy forbidding executable anonymous memory (SELinux execmem, PaX) blocks the thunk' });
    },
    free(p, size) {
      munmap(p, size);
    },
  };
}

function windowsMemory(koffi: Koffi): ExecMemory {
  // winnt.h: MEM_COMMIT 0x1000, MEM_RESERVE 0x2000, MEM_RELEASE 0x8000, PAGE_READWRITE 0x04, PAGE_EXECUTE_READ 0x20.
  const k32 = koffi.load('kernel32.dll');
  const VirtualAlloc = k32.func('__stdcall', 'VirtualAlloc', 'void *', ['void *', 'size_t', 'uint32_t', 'uint32_t']);
  const VirtualProtect = k32.func('__stdcall', 'VirtualProtect', 'int', ['void *', 'size_t', 'uint32_t', '_Out_ uint32_t *']);
  const VirtualFree = k32.func('__stdcall', 'VirtualFree', 'int', ['void *', 'size_t', 'uint32_t']);
  const GetCurrentProcess = k32.func('__stdcall', 'GetCurrentProcess', 'void *', []);
  const FlushInstructionCache = k32.func('__stdcall', 'FlushInstructionCache', 'int', ['void *', 'void *', 'size_t']);
  return {
    allocRw(size) {
      const p = VirtualAlloc(null, size, 0x1000 | 0x2000, 0x04);
      if (p === null) throw new HostError('VirtualAlloc of one read-write page for the CPUID thunk failed');
      return p;
    },
    makeRx(p, size) {
      const old = new Uint32Array(1);
      if (!VirtualProtect(p, size, 0x20, old)) throw new HostError('VirtualProtect(PAGE_EXECUTE_READ) of the CPUID thunk page failed');
      FlushInstructionCache(GetCurrentProcess(), p, size);
    },
    free(p) {
      VirtualFree(p, 0, 0x8000);
    },
  };
}
