/**
 * The TSC frequency a Linux host kernel itself reports, from the places an
 * unprivileged or root process may be able to read:
 *  - /sys/devices/system/cpu/cpu0/tsc_freq_khz (exists only on kernels that carry it);
 *  - the kernel log via /dev/kmsg (read non-blocking, one record per read): the
 *    lines printed by arch/x86/kernel/tsc.c — `tsc: Detected %lu.%03lu MHz TSC`,
 *    `tsc: Detected %lu.%03lu MHz processor` (cpu_khz; equal to tsc_khz when no
 *    separate TSC line is printed) and `tsc: Refined TSC clocksource calibration:
 *    %lu.%03lu MHz` (the later, more precise value);
 *  - /proc/cpuinfo `cpu MHz`, which is cpu_khz only where no cpufreq/APERF value
 *    replaces it; accepted only then (no `aperfmperf`, no cpufreq driver), with
 *    `tsc_known_freq` or `constant_tsc`, and labelled as the weaker source it is.
 */
import { closeSync, constants, existsSync, openSync, readFileSync, readSync } from 'node:fs';

export interface KernelTscReading {
  readonly method: 'kernel-sysfs' | 'kernel-log' | 'kernel-cpuinfo';
  readonly khz?: number;
  /** Where the value came from, or why there is none. */
  readonly detail: string;
}

const MHZ3 = /(\d+)\.(\d{3}) MHz/;

/** Parses kernel log text (kmsg records or dmesg lines) for the TSC lines of arch/x86/kernel/tsc.c. */
export function parseKernelLogTsc(text: string): { khz?: number; line?: string } {
  let detectedTsc: { khz: number; line: string } | undefined;
  let detectedCpu: { khz: number; line: string } | undefined;
  let refined: { khz: number; line: string } | undefined;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/^\d+,\d+,\d+,[^;]*;/, '').replace(/^\[\s*\d+\.\d+\]\s*/, '').trim();
    if (!line.startsWith('tsc: ')) continue;
    const m = MHZ3.exec(line);
    if (!m) continue;
    const khz = Number(m[1]) * 1000 + Number(m[2]);
    if (/Refined TSC clocksource calibration/.test(line)) refined = { khz, line };
    else if (/Detected .* MHz TSC/.test(line)) detectedTsc = { khz, line };
    else if (/Detected .* MHz processor/.test(line)) detectedCpu = { khz, line };
  }
  return refined ?? detectedTsc ?? detectedCpu ?? {};
}

/**
 * Parses /proc/cpuinfo's first processor for `cpu MHz` and whether it can stand for the TSC rate.
 * show_cpuinfo() (arch/x86/kernel/cpu/proc.c) prints the APERF/MPERF-sampled core clock where
 * the CPU has APERF/MPERF, else cpufreq's current frequency, and cpu_khz only when neither
 * exists: so the line is cpu_khz only without `aperfmperf` and without a cpufreq driver,
 * whatever `tsc_known_freq` says (that flag only records how tsc_khz was found). Then it needs
 * `tsc_known_freq` or `constant_tsc` to be the TSC's rate at all.
 */
export function parseCpuinfoTsc(text: string, cpufreqDriver = false): { khz?: number; detail: string } {
  const first = text.split(/\n\s*\n/)[0] ?? '';
  const mhz = /^cpu MHz\s*:\s*(\d+)(?:\.(\d+))?/m.exec(first);
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(first)?.[1] ?? '').split(/\s+/));
  if (!mhz) return { detail: 'no cpu MHz line in /proc/cpuinfo' };
  const khz = Number(mhz[1]) * 1000 + Math.round(Number(`0.${mhz[2] ?? '0'}`) * 1000);
  if (flags.has('aperfmperf')) return { detail: '/proc/cpuinfo cpu MHz is the APERF/MPERF-sampled core clock here (aperfmperf), not the TSC rate' };
  if (cpufreqDriver) return { detail: "/proc/cpuinfo cpu MHz is cpufreq's current frequency here (a cpufreq driver is loaded), not the TSC rate" };
  if (flags.has('tsc_known_freq')) return { khz, detail: '/proc/cpuinfo cpu MHz (cpu_khz: no APERF/MPERF, no cpufreq; tsc_known_freq: the kernel was given the TSC frequency)' };
  if (flags.has('constant_tsc')) return { khz, detail: '/proc/cpuinfo cpu MHz (cpu_khz: no APERF/MPERF, no cpufreq; constant_tsc, calibrated by the kernel)' };
  return { detail: '/proc/cpuinfo cpu MHz: no constant_tsc or tsc_known_freq, so not the TSC rate' };
}

/** Reads every record currently in the kernel log ring buffer without blocking. */
export function readKmsg(path = '/dev/kmsg'): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(8192);
    const parts: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break; // end of the buffer
        if (code === 'EPIPE') continue; // records overwritten while reading: continue with the next
        throw err;
      }
      if (n <= 0) break;
      parts.push(buf.toString('utf8', 0, n));
    }
    return parts.join('');
  } finally {
    closeSync(fd);
  }
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? (e instanceof Error ? e.message : String(err));
}

/** Every kernel-reported reading on this host (Linux only; each says why when it has no value). */
export function readKernelTsc(fsRoot = ''): KernelTscReading[] {
  const out: KernelTscReading[] = [];
  const sysfs = `${fsRoot}/sys/devices/system/cpu/cpu0/tsc_freq_khz`;
  try {
    const khz = Number(readFileSync(sysfs, 'utf8').trim());
    out.push(Number.isInteger(khz) && khz > 0 ? { method: 'kernel-sysfs', khz, detail: sysfs } : { method: 'kernel-sysfs', detail: `${sysfs}: not a kHz value` });
  } catch (err) {
    out.push({ method: 'kernel-sysfs', detail: `unavailable: ${sysfs} (${errText(err)})` });
  }
  try {
    const parsed = parseKernelLogTsc(readKmsg(`${fsRoot}/dev/kmsg`));
    out.push(
      parsed.khz
        ? { method: 'kernel-log', khz: parsed.khz, detail: `/dev/kmsg: ${parsed.line}` }
        : { method: 'kernel-log', detail: 'unavailable: no tsc: line left in the kernel log ring buffer' },
    );
  } catch (err) {
    out.push({ method: 'kernel-log', detail: `unavailable: /dev/kmsg (${errText(err)})` });
  }
  try {
    const parsed = parseCpuinfoTsc(readFileSync(`${fsRoot}/proc/cpuinfo`, 'utf8'), existsSync(`${fsRoot}/sys/devices/system/cpu/cpu0/cpufreq`));
    out.push({ method: 'kernel-cpuinfo', khz: parsed.khz, detail: parsed.khz ? parsed.detail : `unavailable: ${parsed.detail}` });
  } catch (err) {
    out.push({ method: 'kernel-cpuinfo', detail: `unavailable: /proc/cpuinfo (${errText(err)})` });
  }
  return out;
}
