/**
 * Completing WHP IO-port and memory-access exits: the ExitEmulator strategy, chosen with
 * `--emulator builtin|winhv` (builtin is the default).
 *
 *  - builtin (BuiltinExitEmulator, this file): our x86 engine (src/x86).
 *      · Plain IN/OUT never decode (as OpenVMM's emulate_io and current QEMU do): port, size,
 *        direction and RAX come from the exit context, the PIO bus answers, and one
 *        WHvSetVirtualProcessorRegisters writes RIP (+ RAX for IN) back. An 8/16-bit IN
 *        replaces AL/AX and keeps RAX[63:8/16]; a 32-bit IN zero-extends into RAX (Intel SDM
 *        Vol. 1 §3.4.1.1). The hardware already did the IOPL / TSS-bitmap checks: privilege
 *        faults have priority over the IO VM exit (SDM Vol. 3 §26.1.1).
 *      · String IO and MMIO decode the exit's instruction bytes (up to 16; more are fetched
 *        through WHvTranslateGva + guest RAM when they run out) and run the executor against
 *        ExitCpu (src/x86/emulate.ts) over: the exit's VP context (RIP, RFLAGS, CS, CR8), one
 *        register batch per exit (GPRs, ES/SS/DS/FS/GS, CR0, CR4, EFER — prepared once per
 *        vCPU), XMM0-15 only for an SSE instruction, GvaTranslator (WHvTranslateGva) for linear
 *        addresses, guest RAM and the MMIO bus (through ExitBuses, exit-cpu.ts).
 *      · Only registers whose value changed are written back (compared with what was read;
 *        X86Registers.dirty must not report segment or control-register changes), in one call.
 *      · RIP advances only when the instruction retired. A `rep` instruction stopped after the
 *        executor's bounded chunk (MAX_REP_ITERATIONS) writes back RCX/RSI/RDI progress and
 *        leaves RIP at the instruction: the guest re-executes it, and pending interrupts are
 *        delivered between chunks (SDM Vol. 1 §7.3.9.1 allows that between iterations).
 *      · Guest faults become a pending exception (WHvRegisterPendingEvent, or
 *        PendingInterruption where the hypervisor does not know PendingEvent), CR2 written
 *        first for #PF. An instruction the engine cannot emulate gets #UD, as in OpenVMM.
 *      · With RFLAGS.TF set, a retired instruction is followed by a single-step #DB (DR6.BS).
 *  - winhv (exit-winhv.ts): Microsoft's WinHvEmulation.dll, via WhpEmulator, with callbacks
 *    routed to the same buses, RAM and WHvTranslateGva.
 *
 * Conditions that leave the VMM no sensible guest-visible action (an exit taken while the
 * vCPU was delivering an event, an instruction that does not match the exit, an instruction
 * fetch from a device, WHP call failures) throw ExitEmulationError / WhpCallError.
 */
import { HostError, UsageError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { GuestMemory } from '../memory/guest-memory.ts';
import type { Koffi } from '../native/koffi.ts';
import {
  ACCESS_EXECUTE, CS, DIRTY_CR, DIRTY_SEG, DS, ES, FLAG_TF, FS, GS, SS, VEC_DB, VEC_GP, VEC_UD, X86Registers, type X86Fault,
} from '../x86/cpu.ts';
import { decodeInto, DecodeFault, formatIntel, Instruction, Op, OperandKind } from '../x86/decode/index.ts';
import { execute } from '../x86/exec/executor.ts';
import { RETRY, UNSUPPORTED } from '../x86/exec/result.ts';
import { ExitCpu } from '../x86/emulate.ts';
import { canonicalNumber, ExitBuses, type ExitMmioBus, type ExitPioBus } from './exit-cpu.ts';
import { type IoPortExit, type MemoryAccessExit, type VpContext } from './exit-context.ts';
import { encodeException, type EventRegisterKind } from './exit-event.ts';
import { GvaTranslator, hexAddr, TRANSLATOR_SCRATCH_SIZE } from './exit-gva-translator.ts';
import { ExitRegisterWriter } from './exit-register-writer.ts';
import { failed } from './hresult.ts';
import type { RegisterBatch } from './register-batch.ts';
import { registerName } from './register-batch.ts';
import type { AlignedAllocator } from './whp-vcpu.ts';
import type { WhpApi, WhpEmulationApi } from './whp-library.ts';
import { WhpCallError } from './whp-errors.ts';
import { WinHvExitEmulator } from './exit-winhv.ts';
import { ExitDecodeCache } from './exit-decode-cache.ts';
import { whpRegistry as reg } from './whp-decls.ts';

// ------------------------------------------------------------------ the strategy

export const EXIT_EMULATOR_KINDS = ['builtin', 'winhv'] as const;
export type ExitEmulatorKind = (typeof EXIT_EMULATOR_KINDS)[number];

/** Validates an `--emulator` value: UsageError (exit 2) listing the choices. */
export function parseExitEmulatorKind(raw: string, option = '--emulator'): ExitEmulatorKind {
  const v = raw.trim().toLowerCase();
  if ((EXIT_EMULATOR_KINDS as readonly string[]).includes(v)) return v as ExitEmulatorKind;
  throw new UsageError(`${option} expects one of ${EXIT_EMULATOR_KINDS.join(', ')}, got '${raw}'`, {
    hint: 'builtin (the default) is krun-whp\'s own x86 emulator; winhv is Microsoft\'s WinHvEmulation.dll',
  });
}

/**
 * How an exit was completed:
 *  - 'done': the instruction retired, registers and RIP written back;
 *  - 'retry': a `rep` chunk (or a lost locked compare-exchange): progress written back, RIP
 *    unchanged — resume the guest, it re-executes the instruction;
 *  - 'exception': a guest exception was made pending (see `lastException`); RIP unchanged.
 */
export type ExitResult = 'done' | 'retry' | 'exception';

/** The exception the last 'exception' result injected (one object per emulator, refilled). */
export interface InjectedException {
  vector: number;
  /** −1 when the exception has no error code. */
  errorCode: number;
  /** Faulting linear address for #PF (canonical number), else 0. */
  cr2: number;
  /** Why: 'fault' (the instruction faulted), 'unsupported' (#UD for an instruction we cannot emulate), 'debug' (TF single-step). */
  cause: 'fault' | 'unsupported' | 'debug';
  /** For 'unsupported': the instruction and its bytes. */
  detail: string;
  /** Register the event went through. */
  register: EventRegisterKind;
}

export interface ExitEmulationStats {
  /** Plain IN/OUT completed on the fast path. */
  fastIo: number;
  /** Exits completed through decode + execute (string IO, MMIO). */
  emulated: number;
  retries: number;
  exceptions: number;
  /** WinHvEmulation Try*Emulation calls (winhv only). */
  winhvCalls: number;
}

export interface ExitEmulator extends Disposable {
  readonly kind: ExitEmulatorKind;
  /** Completes an X64IoPortAccess exit. */
  handleIo(exit: IoPortExit): ExitResult;
  /** Completes a MemoryAccess exit whose GPA is not RAM (a device). */
  handleMmio(exit: MemoryAccessExit): ExitResult;
  readonly lastException: InjectedException;
  readonly stats: ExitEmulationStats;
  dispose(): void;
}

/** The WinHvPlatform functions exit emulation calls directly (WhpLibrary.api fits; benches pass stubs). */
export type WhpExitApi = Pick<WhpApi, 'WHvGetVirtualProcessorRegisters' | 'WHvSetVirtualProcessorRegisters' | 'WHvTranslateGva'>;

/** What exit emulation needs of a vCPU (WhpVcpu fits). */
export interface ExitVcpu {
  readonly partition: bigint;
  readonly index: number;
  /** Address of the WHV_RUN_VP_EXIT_CONTEXT the last run filled (winhv passes pointers into it). */
  readonly exitContextAddress: bigint;
  batch<const N extends readonly string[]>(names: N): RegisterBatch<N>;
  getRegisters(batch: RegisterBatch<readonly string[]>): void;
}

export interface ExitEmulatorOptions {
  kind: ExitEmulatorKind;
  vcpu: ExitVcpu;
  api: WhpExitApi;
  /** 16-byte-aligned native memory (koffiAllocator(koffi) on Windows). */
  alloc: AlignedAllocator;
  memory: GuestMemory;
  pio: ExitPioBus;
  mmio: ExitMmioBus;
  log?: Logger;
  /** Required for kind 'winhv': koffi and WinHvEmulation.dll (WhpLibrary.emulation()). */
  winhv?: { koffi: Koffi; api: WhpEmulationApi };
  /** Register for injected exceptions (default PendingEvent, falling back automatically). */
  eventRegister?: EventRegisterKind;
}

/** Builds the exit emulator the option names. Both kinds share one interface. */
export function createExitEmulator(options: ExitEmulatorOptions): ExitEmulator {
  const kind = parseExitEmulatorKind(options.kind);
  if (kind === 'builtin') return new BuiltinExitEmulator(options);
  if (!options.winhv) {
    throw new HostError('the winhv exit emulator needs WinHvEmulation.dll, which was not loaded', {
      hint: 'WinHvEmulation.dll ships with the Windows Hypervisor Platform feature; use --emulator builtin otherwise',
    });
  }
  return new WinHvExitEmulator(options, options.winhv.koffi, options.winhv.api);
}

/** An exit the VMM cannot complete (no guest-visible action makes sense). Exit code 1. */
export class ExitEmulationError extends HostError {}

// ------------------------------------------------------------------ builtin

const GPR_NAMES = ['Rax', 'Rcx', 'Rdx', 'Rbx', 'Rsp', 'Rbp', 'Rsi', 'Rdi', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'] as const;
/** Fetched once per decoded exit. RIP, RFLAGS and CS come from the exit's VP context instead. */
export const EMULATION_READ_REGISTERS = [...GPR_NAMES, 'Es', 'Ss', 'Ds', 'Fs', 'Gs', 'Cr0', 'Cr4', 'Efer'] as const;
const XMM_NAMES = Array.from({ length: 16 }, (_, i) => `Xmm${i}`);
/** Fetched only for an SSE instruction. */
export const EMULATION_XMM_REGISTERS = XMM_NAMES as readonly string[];

const SEG_SLOTS: readonly (readonly [number, string])[] = [[ES, 'Es'], [SS, 'Ss'], [DS, 'Ds'], [FS, 'Fs'], [GS, 'Gs']];
const N = {
  rip: registerName('Rip'),
  rflags: registerName('Rflags'),
  rax: registerName('Rax'),
  cr2: registerName('Cr2'),
  pendingEvent: registerName('PendingEvent'),
  pendingInterruption: registerName('PendingInterruption'),
  gpr: GPR_NAMES.map(registerName),
  xmm: XMM_NAMES.map(registerName),
};
/** RIP, RFLAGS, 16 GPRs, 16 XMM, CR2 and an event: the most one exit can write. */
const WRITER_CAPACITY = 36;
const WHV_E_INVALID_VP_REGISTER_NAME = 0x80370309 | 0;
const TWO32 = 4294967296;
/** Distinct RIPs whose unsupported instruction is logged (then silence). */
const MAX_WARNED_RIPS = 64;
/** DR6.BS (bit 14): single-step (SDM Vol. 3 §18.2.3), the #DB parameter for a TF trap. */
const DR6_BS = 0x4000;

/** Operand kinds that name an XMM register (lookup table by OperandKind). */
const XMM_KIND = kindTable([OperandKind.Xmm, OperandKind.XmmRm, OperandKind.XmmV, OperandKind.Xmm0, OperandKind.XmmIs4]);
const STRING_KIND = kindTable([OperandKind.StrSrc, OperandKind.StrDst]);
function kindTable(kinds: readonly number[]): Uint8Array {
  const t = new Uint8Array(64);
  for (const k of kinds) t[k] = 1;
  return t;
}
/** WHV_X64_SEGMENT_REGISTER fields inside a WHV_REGISTER_VALUE, as 32-bit (base, limit) and 16-bit (selector, attributes) word indexes. */
const SEGV = {
  base: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Base') >> 2,
  limit: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Limit') >> 2,
  selector: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Selector') >> 1,
  attributes: reg.offsetOf('WHV_REGISTER_VALUE', 'Segment.Attributes') >> 1,
};

export class BuiltinExitEmulator implements ExitEmulator {
  readonly kind = 'builtin' as const;
  readonly stats: ExitEmulationStats = { fastIo: 0, emulated: 0, retries: 0, exceptions: 0, winhvCalls: 0 };
  readonly lastException: InjectedException = { vector: 0, errorCode: -1, cr2: 0, cause: 'fault', detail: '', register: 'PendingEvent' };
  readonly cpu: ExitCpu;
  readonly translator: GvaTranslator;
  private readonly vcpu: ExitVcpu;
  private readonly pio: ExitPioBus;
  private readonly log: Logger;
  private readonly writer: ExitRegisterWriter;
  private readonly readBatch: RegisterBatch<typeof EMULATION_READ_REGISTERS>;
  private readonly xmmBatch: RegisterBatch<readonly string[]>;
  private eventKind: EventRegisterKind;
  // Preallocated scratch: nothing below allocates on a successful exit.
  private readonly insn = new Instruction();
  private readonly fetchBuf = new Uint8Array(16);
  private readonly decodeCache = new ExitDecodeCache();
  private readonly xmmBefore = new Uint32Array(64);
  /** The read batch's value array as 32- and 16-bit words, and the word index of CR0/CR4/EFER. */
  private readonly v32: Int32Array;
  private readonly v16: Uint16Array;
  private readonly crSlot0: number;
  private readonly crSlot4: number;
  private readonly eferSlot: number;
  /** X86Registers segment index and batch slot of ES, SS, DS, FS, GS. */
  private readonly segIdx: Uint8Array;
  private readonly segSlot: Uint8Array;
  /** Writer slot of the event pushed for the next flush (−1: none), and its parameter. */
  private eventSlot = -1;
  private eventParamLo = 0;
  private eventParamHi = 0;
  private readonly warnedRips = new Set<string>();
  private disposed = false;

  constructor(options: ExitEmulatorOptions) {
    const { vcpu, api, alloc } = options;
    this.vcpu = vcpu;
    this.pio = options.pio;
    this.log = options.log ?? silentLogger;
    this.eventKind = options.eventRegister ?? 'PendingEvent';
    this.lastException.register = this.eventKind;
    this.readBatch = vcpu.batch(EMULATION_READ_REGISTERS);
    this.xmmBatch = vcpu.batch(EMULATION_XMM_REGISTERS);
    const vals = this.readBatch.values;
    this.v32 = new Int32Array(vals.buffer, vals.byteOffset, vals.byteLength >> 2);
    this.v16 = new Uint16Array(vals.buffer, vals.byteOffset, vals.byteLength >> 1);
    this.crSlot0 = 4 * this.readBatch.slot.Cr0;
    this.crSlot4 = 4 * this.readBatch.slot.Cr4;
    this.eferSlot = 4 * this.readBatch.slot.Efer;
    this.segIdx = Uint8Array.from(SEG_SLOTS.map(([s]) => s));
    this.segSlot = Uint8Array.from(SEG_SLOTS.map(([, name]) => this.readBatch.slot[name as 'Es']));
    const setRegs = api.WHvSetVirtualProcessorRegisters.bind(api);
    this.writer = new ExitRegisterWriter(setRegs, vcpu.partition, vcpu.index, alloc(ExitRegisterWriter.byteSize(WRITER_CAPACITY), 16), WRITER_CAPACITY);
    this.translator = new GvaTranslator(api, vcpu.partition, vcpu.index, alloc(TRANSLATOR_SCRATCH_SIZE, 16));
    const buses = new ExitBuses(options.mmio, options.pio);
    this.cpu = new ExitCpu({ regs: new X86Registers(), ram: options.memory, mmio: buses, io: buses, translate: this.translator });
  }

  /** Drops anything a previous exit left half-pushed (it threw before its flush). */
  private begin(): void {
    this.writer.reset();
    this.eventSlot = -1;
  }

  // ---------------------------------------------------------------- IO

  handleIo(e: IoPortExit): ExitResult {
    this.begin();
    if (e.stringOp) return this.emulate(e.vp, e.instructionBytes, e.instructionByteCount, null, e.isWrite);
    return this.fastIo(e);
  }

  /** Plain IN/OUT from the exit context alone: no decode, no register read, one register write. */
  private fastIo(e: IoPortExit): ExitResult {
    const size = e.size;
    if (size !== 1 && size !== 2 && size !== 4) {
      throw new ExitEmulationError(`IO port exit with access size ${size} at port 0x${e.port.toString(16)} (expected 1, 2 or 4)`, { hint: 'the exit context is malformed; report the Windows build' });
    }
    const w = this.writer;
    const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    if (e.isWrite) {
      this.pio.write(e.port, size, (e.rax.lo & mask) >>> 0);
    } else {
      const v = this.pio.read(e.port, size) & mask;
      if (size === 4) w.push64(N.rax, v, 0);
      else w.push64(N.rax, (e.rax.lo & ~mask) | v, e.rax.hi);
    }
    const vp = e.vp;
    const mode = vpMode(vp);
    let lo = vp.rip.lo + vp.instructionLength;
    let hi = vp.rip.hi;
    if (mode === 64) {
      if (lo > 0xffffffff) hi = (hi + 1) >>> 0;
    } else {
      hi = 0;
      if (mode === 16) lo &= 0xffff;
    }
    w.push64(N.rip, lo >>> 0, hi);
    if (vp.rflags.lo & FLAG_TF) this.pushException(VEC_DB, -1, DR6_BS, 0, 'debug', '');
    this.stats.fastIo++;
    this.flush('IN/OUT completion');
    return 'done';
  }

  // ---------------------------------------------------------------- MMIO

  handleMmio(e: MemoryAccessExit): ExitResult {
    this.begin();
    if (e.accessType === ACCESS_EXECUTE) {
      throw new ExitEmulationError(`the guest executed from GPA 0x${e.gpa.toString(16)}, which is not RAM (RIP 0x${hexU64(e.vp.rip.lo, e.vp.rip.hi)})`, {
        hint: 'the guest jumped into a device or unmapped region; check the kernel and its command line',
      });
    }
    return this.emulate(e.vp, e.instructionBytes, e.instructionByteCount, e, false);
  }

  // ---------------------------------------------------------------- decode + execute

  private emulate(vp: VpContext, bytes: Uint8Array, byteCount: number, mmio: MemoryAccessExit | null, ioWrite: boolean): ExitResult {
    if (vp.interruptionPending) {
      // OpenVMM refuses too: the exit happened while delivering an event, and injecting a
      // fault from here would re-deliver it in a loop.
      throw new ExitEmulationError(
        `${mmio ? `MMIO access to GPA 0x${mmio.gpa.toString(16)}` : 'string IO'} during event delivery (RIP 0x${hexU64(vp.rip.lo, vp.rip.hi)}): cannot be emulated`,
        { hint: 'the guest placed an IDT, stack or descriptor table in device memory; check the kernel and its memory map' },
      );
    }
    this.stats.emulated++;
    const cpu = this.cpu;
    const r = cpu.regs;
    this.translator.reset();
    this.loadRegisters(vp);
    if (mmio !== null && mmio.gvaValid) this.translator.seedFromExit(mmio);

    // Decode (from the cache when these bytes were seen before), fetching more bytes through
    // translation if the exit's ran out mid-instruction.
    const mode = r.bitness;
    let buf = bytes;
    let have = Math.min(byteCount, 16);
    let insn: Instruction;
    let df: DecodeFault;
    const hit = this.decodeCache.lookup(bytes, have, mode);
    if (typeof hit === 'object') {
      insn = hit;
      df = DecodeFault.None;
    } else {
      insn = this.insn;
      df = hit;
      if (df === DecodeFault.Truncated) {
        const fb = this.fetchBuf;
        for (let i = 0; i < have; i++) fb[i] = bytes[i]!;
        buf = fb;
        const ip = mode === 64 ? r.rip : (r.segBase[CS]! + r.rip) % TWO32;
        while (df === DecodeFault.Truncated && have < 15) {
          const f = this.fetchCode(ip + have, fb, have);
          if (typeof f !== 'number') return this.inject(f, 'fault', '');
          have = f;
          df = decodeInto(fb, 0, mode, insn, have);
        }
        if (df === DecodeFault.Truncated) df = DecodeFault.GeneralProtection; // > 15 bytes (SDM Vol. 2 §2.3.11)
      }
    }
    if (df !== DecodeFault.None) {
      if (df === DecodeFault.GeneralProtection) return this.injectVector(VEC_GP, 0, 'fault', '');
      return this.injectVector(VEC_UD, -1, 'unsupported', `undecodable instruction bytes ${hexBytes(buf, have)}`);
    }
    this.checkMatchesExit(insn, buf, mmio, ioWrite, vp);

    // XMM only for SSE forms (a second batch; rare on MMIO).
    let xmm = false;
    if (XMM_KIND[insn.o0]! | XMM_KIND[insn.o1]! | XMM_KIND[insn.o2]! | XMM_KIND[insn.o3]!) {
      xmm = true;
      this.vcpu.getRegisters(this.xmmBatch);
      const v = this.xmmBatch.values;
      for (let i = 0; i < 64; i++) r.xmm[i] = v.getUint32(4 * i, true);
      this.xmmBefore.set(r.xmm);
    }
    const flagsBefore = r.flagsBase;
    const tf = (flagsBefore & FLAG_TF) !== 0;
    const ripBefore = r.rip;

    const res = execute(cpu, insn);

    if (r.dirty & (DIRTY_SEG | DIRTY_CR)) {
      throw new ExitEmulationError(`emulating ${formatIntel(insn)} changed a segment or control register, which exit emulation does not write back`);
    }
    this.pushChangedRegisters(flagsBefore, xmm);
    if (res === null) {
      this.writer.pushRip(N.rip, r);
      if (tf) this.pushException(VEC_DB, -1, DR6_BS, 0, 'debug', '');
      this.flush('emulated instruction');
      return 'done';
    }
    r.rip = ripBefore;
    if (res === RETRY) {
      this.stats.retries++;
      this.flush('rep progress');
      return 'retry';
    }
    if (res === UNSUPPORTED) {
      const text = `instruction not supported by the emulator: ${formatIntel(insn)} (${hexBytes(buf, insn.length)})`;
      // Once per RIP (bounded): a guest looping on the #UD must not flood the log.
      const rip = hexU64(vp.rip.lo, vp.rip.hi);
      if (this.warnedRips.size < MAX_WARNED_RIPS && !this.warnedRips.has(rip)) {
        this.warnedRips.add(rip);
        this.log.warn({ rip }, `${text} at RIP 0x${rip}; injecting #UD (logged once per RIP)`);
      }
      return this.inject(FAULT_UD_VALUE, 'unsupported', text);
    }
    return this.inject(res, 'fault', '');
  }

  /**
   * Fills X86Registers from the VP context and one register batch. Reads the batch's value
   * array through 32/16-bit typed views (the host is little-endian x86-64, as WHP is): about
   * three times cheaper than DataView calls, and this runs on every decoded exit.
   */
  private loadRegisters(vp: VpContext): void {
    const r = this.cpu.regs;
    this.vcpu.getRegisters(this.readBatch);
    const v32 = this.v32, v16 = this.v16;
    const g = r.gpr;
    for (let n = 0; n < 32; n += 2) {
      g[n] = v32[2 * n]!;
      g[n + 1] = v32[2 * n + 1]!;
    }
    const segIdx = this.segIdx, segSlot = this.segSlot;
    for (let i = 0; i < 5; i++) {
      const idx = segIdx[i]!;
      const at32 = 4 * segSlot[i]!, at16 = 8 * segSlot[i]!;
      r.segBase[idx] = canonicalNumber(v32[at32 + SEGV.base]!, v32[at32 + SEGV.base + 1]!);
      r.segLimit[idx] = v32[at32 + SEGV.limit]!;
      r.segSel[idx] = v16[at16 + SEGV.selector]!;
      r.segAttr[idx] = v16[at16 + SEGV.attributes]!;
    }
    const cs = vp.cs;
    r.segSel[CS] = cs.selector;
    r.segBase[CS] = canonicalNumber(cs.base.lo, cs.base.hi);
    r.segLimit[CS] = cs.limit;
    r.segAttr[CS] = cs.attributes;
    r.cr0 = v32[this.crSlot0]! >>> 0;
    r.cr4 = v32[this.crSlot4]! >>> 0;
    r.efer = v32[this.eferSlot]! >>> 0;
    r.cr8 = vp.cr8;
    r.rip = canonicalNumber(vp.rip.lo, vp.rip.hi);
    r.setRflags(vp.rflags.lo);
    r.dirty = 0;
  }

  /** Reads code bytes at linear `ip` into fb[have..] up to the page end; returns the new count or a #PF. */
  private fetchCode(ip: number, fb: Uint8Array, have: number): number | X86Fault {
    const f = this.translator.translate(ip, ACCESS_EXECUTE, this.cpu.regs);
    if (f !== null) return f;
    const gpa = this.translator.gpa;
    const n = Math.min(15 - have, 4096 - (ip & 0xfff));
    const ram = this.cpu.ram;
    if (!ram.contains(gpa, n)) {
      throw new ExitEmulationError(`instruction bytes at GPA 0x${gpa.toString(16)} are not in RAM (the instruction continues into a device)`, {
        hint: 'the guest executes from device memory; check the kernel and its memory map',
      });
    }
    for (let i = 0; i < n; i++) fb[have + i] = ram.readU8(gpa + i);
    return have + n;
  }

  /** A string IO exit must be OUTS (write) or INS (read); an MMIO exit an instruction with a memory operand. */
  private checkMatchesExit(insn: Instruction, buf: Uint8Array, mmio: MemoryAccessExit | null, ioWrite: boolean, vp: VpContext): void {
    const ok = mmio === null
      ? insn.op === (ioWrite ? Op.OUTS : Op.INS)
      : insn.hasMem || STRING_KIND[insn.o0] === 1 || STRING_KIND[insn.o1] === 1;
    if (ok) return;
    throw new ExitEmulationError(
      `${mmio ? `MMIO exit at GPA 0x${mmio.gpa.toString(16)}` : 'string IO exit'} but the instruction at RIP 0x${hexU64(vp.rip.lo, vp.rip.hi)} is ${formatIntel(insn)} (${hexBytes(buf, insn.length)}), which ${mmio ? 'has no memory operand' : `is not ${ioWrite ? 'OUTS' : 'INS'}`}`,
      { hint: 'the guest modified its code between the exit and the emulation, or the exit context is inconsistent; report the guest and Windows build' },
    );
  }

  private pushChangedRegisters(flagsBefore: number, xmm: boolean): void {
    const r = this.cpu.regs;
    const w = this.writer;
    // Compare with the values as read: they are still in the read batch (slots 0-15).
    const g = r.gpr, b = this.v32;
    for (let n = 0; n < 16; n++) {
      const lo = g[2 * n]!, hi = g[2 * n + 1]!;
      if (lo !== b[4 * n] || hi !== b[4 * n + 1]) w.push64(N.gpr[n]!, lo, hi);
    }
    const flags = r.getRflags();
    if (flags !== flagsBefore) w.push64(N.rflags, flags, 0);
    if (xmm) {
      const x = r.xmm, xb = this.xmmBefore;
      for (let n = 0; n < 16; n++) {
        const at = 4 * n;
        if (x[at] !== xb[at] || x[at + 1] !== xb[at + 1] || x[at + 2] !== xb[at + 2] || x[at + 3] !== xb[at + 3]) w.push128(N.xmm[n]!, x, at);
      }
    }
  }

  private injectVector(vector: number, errorCode: number, cause: InjectedException['cause'], detail: string): ExitResult {
    this.pushException(vector, errorCode, 0, 0, cause, detail);
    this.flush('exception injection');
    this.stats.exceptions++;
    return 'exception';
  }

  private inject(f: X86Fault, cause: InjectedException['cause'], detail: string): ExitResult {
    const cr2 = f.cr2;
    if (cr2 !== undefined) {
      // CR2 first, then the event (Intel SDM Vol. 3 §6.15 "Interrupt 14": the processor loads
      // CR2 before delivering #PF; the hypervisor delivers what we leave pending).
      const lo = cr2 >>> 0, hi = Math.floor(cr2 / TWO32) | 0;
      this.writer.push64(N.cr2, lo, hi);
      this.pushException(f.vector, f.errorCode ?? -1, lo, hi, cause, detail);
      this.lastException.cr2 = cr2;
    } else {
      this.pushException(f.vector, f.errorCode ?? -1, 0, 0, cause, detail);
    }
    this.flush('exception injection');
    this.stats.exceptions++;
    return 'exception';
  }

  private pushException(vector: number, errorCode: number, paramLo: number, paramHi: number, cause: InjectedException['cause'], detail: string): void {
    const w = this.writer;
    const kind = this.eventKind;
    const at = w.slot(kind === 'PendingEvent' ? N.pendingEvent : N.pendingInterruption);
    this.eventSlot = w.count - 1;
    encodeException(w.values, at, kind, vector, errorCode, paramLo, paramHi);
    const x = this.lastException;
    x.vector = vector;
    x.errorCode = errorCode;
    x.cr2 = 0;
    x.cause = cause;
    x.detail = detail;
    x.register = kind;
    this.eventParamLo = paramLo;
    this.eventParamHi = paramHi;
  }

  /**
   * One WHvSetVirtualProcessorRegisters for everything pushed. If the hypervisor does not know
   * WHvRegisterPendingEvent (older builds), re-encode the event as PendingInterruption, reissue,
   * and use that register from now on.
   */
  private flush(what: string): void {
    const w = this.writer;
    const hasEvent = this.eventSlot >= 0;
    const slot = this.eventSlot;
    this.eventSlot = -1;
    let hr = w.flushRaw();
    if (hr === WHV_E_INVALID_VP_REGISTER_NAME && hasEvent && this.eventKind === 'PendingEvent') {
      this.eventKind = 'PendingInterruption';
      this.log.info('WHvRegisterPendingEvent is not supported by this hypervisor; injecting exceptions through WHvRegisterPendingInterruption');
      const x = this.lastException;
      x.register = 'PendingInterruption';
      w.setNameAt(slot, N.pendingInterruption);
      encodeException(w.values, 16 * slot, 'PendingInterruption', x.vector, x.errorCode, this.eventParamLo, this.eventParamHi);
      hr = w.flushAgain();
    }
    if (hr !== 0 && failed(hr)) throw new WhpCallError('WHvSetVirtualProcessorRegisters', hr, `vCPU ${this.vcpu.index}: ${what}`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.writer.free();
    this.translator.free();
    // The register batches belong to the vCPU, which frees them on its own dispose.
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

const FAULT_UD_VALUE: X86Fault = Object.freeze({ vector: VEC_UD });

/** Code size from the VP context alone (fast path): 64 (EFER.LMA and CS.L), 32 (CS.D) or 16. */
function vpMode(vp: VpContext): 16 | 32 | 64 {
  const attr = vp.cs.attributes;
  if (vp.eferLma && attr & 0x2000) return 64;
  if (!vp.cr0Pe) return 16;
  return attr & 0x4000 ? 32 : 16;
}

function hexBytes(b: Uint8Array, n: number): string {
  return Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function hexU64(lo: number, hi: number): string {
  return hexAddr(canonicalNumber(lo, hi));
}
