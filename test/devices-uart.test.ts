/**
 * 16550A register-level behaviour, following the PC16550D datasheet: loopback,
 * FIFO trigger levels and the character timeout, the THRE interrupt, the IIR
 * priority order, OUT2 gating, the divisor latch, and host back-pressure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Uart16550 } from '../src/devices/uart16550.ts';
import * as R from '../src/devices/uart16550-regs.ts';
import { ArraySink, ArraySource, pollUntil, RecordingIrq } from './helpers/device-test-kit.ts';

function setup(opts: { sinkCapacity?: number; input?: number[] } = {}) {
  const irq = new RecordingIrq();
  const sink = new ArraySink(opts.sinkCapacity);
  const source = new ArraySource(opts.input ?? []);
  const uart = new Uart16550({ irq, sink, source });
  const out = (reg: number, v: number) => uart.write(reg, 1, v);
  const inb = (reg: number) => uart.read(reg, 1);
  return { uart, irq, sink, source, out, inb };
}

test('reset state: IIR 0x01, LSR THRE|TEMT, MSR shows a connected terminal', () => {
  const { inb } = setup();
  assert.equal(inb(R.REG_IIR_FCR), 0x01);
  assert.equal(inb(R.REG_LSR), 0x60);
  assert.equal(inb(R.REG_MSR) & 0xf0, R.MSR_CTS | R.MSR_DSR | R.MSR_DCD);
  assert.equal(inb(R.REG_IER), 0);
  assert.equal(inb(R.REG_MCR), 0);
});

test('divisor latch: DLAB switches offsets 0/1 to DLL/DLM; divisor 0 is harmless', () => {
  const { uart, out, inb, sink } = setup();
  out(R.REG_LCR, 0x80);
  out(R.REG_DATA, 0x01);
  out(R.REG_IER, 0x00);
  assert.equal(inb(R.REG_DATA), 1);
  assert.equal(uart.baudRate, 115200);
  out(R.REG_IER, 0x0f); // DLM, not IER
  out(R.REG_LCR, 0x03);
  assert.equal(inb(R.REG_IER), 0, 'IER untouched while DLAB was set');
  out(R.REG_LCR, 0x80);
  out(R.REG_DATA, 0);
  out(R.REG_IER, 0);
  assert.equal(uart.baudRate, 0);
  out(R.REG_LCR, 0x03);
  out(R.REG_DATA, 0x41);
  assert.deepEqual(sink.bytes, [0x41]);
});

test('transmit goes to the sink as whole bytes, even before LCR is programmed', () => {
  const { out, sink, inb } = setup();
  out(R.REG_DATA, 0xc1); // LCR reset value selects 5-bit words; the byte still travels whole
  out(R.REG_LCR, 0x03);
  for (const c of Buffer.from('hi\n')) out(R.REG_DATA, c);
  assert.deepEqual(sink.bytes, [0xc1, 0x68, 0x69, 0x0a]);
  assert.equal(inb(R.REG_LCR), 0x03);
});

test('loopback: THR feeds RBR, MSR mirrors MCR, nothing reaches the host, IRQ is off', () => {
  const { out, inb, sink, irq } = setup();
  out(R.REG_IER, R.IER_ERBFI);
  out(R.REG_MCR, R.MCR_LOOP | R.MCR_OUT2 | R.MCR_RTS);
  // Linux's 8250 autoconfig test: MCR = LOOP|0x0A must read back MSR & 0xF0 == 0x90
  assert.equal(inb(R.REG_MSR) & 0xf0, 0x90);
  out(R.REG_DATA, 0x5a);
  assert.equal(inb(R.REG_LSR) & R.LSR_DR, R.LSR_DR);
  assert.equal(inb(R.REG_IIR_FCR) & 0x0f, R.IIR_RX_DATA, 'interrupt identified');
  assert.equal(irq.level, false, 'loopback forces OUT2 inactive: no IRQ on a PC');
  assert.equal(inb(R.REG_DATA), 0x5a);
  assert.deepEqual(sink.bytes, []);
  // MSR delta bits: dropping RTS toggles CTS → DCTS; dropping OUT1 (RI) trailing edge → TERI
  out(R.REG_MCR, R.MCR_LOOP | R.MCR_OUT1);
  inb(R.REG_MSR);
  out(R.REG_MCR, R.MCR_LOOP);
  const msr = inb(R.REG_MSR);
  assert.equal(msr & R.MSR_TERI, R.MSR_TERI);
  assert.equal(inb(R.REG_MSR) & 0x0f, 0, 'delta bits clear on read');
});

test('loopback overrun: 17th byte into a 16-byte FIFO sets OE; line-status interrupt has top priority', () => {
  const { out, inb } = setup();
  out(R.REG_IIR_FCR, R.FCR_ENABLE);
  out(R.REG_IER, R.IER_ERBFI | R.IER_ELSI | R.IER_ETBEI);
  out(R.REG_MCR, R.MCR_LOOP);
  for (let i = 0; i < 17; i++) out(R.REG_DATA, i);
  assert.equal(inb(R.REG_IIR_FCR), 0xc0 | R.IIR_RX_LINE_STATUS);
  const lsr = inb(R.REG_LSR);
  assert.equal(lsr & R.LSR_OE, R.LSR_OE);
  assert.equal(inb(R.REG_LSR) & R.LSR_OE, 0, 'OE clears on LSR read');
  const got: number[] = [];
  pollUntil(() => (inb(R.REG_LSR) & R.LSR_DR ? (got.push(inb(R.REG_DATA)), false) : true), 'LSR.DR to clear');
  assert.deepEqual(got, [...Array(16).keys()]);
});

test('loopback overrun without FIFOs (16450 mode): the new character replaces the unread one in RBR and sets OE', () => {
  // PC16550D datasheet, LSR bit 1: OE "indicates that data in the RBR was not read by the
  // CPU before the next character was transferred into the RBR, thereby destroying the
  // previous character".
  const { out, inb } = setup();
  out(R.REG_MCR, R.MCR_LOOP);
  out(R.REG_DATA, 0x11);
  out(R.REG_DATA, 0x22);
  const lsr = inb(R.REG_LSR);
  assert.equal(lsr & (R.LSR_OE | R.LSR_DR), R.LSR_OE | R.LSR_DR);
  assert.equal(inb(R.REG_DATA), 0x22);
  assert.equal(inb(R.REG_LSR) & (R.LSR_OE | R.LSR_DR), 0);
});

for (const [bits, level] of [[0, 1], [1, 4], [2, 8], [3, 14]] as const) {
  test(`FIFO trigger level ${level}: RX data interrupt at ${level} bytes, character timeout below`, () => {
    const { out, inb, irq, source, uart } = setup();
    out(R.REG_IIR_FCR, R.FCR_ENABLE | (bits << 6));
    out(R.REG_IER, R.IER_ERBFI);
    out(R.REG_MCR, R.MCR_OUT2 | R.MCR_RTS | R.MCR_DTR);
    if (level > 1) {
      source.bytes.push(...Array(level - 1).fill(0x61));
      uart.pollHost();
      assert.equal(inb(R.REG_IIR_FCR), 0xc0 | R.IIR_CHAR_TIMEOUT, `${level - 1} bytes: timeout indication`);
      assert.equal(irq.level, true);
    }
    source.bytes.push(0x62);
    uart.pollHost();
    assert.equal(inb(R.REG_IIR_FCR), 0xc0 | R.IIR_RX_DATA, `${level} bytes: data available`);
    // Read one: below the trigger again, bytes remain → timeout indication
    inb(R.REG_DATA);
    const expect = level === 1 ? 0xc1 : 0xc0 | R.IIR_CHAR_TIMEOUT;
    assert.equal(inb(R.REG_IIR_FCR), expect);
    pollUntil(() => (inb(R.REG_LSR) & R.LSR_DR ? (inb(R.REG_DATA), false) : true), 'LSR.DR to clear');
    assert.equal(inb(R.REG_IIR_FCR), 0xc1);
    assert.equal(irq.level, false);
  });
}

test('FCR: clearing RX drops FIFO contents, toggling enable clears both; 16450 mode holds one byte', () => {
  const { out, inb, source, uart } = setup({ input: [1, 2, 3] });
  out(R.REG_MCR, R.MCR_RTS);
  assert.equal(inb(R.REG_DATA), 1, 'non-FIFO: one-byte holding register');
  out(R.REG_IIR_FCR, R.FCR_ENABLE); // enabling clears the FIFOs (byte 2 was pulled into the holding register)
  uart.pollHost();
  assert.equal(inb(R.REG_DATA), 3);
  source.bytes.push(4, 5);
  uart.pollHost();
  out(R.REG_IIR_FCR, R.FCR_ENABLE | R.FCR_CLEAR_RX);
  assert.equal(inb(R.REG_LSR) & R.LSR_DR, 0);
  assert.equal(inb(R.REG_IIR_FCR) & 0xc0, 0xc0);
  out(R.REG_IIR_FCR, 0);
  assert.equal(inb(R.REG_IIR_FCR) & 0xc0, 0);
});

test('THRE interrupt: raised when enabling ETBEI with THR empty, cleared by IIR read, raised again when TX empties', () => {
  const { out, inb, irq } = setup();
  out(R.REG_MCR, R.MCR_OUT2);
  out(R.REG_IER, R.IER_ETBEI);
  assert.equal(irq.level, true);
  assert.equal(inb(R.REG_IIR_FCR), R.IIR_THRE);
  assert.equal(irq.level, false, 'reading IIR cleared the THRE indication');
  assert.equal(inb(R.REG_IIR_FCR), R.IIR_NO_INT);
  out(R.REG_DATA, 0x41);
  assert.equal(irq.level, true, 'transmitter became empty again');
  out(R.REG_IER, 0);
  assert.equal(irq.level, false);
  out(R.REG_IER, R.IER_ETBEI);
  assert.equal(irq.level, true, 're-enabling ETBEI with THR empty raises THRE again');
});

test('transmit back-pressure: THRE stays 0 while the host sink is full; bytes are kept, not lost', () => {
  const { out, inb, sink, uart, irq } = setup({ sinkCapacity: 2 });
  out(R.REG_IIR_FCR, R.FCR_ENABLE);
  out(R.REG_MCR, R.MCR_OUT2);
  out(R.REG_IER, R.IER_ETBEI);
  inb(R.REG_IIR_FCR);
  for (let i = 0; i < 5; i++) out(R.REG_DATA, 0x30 + i);
  assert.equal(inb(R.REG_LSR) & (R.LSR_THRE | R.LSR_TEMT), 0);
  assert.equal(irq.level, false);
  assert.deepEqual(sink.bytes, [0x30, 0x31]);
  sink.capacity = Infinity;
  uart.pollHost();
  assert.deepEqual(sink.bytes, [0x30, 0x31, 0x32, 0x33, 0x34]);
  assert.equal(inb(R.REG_LSR) & 0x60, 0x60);
  assert.equal(irq.level, true, 'THRE interrupt once the FIFO drained');
  // a guest ignoring THRE and overfilling the FIFO loses bytes, counted
  sink.capacity = 0;
  for (let i = 0; i < 20; i++) out(R.REG_DATA, i);
  assert.equal(uart.stats.txDropped, 4);
});

test('receive back-pressure: only 16 bytes are taken from the host; the rest waits; RTS gates input', () => {
  const input = [...Array(100).keys()];
  const { out, inb, source, uart } = setup({ input });
  out(R.REG_IIR_FCR, R.FCR_ENABLE);
  uart.pollHost();
  assert.equal(source.bytes.length, 100, 'nothing taken before the driver asserts RTS');
  out(R.REG_MCR, R.MCR_RTS | R.MCR_DTR);
  assert.equal(source.bytes.length, 84);
  const got: number[] = [];
  pollUntil(() => (inb(R.REG_LSR) & R.LSR_DR ? (got.push(inb(R.REG_DATA)), false) : true), 'LSR.DR to clear');
  assert.deepEqual(got, input);
  assert.equal(uart.stats.rxOverruns, 0);
});

test('IIR priority order: line status > RX data > THRE > modem status', () => {
  const { out, inb } = setup();
  out(R.REG_IIR_FCR, R.FCR_ENABLE);
  out(R.REG_IER, R.IER_ERBFI | R.IER_ETBEI | R.IER_ELSI | R.IER_EDSSI);
  out(R.REG_MCR, R.MCR_LOOP | R.MCR_RTS); // CTS changes → modem status pending
  for (let i = 0; i < 17; i++) out(R.REG_DATA, i); // overrun + data + THRE
  assert.equal(inb(R.REG_IIR_FCR) & 0x0f, R.IIR_RX_LINE_STATUS);
  inb(R.REG_LSR);
  assert.equal(inb(R.REG_IIR_FCR) & 0x0f, R.IIR_RX_DATA);
  pollUntil(() => (inb(R.REG_LSR) & R.LSR_DR ? (inb(R.REG_DATA), false) : true), 'LSR.DR to clear');
  assert.equal(inb(R.REG_IIR_FCR) & 0x0f, R.IIR_THRE);
  assert.equal(inb(R.REG_IIR_FCR) & 0x0f, R.IIR_MODEM_STATUS);
  inb(R.REG_MSR);
  assert.equal(inb(R.REG_IIR_FCR), 0xc1);
});

test('OUT2 gates the IRQ line; the pending interrupt stays identified in IIR', () => {
  const { out, inb, irq } = setup();
  out(R.REG_IER, R.IER_ETBEI);
  assert.equal(irq.level, false, 'OUT2 clear: IRQ line idle');
  out(R.REG_MCR, R.MCR_OUT2);
  assert.equal(irq.level, true);
  out(R.REG_MCR, 0);
  assert.equal(irq.level, false);
  assert.equal(inb(R.REG_IIR_FCR), R.IIR_THRE);
});

test('scratch register and write-only/read-only registers', () => {
  const { out, inb } = setup();
  out(R.REG_SCR, 0xa5);
  assert.equal(inb(R.REG_SCR), 0xa5);
  out(R.REG_LSR, 0x00); // read-only: ignored
  assert.equal(inb(R.REG_LSR), 0x60);
  out(R.REG_IIR_FCR, 0x07);
  assert.equal(inb(R.REG_IIR_FCR), 0xc1, 'reading offset 2 gives IIR, not FCR');
});
