import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeHresult, failed, hresultName } from '../src/whp/hresult.ts';
import { WhpCallError, WhpDllError } from '../src/whp/whp-errors.ts';

test('HRESULTs decode to symbolic names (WHV_E_*, E_*, Win32 facility, STATUS_HV_*)', () => {
  assert.equal(hresultName(0x80370300 | 0), 'WHV_E_UNKNOWN_CAPABILITY');
  assert.equal(hresultName(0x80370310), 'WHV_E_UNSUPPORTED_PROCESSOR_CONFIG');
  assert.equal(hresultName(0x80070057 | 0), 'E_INVALIDARG');
  assert.equal(hresultName(0x80070005), 'E_ACCESSDENIED');
  assert.equal(hresultName(0x8007000e), 'E_OUTOFMEMORY');
  assert.equal(hresultName(0x80004001), 'E_NOTIMPL');
  assert.equal(hresultName(0x80004005), 'E_FAIL');
  assert.equal(hresultName(0x8007007e), 'HRESULT_FROM_WIN32(ERROR_MOD_NOT_FOUND)');
  assert.equal(hresultName(0x80070032), 'HRESULT_FROM_WIN32(ERROR_NOT_SUPPORTED)');
  assert.equal(hresultName(0x80071234), 'HRESULT_FROM_WIN32(4660)');
  assert.equal(hresultName(0xc0350005 | 0), 'STATUS_HV_INVALID_PARAMETER');
  // 0xC0350000 | HV_STATUS (TLFS; Linux include/asm-generic/hyperv-tlfs.h): 0xE and 0x11 are
  // easy to swap, and an invalid vCPU index is exactly what a VMM bug produces.
  assert.equal(hresultName(0xc035000e | 0), 'STATUS_HV_INVALID_VP_INDEX');
  assert.equal(hresultName(0xc0350011 | 0), 'STATUS_HV_INVALID_PORT_ID');
  assert.equal(describeHresult(0x8badf00d | 0), '0x8BADF00D');
  assert.equal(describeHresult(0x80370302 | 0), 'WHV_E_UNKNOWN_PROPERTY (0x80370302)');
  assert.equal(failed(0), false);
  assert.equal(failed(1), false);
  assert.equal(failed(0x80004005 | 0), true);
});

test('error messages carry the HRESULT name and, for a missing DLL, how to enable the feature', () => {
  assert.match(new WhpCallError('WHvMapGpaRange', 0x80070057 | 0, 'GPA 0x0').message, /^WHvMapGpaRange \(GPA 0x0\) failed: E_INVALIDARG \(0x80070057\)$/);
  const dll = new WhpDllError('WinHvPlatform.dll', 'Failed to load shared library: Module not found.');
  assert.match(dll.message, /Windows Hypervisor Platform is not installed/);
  assert.match(dll.hint ?? '', /DISM \/Online \/Enable-Feature \/FeatureName:HypervisorPlatform/);
  assert.match(dll.hint ?? '', /reboot/);
  assert.equal(dll.exitCode, 1);
});
