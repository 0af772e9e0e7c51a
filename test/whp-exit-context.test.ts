/**
 * Exit-context decoding against byte layouts made by the MinGW compiler from
 * winhvplatformdefs.h (test/fixtures/whp/exit-context-samples.c): the header
 * places every byte; we check that ExitDecoder reads back what the C wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitDecoder, EXIT_CONTEXT_SIZE, exitReasonName, u64ToBigInt } from '../src/whp/exit-context.ts';
import type { WhpExit } from '../src/whp/exit-context.ts';
import { loadExitContextSamples } from './helpers/exit-context-samples.ts';

const { samples, skipReason } = loadExitContextSamples();

/** Decodes one sample through a decoder over a fresh 224-byte buffer (as a vCPU would own). */
function decode(name: string): WhpExit {
  const bytes = samples.get(name);
  assert.ok(bytes, `sample ${name} compiled`);
  const buf = new Uint8Array(EXIT_CONTEXT_SIZE);
  buf.set(bytes);
  return new ExitDecoder(buf).decode();
}

function sampleTest(title: string, fn: () => void): void {
  test(title, (t) => {
    if (skipReason) return t.skip(skipReason);
    fn();
  });
}

sampleTest('IO port OUT: port, size, direction, RAX, VP context (CPL, CR8, long mode, RIP above 2^63)', () => {
  const e = decode('io_out');
  assert.equal(e.kind, 'io');
  if (e.kind !== 'io') return;
  assert.equal(e.port, 0x3f8);
  assert.equal(e.size, 1);
  assert.equal(e.isWrite, true);
  assert.equal(e.stringOp, false);
  assert.equal(e.rep, false);
  assert.equal(u64ToBigInt(e.rax), 0x1234567800000041n);
  assert.equal(e.rax.lo & 0xff, 0x41);
  assert.equal(e.instructionByteCount, 1);
  assert.equal(e.instructionBytes[0], 0xee);
  assert.equal(e.vp.instructionLength, 1);
  assert.equal(e.vp.cr8, 3);
  assert.equal(e.vp.cpl, 0);
  assert.equal(e.vp.cr0Pe, true);
  assert.equal(e.vp.eferLma, true);
  assert.equal(e.vp.interruptShadow, true);
  assert.equal(e.vp.interruptionPending, false);
  assert.equal(u64ToBigInt(e.vp.rip), 0xffffffff81000123n);
  assert.equal(e.vp.rflags.lo, 0x246);
  assert.equal(e.vp.cs.selector, 0x10);
  assert.equal(e.vp.cs.attributes, 0xa09b);
  assert.equal(e.vp.cs.limit, 0xffffffff);
});

sampleTest('IO port IN of 4 bytes at CPL 3', () => {
  const e = decode('io_in');
  assert.equal(e.kind, 'io');
  if (e.kind !== 'io') return;
  assert.equal(e.port, 0xcfc);
  assert.equal(e.size, 4);
  assert.equal(e.isWrite, false);
  assert.equal(e.vp.cpl, 3);
  assert.equal(e.vp.eferLma, false);
  assert.equal(u64ToBigInt(e.vp.rip), 0x401000n);
});

sampleTest('string IO (rep outsb): RCX, RSI, RDI and the DS/ES segments', () => {
  const e = decode('io_rep_outsb');
  assert.equal(e.kind, 'io');
  if (e.kind !== 'io') return;
  assert.equal(e.stringOp, true);
  assert.equal(e.rep, true);
  assert.equal(e.port, 0x80);
  assert.equal(u64ToBigInt(e.rcx), 5n);
  assert.equal(u64ToBigInt(e.rsi), 0x7000n);
  assert.equal(u64ToBigInt(e.rdi), 0x8000n);
  assert.deepEqual({ sel: e.ds.selector, attr: e.ds.attributes, base: u64ToBigInt(e.ds.base), limit: e.ds.limit }, { sel: 0x18, attr: 0xc093, base: 0x1000n, limit: 0xfffff });
  assert.equal(e.es.selector, 0x20);
  assert.deepEqual([...e.instructionBytes.subarray(0, e.instructionByteCount)], [0xf3, 0x6e]);
  assert.equal(e.vp.instructionLength, 2);
});

sampleTest('memory access (MMIO write): GPA, GVA, access type and flags, instruction bytes', () => {
  const e = decode('mmio_write');
  assert.equal(e.kind, 'mmio');
  if (e.kind !== 'mmio') return;
  assert.equal(e.gpa, 0xfec00010);
  assert.equal(u64ToBigInt(e.gva), 0xffffc90000000010n);
  assert.equal(e.accessType, 1);
  assert.equal(e.gpaUnmapped, true);
  assert.equal(e.gvaValid, true);
  assert.deepEqual([...e.instructionBytes.subarray(0, e.instructionByteCount)], [0x89, 0x07]);
  assert.equal(u64ToBigInt(e.vp.rip), 0xffffffff81234567n);
});

sampleTest('memory access (read above 4 GiB): the GPA keeps its high half', () => {
  const e = decode('mmio_read_high');
  assert.equal(e.kind, 'mmio');
  if (e.kind !== 'mmio') return;
  assert.equal(e.gpa, 0x000ffffffffff000);
  assert.equal(e.accessType, 0);
  assert.equal(e.gpaUnmapped, false);
  assert.equal(e.gvaValid, false);
  assert.equal(e.vp.instructionLength, 3);
});

sampleTest('CPUID: leaf, subleaf and the default results (context order RAX, RCX, RDX, RBX)', () => {
  const e = decode('cpuid');
  assert.equal(e.kind, 'cpuid');
  if (e.kind !== 'cpuid') return;
  assert.equal(e.leaf, 0x40000000);
  assert.equal(e.subleaf, 0);
  assert.equal(e.defaultEax, 0x40000006);
  assert.equal(e.defaultEbx, 0x7263694d);
  assert.equal(e.defaultEcx, 0x65766e20);
  assert.equal(e.defaultEdx, 0x53207648);
});

sampleTest('MSR read and write: number, direction, EDX:EAX', () => {
  const r = decode('msr_read');
  assert.equal(r.kind, 'msr');
  if (r.kind === 'msr') {
    assert.equal(r.msr, 0x40000022);
    assert.equal(r.isWrite, false);
  }
  const w = decode('msr_write');
  assert.equal(w.kind, 'msr');
  if (w.kind === 'msr') {
    assert.equal(w.msr, 0xc0000080);
    assert.equal(w.isWrite, true);
    assert.equal(w.eax, 0xd01);
    assert.equal(w.edx, 1);
  }
});

sampleTest('exception exit (#PF): vector, error code, CR2, flags', () => {
  const e = decode('exception_pf');
  assert.equal(e.kind, 'exception');
  if (e.kind !== 'exception') return;
  assert.equal(e.vector, 14);
  assert.equal(e.errorCodeValid, true);
  assert.equal(e.softwareException, false);
  assert.equal(e.errorCode, 2);
  assert.equal(u64ToBigInt(e.parameter), 0xffff888000001000n);
  assert.equal(e.vp.interruptionPending, true);
  assert.equal(e.instructionByteCount, 3);
});

sampleTest('unrecoverable exception, halt: only the VP context', () => {
  const u = decode('unrecoverable');
  assert.equal(u.kind, 'unrecoverableException');
  assert.equal(u64ToBigInt(u.vp.rip), 0xdeadn);
  assert.equal(u.vp.rflags.lo, 0x10002);
  const h = decode('halt');
  assert.equal(h.kind, 'halt');
  assert.equal(u64ToBigInt(h.vp.rip), 0xffffffff81e00000n);
  assert.equal(h.vp.instructionLength, 1);
});

sampleTest('interrupt window (NMI deliverable), canceled (user), APIC EOI, unsupported feature, APIC write', () => {
  const w = decode('interrupt_window');
  assert.equal(w.kind, 'interruptWindow');
  if (w.kind === 'interruptWindow') assert.equal(w.deliverableType, 2);
  const c = decode('canceled');
  assert.equal(c.kind, 'canceled');
  if (c.kind === 'canceled') assert.equal(c.cancelReason, 0);
  assert.equal(u64ToBigInt(c.vp.rip), 0x4444n);
  const eoi = decode('apic_eoi');
  assert.equal(eoi.kind, 'apicEoi');
  if (eoi.kind === 'apicEoi') assert.equal(eoi.vector, 0x31);
  const u = decode('unsupported');
  assert.equal(u.kind, 'unsupportedFeature');
  if (u.kind === 'unsupportedFeature') {
    assert.equal(u.featureCode, 2);
    assert.equal(u64ToBigInt(u.featureParameter), 0x123456789abcn);
  }
  const aw = decode('apic_write');
  assert.equal(aw.kind, 'apicWrite');
  if (aw.kind === 'apicWrite') {
    assert.equal(aw.register, 0x360);
    assert.equal(u64ToBigInt(aw.value), 0x400n);
  }
});

test('one decoder reuses its exit objects (no allocation per exit) and names reasons', (t) => {
  if (skipReason) return t.skip(skipReason);
  const buf = new Uint8Array(EXIT_CONTEXT_SIZE);
  const d = new ExitDecoder(buf);
  buf.set(samples.get('io_out')!);
  const first = d.decode();
  buf.set(samples.get('io_in')!);
  const second = d.decode();
  assert.equal(first, second, 'the same IoPortExit object is refilled');
  assert.equal(second.kind === 'io' && second.port, 0xcfc);
  assert.equal(exitReasonName(0x2001), 'Canceled');
  assert.equal(exitReasonName(0x1234), '0x1234');
  assert.throws(() => new ExitDecoder(new Uint8Array(100)), /224/);
});
