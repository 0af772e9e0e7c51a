/**
 * The backend contract and the backend registry.
 *
 * A backend is a way to run vCPUs: `whp` (Windows Hypervisor Platform) and,
 * later, `soft` (the software x86-64 CPU). Every backend answers probe():
 * can it run here, and if not, why (a sentence a user can act on). The VM and
 * vCPU half of the contract (createVm, Vcpu.run → VcpuExit) is added by the
 * VMM issue; probing needs none of it.
 *
 * Adding a backend is one entry in BACKENDS. Entries load their module lazily
 * (dynamic import), so probing `whp` on Linux never loads koffi and listing
 * backends costs nothing.
 */

export type BackendName = 'whp' | 'soft';

/** Facts about the host every probe may use (and the probe JSON reports). */
export interface HostInfo {
  /** process.platform: 'win32', 'linux', 'darwin' … */
  platform: NodeJS.Platform;
  /** process.arch: 'x64', 'arm64' … */
  arch: string;
  /** os.release(): on Windows the build, e.g. '10.0.22631'. */
  release: string;
}

export interface BackendProbe {
  name: BackendName;
  available: boolean;
  /** Why it is (un)available: names the missing piece and, when unavailable, what to do. */
  reason: string;
  /** Backend-specific facts (WHP: capabilities), JSON-serialisable. */
  details?: Record<string, unknown>;
}

export interface Backend {
  readonly name: BackendName;
  /** One line for help and probe output. */
  readonly summary: string;
  /** Never throws: failures become `available: false` with the reason. */
  probe(host: HostInfo): Promise<BackendProbe>;
}

export interface BackendEntry {
  readonly name: BackendName;
  readonly summary: string;
  readonly load: () => Promise<Backend>;
}

/** All backends, in order of preference. */
export const BACKENDS: readonly BackendEntry[] = [
  { name: 'whp', summary: 'Windows Hypervisor Platform (hardware virtualization)', load: async () => (await import('../whp/whp-backend.ts')).whpBackend },
];

/** Probes every backend; a probe that throws is reported as unavailable with its message. */
export async function probeBackends(host: HostInfo, entries: readonly BackendEntry[] = BACKENDS): Promise<BackendProbe[]> {
  const out: BackendProbe[] = [];
  for (const e of entries) {
    try {
      out.push(await (await e.load()).probe(host));
    } catch (err) {
      out.push({ name: e.name, available: false, reason: `probe failed: ${(err as Error).message}` });
    }
  }
  return out;
}
