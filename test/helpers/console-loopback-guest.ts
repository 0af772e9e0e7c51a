/**
 * console-loopback-guest: the real Console + the real Uart16550 + the real
 * IoApic, driven by a JavaScript stand-in for Linux's 8250 driver that echoes
 * every received byte back out.
 *
 * What it proves: the host ↔ UART byte path (stdin → escape keys → ring → UART
 * RX FIFO → driver; driver → UART TX FIFO → ring → stdout and --serial-log),
 * back-pressure without loss in both directions, interrupt-driven operation
 * through the IOAPIC (edge pin 4, THRE and RX/timeout interrupts, OUT2), and
 * the terminal handling: raw mode, Ctrl-A keys, restoration on every exit path.
 *
 * What it does not prove: no CPU executes anything and no real guest kernel is
 * involved; the "driver" is JS calling the UART's register interface directly
 * (no VM exits, no instruction emulation, no LAPIC). It programs the registers
 * in the order Linux's serial8250_do_startup / serial8250_do_set_termios does.
 *
 * Usage: node --import tsx test/helpers/console-loopback-guest.ts
 *   [--serial-log FILE] [--received-log FILE] [--stty-probe] [--throw-after-ready]
 *   [--ring-size N] [--end-after-bytes N]
 * --end-after-bytes: the "guest" powers off by itself after receiving N bytes
 * (the normal end of a VM, as opposed to Ctrl-A x or a signal).
 * Host-side messages (ready marker, stty probe) go to stderr; stdout carries
 * only what the guest transmits.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { ByteRing } from '../../src/devices/byte-ring.ts';
import { Uart16550 } from '../../src/devices/uart16550.ts';
import * as R from '../../src/devices/uart16550-regs.ts';
import { IoApic } from '../../src/devices/ioapic.ts';
import { PortIoBus } from '../../src/devices/bus.ts';
import type { InterruptInjector } from '../../src/devices/interrupt-injector.ts';
import { Console } from '../../src/vmm/console.ts';
import { SerialLog } from '../../src/vmm/console-serial-log.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const ringSize = Number(opt('--ring-size') ?? 4096);
const serialLogPath = opt('--serial-log');
const receivedLogPath = opt('--received-log');
const endAfterBytes = opt('--end-after-bytes') !== undefined ? Number(opt('--end-after-bytes')) : Infinity;

const COM1 = 0x3f8;
const VECTOR = 0x24;
const toGuest = ByteRing.create(ringSize);
const fromGuest = ByteRing.create(ringSize);

// --- the "CPU": interrupts are queued and handled asynchronously, one at a time ---
let pendingVectors = 0;
let dispatching = false;
const injector: InterruptInjector = {
  requestInterrupt(r) {
    if (r.vector !== VECTOR) return;
    pendingVectors++;
    if (!dispatching) {
      dispatching = true;
      setImmediate(dispatch);
    }
  },
};
function dispatch(): void {
  while (pendingVectors > 0) {
    pendingVectors--;
    serialIsr();
  }
  dispatching = false;
  maybeFinish();
}

const ioapic = new IoApic(injector, { id: 1 });
const uart = new Uart16550({ name: 'com1', irq: ioapic.line(4), sink: fromGuest, source: toGuest });
const bus = new PortIoBus();
bus.register(COM1, 8, uart);
const outb = (port: number, v: number) => bus.write(port, 1, v);
const inb = (port: number) => bus.read(port, 1);

// --- the "driver" (Linux 8250 order of operations) ---
const received: number[] = [];
const txQueue: number[] = [];
let ier = 0;

function driverInit(): void {
  // IOAPIC pin 4: vector 0x24, fixed, physical, edge, active high, unmasked (as Linux programs ISA IRQs).
  ioapic.write(0x00, 4, 0x11 + 2 * 4);
  ioapic.write(0x10, 4, 0);
  ioapic.write(0x00, 4, 0x10 + 2 * 4);
  ioapic.write(0x10, 4, VECTOR);
  outb(COM1 + R.REG_IIR_FCR, R.FCR_ENABLE); // serial8250_clear_fifos
  outb(COM1 + R.REG_IIR_FCR, R.FCR_ENABLE | R.FCR_CLEAR_RX | R.FCR_CLEAR_TX);
  outb(COM1 + R.REG_IIR_FCR, 0);
  inb(COM1 + R.REG_LSR);
  inb(COM1 + R.REG_DATA);
  inb(COM1 + R.REG_IIR_FCR);
  inb(COM1 + R.REG_MSR);
  outb(COM1 + R.REG_LCR, R.LCR_DLAB); // 115200 8N1
  outb(COM1 + R.REG_DATA, 1);
  outb(COM1 + R.REG_IER, 0);
  outb(COM1 + R.REG_LCR, 0x03);
  outb(COM1 + R.REG_IIR_FCR, R.FCR_ENABLE | (2 << 6)); // 16550A: FIFO on, RX trigger 8
  outb(COM1 + R.REG_MCR, R.MCR_DTR | R.MCR_RTS | R.MCR_OUT2);
  setIer(R.IER_ERBFI | R.IER_ELSI);
}

function setIer(v: number): void {
  ier = v;
  outb(COM1 + R.REG_IER, v);
}

function send(bytes: Iterable<number>): void {
  for (const b of bytes) txQueue.push(b);
  if (!(ier & R.IER_ETBEI)) setIer(ier | R.IER_ETBEI); // start_tx: THRE fires at once
}

/** serial8250_handle_irq, looping until IIR says "no interrupt" (edge-triggered pin). */
function serialIsr(): void {
  for (let guard = 0; guard < 1000; guard++) {
    const iir = inb(COM1 + R.REG_IIR_FCR);
    if (iir & R.IIR_NO_INT) return;
    switch (iir & 0x0f) {
      case R.IIR_RX_LINE_STATUS:
        inb(COM1 + R.REG_LSR);
        break;
      case R.IIR_RX_DATA:
      case R.IIR_CHAR_TIMEOUT: {
        const got: number[] = [];
        for (let n = 0; n < 256 && inb(COM1 + R.REG_LSR) & R.LSR_DR; n++) got.push(inb(COM1 + R.REG_DATA));
        received.push(...got);
        send(got);
        if (received.length >= endAfterBytes) void finish('guest-exit');
        break;
      }
      case R.IIR_THRE: {
        for (let n = 0; n < R.FIFO_SIZE && txQueue.length > 0; n++) outb(COM1 + R.REG_DATA, txQueue.shift()!);
        if (txQueue.length === 0) setIer(ier & ~R.IER_ETBEI);
        break;
      }
      case R.IIR_MODEM_STATUS:
        inb(COM1 + R.REG_MSR);
        break;
    }
  }
}

// --- the host side ---
let finishing = false;
let inputEnded = false;
const consoleDev = new Console({
  toGuest,
  fromGuest,
  serialLog: serialLogPath !== undefined ? new SerialLog(serialLogPath) : undefined,
  onGuestInput: () => uart.pollHost(),
  onOutputDrained: () => uart.pollHost(),
  onQuit: () => void finish('quit'),
  onInputEnd: () => {
    inputEnded = true;
    maybeFinish();
  },
});

function maybeFinish(): void {
  // Pipe mode: end once every input byte went through the guest and back out.
  if (inputEnded && toGuest.available() === 0 && txQueue.length === 0 && (inb(COM1 + R.REG_LSR) & R.LSR_TEMT) !== 0) {
    void finish('eof');
  }
}

async function finish(why: string): Promise<void> {
  if (finishing) return;
  finishing = true;
  await consoleDev.stop();
  if (receivedLogPath !== undefined) writeFileSync(receivedLogPath, Buffer.from(received));
  process.stderr.write(`[loopback-guest done: ${why}, received ${received.length} bytes]\n`);
  process.exitCode = 0;
}

consoleDev.start();
driverInit();
send(Buffer.from('guest: echo ready\r\n'));
if (args.includes('--stty-probe')) {
  // stty reads the terminal settings of its stdin: our tty, while we hold it in raw mode.
  const state = execFileSync('stty', ['-a'], { stdio: ['inherit', 'pipe', 'inherit'] }).toString();
  const flags = ['icanon', 'echo', 'icrnl', 'isig'].map((f) => (new RegExp(`(^|\\s)-${f}(\\s|$)`).test(state) ? `-${f}` : f));
  process.stderr.write(`[raw-stty ${flags.join(' ')}]\r\n`);
}
process.stderr.write(`[loopback-guest ready pid=${process.pid} raw=${consoleDev.raw}]\r\n`);
if (args.includes('--throw-after-ready')) {
  setTimeout(() => {
    throw new Error('deliberate uncaught exception (test of terminal restoration)');
  }, 50);
}
