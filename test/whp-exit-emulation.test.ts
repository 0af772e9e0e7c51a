/**
 * Exit emulation (src/whp/exit-emulation.ts) driven with exit contexts laid out by the MinGW
 * compiler (test/fixtures/whp/exit-context-samples.c), against:
 *  - RecordingWhpApi, a JS TEST DOUBLE of WinHvPlatform.dll (records calls; holds a register
 *    file and answers WHvTranslateGva from a page map the test sets) — it proves our side
 *    only, not the hypervisor's behaviour;
 *  - a real GuestRam and the real PIO/MMIO buses (src/devices/bus.ts);
 *  - RecordingDevice: a TEST DOUBLE device on the bus that records every access.
 * Each test asserts the device accesses, the registers written back (and only those), RIP, and
 * for faults the pending-event register.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitDecoder } from '../src/whp/exit-context.ts';
import type { IoPortExit, MemoryAccessExit, WhpExit } from '../src/whp/exit-context.ts';
import {
  BuiltinExitEmulator, createExitEmulator, ExitEmulationError, parseExitEmulatorKind, type ExitEmulator,
} from '../src/whp/exit-emulation.ts';
import { decodeException } from '../src/whp/exit-event.ts';
import { TRANSLATE_FLAGS } from '../src/whp/exit-gva-translator.ts';
import { winhvHandlers } from '../src/whp/exit-winhv.ts';
import { ExitDecodeCache } from '../src/whp/exit-decode-cache.ts';
import { DecodeFault } from '../src/x86/decode/index.ts';
import { registerName } from '../src/whp/register-batch.ts';
import { WhpVcpu } from '../src/whp/whp-vcpu.ts';
import { whpRegistry as reg } from '../src/whp/whp-decls.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';
import { MmioBus, PortIoBus } from '../src/devices/bus.ts';
import type { AccessSize, BusDevice } from '../src/devices/device.ts';
import { HostError, UsageError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { RecordingWhpApi, fakeAllocator } from './helpers/whp-recording-api.ts';
import { loadExitContextSamples } from './helpers/exit-context-samples.ts';

// ---------------------------------------------------------------- samples

const { samples, skipReason } = loadExitContextSamples();

function sampleTest(title: string, fn: () => void): void {
  test(title, (t) => {
    if (skipReason) return t.skip(skipReason);
    fn();
  });
}

// ---------------------------------------------------------------- test doubles

interface Access {
  op: 'read' | 'write';
  offset: number;
  size: number;
  value: bigint;
}

/** TEST DOUBLE: a bus device that records every access and answers reads from a script. */
class RecordingDevice implements BusDevice {
  readonly accessSizes = 1 | 2 | 4 | 8;
  readonly log: Access[] = [];
  /** Value returned by reads at an offset (default: 0xA0 + offset in every byte lane). */
  readonly answers = new Map<number, bigint>();
  constructor(readonly name: string) {}
  private answer(offset: number, size: number): bigint {
    const v = this.answers.get(offset) ?? BigInt(0xa0 + offset) * 0x0101010101010101n;
    return BigInt.asUintN(8 * size, v);
  }
  read(offset: number, size: AccessSize): number {
    const v = this.answer(offset, size);
    this.log.push({ op: 'read', offset, size, value: v });
    return Number(v);
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.log.push({ op: 'write', offset, size, value: BigInt(value) });
  }
  read64(offset: number): bigint {
    const v = this.answer(offset, 8);
    this.log.push({ op: 'read', offset, size: 8, value: v });
    return v;
  }
  write64(offset: number, value: bigint): void {
    this.log.push({ op: 'write', offset, size: 8, value });
  }
}

const PAGE = 4096n;
const PF_NOT_PRESENT = reg.constant('WHvTranslateGvaResultPageNotPresent');
/** Register names we assert on. */
const R = (short: string): number => registerName(short);
const NAME_OF = new Map<number, string>();
for (const n of ['Rax', 'Rcx', 'Rdx', 'Rbx', 'Rsp', 'Rbp', 'Rsi', 'Rdi', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15', 'Rip', 'Rflags', 'Cr2', 'PendingEvent', 'PendingInterruption', ...Array.from({ length: 16 }, (_, i) => `Xmm${i}`)]) NAME_OF.set(R(n), n);

interface Harness {
  api: RecordingWhpApi;
  vcpu: WhpVcpu;
  ram: GuestRam;
  pio: PortIoBus;
  mmio: MmioBus;
  /** IOAPIC-like device at 0xFEC00000 (4 KiB). */
  ioapic: RecordingDevice;
  /** A device page at 0xFED00000 and 0xFED01000 (8 KiB). */
  dev: RecordingDevice;
  /** Port devices: 0x80, 0x3F8-0x3FF, 0x70-0x71, 0xCF8-0xCFF, 0x1F0-0x1F7. */
  port: RecordingDevice;
  emu: ExitEmulator;
  /** Messages the emulator logged, as 'level: text'. */
  logs: string[];
  /** GVA page → GPA page (a missing page translates as not present). */
  pages: Map<bigint, bigint>;
  exit(name: string): WhpExit;
  setReg(short: string, value: bigint): void;
  getReg(short: string): bigint;
  /** Registers of the WHvSetVirtualProcessorRegisters calls since the exit, by short name. */
  written(): { name: string; value: Uint8Array }[][];
  calls(): string[];
}

function harness(options: { eventRegister?: 'PendingEvent' | 'PendingInterruption'; api?: RecordingWhpApi } = {}): Harness {
  const api = options.api ?? new RecordingWhpApi();
  const alloc = fakeAllocator(api);
  const vcpu = new WhpVcpu(api, api.partitionHandle, 0, alloc);
  const ram = GuestRam.allocate([{ gpa: 0, size: 0x100000 }]);
  const pio = new PortIoBus();
  const mmio = new MmioBus();
  const ioapic = new RecordingDevice('recording-ioapic');
  const dev = new RecordingDevice('recording-device');
  const port = new RecordingDevice('recording-ports');
  mmio.register(0xfec00000, 0x1000, ioapic);
  mmio.register(0xfed00000, 0x2000, dev);
  for (const [base, len] of [[0x70, 2], [0x80, 1], [0x1f0, 8], [0x3f8, 8], [0xcf8, 8]] as const) pio.register(base, len, new PortView(port, base));
  const pages = new Map<bigint, bigint>();
  api.translateGva = (gva) => {
    const gpaPage = pages.get(gva / PAGE);
    return gpaPage === undefined ? { result: PF_NOT_PRESENT, gpa: 0n } : { result: 0, gpa: gpaPage * PAGE + (gva % PAGE) };
  };
  const logs: string[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => void logs.push(`${level}: ${typeof obj === 'string' ? obj : msg}`);
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), isLevelEnabled: () => true };
  const emu = createExitEmulator({ kind: 'builtin', vcpu, api, alloc, memory: ram, pio, mmio, log, ...(options.eventRegister ? { eventRegister: options.eventRegister } : {}) });
  // A plausible 64-bit kernel register file: flat data segments, paging on.
  const seg = (sel: number) => {
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setUint32(8, 0xffffffff, true);
    dv.setUint16(12, sel, true);
    dv.setUint16(14, 0xc093, true);
    return b;
  };
  for (const s of ['Es', 'Ss', 'Ds', 'Fs', 'Gs']) api.registerFile.set(R(s), seg(0x18));
  let calls0 = 0;
  const h: Harness = {
    api, vcpu, ram, pio, mmio, ioapic, dev, port, emu, logs, pages,
    exit(name) {
      const bytes = samples.get(name);
      assert.ok(bytes, `sample ${name} compiled`);
      api.nextExit = bytes;
      const e = vcpu.run();
      calls0 = api.calls.length;
      return e;
    },
    setReg(short, value) {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
      api.registerFile.set(R(short), b);
    },
    getReg(short) {
      const b = api.registerFile.get(R(short));
      return b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : 0n;
    },
    written() {
      return api.calls.slice(calls0).filter((c) => c.fn === 'WHvSetVirtualProcessorRegisters').map((c) => c.registers!.map((r) => ({ name: NAME_OF.get(r.name) ?? `0x${r.name.toString(16)}`, value: r.value! })));
    },
    calls() {
      return api.calls.slice(calls0).map((c) => c.fn);
    },
  };
  h.setReg('Cr0', 0x80050033n);
  h.setReg('Cr4', 0x3606f0n); // PAE, OSFXSR, OSXMMEXCPT, SMEP, SMAP...
  h.setReg('Efer', 0xd01n); // SCE, LME, LMA, NXE
  return h;
}

/** Routes a port range to the shared RecordingDevice with the absolute port as the offset. */
class PortView implements BusDevice {
  readonly accessSizes = 1 | 2 | 4;
  readonly name: string;
  constructor(private readonly d: RecordingDevice, private readonly base: number) {
    this.name = `${d.name}@0x${base.toString(16)}`;
  }
  read(offset: number, size: AccessSize): number {
    return this.d.read(this.base + offset, size);
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.d.write(this.base + offset, size, value);
  }
}

const u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 16).getBigUint64(0, true);
/** name → 64-bit value of one Set call. */
const values = (regs: { name: string; value: Uint8Array }[]) => Object.fromEntries(regs.map((r) => [r.name, r.name.startsWith('Pending') || r.name.startsWith('Xmm') ? r.value : u64(r.value)]));

function io(e: WhpExit): IoPortExit {
  assert.equal(e.kind, 'io');
  return e as IoPortExit;
}
function mmioExit(e: WhpExit): MemoryAccessExit {
  assert.equal(e.kind, 'mmio');
  return e as MemoryAccessExit;
}

// ---------------------------------------------------------------- option validation

test('--emulator: builtin and winhv accepted, anything else is a UsageError listing the choices', () => {
  assert.equal(parseExitEmulatorKind('builtin'), 'builtin');
  assert.equal(parseExitEmulatorKind(' WinHV '), 'winhv');
  assert.throws(() => parseExitEmulatorKind('qemu'), (err: unknown) => err instanceof UsageError && /--emulator expects one of builtin, winhv, got 'qemu'/.test(err.message) && err.exitCode === 2);
  const api = new RecordingWhpApi();
  const alloc = fakeAllocator(api);
  const vcpu = new WhpVcpu(api, api.partitionHandle, 0, alloc);
  const base = { vcpu, api, alloc, memory: GuestRam.allocate([{ gpa: 0, size: 4096 }]), pio: new PortIoBus(), mmio: new MmioBus() };
  assert.throws(() => createExitEmulator({ ...base, kind: 'hvf' as never }), UsageError);
  assert.throws(() => createExitEmulator({ ...base, kind: 'winhv' }), (err: unknown) => err instanceof HostError && /WinHvEmulation\.dll/.test(err.message));
  assert.ok(createExitEmulator({ ...base, kind: 'builtin' }) instanceof BuiltinExitEmulator);
});

// ---------------------------------------------------------------- fast path

sampleTest('out dx, al: fast path — one device write of AL, only RIP written (+1), no register read, no decode', () => {
  const h = harness();
  const e = io(h.exit('io_out'));
  assert.equal(h.emu.handleIo(e), 'done');
  assert.deepEqual(h.port.log, [{ op: 'write', offset: 0x3f8, size: 1, value: 0x41n }]);
  assert.deepEqual(h.calls(), ['WHvSetVirtualProcessorRegisters']);
  const [set] = h.written();
  assert.deepEqual(set!.map((r) => r.name), ['Rip']);
  assert.equal(values(set!)['Rip'], 0xffffffff81000124n);
  assert.equal(h.emu.stats.fastIo, 1);
});

sampleTest('in eax, dx: 32-bit IN zero-extends into RAX; RAX and RIP are the only registers written', () => {
  const h = harness();
  h.port.answers.set(0xcfc, 0x80861237n);
  assert.equal(h.emu.handleIo(io(h.exit('emu_in_eax_dx'))), 'done');
  assert.deepEqual(h.port.log, [{ op: 'read', offset: 0xcfc, size: 4, value: 0x80861237n }]);
  const [set] = h.written();
  assert.deepEqual(set!.map((r) => r.name), ['Rax', 'Rip']);
  assert.deepEqual(values(set!), { Rax: 0x80861237n, Rip: 0xffffffff81000201n });
});

sampleTest('in al, imm8 and in ax, dx: 8/16-bit IN keep RAX[63:8] / RAX[63:16]', () => {
  const h = harness();
  h.port.answers.set(0x71, 0x42n);
  h.emu.handleIo(io(h.exit('emu_in_al_imm')));
  assert.deepEqual(values(h.written()[0]!), { Rax: 0x1122334455667742n, Rip: 0xffffffff81000302n });
  h.port.answers.set(0x1f0, 0xbeefn);
  h.emu.handleIo(io(h.exit('emu_in_ax_dx')));
  assert.deepEqual(values(h.written()[0]!), { Rax: 0xaaaabbbbccccbeefn, Rip: 0x100002n });
});

sampleTest('RIP + instruction length carries into the high half', () => {
  const h = harness();
  h.emu.handleIo(io(h.exit('emu_out_rip_carry')));
  assert.deepEqual(h.port.log, [{ op: 'write', offset: 0x80, size: 1, value: 0x5an }]);
  assert.deepEqual(values(h.written()[0]!), { Rip: 0x100000000n });
});

sampleTest('RFLAGS.TF: the OUT completes, then a single-step #DB is made pending (no error code, DR6.BS parameter)', () => {
  const h = harness();
  assert.equal(h.emu.handleIo(io(h.exit('emu_out_tf'))), 'done');
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Rip', 'PendingEvent']);
  assert.deepEqual(decodeException(set[1]!.value, 'PendingEvent'), { pending: true, type: 0, vector: 1, errorCode: undefined, parameter: 0x4000n });
});

// ---------------------------------------------------------------- string IO

sampleTest('rep outsb: five port writes from guest RAM; RCX, RSI and RIP written (not RDI), one translation', () => {
  const h = harness();
  h.pages.set(0x7n, 0x7n);
  h.ram.write(0x7000, Uint8Array.from([0x68, 0x65, 0x6c, 0x6c, 0x6f]));
  h.setReg('Rcx', 5n);
  h.setReg('Rsi', 0x7000n);
  h.setReg('Rdi', 0x8000n);
  h.setReg('Rdx', 0x80n);
  assert.equal(h.emu.handleIo(io(h.exit('io_rep_outsb'))), 'done');
  assert.deepEqual(h.port.log.map((a) => [a.op, a.offset, a.size, Number(a.value)]), [0x68, 0x65, 0x6c, 0x6c, 0x6f].map((v) => ['write', 0x80, 1, v]));
  assert.deepEqual(h.calls(), ['WHvGetVirtualProcessorRegisters', 'WHvTranslateGva', 'WHvSetVirtualProcessorRegisters']);
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Rcx', 'Rsi', 'Rip']);
  assert.deepEqual(values(set), { Rcx: 0n, Rsi: 0x7005n, Rip: 0x100202n });
  const tr = h.api.calls.find((c) => c.fn === 'WHvTranslateGva')!;
  assert.equal(tr.args[2], 0x7000n);
  assert.equal(tr.args[3], TRANSLATE_FLAGS.read | TRANSLATE_FLAGS.setPageTableBits);
});

sampleTest('rep insw: port reads stored at ES:RDI in RAM; RCX, RDI, RIP written; translation validates write', () => {
  const h = harness();
  h.pages.set(0x9n, 0x9n);
  const words = [0x1111n, 0x2222n, 0x3333n];
  const orig = h.port.read.bind(h.port);
  h.port.read = (offset, size) => {
    h.port.answers.set(0x1f0, words[h.port.log.length] ?? 0n); // the data port's next word
    return orig(offset, size);
  };
  h.setReg('Rcx', 3n);
  h.setReg('Rdi', 0x9000n);
  h.setReg('Rdx', 0x1f0n);
  assert.equal(h.emu.handleIo(io(h.exit('emu_rep_insw'))), 'done');
  assert.deepEqual(h.port.log.map((a) => [a.op, a.offset, a.size]), Array(3).fill(['read', 0x1f0, 2]));
  assert.deepEqual([h.ram.readU16(0x9000), h.ram.readU16(0x9002), h.ram.readU16(0x9004)], [0x1111, 0x2222, 0x3333]);
  assert.deepEqual(values(h.written()[0]!), { Rcx: 0n, Rdi: 0x9006n, Rip: 0xffffffff81000403n });
  assert.equal(h.api.calls.find((c) => c.fn === 'WHvTranslateGva')!.args[3], TRANSLATE_FLAGS.write | TRANSLATE_FLAGS.setPageTableBits);
});

sampleTest('rep insw with RCX = 1500: one bounded chunk of 1024, RIP left at the instruction (retry), progress written', () => {
  const h = harness();
  for (let p = 0x9n; p < 0xcn; p++) h.pages.set(p, p);
  h.setReg('Rcx', 1500n);
  h.setReg('Rdi', 0x9000n);
  h.setReg('Rdx', 0x1f0n);
  const e = io(h.exit('emu_rep_insw'));
  assert.equal(h.emu.handleIo(e), 'retry');
  assert.equal(h.port.log.length, 1024);
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Rcx', 'Rdi'], 'no RIP: the guest re-executes the rep');
  assert.deepEqual(values(set), { Rcx: 476n, Rdi: 0x9000n + 2048n });
  // The next run re-executes it from the written-back state and finishes.
  h.port.log.length = 0;
  assert.equal(h.emu.handleIo(io(h.exit('emu_rep_insw'))), 'done');
  assert.equal(h.port.log.length, 476);
  assert.deepEqual(values(h.written()[0]!), { Rcx: 0n, Rdi: 0x9000n + 3000n, Rip: 0xffffffff81000403n });
  assert.equal(h.emu.stats.retries, 1);
});

// ---------------------------------------------------------------- MMIO

sampleTest('MMIO mov [rdi], eax: one 4-byte device write at the exit GPA; only RIP written; no translation call (seeded)', () => {
  const h = harness();
  h.setReg('Rax', 0xffffffff_00c0ffeen);
  h.setReg('Rdi', 0xffffc90000000010n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('mmio_write'))), 'done');
  assert.deepEqual(h.ioapic.log, [{ op: 'write', offset: 0x10, size: 4, value: 0x00c0ffeen }]);
  assert.deepEqual(h.calls(), ['WHvGetVirtualProcessorRegisters', 'WHvSetVirtualProcessorRegisters']);
  const get = h.api.calls.find((c) => c.fn === 'WHvGetVirtualProcessorRegisters' && c.registers?.length === 24)!;
  assert.ok(get, 'one batch of 24 registers (GPRs, ES SS DS FS GS, CR0 CR4 EFER)');
  assert.deepEqual(values(h.written()[0]!), { Rip: 0xffffffff81234569n });
});

sampleTest('MMIO mov eax, [rsi+8]: 4-byte device read; RAX zero-extended; RAX and RIP written', () => {
  const h = harness();
  h.dev.answers.set(8, 0x12345678n);
  h.setReg('Rax', 0xdeadbeef_cafebaben);
  h.setReg('Rsi', 0xffffc90000001000n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_mmio_load'))), 'done');
  assert.deepEqual(h.dev.log, [{ op: 'read', offset: 8, size: 4, value: 0x12345678n }]);
  assert.deepEqual(values(h.written()[0]!), { Rax: 0x12345678n, Rip: 0xffffffff81000503n });
});

sampleTest('MMIO movzx ecx, word [rbx]: 2-byte device read zero-extended into RCX; flags untouched', () => {
  const h = harness();
  h.dev.answers.set(2, 0xfffen);
  h.setReg('Rcx', 0x1234567812345678n);
  h.setReg('Rbx', 0xffffc90000001002n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_mmio_movzx'))), 'done');
  assert.deepEqual(h.dev.log, [{ op: 'read', offset: 2, size: 2, value: 0xfffen }]);
  assert.deepEqual(values(h.written()[0]!), { Rcx: 0xfffen, Rip: 0xffffffff81000603n });
});

sampleTest('rep movsd from RAM across a page boundary: two device writes, then RAM on the next page', () => {
  const h = harness();
  // Source: kernel GVA 0xffff888000005000 → RAM 0x5000. Destination: the device page's last 8
  // bytes (GVA …1ff8 → GPA 0xfed00ff8, the exit's), then GVA …2000 → RAM 0x6000.
  h.pages.set(0xffff888000005000n / PAGE, 0x5n);
  h.pages.set(0xffffc90000002000n / PAGE, 0x6n);
  h.ram.write(0x5000, Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]));
  h.setReg('Rcx', 4n);
  h.setReg('Rsi', 0xffff888000005000n);
  h.setReg('Rdi', 0xffffc90000001ff8n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_rep_movsd_mmio'))), 'done');
  assert.deepEqual(h.dev.log, [
    { op: 'write', offset: 0xff8, size: 4, value: 1n },
    { op: 'write', offset: 0xffc, size: 4, value: 2n },
  ]);
  assert.deepEqual([h.ram.readU32(0x6000), h.ram.readU32(0x6004)], [3, 4]);
  assert.deepEqual(values(h.written()[0]!), { Rcx: 0n, Rsi: 0xffff888000005010n, Rdi: 0xffffc90000002008n, Rip: 0xffffffff81000702n });
  // Source read (read), then the destination's second page (write): the exit's page was seeded.
  assert.deepEqual(h.api.calls.filter((c) => c.fn === 'WHvTranslateGva').map((c) => c.args[2]), [0xffff888000005000n, 0xffffc90000002000n]);
});

sampleTest('instruction longer than the exit bytes: the rest is fetched through translation (execute) from RAM', () => {
  const h = harness();
  h.pages.set(0x200n, 0x20n);
  const insn = [0xc7, 0x05, 0x00, 0x10, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12];
  h.ram.write(0x20000, Uint8Array.from(insn));
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_mmio_short_bytes'))), 'done');
  assert.deepEqual(h.dev.log, [{ op: 'write', offset: 0x100a, size: 4, value: 0x12345678n }]);
  const tr = h.api.calls.filter((c) => c.fn === 'WHvTranslateGva');
  assert.deepEqual(tr.map((c) => [c.args[2], c.args[3]]), [[0x200004n, TRANSLATE_FLAGS.execute | TRANSLATE_FLAGS.setPageTableBits]]);
  assert.deepEqual(values(h.written()[0]!), { Rip: 0x20000an });
});

sampleTest('instruction fetch hits a non-present page: #PF with I/D set (NXE), CR2 = the fetch address, RIP unchanged', () => {
  const h = harness();
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_mmio_short_bytes'))), 'exception');
  assert.deepEqual(h.dev.log, []);
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Cr2', 'PendingEvent']);
  assert.equal(u64(set[0]!.value), 0x200004n);
  assert.deepEqual(decodeException(set[1]!.value, 'PendingEvent'), { pending: true, type: 0, vector: 14, errorCode: 0x10, parameter: 0x200004n });
});

sampleTest('#PF from translation mid-rep: the iterations before it stay done, CR2 and the event are written, RIP unchanged', () => {
  const h = harness();
  h.pages.set(0x3n, 0x3n); // source page 0x3000; 0x4000 is not present
  h.ram.write(0x3ffc, Uint8Array.from([0xa, 0xb, 0xc, 0xd]));
  h.setReg('Rcx', 8n);
  h.setReg('Rsi', 0x3ffcn);
  h.setReg('Rdi', 0xffffc90000001000n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_rep_movsb_pf'))), 'exception');
  assert.deepEqual(h.dev.log.map((a) => [a.offset, a.size, Number(a.value)]), [[0, 1, 0xa], [1, 1, 0xb], [2, 1, 0xc], [3, 1, 0xd]]);
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Rcx', 'Rsi', 'Rdi', 'Cr2', 'PendingEvent']);
  const v = values(set);
  assert.deepEqual([v['Rcx'], v['Rsi'], v['Rdi'], v['Cr2']], [4n, 0x4000n, 0xffffc90000001004n, 0x4000n]);
  assert.deepEqual(decodeException(set[4]!.value, 'PendingEvent'), { pending: true, type: 0, vector: 14, errorCode: 0, parameter: 0x4000n });
  assert.equal(h.emu.lastException.vector, 14);
  assert.equal(h.emu.lastException.cr2, 0x4000);
});

sampleTest('#GP(0) from a non-canonical address mid-rep: two 8-byte device writes, then #GP(0), no CR2', () => {
  const h = harness();
  h.pages.set(0x7ffffffffff0n / PAGE, 0x5n);
  h.ram.write(0x5ff0, Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 0, 0, 0x22]));
  h.setReg('Rcx', 4n);
  h.setReg('Rsi', 0x7ffffffffff0n);
  h.setReg('Rdi', 0xffffc90000001000n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_rep_movsq_gp'))), 'exception');
  assert.deepEqual(h.dev.log, [
    { op: 'write', offset: 0, size: 8, value: 0x1100000000000001n },
    { op: 'write', offset: 8, size: 8, value: 0x2200000000000002n },
  ]);
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Rcx', 'Rsi', 'Rdi', 'PendingEvent']);
  assert.deepEqual(values(set).Rsi, 0x800000000000n);
  assert.deepEqual(decodeException(set[3]!.value, 'PendingEvent'), { pending: true, type: 0, vector: 13, errorCode: 0, parameter: 0n });
});

sampleTest('movdqu [rdi], xmm1 to a device: XMM fetched only for SSE; two 8-byte writes, low half first; only RIP written', () => {
  const h = harness();
  const x = new Uint8Array(16);
  new DataView(x.buffer).setBigUint64(0, 0x0706050403020100n, true);
  new DataView(x.buffer).setBigUint64(8, 0x0f0e0d0c0b0a0908n, true);
  h.api.registerFile.set(R('Xmm1'), x);
  h.setReg('Rdi', 0xffffc90000001010n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_mmio_movdqu'))), 'done');
  assert.deepEqual(h.dev.log, [
    { op: 'write', offset: 0x10, size: 8, value: 0x0706050403020100n },
    { op: 'write', offset: 0x18, size: 8, value: 0x0f0e0d0c0b0a0908n },
  ]);
  assert.deepEqual(h.api.calls.filter((c) => c.fn === 'WHvGetVirtualProcessorRegisters').slice(-2).map((c) => c.registers!.length), [24, 16]);
  assert.deepEqual(h.written()[0]!.map((r) => r.name), ['Rip']);
});

sampleTest('an instruction the engine does not emulate (fld on a device): #UD injected, nothing else written', () => {
  const h = harness();
  h.setReg('Rax', 0xffffc90000001000n);
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_mmio_x87'))), 'exception');
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['PendingEvent']);
  assert.deepEqual(decodeException(set[0]!.value, 'PendingEvent'), { pending: true, type: 0, vector: 6, errorCode: undefined, parameter: 0n });
  assert.equal(h.emu.lastException.cause, 'unsupported');
  assert.match(h.emu.lastException.detail, /fld DWORD PTR \[rax\] \(d9 00\)/);
  h.emu.handleMmio(mmioExit(h.exit('emu_mmio_x87')));
  assert.deepEqual(h.logs, ['warn: instruction not supported by the emulator: fld DWORD PTR [rax] (d9 00) at RIP 0xffffffff81000b00; injecting #UD (logged once per RIP)']);
});

sampleTest('PendingInterruption: the same #PF through WHvRegisterPendingInterruption (type 3 = exception), CR2 as a register', () => {
  const h = harness({ eventRegister: 'PendingInterruption' });
  h.emu.handleMmio(mmioExit(h.exit('emu_mmio_short_bytes')));
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Cr2', 'PendingInterruption']);
  assert.deepEqual(decodeException(set[1]!.value, 'PendingInterruption'), { pending: true, type: 3, vector: 14, errorCode: 0x10, parameter: 0n });
});

sampleTest('a hypervisor without PendingEvent (WHV_E_INVALID_VP_REGISTER_NAME): reissued through PendingInterruption, kept from then on', () => {
  class NoPendingEvent extends RecordingWhpApi {
    override WHvSetVirtualProcessorRegisters(p: bigint, vp: number, names: bigint, count: number, vals: bigint): number {
      const n = this.resolve(names, 4 * count)!;
      const dv = new DataView(n.buffer, n.byteOffset);
      for (let i = 0; i < count; i++) if (dv.getUint32(4 * i, true) === R('PendingEvent')) {
        this.calls.push({ fn: 'WHvSetVirtualProcessorRegisters(rejected)', args: [] });
        return 0x80370309 | 0;
      }
      return super.WHvSetVirtualProcessorRegisters(p, vp, names, count, vals);
    }
  }
  const h = harness({ api: new NoPendingEvent() });
  assert.equal(h.emu.handleMmio(mmioExit(h.exit('emu_mmio_short_bytes'))), 'exception');
  assert.deepEqual(h.calls().filter((c) => c.startsWith('WHvSet')), ['WHvSetVirtualProcessorRegisters(rejected)', 'WHvSetVirtualProcessorRegisters']);
  const set = h.written()[0]!;
  assert.deepEqual(set.map((r) => r.name), ['Cr2', 'PendingInterruption']);
  assert.equal(decodeException(set[1]!.value, 'PendingInterruption').vector, 14);
  assert.match(h.logs.join('\n'), /info: WHvRegisterPendingEvent is not supported by this hypervisor; injecting exceptions through WHvRegisterPendingInterruption/);
  h.emu.handleMmio(mmioExit(h.exit('emu_mmio_short_bytes')));
  assert.deepEqual(h.calls().filter((c) => c.startsWith('WHvSet')), ['WHvSetVirtualProcessorRegisters'], 'no second rejected attempt');
});

sampleTest('an MMIO exit during event delivery, or whose bytes have no memory operand, is an ExitEmulationError (nothing written)', () => {
  const h = harness();
  assert.throws(() => h.emu.handleMmio(mmioExit(h.exit('emu_mmio_during_delivery'))), (err: unknown) => err instanceof ExitEmulationError && /during event delivery/.test(err.message) && err.exitCode === 1);
  assert.deepEqual(h.written(), []);
  assert.throws(() => h.emu.handleMmio(mmioExit(h.exit('emu_mmio_no_memory_operand'))), (err: unknown) => err instanceof ExitEmulationError && /nop \(90\), which has no memory operand/.test(err.message));
  assert.deepEqual(h.written(), []);
  assert.deepEqual(h.ioapic.log, []);
});

sampleTest('a failing WHvSetVirtualProcessorRegisters is a WhpCallError naming the call and the vCPU', () => {
  const h = harness();
  h.api.results.set('WHvSetVirtualProcessorRegisters', 0x80370308 | 0);
  assert.throws(() => h.emu.handleIo(io(h.exit('io_out'))), /WHvSetVirtualProcessorRegisters \(vCPU 0: IN\/OUT completion\) failed: .*0x80370308/);
});

sampleTest('translation is re-done at each exit (the guest may remap), not cached across exits', () => {
  const h = harness();
  h.pages.set(0x7n, 0x7n);
  h.ram.write(0x7000, Uint8Array.from([1, 2, 3, 4, 5]));
  h.ram.write(0x8000, Uint8Array.from([9, 9, 9, 9, 9]));
  for (const _ of [0, 1]) {
    h.setReg('Rcx', 1n);
    h.setReg('Rsi', 0x7000n);
    h.setReg('Rdx', 0x80n);
    h.emu.handleIo(io(h.exit('io_rep_outsb')));
    h.pages.set(0x7n, 0x8n); // the guest remaps the page between the two exits
  }
  assert.deepEqual(h.port.log.map((a) => Number(a.value)), [1, 9]);
});

// ---------------------------------------------------------------- winhv callbacks

test('winhv callbacks route to the same places: PIO bus, RAM or MMIO bus by GPA, register pass-through, WHvTranslateGva', () => {
  const h = harness();
  const scratch = fakeAllocator(h.api)(64, 16);
  const cb = winhvHandlers(h.api, h.api.partitionHandle, 0, scratch, h.ram, h.pio, h.mmio);
  // IO: OUT reaches the device; IN returns the device's value.
  cb.io(0x3f8, 1, true, 0x41);
  h.port.answers.set(0x71, 0x33n);
  assert.equal(cb.io(0x71, 1, false, 0), 0x33);
  assert.deepEqual(h.port.log.map((a) => [a.op, a.offset, Number(a.value)]), [['write', 0x3f8, 0x41], ['read', 0x71, 0x33]]);
  // Memory: RAM by GPA (both directions), device otherwise (4 and 8 bytes, little-endian data).
  cb.memory(0x1000n, 4, true, Uint8Array.from([1, 2, 3, 4, 0, 0, 0, 0]));
  assert.equal(h.ram.readU32(0x1000), 0x04030201);
  const rd = new Uint8Array(8);
  cb.memory(0x1000n, 2, false, rd);
  assert.deepEqual([...rd.subarray(0, 2)], [1, 2]);
  cb.memory(0xfec00010n, 4, true, Uint8Array.from([0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0]));
  h.dev.answers.set(0x20, 0x1122334455667788n);
  const d8 = new Uint8Array(8);
  cb.memory(0xfed00020n, 8, false, d8);
  assert.deepEqual(h.ioapic.log, [{ op: 'write', offset: 0x10, size: 4, value: 0xdeadbeefn }]);
  assert.equal(new DataView(d8.buffer).getBigUint64(0, true), 0x1122334455667788n);
  // Registers: pass-through with this vCPU's partition and index.
  assert.equal(cb.getRegisters(0x111n, 2, 0x222n), 0);
  assert.deepEqual(h.api.calls.at(-1)!.args, [h.api.partitionHandle, 0, 0x111n, 2, 0x222n]);
  // Translation: the emulator's flags go to WHvTranslateGva; the result code and GPA come back.
  h.pages.set(0xffff888000001000n / PAGE, 0x42n);
  assert.deepEqual(cb.translateGva(0xffff888000001234n, 0x2), { result: 0, gpa: 0x42234n });
  assert.deepEqual(h.api.calls.at(-1)!.args.slice(2), [0xffff888000001234n, 0x2]);
  assert.deepEqual(cb.translateGva(0x5000n, 0x1), { result: PF_NOT_PRESENT, gpa: 0n });
});

// ---------------------------------------------------------------- decoded-instruction cache

test('ExitDecodeCache: keyed by the bytes and the mode — a changed displacement or mode is a miss', () => {
  const c = new ExitDecodeCache();
  const a = Uint8Array.from([0x8b, 0x46, 0x08, 0x90]);
  const first = c.lookup(a, 4, 64);
  assert.ok(typeof first === 'object' && first.length === 3 && first.disp === 8);
  assert.equal(c.lookup(a, 4, 64), first);
  assert.deepEqual([c.hits, c.misses], [1, 1]);
  const b = Uint8Array.from([0x8b, 0x46, 0x10]);
  const other = c.lookup(b, 3, 64);
  assert.ok(typeof other === 'object' && other.disp === 0x10, 'same opcode, other displacement: decoded afresh');
  const m32 = c.lookup(Uint8Array.from([0x8b, 0x46, 0x10]), 3, 32);
  assert.ok(typeof m32 === 'object' && m32.mode === 32);
  assert.equal(c.lookup(Uint8Array.from([0x8b, 0x46]), 2, 64), DecodeFault.Truncated, 'too few bytes is never a hit');
});

sampleTest('one emulator, alternating exits: cached decodes never leak between instructions', () => {
  const h = harness();
  h.dev.answers.set(8, 0x11n);
  h.setReg('Rax', 0x55n);
  h.setReg('Rdi', 0xffffc90000000010n);
  h.setReg('Rsi', 0xffffc90000001000n);
  for (let i = 0; i < 3; i++) {
    h.emu.handleMmio(mmioExit(h.exit('mmio_write')));
    h.emu.handleMmio(mmioExit(h.exit('emu_mmio_load')));
    h.setReg('Rax', 0x55n);
  }
  assert.deepEqual(h.ioapic.log.map((a) => [a.op, a.offset, Number(a.value)]), Array(3).fill(['write', 0x10, 0x55]));
  assert.deepEqual(h.dev.log.map((a) => [a.op, a.offset, Number(a.value)]), Array(3).fill(['read', 8, 0x11]));
});

sampleTest('32-bit protected mode rep outsb: the source is DS.base + ESI, ESI updates at 32 bits, RIP at 32 bits', () => {
  const h = harness();
  const seg = new Uint8Array(16);
  const dv = new DataView(seg.buffer);
  dv.setBigUint64(0, 0x10000n, true); // base
  dv.setUint32(8, 0xffff, true); // limit
  dv.setUint16(12, 0x10, true);
  dv.setUint16(14, 0x4093, true); // P, S, D/B, data RW accessed
  h.api.registerFile.set(R('Ds'), seg);
  h.setReg('Cr0', 0x11n); // PE, ET: no paging
  h.setReg('Cr4', 0n);
  h.setReg('Efer', 0n);
  h.setReg('Rcx', 0xdead_0000_0000_0003n); // ECX = 3 (the upper half is not the count in 32-bit mode)
  h.setReg('Rsi', 0x20n);
  h.setReg('Rdx', 0x3f8n);
  h.pages.set(0x10n, 0x10n);
  h.ram.write(0x10020, Uint8Array.from([0x78, 0x38, 0x36]));
  assert.equal(h.emu.handleIo(io(h.exit('emu_rep_outsb_32'))), 'done');
  assert.deepEqual(h.port.log.map((a) => Number(a.value)), [0x78, 0x38, 0x36]);
  assert.deepEqual(h.api.calls.filter((c) => c.fn === 'WHvTranslateGva').map((c) => c.args[2]), [0x10020n]);
  const v = values(h.written()[0]!);
  assert.deepEqual(v, { Rcx: 0n, Rsi: 0x23n, Rip: 0x101002n }, 'a 32-bit address-size update writes ECX/ESI zero-extended');
});
