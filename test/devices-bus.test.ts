import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortIoBus, MmioBus, BusConflictError } from '../src/devices/bus.ts';
import type { AccessSize, BusDevice } from '../src/devices/device.ts';
import { ACCESS_1, ACCESS_4, ACCESS_8 } from '../src/devices/device.ts';
import { RecordingLogger } from './helpers/device-test-kit.ts';

class Recorder implements BusDevice {
  accesses: string[] = [];
  constructor(
    readonly name: string,
    readonly accessSizes: number,
  ) {}
  read(offset: number, size: AccessSize): number {
    this.accesses.push(`r${size}@${offset}`);
    return 0x40 + offset;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.accesses.push(`w${size}@${offset}=${value.toString(16)}`);
  }
  read64(offset: number): bigint {
    this.accesses.push(`r8@${offset}`);
    return 0x1122334455667788n;
  }
  write64(offset: number, value: bigint): void {
    this.accesses.push(`w8@${offset}=${value.toString(16)}`);
  }
}

test('port bus dispatches with offsets relative to the range base', () => {
  const bus = new PortIoBus();
  const d = new Recorder('d', ACCESS_1);
  bus.register(0x3f8, 8, d);
  assert.equal(bus.read(0x3fd, 1), 0x45);
  bus.write(0x3f8, 1, 0x141); // truncated to the access width
  assert.deepEqual(d.accesses, ['r1@5', 'w1@0=41']);
});

test('overlapping registrations are rejected when made, naming both devices', () => {
  const bus = new PortIoBus();
  bus.register(0x3f8, 8, new Recorder('com1', ACCESS_1));
  assert.throws(() => bus.register(0x3ff, 2, new Recorder('other', ACCESS_1)), (e: unknown) => {
    assert.ok(e instanceof BusConflictError);
    assert.match(e.message, /other.*overlaps com1/);
    return true;
  });
  bus.register(0x3f0, 8, new Recorder('adjacent', ACCESS_1)); // touching is fine
  assert.throws(() => bus.register(0xfffe, 4, new Recorder('past-end', ACCESS_1)), BusConflictError);
  const mmio = new MmioBus();
  mmio.register(0xfec00000, 0x1000, new Recorder('ioapic', ACCESS_4));
  assert.throws(() => mmio.register(0xfebff000, 0x1001, new Recorder('x', ACCESS_4)), /overlaps ioapic/);
});

test('unclaimed accesses read all ones, drop writes, are counted and logged once per address', () => {
  const log = new RecordingLogger();
  const bus = new PortIoBus(log);
  assert.equal(bus.read(0x80, 1), 0xff);
  assert.equal(bus.read(0x80, 2), 0xffff);
  assert.equal(bus.read(0x80, 4), 0xffffffff);
  bus.write(0x80, 1, 0x12);
  bus.write(0x81, 1, 0x12);
  assert.deepEqual(bus.unclaimed, { reads: 3, writes: 2, badWidth: 0 });
  assert.equal(log.lines.length, 2);
  assert.ok(log.lines.every((l) => l.level === 'debug'));
  assert.match(log.lines[0]!.msg!, /unclaimed 1-byte read at 0x80/);
});

test('a width the device does not support is treated as unclaimed', () => {
  const bus = new PortIoBus();
  const d = new Recorder('byte-only', ACCESS_1);
  bus.register(0x60, 4, d);
  assert.equal(bus.read(0x60, 2), 0xffff);
  bus.write(0x60, 4, 1);
  assert.deepEqual(d.accesses, []);
  assert.equal(bus.unclaimed.badWidth, 2);
  // straddling the end of the range is unclaimed too
  const e = new Recorder('four', ACCESS_4);
  bus.register(0x70, 4, e);
  assert.equal(bus.read(0x72, 4), 0xffffffff);
  assert.deepEqual(e.accesses, []);
});

test('MMIO bus: binary search over ranges, 8-byte accesses only for devices that declare them', () => {
  const bus = new MmioBus();
  const a = new Recorder('a', ACCESS_4);
  const b = new Recorder('b', ACCESS_4 | ACCESS_8);
  const c = new Recorder('c', ACCESS_4);
  bus.register(0xd0000000, 0x1000, a);
  bus.register(0xfec00000, 0x1000, c);
  bus.register(0xd0001000, 0x1000, b);
  assert.equal(bus.read(0xd0001010, 4), 0x50);
  assert.equal(bus.read(0xfec00010, 4), 0x50);
  assert.equal(bus.read64(0xd0001008), 0x1122334455667788n);
  bus.write64(0xd0001008, -1n);
  assert.equal(bus.read64(0xd0000008), 0xffffffffffffffffn); // a: no 8-byte support
  assert.equal(bus.read(0xe0000000, 4), 0xffffffff);
  assert.deepEqual(b.accesses, ['r4@16', 'r8@8', 'w8@8=ffffffffffffffff']);
  assert.deepEqual(a.accesses, []);
  assert.equal(bus.registrations.map((r) => r.device.name).join(','), 'a,b,c');
});
