/**
 * TEST DOUBLE — RecordingWhpApi stands in for WinHvPlatform.dll in JS. It
 * records every call with a copy of the bytes passed in, and returns scripted
 * HRESULTs. It proves OUR side: call order, argument encoding, error mapping
 * and teardown. It proves nothing about the hypervisor's behaviour, and
 * nothing about koffi marshalling (whp-koffi-types.test.ts and the Windows-only
 * paths cover that).
 */
import type { Ptr, WhpApi } from '../../src/whp/whp-library.ts';
import { whpRegistry as reg } from '../../src/whp/whp-decls.ts';

export interface RecordedCall {
  fn: string;
  args: unknown[];
  /** Copy of the bytes of the first buffer argument (property/capability/interrupt data). */
  bytes?: Uint8Array;
}

const copy = (p: Ptr): Uint8Array | undefined =>
  p && typeof p !== 'bigint' ? new Uint8Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength)) : undefined;

export class RecordingWhpApi implements WhpApi {
  readonly calls: RecordedCall[] = [];
  /** HRESULT to return per function name (default S_OK). */
  readonly results = new Map<string, number>();
  /** Capability code → 64-bit value written to the buffer. */
  readonly capabilities = new Map<number, bigint>([[reg.constant('WHvCapabilityCodeHypervisorPresent'), 1n]]);
  /** Bytes that WHvRunVirtualProcessor writes into the exit context. */
  nextExit: Uint8Array = new Uint8Array(224);
  /** Memory the fake "native" addresses point to (for run and registers). */
  readonly memory = new Map<bigint, Uint8Array>();
  partitionHandle = 0x5000n;

  private ret(fn: string, args: unknown[], bytes?: Uint8Array): number {
    this.calls.push(bytes ? { fn, args, bytes } : { fn, args });
    return this.results.get(fn) ?? 0;
  }

  names(): string[] {
    return this.calls.map((c) => c.fn);
  }

  WHvGetCapability(code: number, buffer: Ptr, size: number, written: Uint32Array | null): number {
    const hr = this.ret('WHvGetCapability', [code, size]);
    const v = this.capabilities.get(code);
    if (v === undefined) return 0x80370300 | 0; // WHV_E_UNKNOWN_CAPABILITY
    if (buffer && typeof buffer !== 'bigint') new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength).setBigUint64(0, v, true);
    if (written) written[0] = 8;
    return hr;
  }
  WHvCreatePartition(partition: BigUint64Array): number {
    partition[0] = this.partitionHandle;
    return this.ret('WHvCreatePartition', []);
  }
  WHvSetupPartition(p: bigint): number {
    return this.ret('WHvSetupPartition', [p]);
  }
  WHvDeletePartition(p: bigint): number {
    return this.ret('WHvDeletePartition', [p]);
  }
  WHvGetPartitionProperty(p: bigint, code: number, _buffer: Ptr, size: number): number {
    return this.ret('WHvGetPartitionProperty', [p, code, size]);
  }
  WHvSetPartitionProperty(p: bigint, code: number, buffer: Ptr, size: number): number {
    return this.ret(`WHvSetPartitionProperty`, [p, code, size], copy(buffer)?.subarray(0, size));
  }
  WHvSuspendPartitionTime(p: bigint): number {
    return this.ret('WHvSuspendPartitionTime', [p]);
  }
  WHvResumePartitionTime(p: bigint): number {
    return this.ret('WHvResumePartitionTime', [p]);
  }
  WHvMapGpaRange(p: bigint, source: bigint, gpa: bigint, size: bigint, flags: number): number {
    return this.ret('WHvMapGpaRange', [p, source, gpa, size, flags]);
  }
  WHvUnmapGpaRange(p: bigint, gpa: bigint, size: bigint): number {
    return this.ret('WHvUnmapGpaRange', [p, gpa, size]);
  }
  WHvCreateVirtualProcessor(p: bigint, vp: number, flags: number): number {
    return this.ret('WHvCreateVirtualProcessor', [p, vp, flags]);
  }
  WHvDeleteVirtualProcessor(p: bigint, vp: number): number {
    return this.ret('WHvDeleteVirtualProcessor', [p, vp]);
  }
  WHvRunVirtualProcessor(p: bigint, vp: number, exitContext: bigint, size: number): number {
    this.memory.get(exitContext)?.set(this.nextExit.subarray(0, size));
    return this.ret('WHvRunVirtualProcessor', [p, vp, exitContext, size]);
  }
  WHvCancelRunVirtualProcessor(p: bigint, vp: number, flags: number): number {
    return this.ret('WHvCancelRunVirtualProcessor', [p, vp, flags]);
  }
  WHvGetVirtualProcessorRegisters(p: bigint, vp: number, names: bigint, count: number, values: bigint): number {
    return this.ret('WHvGetVirtualProcessorRegisters', [p, vp, names, count, values]);
  }
  WHvSetVirtualProcessorRegisters(p: bigint, vp: number, names: bigint, count: number, values: bigint): number {
    return this.ret('WHvSetVirtualProcessorRegisters', [p, vp, names, count, values]);
  }
  WHvRequestInterrupt(p: bigint, control: Ptr, size: number): number {
    return this.ret('WHvRequestInterrupt', [p, size], copy(control));
  }
}

/** A JS allocator with fake, 16-aligned "addresses" registered in the double's memory map. */
export function fakeAllocator(api: RecordingWhpApi): (size: number, align: number) => { address: bigint; bytes: Uint8Array; free(): void; freed: boolean } {
  let next = 0x10000n;
  return (size, align) => {
    const address = next;
    next += BigInt(Math.ceil((size + align) / 4096) * 4096);
    const bytes = new Uint8Array(size);
    api.memory.set(address, bytes);
    const block = {
      address,
      bytes,
      freed: false,
      free() {
        block.freed = true;
      },
    };
    return block;
  };
}
