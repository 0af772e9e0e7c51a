/**
 * The 64-bit entry state: page tables checked entry by entry against the IA-32e
 * paging formats (Intel SDM Vol. 3A 4.5, Tables 4-15/4-17/4-18) plus an independent
 * 4-level page walk over guest memory; the GDT descriptors decoded per SDM 3.4.5 and
 * 8.2.3; the registers against boot.rst "64-bit Boot Protocol".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBoot, applyBootPlan } from '../src/loader/boot-plan.ts';
import { GuestRam } from '../src/memory/guest-memory.ts';
import { ramLayout, MIB, GIB } from '../src/memory/layout.ts';
import { syntheticBzImage, syntheticVmlinux } from './helpers/kernels.ts';

const MEM = 64 * MIB;
const plan = planBoot(syntheticBzImage(), { memoryBytes: MEM, initrd: new Uint8Array(8192).fill(3) });
const mem = GuestRam.allocate(ramLayout(MEM));
applyBootPlan(plan, mem);
const cpu = plan.cpu;

const bit = (v: bigint, n: number) => (v >> BigInt(n)) & 1n;
/** Bits 51:12 of an entry: the next table's (or 4 KiB page's) physical address. */
const addr4k = (e: bigint) => Number(e & 0x000f_ffff_ffff_f000n);

/** Linear → physical with CR3 and 4-level paging (SDM 4.5.4). Returns null when not present. */
function walk(linear: number): number | null {
  const la = BigInt(linear);
  const idx = (shift: number) => Number((la >> BigInt(shift)) & 0x1ffn);
  const pml4e = mem.readU64((cpu.cr3 & ~0xfff) + idx(39) * 8);
  if (!bit(pml4e, 0)) return null;
  const pdpte = mem.readU64(addr4k(pml4e) + idx(30) * 8);
  if (!bit(pdpte, 0)) return null;
  if (bit(pdpte, 7)) return Number(pdpte & 0x000f_ffff_c000_0000n) + (linear % GIB); // 1 GiB page
  const pde = mem.readU64(addr4k(pdpte) + idx(21) * 8);
  if (!bit(pde, 0)) return null;
  if (bit(pde, 7)) return Number(pde & 0x000f_ffff_ffe0_0000n) + (linear % (2 * MIB)); // 2 MiB page
  const pte = mem.readU64(addr4k(pde) + idx(12) * 8);
  if (!bit(pte, 0)) return null;
  return addr4k(pte) + (linear % 4096);
}

test('CR3 points at a PML4 whose first entry is present, writable, supervisor', () => {
  assert.equal(cpu.cr3 % 4096, 0, 'CR3 page aligned (SDM 4.5.2: bits 11:0 are flags/ignored)');
  const pml4e = mem.readU64(cpu.cr3);
  assert.equal(bit(pml4e, 0), 1n, 'P');
  assert.equal(bit(pml4e, 1), 1n, 'R/W');
  assert.equal(bit(pml4e, 2), 0n, 'U/S clear: supervisor only');
  assert.equal(bit(pml4e, 7), 0n, 'PS is reserved (must be 0) in a PML4E');
  assert.equal(pml4e >> 52n, 0n, 'no high flags (XD clear; bits 62:52 ignored)');
  for (let i = 1; i < 512; i++) assert.equal(mem.readU64(cpu.cr3 + i * 8), 0n, `PML4[${i}] not present`);
});

test('PDPT maps 4 GiB through page directories of 2 MiB pages', () => {
  const pdpt = addr4k(mem.readU64(cpu.cr3));
  for (let g = 0; g < 4; g++) {
    const pdpte = mem.readU64(pdpt + g * 8);
    assert.equal(bit(pdpte, 0), 1n);
    assert.equal(bit(pdpte, 1), 1n);
    assert.equal(bit(pdpte, 7), 0n, 'PDPTE.PS = 0: references a page directory');
    const pd = addr4k(pdpte);
    for (let i = 0; i < 512; i++) {
      const pde = mem.readU64(pd + i * 8);
      assert.equal(pde & 0xfffn, 0x83n, `PD${g}[${i}] = P | R/W | PS`);
      assert.equal(Number(pde & ~0xfffn), (g * 512 + i) * 2 * MIB, `PD${g}[${i}] frame`);
    }
  }
  for (let g = 4; g < 512; g++) assert.equal(mem.readU64(pdpt + g * 8), 0n, `PDPT[${g}] not present`);
});

test('an independent page walk translates every boot address to itself', () => {
  const samples = [
    0, 0x500, cpu.rsi, cpu.rsi + 0xfff, cpu.rsp, plan.layout.cmdline.addr,
    plan.layout.kernel.addr, cpu.rip, plan.layout.kernelFootprint.addr + plan.layout.kernelFootprint.size - 1,
    plan.layout.initrd!.addr, 0x9fc00, 0xfec00000, 0xfee00000, 4 * GIB - 1, 0x12345678,
  ];
  for (const a of samples) assert.equal(walk(a), a, `0x${a.toString(16)}`);
  assert.equal(walk(4 * GIB), null, '4 GiB is not mapped');
  assert.equal(walk(512 * GIB), null);
});

test('GDT holds __BOOT_CS (0x10) 64-bit flat code and __BOOT_DS (0x18) flat data', () => {
  assert.equal(cpu.gdtr.limit + 1, 48);
  const desc = (sel: number) => mem.readU64(cpu.gdtr.base + sel);
  assert.equal(desc(0x00), 0n, 'null descriptor');
  // SDM Figure 3-8: limit 0xFFFFF, G=1, base 0; code: type 0xB, S=1, P=1, L=1, D=0.
  assert.equal(desc(0x10), 0x00af9b000000ffffn);
  // data: type 0x3 (read/write, accessed), S=1, P=1, D/B=1, G=1.
  assert.equal(desc(0x18), 0x00cf93000000ffffn);
  // 64-bit busy TSS (SDM Figure 8-4): 16 bytes, type 0xB, S=0, P=1, limit 0x67, base = TR.base.
  const lo = desc(0x20);
  const hi = desc(0x28);
  assert.equal(Number(lo & 0xffffn), 0x67);
  assert.equal(Number((lo >> 40n) & 0xffn), 0x8b);
  const base = Number(((lo >> 16n) & 0xffffffn) | (((lo >> 56n) & 0xffn) << 24n)) + Number(hi & 0xffffffffn) * 2 ** 32;
  assert.equal(base, cpu.tr.base);
});

test('registers follow the 64-bit boot protocol', () => {
  assert.equal(cpu.rip, plan.layout.kernel.addr + 0x200, 'entry = load address + 0x200');
  assert.deepEqual(mem.view(cpu.rip, 4), new Uint8Array([0xde, 0xad, 0xbe, 0xef]), 'the bytes at +0x200 of the protected-mode code');
  assert.equal(cpu.rsi, plan.layout.zeroPage.addr, 'RSI = boot_params');
  assert.equal(cpu.rflags, 0x2, 'IF clear, reserved bit 1 set');
  assert.equal(cpu.cr0 & 1, 1, 'CR0.PE');
  assert.equal(cpu.cr0 >>> 31, 1, 'CR0.PG');
  assert.equal(cpu.cr4 & (1 << 5), 1 << 5, 'CR4.PAE');
  assert.equal(cpu.efer & 0x500, 0x500, 'EFER.LME | EFER.LMA');
  assert.equal(cpu.cs.selector, 0x10);
  for (const s of [cpu.ds, cpu.es, cpu.ss]) assert.equal(s.selector, 0x18);
  assert.equal(cpu.cs.long, true);
  assert.equal(cpu.cs.db, false, 'L=1 requires D=0');
  // VMX/WHP access-rights words: code 0xA09B, data 0xC093, busy TSS 0x008B.
  assert.equal(cpu.cs.attributes, 0xa09b);
  assert.equal(cpu.ds.attributes, 0xc093);
  assert.equal(cpu.tr.attributes, 0x008b);
  assert.equal(cpu.cs.limit, 0xffffffff);
  assert.equal(cpu.ldtr.present, false);
});

test('ELF entry: a virtual e_entry is translated to its physical address; .bss is zeroed', () => {
  const p = planBoot(syntheticVmlinux(), { memoryBytes: 32 * MIB });
  const m = GuestRam.allocate(ramLayout(32 * MIB));
  m.fill(0x1004000, 0x3000, 0xcc); // dirty memory where .bss goes
  applyBootPlan(p, m);
  assert.equal(p.cpu.rip, 0x1000000);
  assert.equal(m.readU8(0x1000000), 0xf4);
  assert.equal(m.readU8(0x1004000), 0xaa, 'data');
  assert.equal(m.readU8(0x1005000), 0, '.bss zeroed');
  assert.equal(m.readU8(0x1006fff), 0, '.bss zeroed to p_memsz');
});
