/**
 * Decoded-block chaining: turns a straight-line run of decoded instructions (up to and including
 * the first branch) into ONE JS function that calls each instruction's handler in turn.
 *
 * Why: a run loop that does `handlers[i](cpu, insn[i])` has a single call site that sees every
 * handler in the program, so V8 keeps it megamorphic and never inlines through it — the indirect
 * call dominates the cost of a simple `add`/`dec`/`jnz`. Here each instruction gets its own call
 * site bound to one handler (a function parameter of the generated code), so every call site is
 * monomorphic and TurboFan can inline the small fast handlers (fast.ts) into the block body.
 *
 * Semantics are exactly the handlers': nothing is re-implemented. The generated code only
 * sequences them and applies the same two checks a plain run loop does after each instruction:
 * a non-null result (fault, RETRY or UNSUPPORTED) stops the block, and so does a RIP that is not
 * the fall-through address (a taken branch, or an instruction that did not retire).
 *
 * The source text contains only integers produced here (instruction count and fall-through RIPs,
 * exact as decimal literals because canonical addresses lie within ±2^47), never guest data.
 */
import type { Instruction } from '../decode/instruction.ts';
import type { X86Cpu } from '../cpu.ts';
import type { ExecResult } from './result.ts';
import type { Handler } from './executor.ts';

/** Where a block reports a non-null handler result. */
export interface BlockExit {
  /** The result of the instruction that stopped the block, or null if none did. */
  fault: ExecResult;
}

/**
 * Runs the block from its first instruction. Returns the number of handlers run: all n when the
 * block ran to its end; i+1 when instruction i branched away (RIP ≠ its fall-through address)
 * or returned non-null (then `exit.fault` holds that result; otherwise it is left untouched).
 */
export type BlockFn = (cpu: X86Cpu, exit: BlockExit) => number;

/** Above this many instructions a block is split by the caller (keeps generated functions small). */
export const MAX_BLOCK_INSNS = 64;

/**
 * Builds the chained function for `insns[k]` run by `handlers[k]`, where `next[k]` is the RIP
 * after instruction k when it falls through. The three arrays have equal length ≤ MAX_BLOCK_INSNS.
 */
export function chainBlock(insns: readonly Instruction[], handlers: readonly Handler[], next: readonly number[]): BlockFn {
  const n = insns.length;
  if (n === 0 || n > MAX_BLOCK_INSNS || handlers.length !== n || next.length !== n) {
    throw new RangeError(`chainBlock: need 1..${MAX_BLOCK_INSNS} instructions with one handler and fall-through RIP each (got ${n}/${handlers.length}/${next.length})`);
  }
  const params: string[] = [];
  const lines: string[] = ['const r = cpu.regs;', 'let f;'];
  for (let k = 0; k < n; k++) {
    const rip = next[k]!;
    if (!Number.isSafeInteger(rip)) throw new RangeError(`chainBlock: fall-through RIP ${rip} is not an integer`);
    params.push(`h${k}`, `i${k}`);
    lines.push(`f = h${k}(cpu, i${k});`);
    lines.push(`if (f !== null) { exit.fault = f; return ${k + 1}; }`);
    if (k < n - 1) lines.push(`if (r.rip !== ${rip}) return ${k + 1};`);
  }
  lines.push(`return ${n};`);
  const args: unknown[] = [];
  for (let k = 0; k < n; k++) args.push(handlers[k], insns[k]);
  // A fresh function per block: its call sites are its own, so their feedback stays monomorphic.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(...params, `'use strict';\nreturn function block(cpu, exit) {\n${lines.join('\n')}\n};`) as (...a: unknown[]) => BlockFn;
  return factory(...args);
}
