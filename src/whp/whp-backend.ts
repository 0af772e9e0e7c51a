/**
 * The `whp` entry of the backend registry: probe() walks the failure ladder
 * (not Windows → DLL missing → hypervisor absent) and, when WHP is usable,
 * reads the capabilities for `krun-whp probe`.
 */
import type { Backend, BackendProbe, HostInfo } from '../vmm/backend.ts';
import { KrunError } from '../errors.ts';
import { readCapabilities } from './capabilities.ts';
import { HYPERVISOR_ABSENT_HINT, notWindowsReason } from './whp-errors.ts';
import { openWhp } from './whp-library.ts';

export const whpBackend: Backend = {
  name: 'whp',
  summary: 'Windows Hypervisor Platform (hardware virtualization)',
  async probe(host: HostInfo): Promise<BackendProbe> {
    if (host.platform !== 'win32') return { name: 'whp', available: false, reason: notWindowsReason(host.platform) };
    if (host.arch !== 'x64') return { name: 'whp', available: false, reason: `krun-whp runs x86-64 guests on WHP only on x64 Windows; this host is ${host.arch}` };
    try {
      const lib = openWhp();
      const caps = readCapabilities(lib.api, lib.has('WHvSetVirtualProcessorInterruptControllerState2'));
      if (!caps.hypervisorPresent) {
        return { name: 'whp', available: false, reason: `WinHvPlatform.dll is installed but the Windows hypervisor is not running; ${HYPERVISOR_ABSENT_HINT}`, details: { capabilities: caps } };
      }
      return { name: 'whp', available: true, reason: `Windows Hypervisor Platform is available (Windows ${host.release})`, details: { capabilities: caps } };
    } catch (err) {
      const e = err as Error;
      const hint = err instanceof KrunError && err.hint ? `; ${err.hint}` : '';
      return { name: 'whp', available: false, reason: e.message + hint };
    }
  },
};
