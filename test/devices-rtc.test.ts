/**
 * CMOS/RTC (MC146818A): date and time encoding (BCD/binary, 24/12-hour), the
 * update-in-progress window, SET freezing and guest-written time, NMI bit,
 * memory-size bytes; and the time read through the ports against the host clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CmosRtc } from '../src/devices/cmos-rtc.ts';
import { ManualClock, hostClock } from '../src/devices/clock.ts';
import type { Clock } from '../src/devices/clock.ts';
import { PortIoBus } from '../src/devices/bus.ts';
import { pollUntil, RecordingIrq } from './helpers/device-test-kit.ts';

function setup<C extends Clock = ManualClock>(clock: C = new ManualClock(Date.UTC(2025, 6, 14, 21, 5, 9, 0)) as unknown as C) {
  const rtc = new CmosRtc({ clock, memoryBelow4G: 512 * 1024 * 1024, memoryAbove4G: 2 * 1024 ** 3 });
  const bus = new PortIoBus();
  bus.register(0x70, 2, rtc);
  const rd = (i: number) => {
    bus.write(0x70, 1, i);
    return bus.read(0x71, 1);
  };
  const wr = (i: number, v: number) => {
    bus.write(0x70, 1, i);
    bus.write(0x71, 1, v);
  };
  return { rtc, clock, rd, wr, bus };
}

test('default: BCD, 24-hour; 2025-07-14 21:05:09 UTC is a Monday', () => {
  const { rd } = setup();
  assert.deepEqual(
    [0, 2, 4, 6, 7, 8, 9, 0x32].map(rd),
    [0x09, 0x05, 0x21, 0x02, 0x14, 0x07, 0x25, 0x20],
  );
  assert.equal(rd(0x0b), 0x02);
  assert.equal(rd(0x0d), 0x80);
});

test('binary mode and 12-hour mode with the PM bit', () => {
  const { rd, wr } = setup();
  wr(0x0b, 0x04 | 0x02); // binary, 24h
  assert.deepEqual([0, 2, 4, 7, 8, 9].map(rd), [9, 5, 21, 14, 7, 25]);
  wr(0x0b, 0x00); // BCD, 12h
  assert.equal(rd(4), 0x80 | 0x09, '21h → 9 PM');
  wr(0x0b, 0x04); // binary, 12h
  assert.equal(rd(4), 0x80 | 9);
});

test('12-hour edge cases: midnight is 12 AM, noon is 12 PM', () => {
  for (const [hour, expect] of [[0, 0x12], [12, 0x80 | 0x12], [11, 0x11]] as const) {
    const { rd, wr } = setup(new ManualClock(Date.UTC(2025, 0, 1, hour, 0, 0)));
    wr(0x0b, 0x00);
    assert.equal(rd(4), expect, `hour ${hour}`);
  }
});

test('time advances with the clock; UIP is set only in the 244 µs before the update', () => {
  const { rd, clock } = setup();
  assert.equal(rd(0x0a) & 0x80, 0);
  clock.advanceMs(999.9); // 100 µs before the next second
  assert.equal(rd(0x0a) & 0x80, 0x80);
  assert.equal(rd(0), 0x09, 'not updated yet');
  clock.advanceMs(0.2);
  assert.equal(rd(0x0a) & 0x80, 0);
  assert.equal(rd(0), 0x10);
  clock.advanceMs(60_000);
  assert.equal(rd(2), 0x06);
  assert.equal(rd(0x0a), 0x26, 'DV=010, RS=0110');
});

test('SET freezes the time; the guest sets a new time that then keeps running', () => {
  const { rd, wr, clock } = setup();
  wr(0x0b, 0x82); // SET, BCD, 24h
  clock.advanceMs(5000);
  assert.equal(rd(0), 0x09, 'frozen');
  wr(9, 0x99);
  wr(8, 0x12);
  wr(7, 0x31);
  wr(4, 0x23);
  wr(2, 0x59);
  wr(0, 0x58);
  assert.equal(rd(0x0a) & 0x80, 0, 'no UIP while SET');
  wr(0x0b, 0x02);
  clock.advanceMs(3000);
  assert.deepEqual([0, 2, 4, 7, 8, 9, 0x32].map(rd), [0x01, 0x00, 0x00, 0x01, 0x01, 0x00, 0x21]);
});

test('register C: update-ended, alarm and periodic flags; IRQ 8 while an enabled flag is set, cleared by reading C', () => {
  const irq = new RecordingIrq();
  const clock = new ManualClock(Date.UTC(2025, 6, 14, 21, 5, 9, 500));
  const rtc = new CmosRtc({ clock, irq });
  const rd = (i: number) => (rtc.write(0, 1, i), rtc.read(1, 1));
  const wr = (i: number, v: number) => (rtc.write(0, 1, i), rtc.write(1, 1, v));
  assert.equal(rd(0x0c), 0);
  clock.advanceMs(600); // crosses 21:05:10
  assert.equal(rd(0x0c), 0x50, 'UF (and PF, RS=6 runs always) without enables: flags only, no IRQF');
  assert.equal(irq.level, false);
  // update-ended interrupt
  wr(0x0b, 0x02 | 0x10);
  assert.equal(rtc.nextIrqNs(), clock.monotonicNs() + 900e6, 'next second boundary');
  clock.advanceMs(900);
  rtc.poll();
  assert.equal(irq.level, true);
  assert.equal(rd(0x0c) & 0x90, 0x80 | 0x10);
  assert.equal(irq.level, false);
  // alarm at 21:05:13 (BCD), hours "don't care"
  wr(0x0b, 0x02 | 0x20);
  wr(1, 0x13);
  wr(3, 0x05);
  wr(5, 0xc0);
  clock.advanceMs(1000); // 21:05:12
  rtc.poll();
  assert.equal(irq.level, false);
  clock.advanceMs(1000); // 21:05:13
  rtc.poll();
  assert.equal(irq.level, true);
  assert.equal(rd(0x0c) & 0xa0, 0xa0);
  // periodic interrupt at 1024 Hz (RS = 6)
  wr(0x0b, 0x02 | 0x40);
  const next = rtc.nextIrqNs() - clock.monotonicNs();
  assert.ok(next > 0 && next <= 1e9 / 1024 + 1, `next periodic in ${next} ns`);
  clock.advanceNs(1e9 / 1024);
  rtc.poll();
  assert.equal(rd(0x0c) & 0xc0, 0xc0);
  wr(0x0a, 0x20); // RS = 0: no periodic flag
  clock.advanceMs(1);
  assert.equal(rd(0x0c) & 0x40, 0);
});

test('index port: bit 7 is NMI disable, not part of the address; 0x70 reads all ones', () => {
  const { rtc, bus, rd } = setup();
  bus.write(0x70, 1, 0x80 | 0x0d);
  assert.equal(rtc.nmiDisabled, true);
  assert.equal(bus.read(0x71, 1), 0x80);
  assert.equal(bus.read(0x70, 1), 0xff);
  bus.write(0x70, 1, 0x0d);
  assert.equal(rtc.nmiDisabled, false);
  assert.equal(rd(0x0c), 0);
});

test('CMOS RAM: general bytes read back; C and D are read-only; memory size bytes as a BIOS fills them', () => {
  const { rd, wr } = setup();
  wr(0x40, 0xab);
  wr(0x7f, 0xcd);
  assert.equal(rd(0x40), 0xab);
  assert.equal(rd(0x7f), 0xcd);
  wr(0x0d, 0);
  assert.equal(rd(0x0d), 0x80);
  assert.equal(rd(0x15) | (rd(0x16) << 8), 640);
  assert.equal(rd(0x17) | (rd(0x18) << 8), 0xffff, '511 MiB of extended memory caps at 65535 KiB');
  assert.equal(rd(0x34) | (rd(0x35) << 8), (512 - 16) * 16, '64 KiB units above 16 MiB');
  assert.equal(rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16), 2 * 16384);
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += rd(i);
  assert.equal((rd(0x2e) << 8) | rd(0x2f), sum);
});

test('against the host clock: the RTC read through the ports matches Date.now() (UTC)', () => {
  const { rd, wr } = setup(hostClock);
  wr(0x0b, 0x06); // binary, 24h
  // Wait out an update in progress, as Linux's mc146818_get_time does.
  pollUntil(() => (rd(0x0a) & 0x80) === 0, 'UIP to clear', 50_000_000);
  const read = Date.UTC(2000 + rd(9), rd(8) - 1, rd(7), rd(4), rd(2), rd(0));
  const now = Date.now();
  assert.ok(Math.abs(now - read) < 2000, `rtc ${new Date(read).toISOString()} vs host ${new Date(now).toISOString()}`);
  assert.equal(rd(6), new Date(read).getUTCDay() + 1);
});

test('register B: IRQF and IRQ 8 follow the enables at once (IRQF = PF·PIE + AF·AIE + UF·UIE)', () => {
  const irq = new RecordingIrq();
  const clock = new ManualClock(Date.UTC(2025, 0, 1, 10, 0, 0));
  const rtc = new CmosRtc({ clock, irq });
  const rd = (i: number) => (rtc.write(0, 1, i), rtc.read(1, 1));
  const wr = (i: number, v: number) => (rtc.write(0, 1, i), rtc.write(1, 1, v));
  wr(0x0b, 0x02 | 0x40); // PIE
  clock.advanceMs(2); // two 1024 Hz periods: PF set
  rtc.poll();
  assert.equal(irq.level, true);
  wr(0x0b, 0x02); // PIE cleared: PF alone no longer makes IRQF
  assert.equal(irq.level, false, 'IRQ 8 drops when no enabled flag remains');
  wr(0x0b, 0x02 | 0x40); // PIE again, PF still pending
  assert.equal(irq.level, true, 'enabling a pending flag raises IRQ 8');
  assert.equal(irq.rises, 2);
  wr(0x0b, 0x02);
  assert.equal(rd(0x0c), 0x40, 'PF without IRQF');
});

test('register B: after clearing PIE with PF pending, a UIE interrupt gives a new IRQ 8 edge at the next second', () => {
  const irq = new RecordingIrq();
  const clock = new ManualClock(Date.UTC(2025, 0, 1, 10, 0, 0));
  const rtc = new CmosRtc({ clock, irq });
  const wr = (i: number, v: number) => (rtc.write(0, 1, i), rtc.write(1, 1, v));
  wr(0x0b, 0x02 | 0x40);
  clock.advanceMs(2);
  rtc.poll();
  assert.equal(irq.rises, 1);
  wr(0x0b, 0x02 | 0x10); // PIE off, UIE on: PF is pending but masked, UF not yet set
  assert.equal(irq.level, false);
  assert.equal(rtc.nextIrqNs(), clock.monotonicNs() + 998e6, 'next update at 10:00:01');
  clock.advanceMs(998);
  rtc.poll();
  assert.equal(irq.level, true);
  assert.equal(irq.rises, 2, 'UF raises IRQ 8 again (an edge-triggered pin sees it)');
});

test('years 0-99: century 0x00 is kept when the written time is applied (not read as 19xx)', () => {
  const { rd, wr } = setup(new ManualClock(Date.UTC(2025, 0, 1)));
  // Written while SET = 1, applied when SET is cleared.
  wr(0x0b, 0x82);
  wr(0x32, 0x00);
  wr(0x09, 0x24);
  wr(0x0b, 0x02);
  assert.deepEqual([0x32, 9, 8, 7].map(rd), [0x00, 0x24, 0x01, 0x01]);
  // Written while the clock runs: applied at once.
  const t = setup(new ManualClock(Date.UTC(2025, 0, 1)));
  t.wr(0x32, 0x00);
  assert.deepEqual([0x32, 9, 8, 7].map(t.rd), [0x00, 0x25, 0x01, 0x01]);
  t.wr(0x09, 0x99);
  assert.deepEqual([0x32, 9].map(t.rd), [0x00, 0x99]);
});

test('a flag that came due before a register A, alarm or time write raises IRQ 8 with that write, not at the next poll', () => {
  for (const [index, value] of [[0x0a, 0x26], [0x01, 0x00], [0x00, 0x30]] as const) {
    const irq = new RecordingIrq();
    const clock = new ManualClock(Date.UTC(2025, 0, 1, 10, 0, 0));
    const rtc = new CmosRtc({ clock, irq });
    const wr = (i: number, v: number) => (rtc.write(0, 1, i), rtc.write(1, 1, v));
    wr(0x0b, 0x02 | 0x40); // PIE, 1024 Hz (register A's reset rate)
    clock.advanceMs(2); // PF came due; nobody polled
    assert.equal(irq.level, false);
    wr(index, value);
    assert.equal(irq.level, true, `IRQ 8 after writing register 0x${index.toString(16)}`);
  }
});
