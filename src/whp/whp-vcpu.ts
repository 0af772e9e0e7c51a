/**
 * WhpVcpu: one virtual processor, run synchronously on the calling thread
 * (one Worker per vCPU: WHvRunVirtualProcessor blocks until an exit).
 *
 * Needs only the partition handle (a BigInt), so a Worker can attach to a
 * partition the main thread created. The exit context buffer (224 bytes,
 * 16-aligned) and the decoder are created once; run() allocates nothing.
 *
 * Cancellation: WHvCancelRunVirtualProcessor may be called from any thread
 * (cancelRun below, with the handle and index). Like QEMU and OpenVMM, the
 * run loop should check its own "stop requested" flag before each run(), so a
 * cancel that races with entry is not lost (whp-api.md §6.1).
 */
import type { Koffi } from '../native/koffi.ts';
import { failed } from './hresult.ts';
import { WhpCallError } from './whp-errors.ts';
import { EXIT_CONTEXT_SIZE, ExitDecoder } from './exit-context.ts';
import type { WhpExit } from './exit-context.ts';
import { RegisterBatch } from './register-batch.ts';
import { allocAligned } from './native-memory.ts';
import type { NativeBlock } from './native-memory.ts';
import type { WhpApi } from './whp-library.ts';

type RunFn = (partition: bigint, vp: number, exitContext: bigint, size: number) => number;
type RegFn = (partition: bigint, vp: number, names: bigint, count: number, values: bigint) => number;

/** Allocates 16-byte-aligned native memory (allocAligned over koffi, or a test double). */
export type AlignedAllocator = (size: number, align: number) => NativeBlock;

export const koffiAllocator =
  (koffi: Koffi): AlignedAllocator =>
  (size, align) =>
    allocAligned(koffi, size, align);

export class WhpVcpu implements Disposable {
  private readonly exitBlock: NativeBlock;
  private readonly decoder: ExitDecoder;
  private readonly batches: RegisterBatch<readonly string[]>[] = [];
  private disposed = false;
  // Bound once: the hot path calls these directly.
  private readonly runFn: RunFn;
  private readonly getRegsFn: RegFn;
  private readonly setRegsFn: RegFn;

  constructor(
    private readonly api: WhpApi,
    readonly partition: bigint,
    readonly index: number,
    private readonly alloc: AlignedAllocator,
  ) {
    const hr = api.WHvCreateVirtualProcessor(partition, index, 0);
    if (failed(hr)) throw new WhpCallError('WHvCreateVirtualProcessor', hr, `vCPU ${index}`);
    this.exitBlock = alloc(EXIT_CONTEXT_SIZE, 16);
    this.decoder = new ExitDecoder(this.exitBlock.bytes);
    this.runFn = api.WHvRunVirtualProcessor.bind(api);
    this.getRegsFn = api.WHvGetVirtualProcessorRegisters.bind(api);
    this.setRegsFn = api.WHvSetVirtualProcessorRegisters.bind(api);
  }

  /** Address of the exit context (for WHvEmulatorTry*Emulation's VpContext / access-context pointers). */
  get exitContextAddress(): bigint {
    return this.exitBlock.address;
  }

  get exitContextBytes(): Uint8Array {
    return this.exitBlock.bytes;
  }

  /** Runs until the next exit and returns it decoded (the object is reused by the next run). */
  run(): WhpExit {
    const hr = this.runFn(this.partition, this.index, this.exitBlock.address, EXIT_CONTEXT_SIZE);
    if (hr !== 0 && failed(hr)) throw new WhpCallError('WHvRunVirtualProcessor', hr, `vCPU ${this.index}`);
    return this.decoder.decode();
  }

  /** Prepares a batch for a fixed register list (once; the vCPU frees it on dispose). */
  batch<const N extends readonly string[]>(names: N): RegisterBatch<N> {
    const b = new RegisterBatch(names, this.alloc(RegisterBatch.byteSize(names.length), 16));
    this.batches.push(b as unknown as RegisterBatch<readonly string[]>);
    return b;
  }

  getRegisters(batch: RegisterBatch<readonly string[]>): void {
    const hr = this.getRegsFn(this.partition, this.index, batch.namesAddress, batch.count, batch.valuesAddress);
    if (hr !== 0 && failed(hr)) throw new WhpCallError('WHvGetVirtualProcessorRegisters', hr, `vCPU ${this.index}: ${batch.names.join(',')}`);
  }

  setRegisters(batch: RegisterBatch<readonly string[]>): void {
    const hr = this.setRegsFn(this.partition, this.index, batch.namesAddress, batch.count, batch.valuesAddress);
    if (hr !== 0 && failed(hr)) throw new WhpCallError('WHvSetVirtualProcessorRegisters', hr, `vCPU ${this.index}: ${batch.names.join(',')}`);
  }

  /** Makes a run in progress (or the next one) return a Canceled exit. */
  cancel(): void {
    cancelRun(this.api, this.partition, this.index);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.api.WHvDeleteVirtualProcessor(this.partition, this.index);
    for (const b of this.batches.splice(0)) b.free();
    this.exitBlock.free();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** WHvCancelRunVirtualProcessor from any thread that has the partition handle. */
export function cancelRun(api: WhpApi, partition: bigint, index: number): void {
  const hr = api.WHvCancelRunVirtualProcessor(partition, index, 0);
  if (failed(hr)) throw new WhpCallError('WHvCancelRunVirtualProcessor', hr, `vCPU ${index}`);
}
