/**
 * Typed WHP failures, each with the user's next step as its hint. The failure
 * ladder (what goes wrong first on a host) follows whp-api.md §5:
 *   DLL missing → feature not enabled; hypervisor absent → firmware/boot config;
 *   function missing → Windows too old for that feature; a call fails → HRESULT name.
 */
import { HostError } from '../errors.ts';
import { describeHresult } from './hresult.ts';

export const ENABLE_WHP_HINT =
  'enable the "Windows Hypervisor Platform" optional feature as administrator: ' +
  'DISM /Online /Enable-Feature /FeatureName:HypervisorPlatform /All (or Enable-WindowsOptionalFeature -Online -FeatureName HypervisorPlatform), then reboot';

export const HYPERVISOR_ABSENT_HINT =
  'likely causes: the feature was enabled but Windows was not rebooted; virtualization (VT-x/AMD-V) is off in the firmware setup; ' +
  'the hypervisor is disabled at boot (run as administrator: bcdedit /set hypervisorlaunchtype auto, then reboot); ' +
  'Windows is older than 10 1803; or this is a VM without nested virtualization';

/** WinHvPlatform.dll / WinHvEmulation.dll could not be loaded. */
export class WhpDllError extends HostError {
  constructor(
    readonly dll: string,
    detail: string,
  ) {
    super(`cannot load ${dll}: ${detail} — the Windows Hypervisor Platform is not installed`, { hint: ENABLE_WHP_HINT });
  }
}

/** A function the headers declare is not exported by this Windows build. */
export class WhpFunctionMissingError extends HostError {
  constructor(
    readonly dll: string,
    readonly fn: string,
  ) {
    super(`${dll} on this Windows build has no ${fn}`, { hint: 'this feature needs a newer Windows build; update Windows, or run without the option that needs it' });
  }
}

/** WHvCapabilityCodeHypervisorPresent is false (or cannot be read). */
export class HypervisorAbsentError extends HostError {
  constructor(detail: string) {
    super(`the Windows hypervisor is not running (${detail})`, { hint: HYPERVISOR_ABSENT_HINT });
  }
}

/** A WHv* call returned a failing HRESULT. */
export class WhpCallError extends HostError {
  constructor(
    readonly fn: string,
    readonly hr: number,
    context?: string,
    hint?: string,
  ) {
    super(`${fn}${context ? ` (${context})` : ''} failed: ${describeHresult(hr)}`, hint ? { hint } : {});
  }
}

/** WHP needs Windows; the reason string the probe prints on other hosts. */
export function notWindowsReason(platform: string): string {
  return `requires Windows 10 1803 or later with the Windows Hypervisor Platform; this host is ${platform}`;
}
