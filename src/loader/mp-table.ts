/**
 * Intel MultiProcessor Specification 1.4 tables (May 1997), written into guest
 * RAM so Linux (CONFIG_X86_MPPARSE) finds the vCPUs, the IOAPIC and the ISA
 * interrupt routing without ACPI.
 *
 * Layout at `address` (default MP_TABLE_ADDR = 0x9FC00, the last KiB of base
 * memory, which Linux's default_find_smp_config scans):
 *   MP floating pointer structure (16 bytes, "_MP_", spec 4.1), immediately
 *   followed by the MP configuration table ("PCMP" header, spec 4.2, then the
 *   base entries in the order the spec requires, 4.3):
 *   - one processor entry per vCPU (APIC ID = vCPU index; vCPU 0 is the BSP),
 *   - bus entry 0 "ISA   ",
 *   - one I/O APIC entry (enabled, at IOAPIC_BASE),
 *   - I/O interrupt assignments for ISA IRQs 0-15: IRQ n → IOAPIC pin n, except
 *     IRQ 0 → pin 2 (the PIT is wired to pin 2 on PCs; IRQ 2 is the cascade and
 *     gets no entry), polarity and trigger "conform to bus" (ISA: active high,
 *     edge); `extraInterrupts` add more (e.g. virtio-mmio lines),
 *   - local interrupt assignments: ExtINT → LINT0 and NMI → LINT1 of every LAPIC.
 * Both checksums make their structure's bytes sum to 0 (mod 256).
 */
import type { GuestMemory } from '../memory/guest-memory.ts';
import { IOAPIC_BASE, LAPIC_BASE } from '../memory/layout.ts';
import { HostError } from '../errors.ts';
import { MP_TABLE_ADDR, MP_TABLE_END } from './boot-layout.ts';

export const MP_SPEC_REV_1_4 = 4;
/** Local APIC version of an integrated (Pentium 4 / P6 family and later) APIC, as Firecracker and libkrun report it. */
export const MP_LAPIC_VERSION = 0x14;
/** APIC IDs are 8 bits and 0xFF addresses all CPUs. */
export const MP_MAX_CPUS = 254;

const FLOATING_SIZE = 16;
const HEADER_SIZE = 44;
const PROCESSOR_ENTRY_SIZE = 20;
const SMALL_ENTRY_SIZE = 8;

export const MpEntryType = { Processor: 0, Bus: 1, IoApic: 2, IoInterrupt: 3, LocalInterrupt: 4 } as const;
export const MpInterruptType = { Int: 0, Nmi: 1, Smi: 2, ExtInt: 3 } as const;

export interface MpExtraInterrupt {
  /** Source IRQ on the ISA bus. */
  irq: number;
  /** IOAPIC input pin. */
  pin: number;
  trigger?: 'conform' | 'edge' | 'level';
  polarity?: 'conform' | 'high' | 'low';
}

export interface MpTableOptions {
  cpus: number;
  /** Where the floating pointer goes (16-byte aligned). */
  address?: number;
  /** The table must end below this address. */
  limit?: number;
  /** IOAPIC ID (4 bits, must match the IoApic device). Default: cpus, capped at 15. */
  ioApicId?: number;
  ioApicVersion?: number;
  ioApicAddress?: number;
  lapicAddress?: number;
  /** CPUID.1 EAX (family/model/stepping) for the processor entries. Default 0x600 (family 6). */
  cpuSignature?: number;
  /** CPUID.1 EDX feature flags for the processor entries. Default FPU | APIC. */
  cpuFeatures?: number;
  extraInterrupts?: readonly MpExtraInterrupt[];
}

export interface MpTableInfo {
  floatingPointer: number;
  configTable: number;
  /** Bytes written in total (floating pointer + configuration table). */
  size: number;
  entries: number;
}

export function mpTableSize(cpus: number, extraInterrupts = 0): number {
  return FLOATING_SIZE + HEADER_SIZE + cpus * PROCESSOR_ENTRY_SIZE + SMALL_ENTRY_SIZE * (1 + 1 + 15 + extraInterrupts + 2);
}

/** Default IOAPIC ID for a machine with `cpus` vCPUs: the first ID after the CPUs, within the register's 4 bits. */
export function defaultIoApicId(cpus: number): number {
  return Math.min(cpus, 0x0f);
}

/** Builds the MP floating pointer and configuration table and writes them into guest RAM. */
export function writeMpTable(mem: GuestMemory, options: MpTableOptions): MpTableInfo {
  const cpus = options.cpus;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MP_MAX_CPUS) {
    throw new HostError(`MP table: ${cpus} vCPUs is outside 1..${MP_MAX_CPUS}`, { hint: 'use between 1 and 254 vCPUs' });
  }
  const address = options.address ?? MP_TABLE_ADDR;
  const limit = options.limit ?? MP_TABLE_END;
  const extra = options.extraInterrupts ?? [];
  const ioApicId = options.ioApicId ?? defaultIoApicId(cpus);
  const size = mpTableSize(cpus, extra.length);
  if (address % 16 !== 0) throw new HostError(`MP table: address 0x${address.toString(16)} is not 16-byte aligned`);
  if (address + size > limit) {
    throw new HostError(`MP table for ${cpus} vCPUs needs ${size} bytes at 0x${address.toString(16)}, past the limit 0x${limit.toString(16)}`);
  }

  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  const configAddr = address + FLOATING_SIZE;

  // --- floating pointer (spec 4.1, Table 4-1) ---
  ascii(buf, 0, '_MP_');
  dv.setUint32(4, configAddr, true); // PHYSICAL ADDRESS POINTER
  buf[8] = 1; // LENGTH in 16-byte paragraphs
  buf[9] = MP_SPEC_REV_1_4;
  // [10] checksum, [11] feature 1 = 0 (a configuration table is present),
  // [12] feature 2 = 0 (IMCRP clear: virtual wire mode, no IMCR), [13..15] reserved
  buf[10] = checksum(buf, 0, FLOATING_SIZE);

  // --- configuration table header (spec 4.2, Table 4-2) ---
  const h = FLOATING_SIZE;
  ascii(buf, h, 'PCMP');
  const baseLength = size - FLOATING_SIZE;
  dv.setUint16(h + 4, baseLength, true);
  buf[h + 6] = MP_SPEC_REV_1_4;
  ascii(buf, h + 8, 'KRUNWHP '); // OEM ID, 8 bytes
  ascii(buf, h + 16, 'KRUN-WHP    '); // PRODUCT ID, 12 bytes
  // OEM table pointer / size = 0
  let entries = 0;
  dv.setUint32(h + 36, options.lapicAddress ?? LAPIC_BASE, true);
  // extended table length / checksum = 0

  let o = h + HEADER_SIZE;
  // Processor entries (Table 4-4)
  for (let i = 0; i < cpus; i++) {
    buf[o] = MpEntryType.Processor;
    buf[o + 1] = i; // local APIC ID = vCPU index
    buf[o + 2] = MP_LAPIC_VERSION;
    buf[o + 3] = 0x01 | (i === 0 ? 0x02 : 0); // EN, BP
    dv.setUint32(o + 4, options.cpuSignature ?? 0x600, true);
    dv.setUint32(o + 8, options.cpuFeatures ?? ((1 << 0) | (1 << 9)), true); // FPU, APIC
    o += PROCESSOR_ENTRY_SIZE;
    entries++;
  }
  // Bus entry (Table 4-7)
  buf[o] = MpEntryType.Bus;
  buf[o + 1] = 0;
  ascii(buf, o + 2, 'ISA   ');
  o += SMALL_ENTRY_SIZE;
  entries++;
  // I/O APIC entry (Table 4-9)
  buf[o] = MpEntryType.IoApic;
  buf[o + 1] = ioApicId;
  buf[o + 2] = options.ioApicVersion ?? 0x20;
  buf[o + 3] = 0x01; // EN
  dv.setUint32(o + 4, options.ioApicAddress ?? IOAPIC_BASE, true);
  o += SMALL_ENTRY_SIZE;
  entries++;
  // I/O interrupt assignments (Table 4-10)
  const ioInt = (irq: number, pin: number, flags: number) => {
    buf[o] = MpEntryType.IoInterrupt;
    buf[o + 1] = MpInterruptType.Int;
    dv.setUint16(o + 2, flags, true);
    buf[o + 4] = 0; // source bus: ISA
    buf[o + 5] = irq;
    buf[o + 6] = ioApicId;
    buf[o + 7] = pin;
    o += SMALL_ENTRY_SIZE;
    entries++;
  };
  for (let irq = 0; irq < 16; irq++) {
    if (irq === 2) continue; // cascade; pin 2 carries IRQ 0
    ioInt(irq, irq === 0 ? 2 : irq, 0);
  }
  for (const e of extra) ioInt(e.irq, e.pin, intFlags(e));
  // Local interrupt assignments (Table 4-12): ExtINT → LINT0, NMI → LINT1, all LAPICs
  for (const [type, lint] of [[MpInterruptType.ExtInt, 0], [MpInterruptType.Nmi, 1]] as const) {
    buf[o] = MpEntryType.LocalInterrupt;
    buf[o + 1] = type;
    dv.setUint16(o + 2, 0, true);
    buf[o + 4] = 0;
    buf[o + 5] = 0;
    buf[o + 6] = 0xff; // all local APICs
    buf[o + 7] = lint;
    o += SMALL_ENTRY_SIZE;
    entries++;
  }
  dv.setUint16(h + 34, entries, true);
  buf[h + 7] = checksum(buf, h, baseLength);

  mem.write(address, buf);
  return { floatingPointer: address, configTable: configAddr, size, entries };
}

/** PO (bits 1:0) and EL (bits 3:2) of an interrupt entry: 00 conform, 01 high/edge, 11 low/level. */
function intFlags(e: MpExtraInterrupt): number {
  const po = e.polarity === 'high' ? 1 : e.polarity === 'low' ? 3 : 0;
  const el = e.trigger === 'edge' ? 1 : e.trigger === 'level' ? 3 : 0;
  return po | (el << 2);
}

function ascii(buf: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
}

/** The byte that makes buf[start, start+len) sum to 0 mod 256 (its own slot must be 0 when called). */
function checksum(buf: Uint8Array, start: number, len: number): number {
  let sum = 0;
  for (let i = start; i < start + len; i++) sum = (sum + buf[i]!) & 0xff;
  return (0x100 - sum) & 0xff;
}
