/**
 * RegisterBatch: a fixed list of WHV_REGISTER_NAMEs and a 16-byte-aligned
 * WHV_REGISTER_VALUE array, prepared once (per vCPU, per use) and then reused
 * for every WHvGet/SetVirtualProcessorRegisters call — the JS analogue of a
 * const-generic `get_registers::<N>()`: no allocation per exit.
 *
 * One native block holds both arrays: names (UINT32 each) first, then the
 * values at the next 16-byte boundary. Accessors are by slot index; `slot`
 * maps each short name ('Rax', 'Rip', 'Cs' …) to its index once, at creation.
 *
 * Offsets inside WHV_REGISTER_VALUE (segment and table fields) come from the
 * declaration data checked against the header.
 */
import { roundUp } from './c-decl.ts';
import { whpRegistry as reg } from './whp-decls.ts';
import type { NativeBlock } from './native-memory.ts';
import type { Segment, U64 } from './exit-context.ts';

export const REGISTER_VALUE_SIZE = reg.layoutOf('WHV_REGISTER_VALUE').size;
export const REGISTER_VALUE_ALIGN = reg.layoutOf('WHV_REGISTER_VALUE').align;

const SEG = {
  base: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Base'),
  limit: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Limit'),
  selector: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Selector'),
  attributes: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Attributes'),
};
const TABLE = {
  limit: reg.offsetOf('WHV_REGISTER_VALUE', 'Table.Limit'),
  base: reg.offsetOf('WHV_REGISTER_VALUE', 'Table.Base'),
};

let shortNames: Map<string, number> | undefined;

/**
 * WHV_REGISTER_NAME by short name: the header's constant without its
 * `WHvX64Register` / `WHvRegister` prefix (`Rax`, `Cr0`, `Efer`,
 * `PendingInterruption`, `InternalActivityState`, `DeliverabilityNotifications`).
 */
export function registerName(short: string): number {
  if (!shortNames) {
    shortNames = new Map();
    const e = reg.get('WHV_REGISTER_NAME');
    if (e.kind !== 'enum') throw new Error('WHV_REGISTER_NAME is not an enum');
    for (const [k, v] of Object.entries(e.values)) shortNames.set(k.replace(/^WHvX64Register|^WHvRegister/, ''), v);
  }
  const v = shortNames.get(short);
  if (v === undefined) throw new Error(`unknown WHP register '${short}' (expected a WHV_REGISTER_NAME without its WHvX64Register/WHvRegister prefix)`);
  return v;
}

export class RegisterBatch<const N extends readonly string[]> {
  readonly count: number;
  /** Slot index of each register name. */
  readonly slot: { readonly [K in N[number]]: number };
  /** WHV_REGISTER_NAME array, to pass as RegisterNames. */
  readonly namesAddress: bigint;
  /** WHV_REGISTER_VALUE array (16-byte aligned), to pass as RegisterValues. */
  readonly valuesAddress: bigint;
  /** The value array; slot i occupies bytes [16 i, 16 i + 16). */
  readonly values: DataView;
  private readonly block: NativeBlock;

  /** Bytes needed for a batch of `count` registers (names, padding to 16, values). */
  static byteSize(count: number): number {
    return roundUp(4 * count, REGISTER_VALUE_ALIGN) + REGISTER_VALUE_SIZE * count;
  }

  /**
   * Lays a batch out in `block`, which must be 16-byte aligned and at least
   * byteSize(names.length) long (allocAligned(koffi, RegisterBatch.byteSize(n))).
   */
  constructor(
    readonly names: N,
    block: NativeBlock,
  ) {
    if (names.length === 0) throw new RangeError('a register batch needs at least one register');
    if (block.address % BigInt(REGISTER_VALUE_ALIGN) !== 0n) {
      throw new RangeError(`register batch buffer at 0x${block.address.toString(16)} is not ${REGISTER_VALUE_ALIGN}-byte aligned (WHV_REGISTER_VALUE is DECLSPEC_ALIGN(16))`);
    }
    if (block.bytes.byteLength < RegisterBatch.byteSize(names.length)) throw new RangeError('register batch buffer too small');
    this.block = block;
    this.count = names.length;
    const valuesOffset = roundUp(4 * names.length, REGISTER_VALUE_ALIGN);
    this.namesAddress = block.address;
    this.valuesAddress = block.address + BigInt(valuesOffset);
    const nameView = new DataView(block.bytes.buffer, block.bytes.byteOffset, 4 * names.length);
    const slot: Record<string, number> = {};
    names.forEach((n, i) => {
      nameView.setUint32(4 * i, registerName(n), true);
      slot[n] = i;
    });
    this.slot = slot as { [K in N[number]]: number };
    this.values = new DataView(block.bytes.buffer, block.bytes.byteOffset + valuesOffset, REGISTER_VALUE_SIZE * names.length);
  }

  free(): void {
    this.block.free();
  }

  /** Low 32 bits of a 64-bit register. */
  lo(i: number): number {
    return this.values.getUint32(16 * i, true);
  }

  hi(i: number): number {
    return this.values.getUint32(16 * i + 4, true);
  }

  getU64(i: number, out: U64): U64 {
    out.lo = this.values.getUint32(16 * i, true);
    out.hi = this.values.getUint32(16 * i + 4, true);
    return out;
  }

  /** Writes a 64-bit value from halves; clears the upper 64 bits of the slot (Reg64 in a 128-bit union). */
  setU64(i: number, lo: number, hi: number): void {
    const at = 16 * i;
    this.values.setUint32(at, lo >>> 0, true);
    this.values.setUint32(at + 4, hi >>> 0, true);
    this.values.setUint32(at + 8, 0, true);
    this.values.setUint32(at + 12, 0, true);
  }

  /** Adds a small non-negative number (e.g. an instruction length to RIP) with carry into the high half. */
  addU64(i: number, n: number): void {
    const at = 16 * i;
    const sum = this.values.getUint32(at, true) + n;
    this.values.setUint32(at, sum >>> 0, true);
    if (sum > 0xffffffff) this.values.setUint32(at + 4, (this.values.getUint32(at + 4, true) + 1) >>> 0, true);
  }

  /** Convenience (allocates a BigInt): not for the exit path. */
  getBigInt(i: number): bigint {
    return this.values.getBigUint64(16 * i, true);
  }

  setBigInt(i: number, v: bigint): void {
    this.values.setBigUint64(16 * i, BigInt.asUintN(64, v), true);
    this.values.setBigUint64(16 * i + 8, 0n, true);
  }

  /** A full 128-bit value (XMM, pending events) as [low, high]. */
  getU128(i: number): [bigint, bigint] {
    return [this.values.getBigUint64(16 * i, true), this.values.getBigUint64(16 * i + 8, true)];
  }

  setU128(i: number, low: bigint, high: bigint): void {
    this.values.setBigUint64(16 * i, BigInt.asUintN(64, low), true);
    this.values.setBigUint64(16 * i + 8, BigInt.asUintN(64, high), true);
  }

  getSegment(i: number, out: Segment): Segment {
    const at = 16 * i;
    out.base.lo = this.values.getUint32(at + SEG.base, true);
    out.base.hi = this.values.getUint32(at + SEG.base + 4, true);
    out.limit = this.values.getUint32(at + SEG.limit, true);
    out.selector = this.values.getUint16(at + SEG.selector, true);
    out.attributes = this.values.getUint16(at + SEG.attributes, true);
    return out;
  }

  setSegment(i: number, s: Segment): void {
    const at = 16 * i;
    this.values.setUint32(at + SEG.base, s.base.lo >>> 0, true);
    this.values.setUint32(at + SEG.base + 4, s.base.hi >>> 0, true);
    this.values.setUint32(at + SEG.limit, s.limit >>> 0, true);
    this.values.setUint16(at + SEG.selector, s.selector, true);
    this.values.setUint16(at + SEG.attributes, s.attributes, true);
  }

  /** GDTR/IDTR (WHV_X64_TABLE_REGISTER). */
  getTable(i: number): { base: bigint; limit: number } {
    return { base: this.values.getBigUint64(16 * i + TABLE.base, true), limit: this.values.getUint16(16 * i + TABLE.limit, true) };
  }

  setTable(i: number, base: bigint, limit: number): void {
    const at = 16 * i;
    for (let b = 0; b < 16; b += 4) this.values.setUint32(at + b, 0, true);
    this.values.setUint16(at + TABLE.limit, limit, true);
    this.values.setBigUint64(at + TABLE.base, BigInt.asUintN(64, base), true);
  }
}
