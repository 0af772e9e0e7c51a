/**
 * Opens WinHvPlatform.dll (and, on request, WinHvEmulation.dll) through koffi
 * and binds the functions declared in whp-functions.ts.
 *
 * - Nothing happens at import: koffi is loaded by openWhp() (loadKoffi()).
 * - The DLLs are loaded by full path from %SystemRoot%\System32, so a DLL of
 *   the same name in the working directory cannot be planted (whp-api.md §5);
 *   a test double can be loaded from an explicit `dllDirectory`.
 * - Required functions are bound at open; the others on first use. A missing
 *   DLL is a WhpDllError (hint: enable the feature), a missing export a
 *   WhpFunctionMissingError naming it.
 * - koffi state is per Worker: call openWhp() in each Worker that calls WHP.
 */
import { platform } from 'node:os';
import { join } from 'node:path';
import { loadKoffi } from '../native/koffi.ts';
import type { Koffi } from '../native/koffi.ts';
import { HostError } from '../errors.ts';
import { koffiTypesFor } from './koffi-types.ts';
import type { KoffiTypes } from './koffi-types.ts';
import { whpRegistry } from './whp-decls.ts';
import { WHV_FUNCTIONS } from './whp-functions.ts';
import type { FunctionDecl } from './c-decl.ts';
import { WhpDllError, WhpFunctionMissingError, notWindowsReason } from './whp-errors.ts';

/** A native pointer argument: an address, a JS buffer (transient pointer), or NULL. */
export type Ptr = bigint | ArrayBufferView | null;

/**
 * The functions the WHP wrappers call, with the JS types koffi marshals
 * (HRESULT is a signed 32-bit number; handles and addresses are BigInts).
 */
export interface WhpApi {
  WHvGetCapability(code: number, buffer: Ptr, size: number, written: Uint32Array | null): number;
  WHvCreatePartition(partition: BigUint64Array): number;
  WHvSetupPartition(partition: bigint): number;
  WHvDeletePartition(partition: bigint): number;
  WHvGetPartitionProperty(partition: bigint, code: number, buffer: Ptr, size: number, written: Uint32Array | null): number;
  WHvSetPartitionProperty(partition: bigint, code: number, buffer: Ptr, size: number): number;
  WHvSuspendPartitionTime(partition: bigint): number;
  WHvResumePartitionTime(partition: bigint): number;
  WHvMapGpaRange(partition: bigint, source: bigint, gpa: bigint, size: bigint, flags: number): number;
  WHvUnmapGpaRange(partition: bigint, gpa: bigint, size: bigint): number;
  WHvCreateVirtualProcessor(partition: bigint, vp: number, flags: number): number;
  WHvDeleteVirtualProcessor(partition: bigint, vp: number): number;
  WHvRunVirtualProcessor(partition: bigint, vp: number, exitContext: bigint, size: number): number;
  WHvCancelRunVirtualProcessor(partition: bigint, vp: number, flags: number): number;
  WHvGetVirtualProcessorRegisters(partition: bigint, vp: number, names: bigint, count: number, values: bigint): number;
  WHvSetVirtualProcessorRegisters(partition: bigint, vp: number, names: bigint, count: number, values: bigint): number;
  WHvRequestInterrupt(partition: bigint, control: Ptr, size: number): number;
  /** Gva: WHV_GUEST_VIRTUAL_ADDRESS (UINT64) — a non-negative safe integer as a number, else the unsigned BigInt. */
  WHvTranslateGva(partition: bigint, vp: number, gva: bigint | number, flags: number, result: bigint, gpa: bigint): number;
}

export interface WhpEmulationApi {
  WHvEmulatorCreateEmulator(callbacks: Ptr, emulator: BigUint64Array): number;
  WHvEmulatorDestroyEmulator(emulator: bigint): number;
  WHvEmulatorTryIoEmulation(emulator: bigint, context: bigint | null, vpContext: bigint, ioContext: bigint, status: Uint32Array): number;
  WHvEmulatorTryMmioEmulation(emulator: bigint, context: bigint | null, vpContext: bigint, mmioContext: bigint, status: Uint32Array): number;
}

type NativeFn = (...args: unknown[]) => unknown;

export class WhpLibrary {
  private readonly bound = new Map<string, NativeFn>();
  private readonly libs = new Map<string, ReturnType<Koffi['load']>>();
  /** Typed view of the bound functions (each resolved on first access). */
  readonly api: WhpApi;
  readonly types: KoffiTypes;

  constructor(
    readonly koffi: Koffi,
    private readonly dllDirectory: string,
  ) {
    this.types = koffiTypesFor(koffi, whpRegistry);
    this.api = new Proxy({} as WhpApi, { get: (_t, name) => this.fn(String(name)) });
    for (const f of WHV_FUNCTIONS) if (f.required && f.dll === 'WinHvPlatform.dll') this.fn(f.name);
  }

  private lib(dll: FunctionDecl['dll']): ReturnType<Koffi['load']> {
    let lib = this.libs.get(dll);
    if (!lib) {
      const path = join(this.dllDirectory, dll);
      try {
        lib = this.koffi.load(path);
      } catch (err) {
        throw new WhpDllError(dll, `${(err as Error).message} (${path})`);
      }
      this.libs.set(dll, lib);
    }
    return lib;
  }

  /** True when the DLL exports `name` (binds it if so). */
  has(name: string): boolean {
    try {
      this.fn(name);
      return true;
    } catch (err) {
      if (err instanceof WhpFunctionMissingError) return false;
      throw err;
    }
  }

  /** The bound function, binding it on first use. */
  fn(name: string): NativeFn {
    const hit = this.bound.get(name);
    if (hit) return hit;
    const decl = WHV_FUNCTIONS.find((f) => f.name === name);
    if (!decl) throw new Error(`${name} is not a declared WHP function`);
    const lib = this.lib(decl.dll);
    let f: NativeFn;
    try {
      f = lib.func(name, this.types.typeText(decl.ret), decl.params.map(([t]) => this.types.typeText(t))) as NativeFn;
    } catch (err) {
      if (/Cannot find function/i.test((err as Error).message)) throw new WhpFunctionMissingError(decl.dll, name);
      throw err;
    }
    this.bound.set(name, f);
    return f;
  }

  /** WinHvEmulation.dll's four functions (loads that DLL on first call). */
  emulation(): WhpEmulationApi {
    return new Proxy({} as WhpEmulationApi, { get: (_t, name) => this.fn(String(name)) });
  }
}

const opened = new WeakMap<object, Map<string, WhpLibrary>>();

/** System32 of this Windows installation. */
export function system32(): string {
  return join(process.env['SystemRoot'] ?? process.env['windir'] ?? 'C:\\Windows', 'System32');
}

/**
 * Opens WHP for this thread (Worker). Throws HostError off Windows, WhpDllError
 * when the DLL is missing. `dllDirectory` is for test doubles only.
 */
export function openWhp(options: { dllDirectory?: string } = {}): WhpLibrary {
  if (platform() !== 'win32') throw new HostError(`the WHP backend ${notWindowsReason(platform())}`, { hint: 'use a Windows 10/11 x64 host' });
  const koffi = loadKoffi();
  const dir = options.dllDirectory ?? system32();
  let perKoffi = opened.get(koffi);
  if (!perKoffi) opened.set(koffi, (perKoffi = new Map()));
  let lib = perKoffi.get(dir);
  if (!lib) {
    lib = new WhpLibrary(koffi, dir);
    perKoffi.set(dir, lib);
  }
  return lib;
}
