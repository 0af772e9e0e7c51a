/**
 * WinHvExitEmulator: `--emulator winhv`. Completes IO and MMIO exits with Microsoft's
 * WinHvEmulation.dll (WhpEmulator), the way QEMU's WHPX did before it moved to its own
 * emulator: every IO exit (plain and string) goes to WHvEmulatorTryIoEmulation, every MMIO exit
 * to WHvEmulatorTryMmioEmulation, with pointers into the vCPU's exit-context buffer.
 *
 * The callbacks route to the same places as the builtin engine:
 *  - IoPort → the PIO bus; Memory (a GPA) → guest RAM when GuestMemory holds it, else the MMIO
 *    bus (1/2/4-byte values as numbers, 8 bytes through read64/write64, any other size byte by
 *    byte);
 *  - Get/SetVirtualProcessorRegisters → pass-through to WHvGet/SetVirtualProcessorRegisters
 *    of this vCPU (the emulator hands us its own native arrays);
 *  - TranslateGvaPage → WHvTranslateGva of this vCPU with the emulator's flags.
 * WinHvEmulation decides everything else (register write-back, RIP, faults it raises); a
 * status without EmulationSuccessful is a HostError from WhpEmulator. Callbacks run
 * synchronously on this thread (see whp-emulator.ts).
 */
import type { Koffi } from '../native/koffi.ts';
import type { GuestMemory } from '../memory/guest-memory.ts';
import { failed } from './hresult.ts';
import { WhpCallError } from './whp-errors.ts';
import { whpRegistry as reg } from './whp-decls.ts';
import { WhpEmulator } from './whp-emulator.ts';
import type { EmulatorHandlers } from './whp-emulator.ts';
import type { WhpEmulationApi } from './whp-library.ts';
import type { ExitMmioBus, ExitPioBus } from './exit-cpu.ts';
import type { IoPortExit, MemoryAccessExit } from './exit-context.ts';
import type { ExitEmulationStats, ExitEmulator, ExitEmulatorOptions, ExitResult, InjectedException, WhpExitApi } from './exit-emulation.ts';
import { TRANSLATOR_SCRATCH_SIZE } from './exit-gva-translator.ts';
import type { NativeBlock } from './native-memory.ts';

const VP_CONTEXT = BigInt(reg.offsetOf('WHV_RUN_VP_EXIT_CONTEXT', 'VpContext'));
const IO_CONTEXT = BigInt(reg.offsetOf('WHV_RUN_VP_EXIT_CONTEXT', 'IoPortAccess'));
const MEMORY_CONTEXT = BigInt(reg.offsetOf('WHV_RUN_VP_EXIT_CONTEXT', 'MemoryAccess'));
const RESULT_CODE = reg.offsetOf('WHV_TRANSLATE_GVA_RESULT', 'ResultCode');
const GPA_AT = Math.ceil(reg.layoutOf('WHV_TRANSLATE_GVA_RESULT').size / 8) * 8;

/** EmulatorHandlers over the buses, RAM and one vCPU (exported for tests). */
export function winhvHandlers(
  api: WhpExitApi,
  partition: bigint,
  vpIndex: number,
  scratch: NativeBlock,
  memory: GuestMemory,
  pio: ExitPioBus,
  mmio: ExitMmioBus,
): EmulatorHandlers {
  const dv = new DataView(scratch.bytes.buffer, scratch.bytes.byteOffset, TRANSLATOR_SCRATCH_SIZE);
  return {
    io(port, size, isWrite, data) {
      if (isWrite) {
        pio.write(port, size as 1 | 2 | 4, data);
        return;
      }
      return pio.read(port, size as 1 | 2 | 4);
    },
    memory(gpaBig, size, isWrite, data) {
      const gpa = Number(gpaBig);
      if (memory.contains(gpa, size)) {
        if (isWrite) memory.write(gpa, data.subarray(0, size));
        else memory.read(gpa, data.subarray(0, size));
        return;
      }
      const v = new DataView(data.buffer, data.byteOffset, size);
      if (size === 1 || size === 2 || size === 4) {
        if (isWrite) mmio.write(gpa, size, size === 1 ? v.getUint8(0) : size === 2 ? v.getUint16(0, true) : v.getUint32(0, true));
        else {
          const x = mmio.read(gpa, size);
          if (size === 1) v.setUint8(0, x);
          else if (size === 2) v.setUint16(0, x, true);
          else v.setUint32(0, x, true);
        }
      } else if (size === 8) {
        if (isWrite) mmio.write64(gpa, v.getBigUint64(0, true));
        else v.setBigUint64(0, mmio.read64(gpa), true);
      } else {
        for (let i = 0; i < size; i++) {
          if (isWrite) mmio.write(gpa + i, 1, data[i]!);
          else data[i] = mmio.read(gpa + i, 1);
        }
      }
    },
    getRegisters(names, count, values) {
      return api.WHvGetVirtualProcessorRegisters(partition, vpIndex, names, count, values);
    },
    setRegisters(names, count, values) {
      return api.WHvSetVirtualProcessorRegisters(partition, vpIndex, names, count, values);
    },
    translateGva(gva, flags) {
      const hr = api.WHvTranslateGva(partition, vpIndex, gva, flags, scratch.address, scratch.address + BigInt(GPA_AT));
      if (hr !== 0 && failed(hr)) throw new WhpCallError('WHvTranslateGva', hr, `vCPU ${vpIndex}, GVA 0x${gva.toString(16)} (WinHvEmulation callback)`);
      return { result: dv.getUint32(RESULT_CODE, true), gpa: dv.getBigUint64(GPA_AT, true) };
    },
  };
}

export class WinHvExitEmulator implements ExitEmulator {
  readonly kind = 'winhv' as const;
  readonly stats: ExitEmulationStats = { fastIo: 0, emulated: 0, retries: 0, exceptions: 0, winhvCalls: 0 };
  /** WinHvEmulation injects its own faults and does not report them; this stays empty. */
  readonly lastException: InjectedException = { vector: 0, errorCode: -1, cr2: 0, cause: 'fault', detail: '', register: 'PendingEvent' };
  readonly emulator: WhpEmulator;
  private readonly exitContext: bigint;
  private readonly scratch: NativeBlock;
  private disposed = false;

  constructor(options: ExitEmulatorOptions, koffi: Koffi, emulationApi: WhpEmulationApi) {
    const { vcpu, api } = options;
    this.exitContext = vcpu.exitContextAddress;
    this.scratch = options.alloc(TRANSLATOR_SCRATCH_SIZE, 16);
    try {
      this.emulator = new WhpEmulator(koffi, emulationApi, winhvHandlers(api, vcpu.partition, vcpu.index, this.scratch, options.memory, options.pio, options.mmio));
    } catch (err) {
      this.scratch.free();
      throw err;
    }
  }

  handleIo(_exit: IoPortExit): ExitResult {
    this.stats.winhvCalls++;
    this.emulator.tryIo(this.exitContext + VP_CONTEXT, this.exitContext + IO_CONTEXT);
    return 'done';
  }

  handleMmio(_exit: MemoryAccessExit): ExitResult {
    this.stats.winhvCalls++;
    this.emulator.tryMmio(this.exitContext + VP_CONTEXT, this.exitContext + MEMORY_CONTEXT);
    return 'done';
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.emulator.dispose();
    this.scratch.free();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
