/**
 * JS-side cost of one WHP IO exit, without calling a DLL (none exists here):
 *   - decoding the 224-byte exit context (ExitDecoder.decode), and
 *   - marshalling the register batch an IN exit needs: read RAX/RIP/RFLAGS out
 *     of the batch buffer (as after WHvGetVirtualProcessorRegisters), merge the
 *     IN value into RAX, advance RIP by the instruction length, and write them
 *     back (as before WHvSetVirtualProcessorRegisters).
 * Side by side with an empty loop measured in the same run. The buffers are
 * real native memory (koffi.alloc) when koffi loads, else plain ArrayBuffers.
 * Goal: median < 1 µs per exit.
 */
import { nsPerOp } from './harness.ts';
import type { BenchResult } from './harness.ts';
import { ExitDecoder, EXIT_CONTEXT_SIZE, u64 } from '../src/whp/exit-context.ts';
import { RegisterBatch } from '../src/whp/register-batch.ts';
import { whpRegistry as reg } from '../src/whp/whp-decls.ts';
import { loadKoffi } from '../src/native/koffi.ts';
import { allocAligned } from '../src/whp/native-memory.ts';
import type { NativeBlock } from '../src/whp/native-memory.ts';

function block(size: number): NativeBlock {
  try {
    return allocAligned(loadKoffi(), size, 16);
  } catch {
    return { address: 0n, bytes: new Uint8Array(size), free() {} };
  }
}

export async function run(): Promise<BenchResult[]> {
  const exitBlock = block(EXIT_CONTEXT_SIZE);
  const dv = new DataView(exitBlock.bytes.buffer, exitBlock.bytes.byteOffset, EXIT_CONTEXT_SIZE);
  const o = (p: string) => reg.offsetOf('WHV_RUN_VP_EXIT_CONTEXT', p);
  // An `in al, dx` from port 0x3FD (UART line status) at a kernel RIP.
  dv.setUint32(o('ExitReason'), reg.constant('WHvRunVpExitReasonX64IoPortAccess'), true);
  dv.setUint8(reg.bitfieldOf('WHV_RUN_VP_EXIT_CONTEXT', 'VpContext.InstructionLength').unitOffset, 1); // InstructionLength = 1 (bits 0-3)
  dv.setBigUint64(o('VpContext.Rip'), 0xffffffff81000123n, true);
  dv.setUint32(o('IoPortAccess.AccessInfo'), 1 << 1, true); // IN, size 1
  dv.setUint16(o('IoPortAccess.PortNumber'), 0x3fd, true);
  const decoder = new ExitDecoder(exitBlock.bytes);
  const names = ['Rax', 'Rip', 'Rflags'] as const;
  const batch = new RegisterBatch(names, block(RegisterBatch.byteSize(names.length)));
  const { Rax, Rip, Rflags } = batch.slot;
  const tmp = u64();
  let sink = 0;

  const handleExit = () => {
    const e = decoder.decode();
    if (e.kind !== 'io') throw new Error('bench exit is not IO');
    // "get": what came back from WHvGetVirtualProcessorRegisters.
    batch.getU64(Rax, tmp);
    sink ^= batch.lo(Rflags);
    const value = 0x60; // the device's answer
    const mask = e.size === 4 ? 0xffffffff : (1 << (8 * e.size)) - 1;
    // "set": IN merges into RAX (size 4 zero-extends), RIP += instruction length.
    batch.setU64(Rax, e.size === 4 ? value : ((tmp.lo & ~mask) | (value & mask)) >>> 0, e.size === 4 ? 0 : tmp.hi);
    batch.setU64(Rip, e.vp.rip.lo, e.vp.rip.hi);
    batch.addU64(Rip, e.vp.instructionLength);
    sink ^= e.port;
  };
  const decodeOnly = () => {
    sink ^= decoder.decode().reason;
  };
  const empty = () => {
    sink ^= 1;
  };

  const iterations = 200_000;
  const emptyNs = nsPerOp(empty, iterations);
  const decodeNs = nsPerOp(decodeOnly, iterations);
  const exitNs = nsPerOp(handleExit, iterations);
  if (sink === 0x7fffffff) console.log(sink); // keep the work observable
  exitBlock.free();
  batch.free();
  const goalUs = 1;
  return [
    { name: 'decode one IO exit context', unit: 'ns/op', value: decodeNs, reference: { name: 'empty loop', value: emptyNs } },
    {
      name: 'IO exit: decode + register batch get/set (RAX, RIP, RFLAGS)',
      unit: 'ns/op',
      value: exitNs,
      reference: { name: 'empty loop', value: emptyNs },
      goal: `< ${goalUs * 1000} ns`,
      pass: exitNs < goalUs * 1000,
    },
  ];
}
