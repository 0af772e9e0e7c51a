/**
 * WhpVm: one WHP partition, configured and set up in the order WHP requires
 * (every property below must be set before WHvSetupPartition; most cannot be
 * changed after it — WHvSetPartitionProperty then returns E_INVALIDARG):
 *
 *   WHvCreatePartition
 *   → ProcessorCount → LocalApicEmulationMode → ExtendedVmExits (+ ExceptionExitBitmap)
 *   → CpuidExitList / CpuidResultList → SyntheticProcessorFeaturesBanks
 *   → WHvSetupPartition
 *
 * (Order and rationale as in crosvm `WhpxVm::new` and QEMU `whpx_accel_init`,
 * whp-api.md §3–4.) Guest RAM is VirtualAlloc'd, page aligned, and mapped
 * with WHvMapGpaRange. The partition is deleted by dispose(), by
 * `using`/[Symbol.dispose], or at process exit if still alive.
 */
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { HostError } from '../errors.ts';
import { whpRegistry as reg } from './whp-decls.ts';
import { failed } from './hresult.ts';
import { HypervisorAbsentError, WhpCallError } from './whp-errors.ts';
import { hypervisorPresent } from './capabilities.ts';
import type { WhpApi, WhpLibrary } from './whp-library.ts';
import type { NativeBlock } from './native-memory.ts';

export type LocalApicMode = 'none' | 'xapic' | 'x2apic';

/** Hyper-V enlightenments exposed to the guest (WHV_SYNTHETIC_PROCESSOR_FEATURES). */
export interface SyntheticFeatures {
  /** HypervisorPresent + Hv1: the guest sees a Hyper-V-compatible hypervisor. */
  hv1: boolean;
  /** AccessHypercallRegs: the hypercall page MSRs. */
  hypercalls: boolean;
  /** AccessVpIndex. */
  vpIndex: boolean;
  /** AccessPartitionReferenceCounter + AccessPartitionReferenceTsc: the reference TSC page. */
  referenceTsc: boolean;
  /** AccessFrequencyRegs: HV_X64_MSR_TSC_FREQUENCY / HV_X64_MSR_APIC_FREQUENCY (Linux then skips calibration). */
  frequencyMsrs: boolean;
  /** AccessVpRunTimeReg. */
  vpRuntime: boolean;
}

export interface CpuidResult {
  leaf: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface WhpVmConfig {
  processorCount: number;
  localApic: LocalApicMode;
  exits: { cpuid?: boolean; msr?: boolean; exception?: boolean };
  /** Exception vectors that exit when `exits.exception` (bit n = vector n). */
  exceptionBitmap?: number;
  /** CPUID leaves that always exit to us (dynamic leaves). */
  cpuidExitLeaves?: readonly number[];
  /** Static CPUID results the hypervisor answers itself. */
  cpuidResults?: readonly CpuidResult[];
  /** Set before setup; omitted = no enlightenments (the property is not set). */
  syntheticFeatures?: SyntheticFeatures;
}

/** WHV_MAP_GPA_RANGE_FLAGS. */
export const MAP_READ = reg.constant('WHvMapGpaRangeFlagRead');
export const MAP_WRITE = reg.constant('WHvMapGpaRangeFlagWrite');
export const MAP_EXECUTE = reg.constant('WHvMapGpaRangeFlagExecute');
export const MAP_RWX = MAP_READ | MAP_WRITE | MAP_EXECUTE;

export interface InterruptRequest {
  vector: number;
  /** APIC ID (physical) or logical destination. */
  destination: number;
  type?: 'fixed' | 'lowestPriority' | 'nmi' | 'init' | 'sipi' | 'lint1';
  destinationMode?: 'physical' | 'logical';
  triggerMode?: 'edge' | 'level';
}

const INTERRUPT_TYPE = {
  fixed: reg.constant('WHvX64InterruptTypeFixed'),
  lowestPriority: reg.constant('WHvX64InterruptTypeLowestPriority'),
  nmi: reg.constant('WHvX64InterruptTypeNmi'),
  init: reg.constant('WHvX64InterruptTypeInit'),
  sipi: reg.constant('WHvX64InterruptTypeSipi'),
  lint1: reg.constant('WHvX64InterruptTypeLocalInt1'),
};

const PROPERTY_SIZE = reg.layoutOf('WHV_PARTITION_PROPERTY').size;
const INTERRUPT_CONTROL_SIZE = reg.layoutOf('WHV_INTERRUPT_CONTROL').size;
const CPUID_RESULT = reg.layoutOf('WHV_X64_CPUID_RESULT');

/** Sets bit-fields of a 64-bit bit-field union by name (names checked against the declarations). */
export function packBits(typeName: string, values: Readonly<Record<string, number | boolean>>): bigint {
  const layout = reg.layoutOf(typeName);
  let v = 0n;
  for (const [name, value] of Object.entries(values)) {
    const b = layout.bitfields.find((x) => x.cPath === name);
    if (!b) throw new Error(`${typeName} has no bit-field ${name}`);
    const n = BigInt(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    if (n >> BigInt(b.width) !== 0n) throw new RangeError(`${typeName}.${name} is ${b.width} bit(s); ${value} does not fit`);
    v |= n << BigInt(b.bitOffset + 8 * b.unitOffset);
  }
  return v;
}

/** Encodes WHV_INTERRUPT_CONTROL (16 bytes). */
export function encodeInterruptControl(req: InterruptRequest, out: Uint8Array = new Uint8Array(INTERRUPT_CONTROL_SIZE)): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, INTERRUPT_CONTROL_SIZE);
  out.fill(0, 0, INTERRUPT_CONTROL_SIZE);
  const bits = packBits('WHV_INTERRUPT_CONTROL', {
    Type: INTERRUPT_TYPE[req.type ?? 'fixed'],
    DestinationMode: req.destinationMode === 'logical' ? reg.constant('WHvX64InterruptDestinationModeLogical') : reg.constant('WHvX64InterruptDestinationModePhysical'),
    TriggerMode: req.triggerMode === 'level' ? reg.constant('WHvX64InterruptTriggerModeLevel') : reg.constant('WHvX64InterruptTriggerModeEdge'),
  });
  dv.setBigUint64(0, bits, true);
  dv.setUint32(reg.offsetOf('WHV_INTERRUPT_CONTROL', 'Destination'), req.destination >>> 0, true);
  dv.setUint32(reg.offsetOf('WHV_INTERRUPT_CONTROL', 'Vector'), req.vector >>> 0, true);
  return out;
}

const live = new Set<WhpVm>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A partition left alive holds hypervisor memory until the process dies; delete it explicitly.
  process.on('exit', () => {
    for (const vm of [...live]) vm.dispose();
  });
}

export class WhpVm implements Disposable {
  private disposed = false;
  private readonly mappings: { gpa: bigint; size: bigint }[] = [];
  private readonly ram: NativeBlock[] = [];
  private readonly interruptBuf = new Uint8Array(INTERRUPT_CONTROL_SIZE);

  private constructor(
    readonly api: WhpApi,
    /** The WHV_PARTITION_HANDLE: a BigInt that can be posted to vCPU Workers. */
    readonly handle: bigint,
    readonly config: WhpVmConfig,
    private readonly log: Logger,
  ) {}

  /** Creates, configures and sets up a partition. On any failure the partition is deleted before rethrowing. */
  static create(lib: Pick<WhpLibrary, 'api'>, config: WhpVmConfig, log: Logger = silentLogger): WhpVm {
    const api = lib.api;
    if (!hypervisorPresent(api)) throw new HypervisorAbsentError('WHvCapabilityCodeHypervisorPresent is FALSE');
    const out = new BigUint64Array(1);
    const hr = api.WHvCreatePartition(out);
    if (failed(hr)) throw new WhpCallError('WHvCreatePartition', hr);
    const vm = new WhpVm(api, out[0]!, config, log);
    live.add(vm);
    installExitHook();
    try {
      vm.configure();
      vm.check('WHvSetupPartition', api.WHvSetupPartition(vm.handle), undefined, 'a required partition property is missing or not supported on this host (WHV_E_INVALID_PARTITION_CONFIG)');
    } catch (err) {
      vm.dispose();
      throw err;
    }
    log.debug({ handle: '0x' + vm.handle.toString(16), processors: config.processorCount }, 'WHP partition set up');
    return vm;
  }

  private check(fn: string, hr: number, context?: string, hint?: string): void {
    if (failed(hr)) throw new WhpCallError(fn, hr, context, hint);
  }

  private setProperty(code: string, fill: (dv: DataView) => number): void {
    const buf = new Uint8Array(PROPERTY_SIZE);
    const size = fill(new DataView(buf.buffer));
    this.check('WHvSetPartitionProperty', this.api.WHvSetPartitionProperty(this.handle, reg.constant(code), buf, size), code.replace('WHvPartitionPropertyCode', ''));
  }

  private setListProperty(code: string, bytes: Uint8Array): void {
    this.check('WHvSetPartitionProperty', this.api.WHvSetPartitionProperty(this.handle, reg.constant(code), bytes, bytes.byteLength), code.replace('WHvPartitionPropertyCode', ''));
  }

  private configure(): void {
    const c = this.config;
    if (!Number.isInteger(c.processorCount) || c.processorCount < 1) throw new HostError(`invalid vCPU count ${c.processorCount}`);
    this.setProperty('WHvPartitionPropertyCodeProcessorCount', (dv) => {
      dv.setUint32(0, c.processorCount, true);
      return 4;
    });
    const mode = { none: 'WHvX64LocalApicEmulationModeNone', xapic: 'WHvX64LocalApicEmulationModeXApic', x2apic: 'WHvX64LocalApicEmulationModeX2Apic' }[c.localApic];
    this.setProperty('WHvPartitionPropertyCodeLocalApicEmulationMode', (dv) => {
      dv.setUint32(0, reg.constant(mode), true);
      return 4;
    });
    const exits = packBits('WHV_EXTENDED_VM_EXITS', { X64CpuidExit: !!c.exits.cpuid, X64MsrExit: !!c.exits.msr, ExceptionExit: !!c.exits.exception });
    this.setProperty('WHvPartitionPropertyCodeExtendedVmExits', (dv) => {
      dv.setBigUint64(0, exits, true);
      return 8;
    });
    if (c.exits.exception) {
      this.setProperty('WHvPartitionPropertyCodeExceptionExitBitmap', (dv) => {
        dv.setBigUint64(0, BigInt(c.exceptionBitmap ?? 0), true);
        return 8;
      });
    }
    if (c.cpuidExitLeaves?.length) {
      const list = new Uint8Array(4 * c.cpuidExitLeaves.length);
      const dv = new DataView(list.buffer);
      c.cpuidExitLeaves.forEach((leaf, i) => dv.setUint32(4 * i, leaf >>> 0, true));
      this.setListProperty('WHvPartitionPropertyCodeCpuidExitList', list);
    }
    if (c.cpuidResults?.length) this.setListProperty('WHvPartitionPropertyCodeCpuidResultList', encodeCpuidResults(c.cpuidResults));
    if (c.syntheticFeatures) {
      const s = c.syntheticFeatures;
      const bank0 = packBits('WHV_SYNTHETIC_PROCESSOR_FEATURES', {
        HypervisorPresent: s.hv1,
        Hv1: s.hv1,
        AccessVpRunTimeReg: s.vpRuntime,
        AccessPartitionReferenceCounter: s.referenceTsc,
        AccessPartitionReferenceTsc: s.referenceTsc,
        AccessHypercallRegs: s.hypercalls,
        AccessVpIndex: s.vpIndex,
        AccessFrequencyRegs: s.frequencyMsrs,
      });
      this.setProperty('WHvPartitionPropertyCodeSyntheticProcessorFeaturesBanks', (dv) => {
        dv.setUint32(reg.offsetOf('WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS', 'BanksCount'), 1, true);
        dv.setBigUint64(reg.offsetOf('WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS', 'Bank0'), bank0, true);
        return reg.layoutOf('WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS').size;
      });
    }
  }

  /** Maps page-aligned host memory at `gpa` (WHvMapGpaRange). */
  mapGpaRange(host: { address: bigint; bytes: Uint8Array }, gpa: number, flags: number = MAP_RWX): void {
    const size = host.bytes.byteLength;
    if (host.address % 4096n !== 0n || gpa % 4096 !== 0 || size % 4096 !== 0) {
      throw new HostError(`WHvMapGpaRange needs page-aligned ranges: host 0x${host.address.toString(16)}, GPA 0x${gpa.toString(16)}, size 0x${size.toString(16)}`);
    }
    this.check('WHvMapGpaRange', this.api.WHvMapGpaRange(this.handle, host.address, BigInt(gpa), BigInt(size), flags), `GPA 0x${gpa.toString(16)}, 0x${size.toString(16)} bytes`);
    this.mappings.push({ gpa: BigInt(gpa), size: BigInt(size) });
  }

  unmapGpaRange(gpa: number, size: number): void {
    this.check('WHvUnmapGpaRange', this.api.WHvUnmapGpaRange(this.handle, BigInt(gpa), BigInt(size)), `GPA 0x${gpa.toString(16)}`);
    const i = this.mappings.findIndex((m) => m.gpa === BigInt(gpa) && m.size === BigInt(size));
    if (i >= 0) this.mappings.splice(i, 1);
  }

  /** Takes ownership of host RAM blocks so they are freed (after unmapping) by dispose(). */
  adoptRam(block: NativeBlock): void {
    this.ram.push(block);
  }

  /** WHvRequestInterrupt (needs a hypervisor-emulated local APIC: localApic 'xapic' or 'x2apic'). */
  requestInterrupt(req: InterruptRequest): void {
    encodeInterruptControl(req, this.interruptBuf);
    this.check('WHvRequestInterrupt', this.api.WHvRequestInterrupt(this.handle, this.interruptBuf, INTERRUPT_CONTROL_SIZE), `vector ${req.vector} → APIC ${req.destination}`);
  }

  /** Freezes the partition's reference time and TSCs (e.g. before setting vCPU TSCs); resumes on the next run. */
  suspendTime(): void {
    this.check('WHvSuspendPartitionTime', this.api.WHvSuspendPartitionTime(this.handle));
  }

  resumeTime(): void {
    this.check('WHvResumePartitionTime', this.api.WHvResumePartitionTime(this.handle));
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Unmaps RAM, deletes the partition, frees host RAM. Idempotent; never throws (logs instead). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    live.delete(this);
    for (const m of this.mappings.splice(0)) {
      const hr = this.api.WHvUnmapGpaRange(this.handle, m.gpa, m.size);
      if (failed(hr)) this.log.warn({ hr }, 'WHvUnmapGpaRange failed during teardown');
    }
    const hr = this.api.WHvDeletePartition(this.handle);
    if (failed(hr)) this.log.warn({ hr }, 'WHvDeletePartition failed during teardown');
    for (const b of this.ram.splice(0)) b.free();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Encodes WHV_X64_CPUID_RESULT[] (32 bytes each). */
export function encodeCpuidResults(results: readonly CpuidResult[]): Uint8Array {
  const out = new Uint8Array(CPUID_RESULT.size * results.length);
  const dv = new DataView(out.buffer);
  const o = (f: string) => reg.offsetOf('WHV_X64_CPUID_RESULT', f);
  results.forEach((r, i) => {
    const at = i * CPUID_RESULT.size;
    dv.setUint32(at + o('Function'), r.leaf >>> 0, true);
    dv.setUint32(at + o('Eax'), r.eax >>> 0, true);
    dv.setUint32(at + o('Ebx'), r.ebx >>> 0, true);
    dv.setUint32(at + o('Ecx'), r.ecx >>> 0, true);
    dv.setUint32(at + o('Edx'), r.edx >>> 0, true);
  });
  return out;
}
