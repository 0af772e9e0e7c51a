/**
 * The kernel command line: our defaults for the platform we emulate, then the
 * user's additions (later parameters win for single-valued options, so a user can
 * override any default, e.g. `console=hvc0` or `panic=0`).
 *
 * The platform: a 16550 at COM1 (0x3F8, IRQ 4), an i8042 that only implements the
 * reset line, a CMOS RTC, a PIT, an IOAPIC described by an Intel MP table, and no
 * ACPI and no PCI. Each default says why it is there:
 */
import { InputError } from '../errors.ts';

export const DEFAULT_CMDLINE_PARAMS: readonly string[] = [
  // The console is our 16550 at COM1.
  'console=ttyS0',
  // We emulate one UART; without this the 8250 driver also probes 0x2F8/0x3E8/0x2E8
  // (CONFIG_SERIAL_8250_RUNTIME_UARTS defaults to 4), each probe a round of I/O exits.
  '8250.nr_uarts=1',
  // Reboot through the keyboard controller's reset line (i8042 command 0xFE), which our
  // i8042 turns into a VM reset/exit; the default (ACPI, then triple fault) has no ACPI here.
  'reboot=k',
  // On panic, reboot at once instead of hanging forever: the VMM sees the reset and ends
  // the VM; the panic text is already on the console (libkrun uses -1 too; Firecracker 1 s).
  'panic=-1',
  // Deliberately NOT acpi=off, although we provide no ACPI tables: with acpi=off a kernel
  // built without CONFIG_X86_MPPARSE (Debian's cloud kernel, for one) turns the local APIC
  // off altogether (arch/x86/kernel/setup.c → acpi_mps_check()). Without the flag, ACPI finds
  // no RSDP in the EBDA / 0xE0000–0xFFFFF scan, disables itself, and the MP table is used.
  // Our i8042 has no PS/2 aux port, no active multiplexing, no PnP description, and only
  // enough keyboard to pulse reset: skip those probes (Firecracker's default set).
  'i8042.noaux',
  'i8042.nomux',
  'i8042.nopnp',
  'i8042.dumbkbd',
  // PIT, PIC/IOAPIC are emulated in user space on both backends (WHP has none in the
  // hypervisor), so timer interrupts can be late; skip the IO-APIC timer sanity check
  // that would otherwise misjudge it (libkrun's WHP variant adds this for the same reason).
  'no_timer_check',
];

/** Added unless the VM has PCI devices: no host bridge exists, so config-space probing only costs exits. */
export const NO_PCI_PARAM = 'pci=off';

export interface CmdlineOptions {
  /** The user's additions, appended after the defaults. */
  extra?: string;
  /** Start from an empty line instead of DEFAULT_CMDLINE_PARAMS. */
  noDefaults?: boolean;
  /** The VM has PCI devices (omit `pci=off`). */
  pci?: boolean;
}

/** The command line text (without the trailing NUL). */
export function buildCmdline(options: CmdlineOptions = {}): string {
  const parts: string[] = [];
  if (!options.noDefaults) {
    parts.push(...DEFAULT_CMDLINE_PARAMS);
    if (!options.pci) parts.push(NO_PCI_PARAM);
  }
  const extra = options.extra?.trim();
  if (extra) parts.push(extra);
  return parts.join(' ');
}

/**
 * Encodes the command line as NUL-terminated bytes, checking the kernel's limit:
 * cmdline_size is "the maximum size of the command line without the terminating
 * zero" (boot.rst, protocol 2.06+).
 */
export function encodeCmdline(cmdline: string, cmdlineSize: number): Uint8Array {
  if (cmdline.includes('\0')) {
    throw new InputError('the kernel command line contains a NUL character', { hint: 'remove it from --cmdline' });
  }
  const text = new TextEncoder().encode(cmdline);
  if (text.length > cmdlineSize) {
    throw new InputError(`the kernel command line is ${text.length} bytes but this kernel accepts at most ${cmdlineSize} (cmdline_size)`, {
      hint: 'shorten --cmdline',
    });
  }
  const out = new Uint8Array(text.length + 1);
  out.set(text);
  return out;
}
