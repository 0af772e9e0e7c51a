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
  /**
   * WHvGet/SetVirtualProcessorRegisters: the names passed (read from the fake native
   * memory) and, for Set, a copy of each 16-byte value as it was at call time.
   */
  registers?: { name: number; value?: Uint8Array }[];
}

/** What the double's WHvTranslateGva answers for a GVA and WHV_TRANSLATE_GVA_FLAGS. */
export type FakeGvaTranslation = (gva: bigint, flags: number) => { result: number; gpa: bigint };

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
  /**
   * Register values (16 bytes each) by WHV_REGISTER_NAME. WHvGetVirtualProcessorRegisters
   * fills the registers present here into the caller's (fake native) value array and leaves
   * the others untouched; WHvSetVirtualProcessorRegisters stores into it.
   */
  readonly registerFile = new Map<number, Uint8Array>();
  /** WHvTranslateGva's answer; the default maps every GVA to the same GPA. */
  translateGva: FakeGvaTranslation = (gva) => ({ result: 0, gpa: gva });

  /**
   * The bytes at fake native address [address, address+length), searching the blocks in
   * `memory` (an address may point inside a block, e.g. a batch's value array).
   */
  resolve(address: bigint, length: number): Uint8Array | undefined {
    for (const [base, bytes] of this.memory) {
      if (address >= base && address + BigInt(length) <= base + BigInt(bytes.byteLength)) {
        const off = Number(address - base);
        return bytes.subarray(off, off + length);
      }
    }
    return undefined;
  }

  private registerList(names: bigint, count: number, values: bigint, withValues: boolean): { name: number; value?: Uint8Array }[] | undefined {
    const n = this.resolve(names, 4 * count);
    const v = this.resolve(values, 16 * count);
    if (!n || !v) return undefined;
    const dv = new DataView(n.buffer, n.byteOffset, 4 * count);
    return Array.from({ length: count }, (_, i) => {
      const name = dv.getUint32(4 * i, true);
      return withValues ? { name, value: v.slice(16 * i, 16 * i + 16) } : { name };
    });
  }

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
    const regs = this.registerList(names, count, values, false);
    const hr = this.results.get('WHvGetVirtualProcessorRegisters') ?? 0;
    if (regs && hr >= 0) {
      const v = this.resolve(values, 16 * count)!;
      regs.forEach((r, i) => {
        const stored = this.registerFile.get(r.name);
        if (stored) v.set(stored, 16 * i);
      });
    }
    this.calls.push(regs ? { fn: 'WHvGetVirtualProcessorRegisters', args: [p, vp, names, count, values], registers: regs } : { fn: 'WHvGetVirtualProcessorRegisters', args: [p, vp, names, count, values] });
    return hr;
  }
  WHvSetVirtualProcessorRegisters(p: bigint, vp: number, names: bigint, count: number, values: bigint): number {
    const regs = this.registerList(names, count, values, true);
    const hr = this.results.get('WHvSetVirtualProcessorRegisters') ?? 0;
    if (regs && hr >= 0) for (const r of regs) this.registerFile.set(r.name, r.value!.slice());
    this.calls.push(regs ? { fn: 'WHvSetVirtualProcessorRegisters', args: [p, vp, names, count, values], registers: regs } : { fn: 'WHvSetVirtualProcessorRegisters', args: [p, vp, names, count, values] });
    return hr;
  }
  /** Answers with `translateGva` into the (fake native) result and GPA out-pointers. */
  WHvTranslateGva(p: bigint, vp: number, gva: bigint | number, flags: number, result: bigint, gpa: bigint): number {
    const g = BigInt.asUintN(64, BigInt(gva));
    const hr = this.ret('WHvTranslateGva', [p, vp, g, flags]);
    if (hr < 0) return hr;
    const t = this.translateGva(g, flags);
    const r = this.resolve(result, 8);
    const a = this.resolve(gpa, 8);
    if (r) new DataView(r.buffer, r.byteOffset, 8).setUint32(0, t.result, true);
    if (a) new DataView(a.buffer, a.byteOffset, 8).setBigUint64(0, t.gpa, true);
    return hr;
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
