/**
 * ExitRegisterWriter: a variable-length WHvSetVirtualProcessorRegisters batch for completing
 * one exit, so that only the registers an instruction changed are written back.
 *
 * RegisterBatch (register-batch.ts) has a fixed name list; an exit's write set differs per
 * instruction (RIP only for OUT; RAX+RIP for IN; RCX/RSI/RIP for `rep outsb`; CR2 + PendingEvent
 * for a #PF…). This one is a native block sized for the largest set, prepared once per vCPU:
 * each push() writes a name and a 16-byte WHV_REGISTER_VALUE slot in place and flush() passes
 * the first `count` of them. No allocation on the exit path.
 */
import { failed } from './hresult.ts';
import { WhpCallError } from './whp-errors.ts';
import { RegisterBatch, REGISTER_VALUE_ALIGN, REGISTER_VALUE_SIZE } from './register-batch.ts';
import { roundUp } from './c-decl.ts';
import type { NativeBlock } from './native-memory.ts';

type SetRegsFn = (partition: bigint, vp: number, names: bigint, count: number, values: bigint) => number;

export class ExitRegisterWriter {
  /** Registers pushed since the last flush(). */
  count = 0;
  private lastCount = 0;
  readonly capacity: number;
  private readonly names: DataView;
  /** The value slots: slot i is bytes [16 i, 16 i + 16). */
  readonly values: DataView;
  private readonly namesAddress: bigint;
  private readonly valuesAddress: bigint;

  constructor(
    private readonly setRegs: SetRegsFn,
    private readonly partition: bigint,
    private readonly vpIndex: number,
    private readonly block: NativeBlock,
    capacity: number,
  ) {
    if (block.address % BigInt(REGISTER_VALUE_ALIGN) !== 0n) throw new RangeError('register writer buffer is not 16-byte aligned');
    if (block.bytes.byteLength < RegisterBatch.byteSize(capacity)) throw new RangeError('register writer buffer too small');
    this.capacity = capacity;
    const valuesOffset = roundUp(4 * capacity, REGISTER_VALUE_ALIGN);
    const b = block.bytes;
    this.names = new DataView(b.buffer, b.byteOffset, 4 * capacity);
    this.values = new DataView(b.buffer, b.byteOffset + valuesOffset, REGISTER_VALUE_SIZE * capacity);
    this.namesAddress = block.address;
    this.valuesAddress = block.address + BigInt(valuesOffset);
  }

  /** Bytes to allocate (16-byte aligned) for `capacity` registers. */
  static byteSize(capacity: number): number {
    return RegisterBatch.byteSize(capacity);
  }

  /** Appends a register and returns its slot's byte offset in `values` (the caller fills it). */
  slot(name: number): number {
    const i = this.count;
    if (i >= this.capacity) throw new RangeError(`register writer holds at most ${this.capacity} registers`);
    this.names.setUint32(4 * i, name, true);
    this.count = i + 1;
    return 16 * i;
  }

  /** Appends a 64-bit register value (halves; the slot's upper 64 bits are cleared). */
  push64(name: number, lo: number, hi: number): void {
    const at = this.slot(name);
    const v = this.values;
    v.setUint32(at, lo >>> 0, true);
    v.setUint32(at + 4, hi >>> 0, true);
    v.setUint32(at + 8, 0, true);
    v.setUint32(at + 12, 0, true);
  }

  /**
   * Appends a canonical address held in `holder.rip` (X86Registers' sign-extended number). Takes
   * the holder, not the number: a double argument above 2^30 to a call V8 does not inline is
   * boxed, one allocation per exit.
   */
  pushRip(name: number, holder: { readonly rip: number }): void {
    const v = holder.rip;
    this.push64(name, v >>> 0, Math.floor(v / 4294967296) | 0);
  }

  /** Appends a 128-bit value given as four little-endian 32-bit words from `words[at..at+3]`. */
  push128(name: number, words: Uint32Array, at: number): void {
    const s = this.slot(name);
    for (let i = 0; i < 4; i++) this.values.setUint32(s + 4 * i, words[at + i]!, true);
  }

  /** Drops what was pushed without writing it. */
  reset(): void {
    this.count = 0;
  }

  /**
   * Writes the pushed registers in one call (nothing when empty) and resets. Returns the
   * HRESULT. The names and values stay in the block, so a caller may patch a slot
   * (setNameAt, values) and reissue the same set with flushAgain().
   */
  flushRaw(): number {
    const n = this.count;
    this.count = 0;
    this.lastCount = n;
    if (n === 0) return 0;
    return this.setRegs(this.partition, this.vpIndex, this.namesAddress, n, this.valuesAddress);
  }

  /** Reissues the last flushRaw()'s registers (after patching a slot). */
  flushAgain(): number {
    const n = this.lastCount;
    return n === 0 ? 0 : this.setRegs(this.partition, this.vpIndex, this.namesAddress, n, this.valuesAddress);
  }

  /** Renames slot i (e.g. PendingEvent → PendingInterruption on a build without PendingEvent). */
  setNameAt(i: number, name: number): void {
    this.names.setUint32(4 * i, name, true);
  }

  /** flushRaw(), throwing WhpCallError on failure. */
  flush(what: string): void {
    const hr = this.flushRaw();
    if (hr !== 0 && failed(hr)) throw new WhpCallError('WHvSetVirtualProcessorRegisters', hr, `vCPU ${this.vpIndex}: ${what}`);
  }

  /** The name in slot i (for messages and tests). */
  nameAt(i: number): number {
    return this.names.getUint32(4 * i, true);
  }

  free(): void {
    this.block.free();
  }
}
