/**
 * The bundled guest boots under QEMU (TCG, no KVM) — the reference platform —
 * prints its marker and facts, and ends the VM by itself.
 *
 * The timeouts are hang guards, not timing assertions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootQemu, findQemu, guestFacts, GUEST_DIR, GUEST_INITRD, GUEST_KERNEL } from './helpers/qemu.ts';
import type { QemuBootResult } from './helpers/qemu.ts';

const qemu = findQemu();
const skip = qemu ? false : 'qemu-system-x86_64 is not installed (.ci/run installs qemu-system-x86)';
const manifest = JSON.parse(readFileSync(join(GUEST_DIR, 'MANIFEST.json'), 'utf8')) as { kernel: { release: string } };
const BASE_CMDLINE = 'console=ttyS0 panic=-1 reboot=k';

/** Context for a failed assertion: how QEMU was run and what the guest printed. */
const describe = (r: QemuBootResult): string =>
  `\n${r.command.join(' ')}\nstatus=${r.status} signal=${r.signal} timedOut=${r.timedOut}\n--- serial ---\n${r.serial}\n--- stderr ---\n${r.stderr}`;

const decimal = /^\d+(\.\d+)?$/;

test('the guest boots with 2 vCPUs, prints KRUN-GUEST-OK and its facts, and resets through the i8042', { skip }, async () => {
  // Under TCG on a busy host the kernel's PIT calibration of the TSC can fail
  // ("tsc: Unable to calibrate against PIT"), so the test fixes the frequency on
  // the command line: then tsc_mhz must be exactly that value, which checks the
  // path kernel log → /init → key=value without depending on host load.
  const cmdline = `${BASE_CMDLINE} tsc_early_khz=2000000`;
  const r = await bootQemu({ kernel: GUEST_KERNEL, initrd: GUEST_INITRD, cmdline, cpus: 2 });
  assert.equal(r.timedOut, false, `QEMU did not exit by itself${describe(r)}`);
  // -no-reboot: the guest's reset (reboot=k → 0xFE to port 0x64) makes QEMU exit 0.
  assert.equal(r.status, 0, describe(r));
  assert.ok(r.lines.includes('KRUN-GUEST-OK'), `marker line${describe(r)}`);

  const facts = guestFacts(r.lines);
  assert.equal(facts.get('kernel_release'), manifest.kernel.release, describe(r));
  assert.match(facts.get('kernel_version') ?? '', /^Linux version 6\.1\.\d+-krun \(krun@krun-whp\)/);
  assert.equal(facts.get('cmdline'), cmdline);
  // No ACPI in the guest: the second CPU was found through QEMU's MP table.
  assert.equal(facts.get('cpus'), '2', describe(r));
  assert.equal(facts.get('tsc_mhz'), '2000.000', describe(r));
  assert.match(facts.get('cpu_mhz') ?? '', decimal);
  assert.match(facts.get('uptime_s') ?? '', decimal);
  assert.equal(facts.get('boot_marker'), 'port 0x3f0 value 123', describe(r));
  assert.ok(facts.has('hypervisor') && facts.has('tsc_known_freq') && facts.has('clocksource'), describe(r));
  assert.ok(r.lines.includes('KRUN-GUEST-DONE action=restart'), describe(r));
  // The reset came from init's reboot(2), not from a panic.
  assert.ok(!r.serial.includes('Kernel panic'), describe(r));
  assert.ok(r.serial.includes('reboot: Restarting system'), describe(r));
});

test('with krun.echo the guest echoes console input until EOF, then resets', { skip }, async () => {
  const r = await bootQemu({
    kernel: GUEST_KERNEL,
    initrd: GUEST_INITRD,
    cmdline: `${BASE_CMDLINE} krun.echo`,
    // Sent only once init listens: bytes arriving before the tty is open are dropped.
    // \x04 (VEOF, Ctrl-D) at the start of a line is end of file in canonical mode.
    interactions: [{ waitFor: 'KRUN-ECHO-READY', send: 'hello guest\nsecond line\n\x04' }],
  });
  assert.equal(r.timedOut, false, `QEMU did not exit by itself${describe(r)}`);
  assert.equal(r.status, 0, describe(r));
  const start = r.lines.indexOf('KRUN-ECHO-READY');
  const end = r.lines.indexOf('KRUN-ECHO-EOF');
  assert.ok(start >= 0 && end > start, describe(r));
  // The tty's own echo is off, so each line appears exactly once.
  assert.deepEqual(r.lines.slice(start + 1, end), ['hello guest', 'second line'], describe(r));
  assert.ok(r.lines.includes('KRUN-GUEST-DONE action=restart'), describe(r));
});

test('with krun.poweroff the guest halts (no ACPI power-off device) instead of resetting', { skip }, async () => {
  // Without a power-off driver Linux turns POWER_OFF into HALT: QEMU keeps running
  // with every CPU stopped, so the helper ends it once the kernel says so.
  const r = await bootQemu({
    kernel: GUEST_KERNEL,
    initrd: GUEST_INITRD,
    cmdline: `${BASE_CMDLINE} krun.poweroff`,
    stopWhen: 'reboot: System halted',
  });
  assert.equal(r.timedOut, false, `the kernel never reported the halt${describe(r)}`);
  assert.equal(r.stopped, true, describe(r));
  assert.ok(r.lines.includes('KRUN-GUEST-DONE action=poweroff'), describe(r));
  assert.ok(!r.serial.includes('reboot: Restarting system'), describe(r));
});
