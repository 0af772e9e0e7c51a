/**
 * The boot GDT and the matching segment-register caches.
 *
 * Documentation/x86/boot.rst ("64-bit Boot Protocol"): "a GDT must be loaded with
 * the descriptors for selectors __BOOT_CS(0x10) and __BOOT_DS(0x18); both
 * descriptors must be 4G flat segment; __BOOT_CS must have execute/read
 * permission, and __BOOT_DS must have read/write permission; CS must be __BOOT_CS
 * and DS, ES, SS must be __BOOT_DS". We follow the document's selectors (Firecracker
 * uses 0x08/0x10, which works only because Linux reloads its own GDT first thing).
 *
 * Slots: 0 null, 1 null (0x08 unused), 2 __BOOT_CS 64-bit code, 3 __BOOT_DS data,
 * 4–5 a 16-byte 64-bit TSS descriptor (TR must be a busy TSS in IA-32e mode for VM
 * entry: Intel SDM Vol. 3C 26.3.1.2). Descriptor formats: Intel SDM Vol. 3A 3.4.5
 * (Figure 3-8) and 8.2.3 (Figure 8-4, 64-bit TSS descriptor).
 */
import { BOOT_CS_SELECTOR, BOOT_DS_SELECTOR, BOOT_TSS_SELECTOR, GDT_ADDR, TSS_ADDR, TSS_SIZE } from './boot-layout.ts';
import { packAttributes, type SegmentRegister, type TableRegister } from './cpu-state.ts';

/** Code segment, execute/read, accessed (type 0xB). */
const TYPE_CODE_XRA = 0xb;
/** Data segment, read/write, accessed (type 0x3). */
const TYPE_DATA_RWA = 0x3;
/** System descriptor type 0xB: 64-bit TSS (busy). */
const TYPE_TSS64_BUSY = 0xb;
/** System descriptor type 0x2: LDT. */
const TYPE_LDT = 0x2;

export const GDT_ENTRIES = 6;

type Fields = Omit<SegmentRegister, 'attributes'>;

function segment(f: Fields): SegmentRegister {
  return { ...f, attributes: packAttributes(f) };
}

/** The flat 64-bit code segment (__BOOT_CS). */
export function bootCodeSegment(): SegmentRegister {
  return segment({
    selector: BOOT_CS_SELECTOR, base: 0, limit: 0xffff_ffff, type: TYPE_CODE_XRA,
    s: true, dpl: 0, present: true, avl: false, long: true, db: false, granularity: true,
  });
}

/** The flat read/write data segment (__BOOT_DS). */
export function bootDataSegment(): SegmentRegister {
  return segment({
    selector: BOOT_DS_SELECTOR, base: 0, limit: 0xffff_ffff, type: TYPE_DATA_RWA,
    s: true, dpl: 0, present: true, avl: false, long: false, db: true, granularity: true,
  });
}

/** TR: the zeroed TSS at TSS_ADDR, busy, as if LTR had loaded it. */
export function bootTaskSegment(): SegmentRegister {
  return segment({
    selector: BOOT_TSS_SELECTOR, base: TSS_ADDR, limit: TSS_SIZE - 1, type: TYPE_TSS64_BUSY,
    s: false, dpl: 0, present: true, avl: false, long: false, db: false, granularity: false,
  });
}

/** LDTR: null selector, marked not present (VMX "unusable"); Linux never uses an LDT at boot. */
export function bootLdtSegment(): SegmentRegister {
  return segment({
    selector: 0, base: 0, limit: 0, type: TYPE_LDT,
    s: false, dpl: 0, present: false, avl: false, long: false, db: false, granularity: false,
  });
}

/** Encodes an 8-byte code/data descriptor (Intel SDM Vol. 3A Figure 3-8) into `out` at `offset`. */
function writeDescriptor(dv: DataView, offset: number, seg: SegmentRegister): void {
  const rawLimit = seg.granularity ? Math.floor(seg.limit / 4096) : seg.limit; // 20 bits
  const access = seg.attributes & 0xff; // type, S, DPL, P
  const flags = (seg.attributes >> 12) & 0xf; // AVL, L, D/B, G
  dv.setUint16(offset, rawLimit & 0xffff, true);
  dv.setUint16(offset + 2, seg.base & 0xffff, true);
  dv.setUint8(offset + 4, (seg.base >>> 16) & 0xff);
  dv.setUint8(offset + 5, access);
  dv.setUint8(offset + 6, (flags << 4) | ((rawLimit >>> 16) & 0xf));
  dv.setUint8(offset + 7, (seg.base >>> 24) & 0xff);
}

/** The GDT bytes (GDT_ENTRIES × 8). */
export function buildGdt(): Uint8Array {
  const bytes = new Uint8Array(GDT_ENTRIES * 8);
  const dv = new DataView(bytes.buffer);
  writeDescriptor(dv, BOOT_CS_SELECTOR, bootCodeSegment());
  writeDescriptor(dv, BOOT_DS_SELECTOR, bootDataSegment());
  // A 64-bit system descriptor is 16 bytes: the low 8 as above, then base[63:32] and zeros.
  const tss = bootTaskSegment();
  writeDescriptor(dv, BOOT_TSS_SELECTOR, tss);
  dv.setUint32(BOOT_TSS_SELECTOR + 8, Math.floor(tss.base / 2 ** 32), true);
  return bytes;
}

export function bootGdtr(): TableRegister {
  return { base: GDT_ADDR, limit: GDT_ENTRIES * 8 - 1 };
}

/**
 * IDTR: empty (limit 0). Interrupts are off and Linux installs its own IDT before it
 * enables them; an exception before that escalates to a triple fault, which every
 * backend reports as a clean "guest shutdown" instead of running garbage handlers.
 */
export function bootIdtr(): TableRegister {
  return { base: 0, limit: 0 };
}
