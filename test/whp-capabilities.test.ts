/** Capability decoding (bit names from the declared bit-fields) against RecordingWhpApi, a JS TEST DOUBLE. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCapabilities, setBitNames } from '../src/whp/capabilities.ts';
import { whpRegistry as reg } from '../src/whp/whp-decls.ts';
import { RecordingWhpApi } from './helpers/whp-recording-api.ts';

const code = (c: string) => reg.constant(`WHvCapabilityCode${c}`);

test('bit names come from the header bit-fields, Reserved bits left out', () => {
  assert.deepEqual(setBitNames('WHV_CAPABILITY_FEATURES', 0b110n | (1n << 60n)), ['LocalApicEmulation', 'Xsave']);
  assert.deepEqual(setBitNames('WHV_EXTENDED_VM_EXITS', 0b111n), ['X64CpuidExit', 'X64MsrExit', 'ExceptionExit']);
});

test('capabilities: vendor, features, exits, clocks, APIC modes; unknown capabilities are null', () => {
  const api = new RecordingWhpApi();
  api.capabilities.set(code('Features'), 0b11n); // PartialUnmap, LocalApicEmulation
  api.capabilities.set(code('ExtendedVmExits'), 0b111n);
  api.capabilities.set(code('ProcessorVendor'), 1n);
  api.capabilities.set(code('ProcessorClockFrequency'), 2_096_000_000n);
  api.capabilities.set(code('InterruptClockFrequency'), 200_000_000n);
  api.capabilities.set(code('ProcessorXsaveFeatures'), 0b101n);
  api.capabilities.set(code('ProcessorFeatures'), 1n);
  const caps = readCapabilities(api, true);
  assert.equal(caps.hypervisorPresent, true);
  assert.deepEqual(caps.features, ['PartialUnmap', 'LocalApicEmulation']);
  assert.deepEqual(caps.extendedVmExits, ['X64CpuidExit', 'X64MsrExit', 'ExceptionExit']);
  assert.equal(caps.processorVendor, 'Intel');
  assert.equal(caps.processorClockFrequencyHz, 2_096_000_000);
  assert.equal(caps.interruptClockFrequencyHz, 200_000_000);
  assert.deepEqual(caps.processorXsaveFeatures, ['XsaveSupport', 'AvxSupport']);
  assert.deepEqual(caps.processorFeatures, ['Sse3Support'], 'falls back to ProcessorFeatures when the banks capability is unknown');
  assert.equal(caps.syntheticProcessorFeatures, null);
  assert.deepEqual(caps.localApicEmulationModes, ['xapic', 'x2apic']);
  assert.deepEqual(readCapabilities(api, false).localApicEmulationModes, ['xapic']);
});

test('hypervisor absent: everything else unreported', () => {
  const api = new RecordingWhpApi();
  api.capabilities.set(code('HypervisorPresent'), 0n);
  const caps = readCapabilities(api, true);
  assert.equal(caps.hypervisorPresent, false);
  assert.equal(caps.features, null);
  assert.deepEqual(caps.localApicEmulationModes, []);
});
