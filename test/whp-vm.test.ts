/**
 * WhpVm / WhpVcpu call sequencing and encoding, against RecordingWhpApi (a JS
 * TEST DOUBLE of WinHvPlatform.dll: it proves our order of calls, the bytes we
 * pass and our error mapping — not hypervisor behaviour, which needs Windows).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhpVm, encodeInterruptControl, packBits } from '../src/whp/whp-vm.ts';
import type { WhpVmConfig } from '../src/whp/whp-vm.ts';
import { WhpVcpu } from '../src/whp/whp-vcpu.ts';
import { whpRegistry as reg } from '../src/whp/whp-decls.ts';
import { HypervisorAbsentError, WhpCallError } from '../src/whp/whp-errors.ts';
import { HostError } from '../src/errors.ts';
import { RecordingWhpApi, fakeAllocator } from './helpers/whp-recording-api.ts';

const config: WhpVmConfig = {
  processorCount: 2,
  localApic: 'xapic',
  exits: { cpuid: true, msr: true },
  cpuidExitLeaves: [0x1, 0xb],
  cpuidResults: [{ leaf: 0x40000000, eax: 0x40000006, ebx: 0x7263694d, ecx: 0x666f736f, edx: 0x76482074 }],
  syntheticFeatures: { hv1: true, hypercalls: true, vpIndex: true, referenceTsc: true, frequencyMsrs: true, vpRuntime: false },
};

const propCode = (c: string) => reg.constant(`WHvPartitionPropertyCode${c}`);

test('create: properties are set in order, with header-encoded bytes, before WHvSetupPartition', () => {
  const api = new RecordingWhpApi();
  const vm = WhpVm.create({ api }, config);
  const sets = api.calls.filter((c) => c.fn === 'WHvSetPartitionProperty');
  assert.deepEqual(
    sets.map((c) => c.args[1]),
    ['ProcessorCount', 'LocalApicEmulationMode', 'ExtendedVmExits', 'CpuidExitList', 'CpuidResultList', 'SyntheticProcessorFeaturesBanks'].map(propCode),
  );
  const names = api.names();
  assert.equal(names[0], 'WHvGetCapability', 'HypervisorPresent is asked first');
  assert.equal(names[1], 'WHvCreatePartition');
  assert.ok(names.indexOf('WHvSetupPartition') > names.lastIndexOf('WHvSetPartitionProperty'));
  const dv = (i: number) => new DataView(sets[i]!.bytes!.buffer);
  assert.equal(dv(0).getUint32(0, true), 2);
  assert.equal(dv(1).getUint32(0, true), reg.constant('WHvX64LocalApicEmulationModeXApic'));
  assert.equal(dv(2).getBigUint64(0, true), 0b11n, 'X64CpuidExit (bit 0) | X64MsrExit (bit 1)');
  assert.deepEqual([...new Uint32Array(sets[3]!.bytes!.slice().buffer)], [0x1, 0xb]);
  assert.equal(sets[4]!.bytes!.byteLength, 32);
  assert.equal(dv(4).getUint32(0, true), 0x40000000);
  assert.equal(dv(4).getUint32(reg.offsetOf('WHV_X64_CPUID_RESULT', 'Ebx'), true), 0x7263694d);
  // Bank0 bits: HypervisorPresent 0, Hv1 1, PartitionReferenceCounter 3, HypercallRegs 7, VpIndex 8, ReferenceTsc 9, FrequencyRegs 11.
  assert.equal(dv(5).getUint32(0, true), 1, 'BanksCount');
  assert.equal(dv(5).getBigUint64(8, true), (1n << 0n) | (1n << 1n) | (1n << 3n) | (1n << 7n) | (1n << 8n) | (1n << 9n) | (1n << 11n));
  vm.dispose();
  assert.equal(api.names().at(-1), 'WHvDeletePartition');
});

test('a failing WHvSetupPartition deletes the partition and names the HRESULT', () => {
  const api = new RecordingWhpApi();
  api.results.set('WHvSetupPartition', 0x80370304 | 0);
  assert.throws(
    () => WhpVm.create({ api }, config),
    (err: unknown) => err instanceof WhpCallError && /WHvSetupPartition failed: WHV_E_INVALID_PARTITION_CONFIG \(0x80370304\)/.test(err.message),
  );
  assert.equal(api.names().at(-1), 'WHvDeletePartition');
});

test('a rejected property names the property and the HRESULT', () => {
  const api = new RecordingWhpApi();
  api.results.set('WHvSetPartitionProperty', 0x80070057 | 0);
  assert.throws(() => WhpVm.create({ api }, config), /WHvSetPartitionProperty \(ProcessorCount\) failed: E_INVALIDARG \(0x80070057\)/);
});

test('hypervisor not present → HypervisorAbsentError with the bcdedit hint, and no partition', () => {
  const api = new RecordingWhpApi();
  api.capabilities.set(reg.constant('WHvCapabilityCodeHypervisorPresent'), 0n);
  assert.throws(
    () => WhpVm.create({ api }, config),
    (err: unknown) => err instanceof HypervisorAbsentError && /bcdedit \/set hypervisorlaunchtype auto/.test(err.hint ?? '') && /firmware/.test(err.hint ?? ''),
  );
  assert.ok(!api.names().includes('WHvCreatePartition'));
});

test('map/unmap: page alignment is checked; dispose unmaps, deletes once, frees RAM; [Symbol.dispose] works', () => {
  const api = new RecordingWhpApi();
  const vm = WhpVm.create({ api }, config);
  const ram = fakeAllocator(api)(0x20000, 4096);
  vm.adoptRam(ram);
  vm.mapGpaRange(ram, 0x100000);
  const map = api.calls.find((c) => c.fn === 'WHvMapGpaRange')!;
  assert.deepEqual(map.args.slice(2), [0x100000n, 0x20000n, 0b111]);
  assert.throws(() => vm.mapGpaRange({ address: 0x1001n, bytes: new Uint8Array(4096) }, 0), HostError);
  vm[Symbol.dispose]();
  vm.dispose();
  assert.deepEqual(api.names().slice(-2), ['WHvUnmapGpaRange', 'WHvDeletePartition']);
  assert.equal(api.names().filter((n) => n === 'WHvDeletePartition').length, 1);
  assert.equal(ram.freed, true);
});

test('requestInterrupt encodes WHV_INTERRUPT_CONTROL (type, modes, destination, vector)', () => {
  const api = new RecordingWhpApi();
  const vm = WhpVm.create({ api }, config);
  vm.requestInterrupt({ vector: 0x31, destination: 1, triggerMode: 'level', destinationMode: 'logical', type: 'lowestPriority' });
  const bytes = api.calls.find((c) => c.fn === 'WHvRequestInterrupt')!.bytes!;
  const dv = new DataView(bytes.buffer);
  assert.equal(bytes.byteLength, 16);
  // Type bits 0-7 = 1, DestinationMode bits 8-11 = 1, TriggerMode bits 12-15 = 1.
  assert.equal(dv.getBigUint64(0, true), 0x1101n);
  assert.equal(dv.getUint32(8, true), 1);
  assert.equal(dv.getUint32(12, true), 0x31);
  assert.deepEqual(encodeInterruptControl({ vector: 2, destination: 0, type: 'nmi' }).subarray(0, 1), new Uint8Array([4]));
  assert.throws(() => packBits('WHV_INTERRUPT_CONTROL', { Type: 0x100 }), /8 bit/);
  vm.dispose();
});

test('WhpVcpu: run decodes the exit context the call filled; batches pass aligned name/value addresses', () => {
  const api = new RecordingWhpApi();
  const vm = WhpVm.create({ api }, config);
  const alloc = fakeAllocator(api);
  const vcpu = new WhpVcpu(api, vm.handle, 0, alloc);
  const ctx = new DataView(api.nextExit.buffer);
  ctx.setUint32(0, reg.constant('WHvRunVpExitReasonCanceled'), true);
  ctx.setBigUint64(reg.offsetOf('WHV_RUN_VP_EXIT_CONTEXT', 'VpContext.Rip'), 0xfff0n, true);
  const exit = vcpu.run();
  assert.equal(exit.kind, 'canceled');
  assert.equal(exit.vp.rip.lo, 0xfff0);
  const batch = vcpu.batch(['Rax', 'Rip', 'Rflags'] as const);
  vcpu.setRegisters(batch);
  const set = api.calls.find((c) => c.fn === 'WHvSetVirtualProcessorRegisters')!;
  assert.deepEqual(set.args.slice(2), [batch.namesAddress, 3, batch.valuesAddress]);
  assert.equal(batch.valuesAddress % 16n, 0n);
  api.results.set('WHvRunVirtualProcessor', 0x80370307 | 0);
  assert.throws(() => vcpu.run(), /WHvRunVirtualProcessor \(vCPU 0\) failed: WHV_E_VP_DOES_NOT_EXIST/);
  vcpu.cancel();
  assert.deepEqual(api.calls.at(-1)!.args, [vm.handle, 0, 0]);
  vcpu.dispose();
  vcpu.dispose();
  assert.equal(api.names().filter((n) => n === 'WHvDeleteVirtualProcessor').length, 1);
  vm.dispose();
});
