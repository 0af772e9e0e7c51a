/**
 * The exact register sequences Linux 6.1 drivers run against the legacy devices,
 * replayed step by step, with the conclusion the driver draws from what it reads.
 * Each test names the function (and file) it follows, so a mismatch points at the
 * Linux code that would misbehave.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Uart16550 } from '../src/devices/uart16550.ts';
import { I8042 } from '../src/devices/i8042.ts';
import { Pit8254 } from '../src/devices/pit8254.ts';
import { CmosRtc } from '../src/devices/cmos-rtc.ts';
import { IoApic } from '../src/devices/ioapic.ts';
import { ManualClock } from '../src/devices/clock.ts';
import { PortIoBus } from '../src/devices/bus.ts';
import { ArraySink, ArraySource, pollUntil, RecordingInjector, RecordingIrq } from './helpers/device-test-kit.ts';

// include/uapi/linux/serial_reg.h
const UART_RX = 0, UART_TX = 0, UART_IER = 1, UART_IIR = 2, UART_FCR = 2, UART_EFR = 2, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7;
const UART_LCR_CONF_MODE_A = 0x80, UART_LCR_CONF_MODE_B = 0xbf, UART_LCR_WLEN8 = 0x03;
const UART_FCR_ENABLE_FIFO = 0x01, UART_FCR_CLEAR_RCVR = 0x02, UART_FCR_CLEAR_XMIT = 0x04, UART_FCR7_64BYTE = 0x20;
const UART_MCR_LOOP = 0x10, UART_IER_THRI = 0x02, UART_IER_UUE = 0x40;
const UART_IIR_NO_INT = 0x01, UART_LSR_DR = 0x01, UART_LSR_THRE = 0x20, UART_LSR_TEMT = 0x40;

function uartPort() {
  const irq = new RecordingIrq();
  const sink = new ArraySink();
  const uart = new Uart16550({ irq, sink, source: new ArraySource() });
  return { uart, irq, sink, out: (r: number, v: number) => uart.write(r, 1, v), inb: (r: number) => uart.read(r, 1) };
}

test('8250_port.c autoconfig() with CONFIG_SERIAL_8250_16550A_VARIANTS: a 16550A with a 16-byte FIFO', () => {
  const { out, inb } = uartPort();
  // Existence test: IER must read back 0 and then 0x0F.
  const scratch = inb(UART_IER);
  out(UART_IER, 0);
  const scratch2 = inb(UART_IER) & 0x0f;
  out(UART_IER, 0x0f);
  const scratch3 = inb(UART_IER) & 0x0f;
  out(UART_IER, scratch);
  assert.deepEqual([scratch2, scratch3], [0, 0x0f], 'IER test');
  const saveMcr = inb(UART_MCR);
  const saveLcr = inb(UART_LCR);
  // Loopback test: MCR = LOOP | 0x0A must give MSR & 0xF0 == 0x90.
  out(UART_MCR, UART_MCR_LOOP | 0x0a);
  const status1 = inb(UART_MSR) & 0xf0;
  out(UART_MCR, saveMcr);
  assert.equal(status1, 0x90, 'LOOP test');
  // EFR init (LCR 0xBF) then FIFO enable: IIR >> 6 == 3 selects autoconfig_16550a().
  out(UART_LCR, UART_LCR_CONF_MODE_B);
  out(UART_EFR, 0);
  out(UART_LCR, 0);
  out(UART_FCR, UART_FCR_ENABLE_FIFO);
  assert.equal(inb(UART_IIR) >> 6, 3, 'IIR FIFO bits: 16550A');

  // autoconfig_16550a(): no EFR (reads under LCR 0x80 and 0xBF must be non-zero) ...
  out(UART_LCR, UART_LCR_CONF_MODE_A);
  assert.notEqual(inb(UART_EFR), 0, 'not an ST16C650V1');
  out(UART_LCR, UART_LCR_CONF_MODE_B);
  assert.notEqual(inb(UART_EFR), 0, 'not an EFR (ST16C650V2 / TI16C752) part');
  // ... no NatSemi SuperIO: EXCR1 (offset 2 under LCR 0xE0) does not follow MCR.LOOP ...
  out(UART_LCR, 0);
  const mcr1 = inb(UART_MCR);
  out(UART_LCR, 0xe0);
  let excr1 = inb(0x02);
  if (!((excr1 ^ mcr1) & UART_MCR_LOOP)) {
    out(UART_LCR, 0);
    out(UART_MCR, mcr1 ^ UART_MCR_LOOP);
    out(UART_LCR, 0xe0);
    excr1 = inb(0x02);
    out(UART_LCR, 0);
    out(UART_MCR, mcr1);
    assert.equal((excr1 ^ mcr1) & UART_MCR_LOOP, 0, 'not a NS16550A SuperIO');
  }
  // ... not a TI16750: IIR bit 5 never follows FCR bit 5 ...
  out(UART_LCR, 0);
  out(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
  const iir1 = inb(UART_IIR) >> 5;
  out(UART_FCR, UART_FCR_ENABLE_FIFO);
  out(UART_LCR, UART_LCR_CONF_MODE_A);
  out(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
  const iir2 = inb(UART_IIR) >> 5;
  out(UART_FCR, UART_FCR_ENABLE_FIFO);
  out(UART_LCR, 0);
  assert.ok(!(iir1 === 6 && iir2 === 7), 'not a 16750');
  // ... not an XScale: IER bit 6 (UUE) does not stick ...
  const iersave = inb(UART_IER);
  out(UART_IER, iersave & ~UART_IER_UUE);
  assert.equal(inb(UART_IER) & UART_IER_UUE, 0);
  out(UART_IER, iersave | UART_IER_UUE);
  assert.equal(inb(UART_IER) & UART_IER_UUE, 0, 'not an XScale');
  out(UART_IER, iersave);

  // ... and size_fifo() counts 16 (64 would make it a U6_16550A).
  const oldLcr = inb(UART_LCR);
  out(UART_LCR, 0);
  const oldFcr = inb(UART_FCR);
  const oldMcr = inb(UART_MCR);
  out(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
  out(UART_MCR, UART_MCR_LOOP);
  out(UART_LCR, UART_LCR_CONF_MODE_A);
  const oldDl = inb(0) | (inb(1) << 8);
  out(0, 1);
  out(1, 0);
  out(UART_LCR, UART_LCR_WLEN8);
  for (let i = 0; i < 256; i++) out(UART_TX, i);
  let count = 0;
  for (; inb(UART_LSR) & UART_LSR_DR && count < 256; count++) inb(UART_RX);
  out(UART_FCR, oldFcr);
  out(UART_MCR, oldMcr);
  out(UART_LCR, UART_LCR_CONF_MODE_A);
  out(0, oldDl & 0xff);
  out(1, oldDl >> 8);
  out(UART_LCR, oldLcr);
  assert.equal(count, 16, 'size_fifo');
  out(UART_LCR, saveLcr);
});

test('8250_port.c serial8250_do_startup(): the THRE re-assert test and the TX-enable test pass (no UART_BUG_THRE / UART_BUG_TXEN)', () => {
  const { out, inb } = uartPort();
  out(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
  out(UART_FCR, 0); // serial8250_clear_fifos
  inb(UART_LSR);
  inb(UART_RX);
  inb(UART_IIR);
  inb(UART_MSR);
  assert.notEqual(inb(UART_LSR), 0xff, 'LSR safety check');
  // THRE test: wait_for_xmitr(THRE), IER = THRI, read IIR, IER = 0, IER = THRI, read IIR.
  assert.ok(inb(UART_LSR) & UART_LSR_THRE);
  out(UART_IER, UART_IER_THRI);
  const iir1 = inb(UART_IIR);
  out(UART_IER, 0);
  out(UART_IER, UART_IER_THRI);
  const iir = inb(UART_IIR);
  out(UART_IER, 0);
  const bugThre = !(iir1 & UART_IIR_NO_INT) && (iir & UART_IIR_NO_INT) !== 0;
  assert.equal(bugThre, false, 'a real 16550 re-asserts THRE when ETBEI is enabled again');
  assert.equal(iir1 & 0x0f, 0x02);
  // TX-enable test: IER = THRI, read LSR and IIR; TEMT with no interrupt would set UART_BUG_TXEN.
  out(UART_LCR, UART_LCR_WLEN8);
  out(UART_IER, UART_IER_THRI);
  const lsr = inb(UART_LSR);
  const iir3 = inb(UART_IIR);
  out(UART_IER, 0);
  assert.equal(Boolean(lsr & UART_LSR_TEMT && iir3 & UART_IIR_NO_INT), false, 'no UART_BUG_TXEN');
});

test('8250 console write (serial8250_console_write): IER saved, polled output, IER restored re-raises THRE', () => {
  const { out, inb, sink, irq } = uartPort();
  out(UART_MCR, 0x0b); // DTR | RTS | OUT2, as after startup
  out(UART_FCR, UART_FCR_ENABLE_FIFO);
  out(UART_IER, 0x05 | UART_IER_THRI);
  inb(UART_IIR); // the THRE indication is taken by the interrupt handler
  const ier = inb(UART_IER);
  out(UART_IER, 0);
  for (const ch of Buffer.from('ok\r\n')) {
    pollUntil(() => (inb(UART_LSR) & UART_LSR_THRE) !== 0, 'LSR.THRE');
    out(UART_TX, ch);
  }
  pollUntil(() => (inb(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT)) === (UART_LSR_THRE | UART_LSR_TEMT), 'LSR.THRE and LSR.TEMT');
  const rises = irq.rises;
  out(UART_IER, ier);
  assert.equal(Buffer.from(sink.bytes).toString(), 'ok\r\n');
  assert.equal(irq.rises, rises + 1, 'restoring ETBEI with the transmitter empty interrupts again');
});

test('i8042.c probe with i8042.noaux i8042.nomux i8042.dumbkbd: platform init, check, controller init, enable KBD port', () => {
  const kbc = new I8042({ irq1: new RecordingIrq() });
  const bus = new PortIoBus();
  bus.register(0x60, 1, kbc.dataPort);
  bus.register(0x64, 1, kbc.commandPort);
  const inb = (p: number) => bus.read(p, 1);
  const outb = (p: number, v: number) => bus.write(p, 1, v);
  let resets = 0;
  kbc.resetRequested.subscribe(() => resets++);
  const STR_OBF = 0x01, STR_IBF = 0x02, STR_KEYLOCK = 0x10;
  // __i8042_command(): wait for IBF clear, write the command, parameters, then read results.
  const command = (cmd: number, params: number[] = []): number[] => {
    assert.equal(inb(0x64) & STR_IBF, 0, 'input buffer empty');
    outb(0x64, cmd & 0xff);
    for (let i = 0; i < ((cmd >> 12) & 0xf); i++) {
      assert.equal(inb(0x64) & STR_IBF, 0);
      outb(0x60, params[i]!);
    }
    const res: number[] = [];
    for (let i = 0; i < ((cmd >> 8) & 0xf); i++) {
      assert.equal(inb(0x64) & STR_OBF, STR_OBF, `result byte ${i} of command 0x${cmd.toString(16)}`);
      res.push(inb(0x60));
    }
    return res;
  };
  // i8042_platform_init() (i8042-acpipnpio.h): A20 through the output port, then the null command 0xFF.
  command(0x10d1, [0xdf]);
  command(0x00ff);
  assert.equal(resets, 0, 'neither 0xD1 0xDF nor 0xFF pulses the reset line');
  // i8042_controller_check(): status is not 0xFF and the flush terminates.
  assert.notEqual(inb(0x64), 0xff);
  for (let n = 0; inb(0x64) & STR_OBF; n++) {
    assert.ok(n < 16);
    inb(0x60);
  }
  // i8042_controller_selftest() (i8042.reset): 0xAA → 0x55.
  assert.deepEqual(command(0x01aa), [0x55]);
  // i8042_controller_init(): two equal CTR reads, keylock, write CTR with KBD disabled.
  const ctr0 = command(0x0120)[0]!;
  assert.equal(command(0x0120)[0], ctr0, 'stable CTR read');
  assert.ok(inb(0x64) & STR_KEYLOCK, 'keylock not active');
  let ctr = (ctr0 | 0x10) & ~0x01;
  command(0x1060, [ctr]);
  assert.deepEqual(command(0x0120), [ctr]);
  // i8042_enable_kbd_port()
  ctr = (ctr & ~0x10) | 0x01;
  command(0x1060, [ctr]);
  assert.deepEqual(command(0x0120), [ctr]);
  // Keyboard interface test and 0xAD / 0xAE as i8042_controller_resume / kbd port toggling use them.
  assert.deepEqual(command(0x01ab), [0x00]);
  command(0x00ad);
  assert.equal(command(0x0120)[0]! & 0x10, 0x10);
  command(0x00ae);
  assert.equal(command(0x0120)[0]! & 0x10, 0);
  // machine_emergency_restart() with reboot=k: 0xFE to port 0x64.
  outb(0x64, 0xfe);
  assert.equal(resets, 1);
});

test('atkbd GETID through the translating controller reads AB 41, as a PC keyboard on a real 8042 does', () => {
  const kbc = new I8042();
  kbc.dataPort.write(0, 1, 0xf2);
  const id = [kbc.dataPort.read(0, 1), kbc.dataPort.read(0, 1), kbc.dataPort.read(0, 1)];
  assert.deepEqual(id, [0xfa, 0xab, 0x41], 'XLATE on (BIOS default): 0x83 becomes 0x41');
  kbc.commandPort.write(0, 1, 0x60);
  kbc.dataPort.write(0, 1, 0x05); // XLATE off (i8042.direct)
  kbc.dataPort.write(0, 1, 0xf2);
  assert.deepEqual([kbc.dataPort.read(0, 1), kbc.dataPort.read(0, 1), kbc.dataPort.read(0, 1)], [0xfa, 0xab, 0x83]);
  assert.equal(kbc.dataPort.read(0, 1), 0x83, 'an empty output buffer reads its last byte again');
});

test('tsc.c pit_calibrate_tsc() and quick_pit_calibrate() on PIT channel 2', () => {
  const clock = new ManualClock();
  const pit = new Pit8254({ clock });
  const bus = new PortIoBus();
  bus.register(0x40, 4, pit);
  bus.register(0x61, 1, pit.port61Device);
  const inb = (p: number) => bus.read(p, 1);
  const outb = (p: number, v: number) => bus.write(p, 1, v);
  // pit_calibrate_tsc(latch = 11931 for 10 ms): gate high, speaker off, mode 0, LSB then MSB.
  const latch = Math.floor(1193182 / (1000 / 10));
  outb(0x61, (inb(0x61) & ~0x02) | 0x01);
  outb(0x43, 0xb0);
  outb(0x42, latch & 0xff);
  outb(0x42, latch >> 8);
  const loops = pollUntil(() => {
    if (inb(0x61) & 0x20) return true;
    clock.advanceNs(1000);
    return false;
  }, 'port 0x61 OUT2 (bit 5)');
  // OUT2 rises latch + 1 PIT clocks after the count is written (8254 mode 0).
  assert.ok(Math.abs(loops - ((latch + 1) * 1e9) / 1193182 / 1000) <= 1, `loops ${loops}`);
  // quick_pit_calibrate(): count from 0xFFFF, MSB seen through unlatched LSB/MSB reads.
  outb(0x61, (inb(0x61) & ~0x02) | 0x01);
  outb(0x43, 0xb0);
  outb(0x42, 0xff);
  outb(0x42, 0xff);
  inb(0x42);
  assert.equal(inb(0x42), 0xff, 'pit_verify_msb(0)... first MSB is 0xFF');
  const seen: number[] = [];
  for (let i = 0; i < 4; i++) {
    clock.advanceNs((256 * 1e9) / 1193182);
    inb(0x42);
    seen.push(inb(0x42));
  }
  // After 256·k clocks the count is 0x10000 - 256·k (one clock loads 0xFFFF, 8254 mode 0), so MSB = 0x100 - k.
  assert.deepEqual(seen, [0xff, 0xfe, 0xfd, 0xfc], 'MSB falls by one every 256 PIT clocks');
});

test('clocksource/i8253.c: clockevent_i8253_disable() leaves no pending IRQ 0; pit_set_oneshot + next_event fires once', () => {
  const clock = new ManualClock();
  const irq0 = new RecordingIrq();
  const pit = new Pit8254({ clock, irq0 });
  const out = (p: number, v: number) => pit.write(p, 1, v);
  out(3, 0x34); // pit_set_periodic
  out(0, 0x9c);
  out(0, 0x2e); // PIT_LATCH for HZ=100 is 11932 = 0x2E9C
  for (let ms = 0; ms < 25; ms++) {
    clock.advanceMs(1);
    pit.poll();
  }
  const periodic = irq0.rises;
  assert.equal(periodic, 2, 'two 10 ms periods in 25 ms');
  out(3, 0x30); // clockevent_i8253_disable
  out(0, 0);
  out(0, 0);
  out(3, 0x30);
  clock.advanceMs(200);
  pit.poll();
  assert.equal(irq0.rises, periodic, 'writing the mode register stops the counter');
  assert.equal(pit.nextIrqNs(), -1);
  out(3, 0x38); // pit_set_oneshot: mode 4
  out(0, 100);
  out(0, 0); // pit_next_event(100)
  clock.advanceMs(1);
  pit.poll();
  clock.advanceMs(10);
  pit.poll();
  assert.equal(irq0.rises, periodic + 1, 'one strobe per programmed event');
});

test('rtc-mc146818-lib.c mc146818_avoid_UIP / rtc-cmos probe: register D bit 6 clear, VRT set; A = 0x26', () => {
  const clock = new ManualClock(Date.UTC(2025, 0, 2, 3, 4, 5, 100));
  const rtc = new CmosRtc({ clock });
  const read = (i: number) => {
    rtc.write(0, 1, i);
    return rtc.read(1, 1);
  };
  assert.equal(read(0x0d) & 0x40, 0, 'cmos_do_probe: "Ensure that the RTC is accessible. Bit 6 must be 0!"');
  assert.equal(read(0x0d) & 0x80, 0x80, 'VRT: valid RAM and time');
  assert.equal(read(0x0a) & 0x7f, 0x26, 'RTC_REF_CLCK_32KHZ | 0x06');
  const seconds = read(0x00);
  assert.equal(read(0x0a) & 0x80, 0, 'no update in progress');
  assert.equal(read(0x00), seconds);
  assert.equal(seconds, 0x05);
  assert.equal(read(0x0b) & 0x02, 0x02, 'rtc-cmos supports 24-hour mode only');
});

test('io_apic.c clear_IO_APIC_pin(): a stuck remote IRR is cleared on version 0x20 (EOI register) and 0x11 (edge/level toggle)', () => {
  for (const version of [0x20, 0x11] as const) {
    const inj = new RecordingInjector();
    const io = new IoApic(inj, { version });
    const w = (idx: number, v: number) => {
      io.write(0x00, 4, idx);
      io.write(0x10, 4, v);
    };
    const r = (idx: number) => {
      io.write(0x00, 4, idx);
      return io.read(0x10, 4);
    };
    const pin = 9;
    w(0x11 + 2 * pin, 0);
    w(0x10 + 2 * pin, 0x8000 | 0x41); // level, vector 0x41, unmasked
    io.line(pin).set(true);
    assert.equal(inj.requests.length, 1);
    io.line(pin).set(false);
    let low = r(0x10 + 2 * pin);
    assert.ok(low & 0x4000, 'remote IRR set while the vector is in service');
    // Mask, re-read, then __eoi_ioapic_pin().
    w(0x10 + 2 * pin, low | 0x10000);
    low = r(0x10 + 2 * pin);
    if (version >= 0x20) io.write(0x40, 4, low & 0xff);
    else {
      w(0x10 + 2 * pin, (low | 0x10000) & ~0x8000);
      w(0x10 + 2 * pin, low);
    }
    // ioapic_mask_entry(): low = masked, high = 0.
    w(0x10 + 2 * pin, 0x10000);
    w(0x11 + 2 * pin, 0);
    assert.equal(r(0x10 + 2 * pin) & 0x4000, 0, `version 0x${version.toString(16)}: no "Unable to reset IRR"`);
  }
});
