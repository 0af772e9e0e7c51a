/**
 * Boots a Linux kernel + initrd under QEMU's TCG software CPU and captures the
 * first serial port. QEMU is the reference oracle for guest behaviour: what the
 * bundled guest prints and how it ends under QEMU is what our VMM must reproduce.
 *
 * The first UART (ttyS0, port 0x3F8) is QEMU's stdio, non-multiplexed (no monitor),
 * so bytes sent to it reach the guest unchanged. `-no-reboot` turns a guest reset
 * (e.g. `reboot=k`, the i8042 reset line) into QEMU exiting with status 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GUEST_DIR = join(ROOT, 'guest');
export const GUEST_KERNEL = join(GUEST_DIR, 'bzImage');
export const GUEST_INITRD = join(GUEST_DIR, 'initramfs.cpio.gz');

/** Absolute path of qemu-system-x86_64 on PATH, or null when it is not installed. */
export function findQemu(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' });
  const path = r.status === 0 ? r.stdout.trim() : '';
  return path && existsSync(path) ? path : null;
}

/** Sends `send` to the guest's serial input once the output so far contains `waitFor`. */
export interface SerialInteraction {
  waitFor: string;
  send: string | Buffer;
}

export interface QemuBootOptions {
  kernel: string;
  initrd?: string;
  cmdline: string;
  /** Guest RAM in MiB (default 128). */
  memoryMiB?: number;
  /** vCPUs (default 1), one per socket. Without ACPI the guest finds them in the MP table. */
  cpus?: number;
  /** QEMU -cpu model (default: QEMU's own default, qemu64). */
  cpuModel?: string;
  /** Steps performed in order while the guest runs. */
  interactions?: SerialInteraction[];
  /** Kill QEMU once the output contains this (for guests that halt instead of resetting). */
  stopWhen?: string;
  /** Hang guard: QEMU is killed after this long (default 60 s). */
  timeoutMs?: number;
  extraArgs?: string[];
  qemuPath?: string;
}

export interface QemuBootResult {
  /** The full argument list QEMU was started with (for error messages). */
  command: string[];
  /** QEMU's exit status; null when it was killed. */
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Killed by the hang guard. */
  timedOut: boolean;
  /** Killed because the output contained `stopWhen`. */
  stopped: boolean;
  /** Raw bytes QEMU received from the guest's ttyS0, as latin1 text. */
  serial: string;
  /** `serial` split into lines, without the CR the tty adds (ONLCR). */
  lines: string[];
  stderr: string;
  /** Wall-clock time from spawn to exit. */
  elapsedMs: number;
}

export function qemuArgs(o: QemuBootOptions): string[] {
  const args = [
    '-accel', 'tcg',
    '-m', String(o.memoryMiB ?? 128),
    // One socket per vCPU: QEMU >= 6.2 puts `-smp N` in one package of N cores, and
    // SeaBIOS's MP table lists one processor entry per package, so a guest without
    // ACPI (like ours) would see a single CPU.
    '-smp', `${o.cpus ?? 1},sockets=${o.cpus ?? 1},cores=1,threads=1`,
    '-display', 'none', '-vga', 'none', '-monitor', 'none', '-nic', 'none',
    '-serial', 'stdio',
    '-no-reboot',
    '-kernel', o.kernel,
  ];
  if (o.cpuModel) args.push('-cpu', o.cpuModel);
  if (o.initrd) args.push('-initrd', o.initrd);
  args.push('-append', o.cmdline, ...(o.extraArgs ?? []));
  return args;
}

export function bootQemu(o: QemuBootOptions): Promise<QemuBootResult> {
  const qemu = o.qemuPath ?? findQemu();
  if (!qemu) return Promise.reject(new Error('qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)'));
  const args = qemuArgs(o);
  const started = performance.now();
  const child = spawn(qemu, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let serial = '';
  let stderr = '';
  let timedOut = false;
  let stopped = false;
  const pending = [...(o.interactions ?? [])];
  // The guest may exit before reading everything we send; ignore the broken pipe.
  child.stdin.on('error', () => {});

  const advance = (): void => {
    while (pending.length > 0 && serial.includes(pending[0]!.waitFor)) {
      child.stdin.write(pending.shift()!.send);
    }
    if (o.stopWhen !== undefined && !stopped && serial.includes(o.stopWhen)) {
      stopped = true;
      child.kill('SIGKILL');
    }
  };
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (chunk: string) => {
    serial += chunk;
    advance();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const guard = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, o.timeoutMs ?? 60_000);

  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(guard);
      reject(err);
    });
    child.on('close', (status, signal) => {
      clearTimeout(guard);
      resolve({
        command: [qemu, ...args],
        status,
        signal,
        timedOut,
        stopped,
        serial,
        lines: serial.split('\n').map((l) => l.replace(/\r+$/, '')),
        stderr,
        elapsedMs: performance.now() - started,
      });
    });
  });
}

/** The `key=value` lines the bundled guest's /init prints after KRUN-GUEST-OK. */
export function guestFacts(lines: readonly string[]): Map<string, string> {
  const facts = new Map<string, string>();
  const start = lines.indexOf('KRUN-GUEST-OK');
  if (start < 0) return facts;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('KRUN-')) break;
    const m = /^([a-z_]+)=(.*)$/.exec(line);
    if (m) facts.set(m[1]!, m[2]!);
  }
  return facts;
}
