/**
 * Reads WHvGetCapability into plain data (for `krun-whp probe` and for choosing
 * partition settings). Bit names come from the declared bit-fields of each
 * capability union (WHV_CAPABILITY_FEATURES, WHV_EXTENDED_VM_EXITS …), so the
 * list matches the header; `Reserved*` bits are left out.
 *
 * WHV_E_UNKNOWN_CAPABILITY means "this build does not know the capability" and
 * must be treated as not available (Microsoft docs); it yields null here.
 */
import { whpRegistry as reg } from './whp-decls.ts';
import { WHV_E_UNKNOWN_CAPABILITY, failed } from './hresult.ts';
import { WhpCallError } from './whp-errors.ts';
import type { WhpApi } from './whp-library.ts';

export interface WhpCapabilities {
  hypervisorPresent: boolean;
  /** WHV_CAPABILITY_FEATURES bits that are set. */
  features: string[] | null;
  extendedVmExits: string[] | null;
  exceptionExitBitmap: number | null;
  x64MsrExitBitmap: string[] | null;
  processorVendor: string | null;
  /** Bank 0 and bank 1 of WHV_PROCESSOR_FEATURES_BANKS (or bank 0 alone on old builds). */
  processorFeatures: string[] | null;
  processorXsaveFeatures: string[] | null;
  processorClFlushSize: number | null;
  processorClockFrequencyHz: number | null;
  interruptClockFrequencyHz: number | null;
  syntheticProcessorFeatures: string[] | null;
  /** Local APIC emulation modes this host supports ('xapic', 'x2apic'); empty when only 'none'. */
  localApicEmulationModes: string[];
}

const CAPABILITY_SIZE = reg.layoutOf('WHV_CAPABILITY').size;

/** Names of the set bits of a declared bit-field union, from a 64-bit value. */
export function setBitNames(typeName: string, value: bigint): string[] {
  const names: string[] = [];
  for (const b of reg.layoutOf(typeName).bitfields) {
    if (/^Reserved/.test(b.cPath)) continue;
    const bits = (value >> BigInt(b.bitOffset)) & ((1n << BigInt(b.width)) - 1n);
    if (bits !== 0n) names.push(b.width === 1 ? b.cPath : `${b.cPath}=${bits}`);
  }
  return names;
}

const VENDORS: Record<number, string> = {
  [reg.constant('WHvProcessorVendorAmd')]: 'AMD',
  [reg.constant('WHvProcessorVendorIntel')]: 'Intel',
  [reg.constant('WHvProcessorVendorHygon')]: 'Hygon',
};

/**
 * Queries one capability into `buf`; returns null for WHV_E_UNKNOWN_CAPABILITY,
 * throws WhpCallError on other failures.
 */
function query(api: WhpApi, code: string, buf: Uint8Array): DataView | null {
  buf.fill(0);
  const written = new Uint32Array(1);
  const hr = api.WHvGetCapability(reg.constant(code), buf, buf.byteLength, written);
  if (hr === WHV_E_UNKNOWN_CAPABILITY) return null;
  if (failed(hr)) throw new WhpCallError('WHvGetCapability', hr, code);
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Only HypervisorPresent: the first question, asked before anything else. */
export function hypervisorPresent(api: WhpApi): boolean {
  const dv = query(api, 'WHvCapabilityCodeHypervisorPresent', new Uint8Array(CAPABILITY_SIZE));
  // WINBOOL (4 bytes): a 1-byte buffer would get WHV_E_INSUFFICIENT_BUFFER.
  return dv !== null && dv.getInt32(reg.offsetOf('WHV_CAPABILITY', 'HypervisorPresent'), true) !== 0;
}

/**
 * Every capability the probe reports. `hasX2ApicSupport` says whether the DLL
 * exports WHvSetVirtualProcessorInterruptControllerState2, which is how QEMU
 * decides that x2APIC emulation is usable (there is no capability bit for it).
 */
export function readCapabilities(api: WhpApi, hasX2ApicSupport: boolean): WhpCapabilities {
  const buf = new Uint8Array(CAPABILITY_SIZE);
  const u64 = (code: string): bigint | null => {
    const dv = query(api, code, buf);
    return dv ? dv.getBigUint64(0, true) : null;
  };
  const bitsOf = (code: string, type: string): string[] | null => {
    const v = u64(code);
    return v === null ? null : setBitNames(type, v);
  };
  const present = hypervisorPresent(api);
  if (!present) {
    return {
      hypervisorPresent: false,
      features: null,
      extendedVmExits: null,
      exceptionExitBitmap: null,
      x64MsrExitBitmap: null,
      processorVendor: null,
      processorFeatures: null,
      processorXsaveFeatures: null,
      processorClFlushSize: null,
      processorClockFrequencyHz: null,
      interruptClockFrequencyHz: null,
      syntheticProcessorFeatures: null,
      localApicEmulationModes: [],
    };
  }
  const features = bitsOf('WHvCapabilityCodeFeatures', 'WHV_CAPABILITY_FEATURES');
  const vendorDv = query(api, 'WHvCapabilityCodeProcessorVendor', buf);
  const vendorCode = vendorDv ? vendorDv.getUint32(0, true) : null;
  const vendor = vendorCode === null ? null : (VENDORS[vendorCode] ?? `unknown (${vendorCode})`);

  let processorFeatures: string[] | null = null;
  const banks = query(api, 'WHvCapabilityCodeProcessorFeaturesBanks', buf);
  if (banks) {
    const b0 = banks.getBigUint64(reg.offsetOf('WHV_PROCESSOR_FEATURES_BANKS', 'Bank0'), true);
    const b1 = banks.getBigUint64(reg.offsetOf('WHV_PROCESSOR_FEATURES_BANKS', 'Bank1'), true);
    processorFeatures = [...setBitNames('WHV_PROCESSOR_FEATURES', b0), ...setBitNames('WHV_PROCESSOR_FEATURES1', b1)];
  } else {
    processorFeatures = bitsOf('WHvCapabilityCodeProcessorFeatures', 'WHV_PROCESSOR_FEATURES');
  }
  let synthetic: string[] | null = null;
  const syn = query(api, 'WHvCapabilityCodeSyntheticProcessorFeaturesBanks', buf);
  if (syn) synthetic = setBitNames('WHV_SYNTHETIC_PROCESSOR_FEATURES', syn.getBigUint64(reg.offsetOf('WHV_SYNTHETIC_PROCESSOR_FEATURES_BANKS', 'Bank0'), true));

  // Read at once: every query() refills the same buffer.
  const clflushDv = query(api, 'WHvCapabilityCodeProcessorClFlushSize', buf);
  const clflush = clflushDv ? clflushDv.getUint8(0) : null;
  const num = (v: bigint | null): number | null => (v === null ? null : Number(v));
  const exceptionBitmap = u64('WHvCapabilityCodeExceptionExitBitmap');
  const apic = features?.includes('LocalApicEmulation') ?? false;
  return {
    hypervisorPresent: true,
    features,
    extendedVmExits: bitsOf('WHvCapabilityCodeExtendedVmExits', 'WHV_EXTENDED_VM_EXITS'),
    exceptionExitBitmap: exceptionBitmap === null ? null : Number(exceptionBitmap & 0xffffffffn),
    x64MsrExitBitmap: bitsOf('WHvCapabilityCodeX64MsrExitBitmap', 'WHV_X64_MSR_EXIT_BITMAP'),
    processorVendor: vendor,
    processorFeatures,
    processorXsaveFeatures: bitsOf('WHvCapabilityCodeProcessorXsaveFeatures', 'WHV_PROCESSOR_XSAVE_FEATURES'),
    processorClFlushSize: clflush,
    processorClockFrequencyHz: num(u64('WHvCapabilityCodeProcessorClockFrequency')),
    interruptClockFrequencyHz: num(u64('WHvCapabilityCodeInterruptClockFrequency')),
    syntheticProcessorFeatures: synthetic,
    localApicEmulationModes: apic ? (hasX2ApicSupport ? ['xapic', 'x2apic'] : ['xapic']) : [],
  };
}
