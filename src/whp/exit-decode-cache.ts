/**
 * A small direct-mapped cache of decoded instructions for exit emulation, keyed by the
 * instruction bytes themselves (and the decode mode), not by RIP.
 *
 * Why: MMIO and string-IO exits come from a handful of places in a guest (a driver's
 * readl/writel, the UART's outsb loop), so the same few byte sequences are decoded over and
 * over. An Instruction depends only on its bytes and the mode (src/x86/decode/instruction.ts:
 * "a cached Instruction is valid wherever the same bytes are executed in the same mode"), so a
 * hit compares the exit's bytes with the cached ones — the exit always carries the bytes the
 * vCPU really executed, so self-modifying code cannot make a hit stale.
 *
 * Only instructions decoded entirely from the exit's bytes are cached (not ones completed by a
 * fetch through translation). 32 entries; a miss decodes into the entry it replaces.
 */
import { decodeInto, DecodeFault, Instruction } from '../x86/decode/index.ts';
import type { DecodeMode } from '../x86/decode/index.ts';

const ENTRIES = 32;

export class ExitDecodeCache {
  private readonly insns: Instruction[] = Array.from({ length: ENTRIES }, () => new Instruction());
  private readonly bytes = new Uint8Array(ENTRIES * 16);
  /** Cached length per entry (0 = empty), and the mode it was decoded in. */
  private readonly lens = new Uint8Array(ENTRIES);
  private readonly modes = new Uint8Array(ENTRIES);
  hits = 0;
  misses = 0;

  /**
   * Decodes `bytes[0..have)` in `mode`, from the cache when the same bytes were decoded before.
   * Returns the Instruction (owned by the cache: valid until the next lookup) or the DecodeFault.
   */
  lookup(bytes: Uint8Array, have: number, mode: DecodeMode): Instruction | DecodeFault {
    if (have === 0) return DecodeFault.Truncated;
    const e = (bytes[0]! ^ ((have > 1 ? bytes[1]! : 0) << 2) ^ ((have > 2 ? bytes[2]! : 0) << 4) ^ mode) & (ENTRIES - 1);
    const len = this.lens[e]!;
    if (len !== 0 && len <= have && this.modes[e] === mode) {
      const c = this.bytes;
      const base = e * 16;
      let i = 0;
      while (i < len && c[base + i] === bytes[i]) i++;
      if (i === len) {
        this.hits++;
        return this.insns[e]!;
      }
    }
    this.misses++;
    const insn = this.insns[e]!;
    const df = decodeInto(bytes, 0, mode, insn, have);
    if (df !== DecodeFault.None) {
      this.lens[e] = 0;
      return df;
    }
    this.lens[e] = insn.length;
    this.modes[e] = mode;
    const c = this.bytes;
    for (let i = 0; i < insn.length; i++) c[e * 16 + i] = bytes[i]!;
    return insn;
  }
}
