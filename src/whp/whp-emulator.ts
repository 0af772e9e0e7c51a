/**
 * WhpEmulator: Microsoft's instruction emulator (WinHvEmulation.dll) for IO and
 * MMIO exits. Our own x86 emulator is the default; this one stays selectable.
 *
 * Callbacks: the five WHV_EMULATOR_CALLBACKS are registered once per emulator
 * with koffi.register (the table outlives any one call, so transient callbacks
 * would dangle) and unregistered by dispose(). WinHvEmulation calls them
 * synchronously inside WHvEmulatorTry*Emulation on the calling thread, which
 * must be the Worker that registered them (koffi queues callbacks from other
 * threads to the registering thread and blocks — a deadlock if it is busy).
 *
 * A JS exception in a callback would reach C as 0 = S_OK (koffi returns
 * 0/NULL for a throwing callback), so every callback is wrapped: a throw
 * returns E_FAIL and the error is kept and rethrown after the Try* call.
 */
import type { Koffi } from '../native/koffi.ts';
import { E_FAIL, failed } from './hresult.ts';
import { WhpCallError } from './whp-errors.ts';
import { HostError } from '../errors.ts';
import { whpRegistry as reg } from './whp-decls.ts';
import { WHV_CALLBACKS } from './whp-functions.ts';
import { koffiTypesFor } from './koffi-types.ts';
import { setBitNames } from './capabilities.ts';
import type { WhpEmulationApi } from './whp-library.ts';

/** What the emulator asks of the VMM, with data already decoded from the native structs. */
export interface EmulatorHandlers {
  /** Port IO: for a read (isWrite false) return the value; for a write `data` is the value. */
  io(port: number, size: number, isWrite: boolean, data: number): number | void;
  /** Memory access at a GPA: read into / write from `data` (`size` bytes are valid). */
  memory(gpa: bigint, size: number, isWrite: boolean, data: Uint8Array): void;
  /** Fill `values` (a WHV_REGISTER_VALUE array) for `names`; usually a pass-through to WHvGetVirtualProcessorRegisters. */
  getRegisters(names: bigint, count: number, values: bigint): number;
  setRegisters(names: bigint, count: number, values: bigint): number;
  /** GVA → GPA: return the WHV_TRANSLATE_GVA_RESULT_CODE and the GPA. */
  translateGva(gva: bigint, flags: number): { result: number; gpa: bigint };
}

const CALLBACKS_SIZE = reg.layoutOf('WHV_EMULATOR_CALLBACKS').size;
const IO = {
  size: reg.layoutOf('WHV_EMULATOR_IO_ACCESS_INFO').size,
  direction: reg.offsetOf('WHV_EMULATOR_IO_ACCESS_INFO', 'Direction'),
  accessSize: reg.offsetOf('WHV_EMULATOR_IO_ACCESS_INFO', 'AccessSize'),
  port: reg.offsetOf('WHV_EMULATOR_IO_ACCESS_INFO', 'Port'),
  data: reg.offsetOf('WHV_EMULATOR_IO_ACCESS_INFO', 'Data'),
};
const MEM = {
  size: reg.layoutOf('WHV_EMULATOR_MEMORY_ACCESS_INFO').size,
  gpa: reg.offsetOf('WHV_EMULATOR_MEMORY_ACCESS_INFO', 'GpaAddress'),
  direction: reg.offsetOf('WHV_EMULATOR_MEMORY_ACCESS_INFO', 'Direction'),
  accessSize: reg.offsetOf('WHV_EMULATOR_MEMORY_ACCESS_INFO', 'AccessSize'),
  data: reg.offsetOf('WHV_EMULATOR_MEMORY_ACCESS_INFO', 'Data'),
};

/**
 * Wraps a callback so that a throw becomes a failing HRESULT instead of koffi's
 * 0 (= S_OK), and records the error for the caller.
 */
export function guardCallback<A extends unknown[]>(sink: { error: unknown }, fn: (...args: A) => number): (...args: A) => number {
  return (...args: A) => {
    try {
      return fn(...args) | 0;
    } catch (err) {
      if (sink.error === undefined) sink.error = err;
      return E_FAIL;
    }
  };
}

export class WhpEmulator implements Disposable {
  private readonly registered: bigint[] = [];
  private readonly table: Uint8Array;
  private readonly status = new Uint32Array(1);
  private readonly sink: { error: unknown } = { error: undefined };
  private disposed = false;
  readonly handle: bigint;

  constructor(
    private readonly koffi: Koffi,
    private readonly api: WhpEmulationApi,
    handlers: EmulatorHandlers,
  ) {
    const kt = koffiTypesFor(koffi, reg);
    const proto = (name: string) => kt.proto(WHV_CALLBACKS.find((c) => c.name === name)!);
    const sink = this.sink;
    const view = (p: bigint, n: number) => new DataView(koffi.view(p, n));

    const io = guardCallback(sink, (_ctx: unknown, info: bigint) => {
      const dv = view(info, IO.size);
      const isWrite = dv.getUint8(IO.direction) === 1;
      const size = dv.getUint16(IO.accessSize, true);
      const r = handlers.io(dv.getUint16(IO.port, true), size, isWrite, dv.getUint32(IO.data, true));
      if (!isWrite) dv.setUint32(IO.data, (r ?? 0) >>> 0, true);
      return 0;
    });
    const memory = guardCallback(sink, (_ctx: unknown, info: bigint) => {
      const dv = view(info, MEM.size);
      const size = dv.getUint8(MEM.accessSize);
      if (size > 8) throw new HostError(`WinHvEmulation memory callback with AccessSize ${size} (> 8)`);
      const data = new Uint8Array(dv.buffer, MEM.data, size);
      handlers.memory(dv.getBigUint64(MEM.gpa, true), size, dv.getUint8(MEM.direction) === 1, data);
      return 0;
    });
    const getRegs = guardCallback(sink, (_ctx: unknown, names: bigint, count: number, values: bigint) => handlers.getRegisters(names, count, values));
    const setRegs = guardCallback(sink, (_ctx: unknown, names: bigint, count: number, values: bigint) => handlers.setRegisters(names, count, values));
    const translate = guardCallback(sink, (_ctx: unknown, gva: bigint | number, flags: number, result: bigint, gpa: bigint) => {
      // koffi 3.3.4 hands a uint64_t callback argument to JS as a *signed* 64-bit value:
      // a Number when that is a safe integer, else a BigInt (0xFFFF8000FEC00000 arrives as
      // -140733214359552). Both are exact, so reinterpret as unsigned here.
      const r = handlers.translateGva(BigInt.asUintN(64, BigInt(gva)), flags);
      new DataView(koffi.view(result, 4)).setUint32(0, r.result >>> 0, true);
      new DataView(koffi.view(gpa, 8)).setBigUint64(0, r.gpa, true);
      return 0;
    });

    const reg1 = (fn: (...a: never[]) => number, name: string) => {
      const p = koffi.register(fn as (...a: unknown[]) => unknown, koffi.pointer(proto(name)));
      this.registered.push(p);
      return p;
    };
    this.table = new Uint8Array(CALLBACKS_SIZE);
    const dv = new DataView(this.table.buffer);
    const o = (f: string) => reg.offsetOf('WHV_EMULATOR_CALLBACKS', f);
    try {
      dv.setUint32(o('Size'), CALLBACKS_SIZE, true);
      dv.setBigUint64(o('WHvEmulatorIoPortCallback'), reg1(io, 'WHV_EMULATOR_IO_PORT_CALLBACK'), true);
      dv.setBigUint64(o('WHvEmulatorMemoryCallback'), reg1(memory, 'WHV_EMULATOR_MEMORY_CALLBACK'), true);
      dv.setBigUint64(o('WHvEmulatorGetVirtualProcessorRegisters'), reg1(getRegs, 'WHV_EMULATOR_GET_VIRTUAL_PROCESSOR_REGISTERS_CALLBACK'), true);
      dv.setBigUint64(o('WHvEmulatorSetVirtualProcessorRegisters'), reg1(setRegs, 'WHV_EMULATOR_SET_VIRTUAL_PROCESSOR_REGISTERS_CALLBACK'), true);
      dv.setBigUint64(o('WHvEmulatorTranslateGvaPage'), reg1(translate, 'WHV_EMULATOR_TRANSLATE_GVA_PAGE_CALLBACK'), true);
      const out = new BigUint64Array(1);
      const hr = api.WHvEmulatorCreateEmulator(this.table, out);
      if (failed(hr)) throw new WhpCallError('WHvEmulatorCreateEmulator', hr);
      this.handle = out[0]!;
    } catch (err) {
      this.unregisterAll();
      throw err;
    }
  }

  private unregisterAll(): void {
    for (const p of this.registered.splice(0)) this.koffi.unregister(p);
  }

  /**
   * Emulates the IO instruction of the last exit. `vpContext`/`accessContext`
   * are addresses inside the vCPU's exit context buffer
   * (exitContextAddress + offsetOf('VpContext') / ('IoPortAccess')).
   */
  tryIo(vpContext: bigint, ioContext: bigint): void {
    this.finish('WHvEmulatorTryIoEmulation', this.api.WHvEmulatorTryIoEmulation(this.handle, null, vpContext, ioContext, this.status));
  }

  tryMmio(vpContext: bigint, mmioContext: bigint): void {
    this.finish('WHvEmulatorTryMmioEmulation', this.api.WHvEmulatorTryMmioEmulation(this.handle, null, vpContext, mmioContext, this.status));
  }

  private finish(fn: string, hr: number): void {
    const err = this.sink.error;
    this.sink.error = undefined;
    if (err !== undefined) throw err;
    if (failed(hr)) throw new WhpCallError(fn, hr);
    const status = this.status[0]!;
    if (!(status & 1)) {
      throw new HostError(`${fn} did not emulate the instruction: WHV_EMULATOR_STATUS 0x${status.toString(16)} (${setBitNames('WHV_EMULATOR_STATUS', BigInt(status)).join(', ') || 'no bits'})`);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.api.WHvEmulatorDestroyEmulator(this.handle);
    this.unregisterAll();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
