/**
 * The TSC and APIC-timer frequencies Windows Hypervisor Platform declares:
 * WHvCapabilityCodeProcessorClockFrequency and
 * WHvCapabilityCodeInterruptClockFrequency (UINT64 Hz, WinHvPlatformDefs.h),
 * read through src/whp (openWhp + readCapabilities). The source is injectable so
 * tests and other platforms supply their own; the WHP modules are imported only
 * on Windows, so other hosts never pay for loading their declarations.
 */
export interface WhpClockReading {
  readonly available: boolean;
  /** Guest-visible TSC frequency WHP declares, Hz. */
  readonly processorClockHz?: bigint;
  /** Frequency of the virtual local APIC timer WHP runs, Hz. */
  readonly interruptClockHz?: bigint;
  /** Where the values came from, or "unavailable: why". */
  readonly detail: string;
}

export type WhpClockSource = () => Promise<WhpClockReading>;

export const whpClockSource: WhpClockSource = async () => {
  if (process.platform !== 'win32') return { available: false, detail: 'unavailable: not Windows' };
  try {
    const { openWhp } = await import('../whp/whp-library.ts');
    const { readCapabilities } = await import('../whp/capabilities.ts');
    const caps = readCapabilities(openWhp().api, false);
    if (!caps.hypervisorPresent) {
      return { available: false, detail: 'unavailable: WHvCapabilityCodeHypervisorPresent is FALSE (enable the Windows Hypervisor Platform feature)' };
    }
    if (!caps.processorClockFrequencyHz) {
      return { available: false, detail: 'unavailable: this Windows build does not report WHvCapabilityCodeProcessorClockFrequency' };
    }
    return {
      available: true,
      processorClockHz: BigInt(caps.processorClockFrequencyHz),
      interruptClockHz: caps.interruptClockFrequencyHz ? BigInt(caps.interruptClockFrequencyHz) : undefined,
      detail: 'WHvGetCapability(ProcessorClockFrequency, InterruptClockFrequency)',
    };
  } catch (err) {
    const e = err as Error & { hint?: string };
    return { available: false, detail: `unavailable: ${e.message}${e.hint ? ` (${e.hint})` : ''}` };
  }
};
