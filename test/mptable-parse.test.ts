/**
 * The MP table, read back by a parser written here from the MultiProcessor
 * Specification 1.4 (independent of the builder): the floating pointer is found
 * by scanning the last KiB of base memory on 16-byte boundaries, as Linux does;
 * checksums, header fields and every entry are decoded and checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestRam } from '../src/memory/guest-memory.ts';
import type { GuestMemory } from '../src/memory/guest-memory.ts';
import { writeMpTable } from '../src/loader/mp-table.ts';
import { MP_TABLE_ADDR } from '../src/loader/boot-layout.ts';

interface Parsed {
  fpAddr: number;
  specRev: number;
  feature1: number;
  feature2: number;
  oem: string;
  product: string;
  lapic: number;
  cpus: { apicId: number; version: number; enabled: boolean; bsp: boolean; signature: number; features: number }[];
  buses: { id: number; type: string }[];
  ioapics: { id: number; version: number; enabled: boolean; addr: number }[];
  ioInts: { type: number; flags: number; bus: number; irq: number; apic: number; pin: number }[];
  localInts: { type: number; flags: number; bus: number; irq: number; apic: number; lint: number }[];
}

function sum(mem: GuestMemory, addr: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += mem.readU8(addr + i);
  return s & 0xff;
}

function str(mem: GuestMemory, addr: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(mem.readU8(addr + i));
  return s;
}

/** Spec 4.1: search for "_MP_" on 16-byte boundaries with a valid checksum. */
function parse(mem: GuestMemory, from: number, len: number): Parsed {
  let fp = -1;
  for (let a = from; a < from + len; a += 16) {
    if (str(mem, a, 4) === '_MP_' && mem.readU8(a + 8) === 1 && sum(mem, a, 16) === 0) {
      fp = a;
      break;
    }
  }
  assert.ok(fp >= 0, 'floating pointer found');
  const ct = mem.readU32(fp + 4);
  assert.equal(str(mem, ct, 4), 'PCMP');
  const baseLen = mem.readU16(ct + 4);
  assert.equal(sum(mem, ct, baseLen), 0, 'configuration table checksum');
  assert.equal(mem.readU16(ct + 40), 0, 'no extended table');
  const p: Parsed = {
    fpAddr: fp,
    specRev: mem.readU8(fp + 9),
    feature1: mem.readU8(fp + 11),
    feature2: mem.readU8(fp + 12),
    oem: str(mem, ct + 8, 8),
    product: str(mem, ct + 16, 12),
    lapic: mem.readU32(ct + 36),
    cpus: [],
    buses: [],
    ioapics: [],
    ioInts: [],
    localInts: [],
  };
  assert.equal(mem.readU8(ct + 6), 4, 'configuration table spec revision 1.4');
  const count = mem.readU16(ct + 34);
  let o = ct + 44;
  let lastType = 0;
  for (let i = 0; i < count; i++) {
    const type = mem.readU8(o);
    assert.ok(type >= lastType, 'entries sorted by type (spec 4.3)');
    lastType = type;
    switch (type) {
      case 0:
        p.cpus.push({
          apicId: mem.readU8(o + 1),
          version: mem.readU8(o + 2),
          enabled: (mem.readU8(o + 3) & 1) === 1,
          bsp: (mem.readU8(o + 3) & 2) === 2,
          signature: mem.readU32(o + 4),
          features: mem.readU32(o + 8),
        });
        o += 20;
        break;
      case 1:
        p.buses.push({ id: mem.readU8(o + 1), type: str(mem, o + 2, 6) });
        o += 8;
        break;
      case 2:
        p.ioapics.push({ id: mem.readU8(o + 1), version: mem.readU8(o + 2), enabled: (mem.readU8(o + 3) & 1) === 1, addr: mem.readU32(o + 4) });
        o += 8;
        break;
      case 3:
      case 4: {
        const e = { type: mem.readU8(o + 1), flags: mem.readU16(o + 2), bus: mem.readU8(o + 4), irq: mem.readU8(o + 5), apic: mem.readU8(o + 6) };
        if (type === 3) p.ioInts.push({ ...e, pin: mem.readU8(o + 7) });
        else p.localInts.push({ ...e, lint: mem.readU8(o + 7) });
        o += 8;
        break;
      }
      default:
        assert.fail(`unknown entry type ${type}`);
    }
  }
  assert.equal(o - ct, baseLen, 'entries fill the base table exactly');
  return p;
}

function ram(): GuestRam {
  return GuestRam.allocate([{ gpa: 0, size: 1024 * 1024 }]);
}

test('4 vCPUs: processors, ISA bus, IOAPIC, ISA IRQ routing with IRQ0 → pin 2, LINT0/LINT1', () => {
  const mem = ram();
  const info = writeMpTable(mem, { cpus: 4 });
  // Linux scans 639K-640K (the last KiB of base memory) for the floating pointer.
  const p = parse(mem, 639 * 1024, 1024);
  assert.equal(p.fpAddr, MP_TABLE_ADDR);
  assert.equal(info.floatingPointer, MP_TABLE_ADDR);
  assert.equal(p.specRev, 4);
  assert.equal(p.feature1, 0, 'configuration table present (no default configuration)');
  assert.equal(p.feature2 & 0x80, 0, 'virtual wire mode');
  assert.equal(p.lapic, 0xfee00000);
  assert.deepEqual(
    p.cpus.map((c) => [c.apicId, c.enabled, c.bsp]),
    [[0, true, true], [1, true, false], [2, true, false], [3, true, false]],
  );
  assert.ok(p.cpus.every((c) => c.version === 0x14 && (c.features & (1 << 9)) !== 0), 'integrated APIC, CPUID APIC bit');
  assert.deepEqual(p.buses, [{ id: 0, type: 'ISA   ' }]);
  assert.deepEqual(p.ioapics, [{ id: 4, version: 0x20, enabled: true, addr: 0xfec00000 }]);
  const routing = new Map(p.ioInts.map((e) => [e.irq, e.pin]));
  assert.equal(routing.get(0), 2, 'IRQ0 → pin 2');
  assert.equal(routing.has(2), false, 'no entry for the cascade IRQ 2');
  for (const irq of [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]) assert.equal(routing.get(irq), irq);
  assert.ok(p.ioInts.every((e) => e.type === 0 && e.flags === 0 && e.bus === 0 && e.apic === 4));
  assert.deepEqual(
    p.localInts.map((e) => [e.type, e.apic, e.lint]),
    [[3, 0xff, 0], [1, 0xff, 1]],
  );
  assert.equal(info.entries, 4 + 1 + 1 + 15 + 2);
});

test('1 and 64 vCPUs, extra level-triggered interrupts, custom IOAPIC id/version', () => {
  const mem = ram();
  writeMpTable(mem, { cpus: 1, ioApicVersion: 0x11 });
  const p1 = parse(mem, 639 * 1024, 1024);
  assert.equal(p1.cpus.length, 1);
  assert.equal(p1.ioapics[0]!.version, 0x11);
  assert.equal(p1.ioapics[0]!.id, 1);

  const mem2 = ram();
  writeMpTable(mem2, { cpus: 64, extraInterrupts: [{ irq: 16, pin: 16, trigger: 'level', polarity: 'low' }] });
  const p = parse(mem2, 639 * 1024, 1024);
  assert.equal(p.cpus.length, 64);
  assert.equal(p.cpus[63]!.apicId, 63);
  assert.equal(p.ioapics[0]!.id, 15, 'IOAPIC ID capped to its 4-bit register');
  const extra = p.ioInts.find((e) => e.irq === 16)!;
  assert.equal(extra.flags, 0b1111, 'EL=11 level, PO=11 active low');
});

test('bad vCPU counts and a table past its limit are rejected with a clear error', () => {
  assert.throws(() => writeMpTable(ram(), { cpus: 0 }), /outside 1\.\.254/);
  assert.throws(() => writeMpTable(ram(), { cpus: 255 }), /outside 1\.\.254/);
  assert.throws(() => writeMpTable(ram(), { cpus: 8, limit: MP_TABLE_ADDR + 64 }), /past the limit/);
  assert.throws(() => writeMpTable(ram(), { cpus: 1, address: 0x9fc08 }), /aligned/);
});
