/**
 * The Windows code path of src/whp, run for real: the Windows build of Node
 * under Wine, koffi's win32 build, and MinGW-built RECORDING TEST DOUBLES of
 * WinHvPlatform.dll / WinHvEmulation.dll (test/fixtures/whp/README.md).
 *
 * What this proves: the Win64 calling convention and koffi-win32 marshalling of
 * our declarations (stack-passed 5th arguments, buffers by pointer, BigInt
 * handles, uint64 values), 16-byte alignment of the exit context and register
 * arrays, our decoding of structures written by native Windows code through the
 * header's own field names, koffi.register callbacks invoked from native code
 * (including a throwing one), DLL loading by path and our typed errors.
 * What it does not prove: anything about the hypervisor (Wine has no WHP).
 *
 * Setup: scripts/setup-wine-node.sh (CI runs it). Without it every test here
 * skips and says why. One Wine run of test/fixtures/whp/wine-driver.ts feeds
 * all tests; the expected values are those scripted in the C doubles.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.ts';
import { DOUBLES_SOURCE_DIR, buildRecordingDoubles, bundleForWindows, findWineNode, runWindowsNode, winPath, wineWorkDir } from './helpers/wine.ts';
import type { WineNode, WineRun } from './helpers/wine.ts';
import { loadKoffi } from '../src/native/koffi.ts';
import { WhpEmulator } from '../src/whp/whp-emulator.ts';
import type { WhpEmulationApi } from '../src/whp/whp-library.ts';
import { whpRegistry } from '../src/whp/whp-decls.ts';
import { koffiTypesFor } from '../src/whp/koffi-types.ts';
import { WHV_CALLBACKS } from '../src/whp/whp-functions.ts';
import { readCapabilities } from '../src/whp/capabilities.ts';
import { RecordingWhpApi } from './helpers/whp-recording-api.ts';

interface StepRecord {
  ok: boolean;
  value?: any; // JSON written by the driver, checked field by field
  error?: { name: string; message: string; hint?: string; exitCode?: number };
  platformLog: string;
  emulationLog: string;
}
interface DriverResult {
  runtime: Record<string, string>;
  steps: Record<string, StepRecord>;
}

const wine = findWineNode();
const skipReason = typeof wine === 'string' ? `Windows code path not checked: ${wine}` : undefined;
const workDirs: string[] = [];
after(() => {
  for (const d of workDirs) rmSync(d, { recursive: true, force: true });
});

let pending: Promise<{ run: WineRun; result: DriverResult }> | undefined;

/** Builds the doubles, bundles the driver, runs it once under Wine (memoized for all tests). */
function driver(): Promise<{ run: WineRun; result: DriverResult }> {
  pending ??= (async () => {
    const wn = wine as WineNode;
    const work = wineWorkDir();
    workDirs.push(work);
    const doubles = buildRecordingDoubles();
    const empty = join(work, 'empty');
    mkdirSync(empty);
    await bundleForWindows(join(DOUBLES_SOURCE_DIR, 'wine-driver.ts'), join(work, 'wine-driver.mjs'));
    const out = join(work, 'out.json');
    const run = runWindowsNode(wn, 'wine-driver.mjs', [winPath(out), winPath(doubles), winPath(empty)], work);
    if (!existsSync(out)) throw new Error(`the Windows Node wrote no result (exit ${run.status}, signal ${run.signal}):\n${run.stderr}\n${run.stdout}`);
    return { run, result: JSON.parse(readFileSync(out, 'utf8')) as DriverResult };
  })();
  return pending;
}

async function stepOf(name: string): Promise<StepRecord> {
  const { result } = await driver();
  const s = result.steps[name];
  assert.ok(s, `the driver recorded no step '${name}' (it stopped early?)`);
  return s;
}

async function okStep(name: string): Promise<StepRecord> {
  const s = await stepOf(name);
  assert.ok(s.ok, `step ${name} threw ${s.error?.name}: ${s.error?.message}\n${s.platformLog}${s.emulationLog}`);
  return s;
}

interface LogLine {
  fn: string;
  kv: Record<string, string>;
}

/** "Fn key=value key=value" lines of the doubles (recording-log.h). */
function parseLog(text: string): LogLine[] {
  assert.notEqual(text, '<log overflow>');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [fn, ...rest] = line.split(' ');
      const kv: Record<string, string> = {};
      for (const r of rest) {
        const i = r.indexOf('=');
        kv[r.slice(0, i)] = r.slice(i + 1);
      }
      return { fn: fn!, kv };
    });
}

/** Asserts the fields named in `expected` (recursively); other fields of `actual` are ignored. */
function assertFields(actual: unknown, expected: unknown, path = '$'): void {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    assert.ok(actual !== null && typeof actual === 'object', `${path} is not an object: ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) assertFields((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    assert.deepEqual(actual, expected, path);
  }
}

const u64 = (v: bigint) => ({ lo: Number(v & 0xffffffffn), hi: Number(v >> 32n) });
const hex = (s: unknown) => BigInt(s as string);

/** The VP context every designated exit carries (fill_exit in recording-winhvplatform.c). */
const VP = {
  executionState: 0x1014, // Cr0Pe (bit 2) | EferLma (bit 4) | InterruptShadow (bit 12)
  cpl: 0,
  cr0Pe: true,
  cr0Am: false,
  eferLma: true,
  interruptShadow: true,
  cr8: 5,
  // Long-mode code segment: type 0xB, S, P, L, G = 0xA09B.
  cs: { base: u64(0n), limit: 0xffffffff, selector: 0x10, attributes: 0xa09b },
  rip: u64(0xffffffff81000123n),
  rflags: u64(0x202n),
};
// Data segment: type 3, S, P, D/B, G = 0xC093.
const DATA_ATTR = 0xc093;

test('the Windows build of Node runs our src/whp bundle under Wine with koffi win32', { skip: skipReason }, async (t) => {
  const { run, result } = await driver();
  t.diagnostic(`wine run: ${run.ms} ms`);
  assert.equal(run.status, 0, `node.exe exited ${run.status}:\n${run.stderr}`);
  const koffiVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'koffi', 'package.json'), 'utf8')) as { version: string }).version;
  assert.deepEqual({ ...result.runtime, node: result.runtime['node']!.split('.')[0] }, { platform: 'win32', arch: 'x64', node: 'v22', koffi: koffiVersion });
});

test('missing WinHvPlatform.dll: WhpDllError with the loader message, the path, and the DISM hint', { skip: skipReason }, async () => {
  const s = await stepOf('missingDll');
  assert.equal(s.ok, false);
  assert.equal(s.error!.name, 'WhpDllError');
  // koffi's win32 message; Wine says "Module not found.", Windows "The specified module could not be found."
  assert.match(s.error!.message, /^cannot load WinHvPlatform\.dll: Failed to load shared library: Module not found\. \(Z:\\.*\\empty\\WinHvPlatform\.dll\) — the Windows Hypervisor Platform is not installed$/);
  assert.match(s.error!.hint!, /DISM \/Online \/Enable-Feature \/FeatureName:HypervisorPlatform \/All/);
  assert.equal(s.error!.exitCode, 1);
});

test('capabilities: WHV_CAPABILITY filled through the header by native code decodes to the scripted values', { skip: skipReason }, async () => {
  const s = await okStep('capabilities');
  assert.equal(s.value.hasX2, false, 'the double does not export WHvSetVirtualProcessorInterruptControllerState2');
  assert.deepEqual(s.value.caps, {
    hypervisorPresent: true,
    features: ['LocalApicEmulation', 'Xsave', 'DirtyPageTracking', 'SpeculationControl'],
    extendedVmExits: ['X64CpuidExit', 'X64MsrExit', 'ExceptionExit', 'X64RdtscExit', 'HypercallExit'],
    exceptionExitBitmap: (1 << 1) | (1 << 3) | (1 << 13),
    x64MsrExitBitmap: ['UnhandledMsrs', 'TscMsrWrite', 'TscMsrRead', 'ApicBaseMsrWrite'],
    processorVendor: 'Intel',
    processorFeatures: ['Sse3Support', 'Cmpxchg16bSupport', 'AesSupport', 'RdtscpSupport', 'TscInvariantSupport', 'NestedVirtSupport'],
    processorXsaveFeatures: ['XsaveSupport', 'XsaveoptSupport', 'AvxSupport'],
    processorClFlushSize: 8,
    processorClockFrequencyHz: 2096015000,
    interruptClockFrequencyHz: 200000000,
    syntheticProcessorFeatures: ['HypervisorPresent', 'Hv1', 'AccessPartitionReferenceTsc', 'AccessFrequencyRegs'],
    localApicEmulationModes: ['xapic'],
  });
  const calls = parseLog(s.platformLog);
  assert.ok(calls.length >= 12);
  for (const c of calls) {
    assert.equal(c.fn, 'WHvGetCapability');
    assert.deepEqual([c.kv['size'], c.kv['written_ptr'], c.kv['hr']], ['24', 'set', '0x00000000'], 'sizeof(WHV_CAPABILITY) = 24, WrittenSizeInBytes passed');
  }
});

test('a declared function the DLL does not export: WhpFunctionMissingError naming it', { skip: skipReason }, async () => {
  const s = await stepOf('functionMissing');
  assert.equal(s.error?.name, 'WhpFunctionMissingError');
  assert.equal(s.error!.message, 'WinHvPlatform.dll on this Windows build has no WHvResetPartition');
});

test('partition setup: property buffers byte for byte, WHvMapGpaRange arguments (5th on the stack), interrupt control', { skip: skipReason }, async () => {
  const s = await okStep('partition');
  assert.equal(s.value.handle, '0x5a5a0001', 'the handle written through WHV_PARTITION_HANDLE* came back');
  assert.equal(s.value.ramAddressMod4096, 0);
  assert.equal(hex(s.value.nativeMarker), 0x0ddc0ffee0ddf00dn, 'native code wrote into guest RAM that JS sees');
  const calls = parseLog(s.platformLog);
  assert.deepEqual(
    calls.map((c) => c.fn),
    ['WHvGetCapability', 'WHvCreatePartition', ...Array(7).fill('WHvSetPartitionProperty'), 'WHvSetupPartition', 'WHvMapGpaRange', 'WHvRequestInterrupt'],
  );
  // VM_CONFIG of wine-driver.ts, encoded by hand from winhvplatformdefs.h.
  const props = calls.filter((c) => c.fn === 'WHvSetPartitionProperty').map((c) => [c.kv['code'], c.kv['size'], c.kv['bytes']]);
  assert.deepEqual(props, [
    ['0x1fff', '4', '02000000'], // ProcessorCount = 2
    ['0x1005', '4', '01000000'], // LocalApicEmulationMode = XApic
    ['0x1', '8', '0700000000000000'], // ExtendedVmExits: X64CpuidExit | X64MsrExit | ExceptionExit
    ['0x2', '8', '4020000000000000'], // ExceptionExitBitmap: vectors 6 (#UD) and 13 (#GP) = 0x2040
    ['0x1003', '12', '010000000b00000010000040'], // CpuidExitList: 0x1, 0xB, 0x40000010
    // CpuidResultList: WHV_X64_CPUID_RESULT { Function, Reserved[3], Eax, Ebx, Ecx, Edx } — "Microsoft Hv"
    ['0x1004', '32', '00000040' + '00'.repeat(12) + '06000040' + '4d696372' + '6f736f66' + '74204876'],
    // SyntheticProcessorFeaturesBanks: BanksCount 1, Bank0 bits 0,1,3,7,8,9,11 = 0xB8B
    ['0x100c', '16', '01000000' + '00000000' + '8b0b000000000000'],
  ]);
  const map = calls.find((c) => c.fn === 'WHvMapGpaRange')!.kv;
  assert.deepEqual(
    { gpa: map['gpa'], size: map['size'], flags: map['flags'], source_mod_4096: map['source_mod_4096'], first_qword: map['first_qword'] },
    { gpa: '0x100000', size: '0x20000', flags: '0x7', source_mod_4096: '0x0', first_qword: '0x1122334455667788' },
  );
  // Decoded by the header's bit-fields: LowestPriority (1), Logical (1), Level (1), APIC 1, vector 0x31.
  assertFields(calls.at(-1)!.kv, { size: '16', type: '1', destination_mode: '1', trigger_mode: '1', destination: '0x1', vector: '0x31', hr: '0x00000000' });
});

test('exits written by native code into our 16-byte-aligned exit context decode field by field', { skip: skipReason }, async () => {
  const s = await okStep('exits');
  const x = s.value;
  assert.equal(x.exitContextMod16, 0);
  assertFields(x.ioOut, {
    kind: 'io',
    reason: 2,
    vp: { ...VP, instructionLength: 1 },
    port: 0x3f8,
    size: 1,
    isWrite: true,
    stringOp: false,
    rep: false,
    rax: u64(0x0123456789abcd41n),
    instructionByteCount: 1,
  });
  assert.equal(x.ioOut.instructionBytes[0], 0xee);
  assertFields(x.ioIn, { kind: 'io', vp: { instructionLength: 2 }, port: 0x64, size: 1, isWrite: false, rax: u64(0xffffffffffffff00n), instructionByteCount: 2 });
  assert.deepEqual(x.ioIn.instructionBytes.slice(0, 2), [0xe4, 0x64]);
  assertFields(x.ioRepOutsb, {
    kind: 'io',
    stringOp: true,
    rep: true,
    rcx: u64(0x1111n),
    rsi: u64(0xffff800000002222n),
    rdi: u64(0x3333n),
    ds: { base: u64(0n), limit: 0xffffffff, selector: 0x18, attributes: DATA_ATTR },
    es: { base: u64(0x10000n), limit: 0xffff, selector: 0x20, attributes: DATA_ATTR },
  });
  assertFields(x.mmioWrite, {
    kind: 'mmio',
    reason: 1,
    vp: VP,
    gpa: 0xfec00010,
    gva: u64(0xffff8000fec00010n),
    accessType: 1,
    gpaUnmapped: true,
    gvaValid: true,
    instructionByteCount: 2,
  });
  assert.deepEqual(x.mmioWrite.instructionBytes.slice(0, 2), [0x89, 0x03]);
  assertFields(x.mmioRead, { kind: 'mmio', gpa: 0xfed000f0, accessType: 0 });
  assertFields(x.cpuid, {
    kind: 'cpuid',
    reason: 0x1001,
    leaf: 0x40000000,
    subleaf: 7,
    defaultEax: 0x4000000b,
    defaultEbx: 0x7263694d,
    defaultEcx: 0x666f736f,
    defaultEdx: 0x76482074,
  });
  // WRMSR takes EDX:EAX: the upper halves of RAX/RDX in the context are ignored.
  assertFields(x.msrWrite, { kind: 'msr', reason: 0x1000, msr: 0x40000000, isWrite: true, eax: 0x12345678, edx: 0x8001 });
  assertFields(x.canceled, { kind: 'canceled', reason: 0x2001, cancelReason: 0, vp: { instructionLength: 0 } });
  for (const c of parseLog(s.platformLog).filter((l) => l.fn === 'WHvRunVirtualProcessor')) {
    assertFields(c.kv, { size: '224', ctx_mod_16: '0', hr: '0x00000000' });
  }
});

test('a failing WHvRunVirtualProcessor names the HRESULT (NTSTATUS STATUS_HV_*)', { skip: skipReason }, async () => {
  const s = await stepOf('runFailure');
  assert.equal(s.error?.name, 'WhpCallError');
  assert.equal(s.error!.message, 'WHvRunVirtualProcessor (vCPU 0) failed: STATUS_HV_INVALID_PARAMETER (0xC0350005)');
});

test('registers round-trip through 16-byte-aligned WHV_REGISTER_VALUE arrays (5th argument on the stack)', { skip: skipReason }, async () => {
  const s = await okStep('registers');
  const v = s.value;
  assert.deepEqual([v.setValuesMod16, v.getValuesMod16], [0, 0]);
  assert.equal(hex(v.rax), 0x1122334455667788n);
  assert.equal(hex(v.rip), 0xffffffff81000100n);
  assert.equal(hex(v.rflags), 0x246n);
  assert.deepEqual(v.cs, { base: u64(0n), limit: 0xffffffff, selector: 0x10, attributes: 0xa09b });
  assert.deepEqual({ base: hex(v.gdtr.base), limit: v.gdtr.limit }, { base: 0xfffffe0000001000n, limit: 0x7f });
  assert.deepEqual(v.xmm0.map(hex), [0x0706050403020100n, 0x0f0e0d0c0b0a0908n]);
  assert.equal(hex(v.efer), 0xd01n);
  assert.equal(hex(v.cr3), 0xd0b1e01en, 'a register never set reads as the double default 0xD0B1E000 | name (Cr3 = 0x1E)');
  // What native code saw, decoded through the header's WHV_REGISTER_VALUE members.
  const set = parseLog(s.platformLog).find((c) => c.fn === 'WHvSetVirtualProcessorRegisters')!.kv;
  assertFields(set, {
    count: '7',
    r0: '0x0:0x1122334455667788:0x0000000000000000',
    seg3: '0x0,0xffffffff,0x10,0xa09b',
    table4: '0xfffffe0000001000,0x7f',
    r5: '0x1000:0x0706050403020100:0x0f0e0d0c0b0a0908',
    r6: '0x2001:0x0000000000000d01:0x0000000000000000',
  });
});

test('no WHP call anywhere in the run got a misaligned exit context or register array', { skip: skipReason }, async () => {
  const { result } = await driver();
  let checked = 0;
  for (const [name, s] of Object.entries(result.steps)) {
    for (const c of parseLog(s.platformLog)) {
      if (c.fn === 'WHvGetVirtualProcessorRegisters' || c.fn === 'WHvSetVirtualProcessorRegisters') {
        assert.equal(c.kv['values_mod_16'], '0', `${name}: ${c.fn}`);
        assert.equal(c.kv['misaligned'], undefined);
        checked++;
      }
      if (c.fn === 'WHvRunVirtualProcessor') {
        assert.equal(c.kv['ctx_mod_16'], '0', `${name}: ${c.fn}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 20, `only ${checked} calls checked`);
});

test('WinHvEmulation: koffi.register callbacks are called from native code, in and out of JS', { skip: skipReason }, async () => {
  const create = await okStep('emulatorCreate');
  assert.match(create.value.handle, /^0x[0-9a-f]+$/);
  assertFields(parseLog(create.emulationLog)[0], { fn: 'WHvEmulatorCreateEmulator', kv: { size: '48', io: '1', memory: '1', get: '1', set: '1', translate: '1', hr: '0x00000000' } });

  // OUT dx, al: IoPort gets the byte from the exit context's RAX; RIP advances via SetRegisters.
  const out = await okStep('emulatorIoOut');
  assert.deepEqual(out.value.calls, [
    { cb: 'getRegisters', count: 2, valuesMod16: 0 },
    { cb: 'io', port: 0x3f8, size: 1, isWrite: true, data: 0x41 },
    { cb: 'setRegisters', count: 1, valuesMod16: 0 },
  ]);
  assert.equal(hex(out.value.rip), 0xffffffff81000101n);
  assertFields(parseLog(out.emulationLog)[0]!.kv, { 'vp.rip': '0xffffffff81000123', port: '0x3f8', 'get.rax': '0x1122334455667788', 'io.hr': '0x00000000', 'io.data': '0x41', status: '0x1', hr: '0x00000000' });

  // IN al, 0x64: the value our callback returned is what native code read back from the struct.
  const inn = await okStep('emulatorIoIn');
  assert.equal(hex(inn.value.rax), 0x112233445566771dn, 'AL merged into RAX');
  assert.equal(hex(inn.value.rip), 0xffffffff81000103n);
  assertFields(parseLog(inn.emulationLog)[0]!.kv, { 'io.data': '0x1d', 'set.count': '2', status: '0x1' });

  // MMIO store: TranslateGvaPage (5 arguments, a canonical kernel GVA) then Memory with EAX's bytes.
  const mw = await okStep('emulatorMmioWrite');
  assert.deepEqual(mw.value.calls.slice(1, 3), [
    { cb: 'translateGva', gva: '0xffff8000fec00000', flags: 2 },
    { cb: 'memory', gpa: '0xfec00010', size: 4, isWrite: true, data: [0x1d, 0x77, 0x66, 0x55] },
  ]);
  assertFields(parseLog(mw.emulationLog)[0]!.kv, { 'translate.hr': '0x00000000', 'translate.result': '0', 'translate.gpa': '0xfec00000', 'memory.gpa': '0xfec00010', status: '0x1' });

  // MMIO load: the bytes our callback wrote into WHV_EMULATOR_MEMORY_ACCESS_INFO.Data reach EAX.
  const mr = await okStep('emulatorMmioRead');
  assert.equal(hex(mr.value.rax), 0x12345678n);
  assertFields(parseLog(mr.emulationLog)[0]!.kv, { 'translate.gpa': '0xfed00000', 'memory.data': '7856341200000000', status: '0x1' });

  const dispose = await okStep('emulatorDispose');
  assertFields(parseLog(dispose.emulationLog)[0], { fn: 'WHvEmulatorDestroyEmulator', kv: { hr: '0x00000000' } });
});

test('a JS emulator callback that throws returns E_FAIL to native code, and our wrapper rethrows it', { skip: skipReason }, async () => {
  const s = await stepOf('emulatorIoThrows');
  assert.equal(s.ok, false);
  assert.equal(s.error!.message, 'no device at port 0x3f8');
  // koffi alone would have returned 0 = S_OK for a throwing callback.
  assertFields(parseLog(s.emulationLog)[0]!.kv, { 'io.hr': '0x80004005', status: '0x4', hr: '0x00000000' }); // IoPortCallbackFailed
  assert.equal(parseLog(s.emulationLog)[0]!.kv['set.hr'], undefined, 'no register write after the failed access');
  const next = await okStep('emulatorAfterThrow');
  assert.equal(next.value.calls.length, 3, 'the emulator works again; the error was not kept');
});

test('teardown deletes the vCPU, unmaps RAM, deletes the partition; a scripted WHV_E_UNKNOWN_PROPERTY is named and cleaned up', { skip: skipReason }, async () => {
  const t = await okStep('teardown');
  const calls = parseLog(t.platformLog);
  assert.deepEqual(
    calls.map((c) => c.fn),
    ['WHvDeleteVirtualProcessor', 'WHvUnmapGpaRange', 'WHvDeletePartition'],
  );
  assertFields(calls[1]!.kv, { gpa: '0x100000', size: '0x20000', hr: '0x00000000' });
  const f = await stepOf('propertyFailure');
  assert.equal(f.error?.name, 'WhpCallError');
  assert.equal(f.error!.message, 'WHvSetPartitionProperty (ProcessorCount) failed: WHV_E_UNKNOWN_PROPERTY (0x80370302)');
  assert.deepEqual(
    parseLog(f.platformLog).map((c) => c.fn),
    ['RecordingDouble_FailNext', 'WHvGetCapability', 'WHvCreatePartition', 'WHvSetPartitionProperty', 'WHvDeletePartition'],
  );
});

test('a vCPU Worker (worker_threads) loads koffi-win32 itself and runs a vCPU by the posted partition handle', { skip: skipReason }, async () => {
  const s = await okStep('worker');
  assert.notEqual(s.value.reply.threadId, s.value.mainThreadId);
  assert.deepEqual({ ...s.value.reply, threadId: undefined }, { threadId: undefined, kind: 'cpuid', leaf: 0x40000000, exitContextMod16: 0 });
  const fns = parseLog(s.platformLog).map((c) => c.fn);
  assert.deepEqual(fns.slice(-5), ['WHvCreateVirtualProcessor', 'RecordingDouble_SetNextExit', 'WHvRunVirtualProcessor', 'WHvDeleteVirtualProcessor', 'WHvDeletePartition']);
});

// The same regression on the host's own koffi, so it is caught where Wine is not set up.
test('(host koffi, no Wine) TranslateGvaPage callback: a uint64 GVA reaches the handler as the exact unsigned BigInt', async (t) => {
  let koffi;
  try {
    koffi = loadKoffi();
  } catch (err) {
    return t.skip(`koffi does not load on this host: ${(err as Error).message}`);
  }
  let table: Uint8Array | undefined;
  const api: WhpEmulationApi = {
    WHvEmulatorCreateEmulator(callbacks, out) {
      table = new Uint8Array((callbacks as Uint8Array).slice());
      out[0] = 1n;
      return 0;
    },
    WHvEmulatorDestroyEmulator: () => 0,
    WHvEmulatorTryIoEmulation: () => 0,
    WHvEmulatorTryMmioEmulation: () => 0,
  };
  const seen: unknown[] = [];
  const emu = new WhpEmulator(koffi, api, {
    io: () => 0,
    memory: () => undefined,
    getRegisters: () => 0,
    setRegisters: () => 0,
    translateGva(gva) {
      seen.push(gva);
      return { result: 0, gpa: gva & 0xfffff000n };
    },
  });
  try {
    const at = whpRegistry.offsetOf('WHV_EMULATOR_CALLBACKS', 'WHvEmulatorTranslateGvaPage');
    const fn = new DataView(table!.buffer).getBigUint64(at, true);
    const proto = koffiTypesFor(koffi, whpRegistry).proto(WHV_CALLBACKS.find((c) => c.name === 'WHV_EMULATOR_TRANSLATE_GVA_PAGE_CALLBACK')!);
    // koffi 3.3.4 passes these as a negative Number and a negative BigInt respectively.
    for (const gva of [0xffff8000fec00123n, 0x8000000000000123n, 0x1000n]) {
      const result = new Uint32Array([0x7777]);
      const gpa = new BigUint64Array(1);
      assert.equal(koffi.call(fn, proto, null, gva, 2, result, gpa), 0);
      assert.equal(seen.at(-1), gva);
      assert.equal(result[0], 0);
      assert.equal(gpa[0], gva & 0xfffff000n);
    }
  } finally {
    emu.dispose();
  }
});

// Host-side regression for the second bug the Wine run found (capabilities.ts reused one buffer for
// every query and read ClFlushSize from it only after later queries had overwritten it).
test('(host, JS double) ProcessorClFlushSize is read before later capability queries reuse the buffer', () => {
  const api = new RecordingWhpApi();
  api.capabilities.set(whpRegistry.constant('WHvCapabilityCodeProcessorClFlushSize'), 8n);
  api.capabilities.set(whpRegistry.constant('WHvCapabilityCodeProcessorXsaveFeatures'), 0b111n);
  api.capabilities.set(whpRegistry.constant('WHvCapabilityCodeProcessorClockFrequency'), 2_096_015_000n);
  assert.equal(readCapabilities(api, false).processorClFlushSize, 8);
});

test('exit emulation (builtin and winhv) completes IO and MMIO exits through real koffi-win32 calls', { skip: skipReason }, async () => {
  await okStep('exitEmulationCreate');
  const regs = (log: string, fn: string) => parseLog(log).filter((l) => l.fn === fn);

  // OUT dx, al on the fast path: the byte from the exit context's RAX, one register write (RIP).
  const out = await okStep('exitBuiltinOut');
  assert.equal(out.value.result, 'done');
  assert.deepEqual(out.value.devices, [{ dev: 'recording-uart', op: 'write', offset: 0, size: 1, value: 0x41 }]);
  assert.equal(hex(out.value.rip), 0xffffffff81000124n);
  const outSets = regs(out.value.exitLog, 'WHvSetVirtualProcessorRegisters');
  assert.equal(outSets.length, 1);
  assertFields(outSets[0]!.kv, { count: '1', values_mod_16: '0', r0: '0x10:0xffffffff81000124:0x0000000000000000' }); // WHvX64RegisterRip = 0x10
  assert.equal(regs(out.value.exitLog, 'WHvGetVirtualProcessorRegisters').length, 0, 'no register read on the fast path');

  // MMIO store mov [rbx], eax: one batch read (24 registers), EAX to the device, RIP written.
  const mw = await okStep('exitBuiltinMmioWrite');
  assert.equal(mw.value.result, 'done');
  assert.deepEqual(mw.value.devices, [{ dev: 'recording-ioapic', op: 'write', offset: 0x10, size: 4, value: 0xcafef00d }]);
  assert.equal(hex(mw.value.rip), 0xffffffff81000125n);
  assertFields(regs(mw.value.exitLog, 'WHvGetVirtualProcessorRegisters')[0]!.kv, { count: '24', values_mod_16: '0' });
  assert.equal(regs(mw.value.exitLog, 'WHvTranslateGva').length, 0, "the exit's own GVA→GPA is used");

  // MMIO load mov eax, [rbx]: the device's answer in RAX (zero-extended), RAX and RIP written.
  const mr = await okStep('exitBuiltinMmioRead');
  assert.deepEqual(mr.value.devices, [{ dev: 'recording-hpet', op: 'read', offset: 0xf0, size: 4 }]);
  assert.equal(hex(mr.value.rax), 0x12345678n);
  assertFields(regs(mr.value.exitLog, 'WHvSetVirtualProcessorRegisters')[0]!.kv, { count: '2', r0: '0x0:0x0000000012345678:0x0000000000000000' });

  // rep outsb: WHvTranslateGva (read | SetPageTableBits) of the kernel GVA, three bytes from RAM.
  const rep = await okStep('exitBuiltinRepOutsb');
  assert.deepEqual(rep.value.devices.map((d: { value: number }) => d.value), [0x61, 0x62, 0x63]);
  assertFields(regs(rep.value.exitLog, 'WHvTranslateGva')[0]!.kv, { gva: '0xffff800000002222', flags: '0x11', hr: '0x00000000' });
  assert.deepEqual([hex(rep.value.rcx), hex(rep.value.rsi), hex(rep.value.rip)], [0n, 0xffff800000002225n, 0xffffffff81000125n]);

  // A non-canonical source after two bytes: #GP(0) through WHvRegisterPendingEvent (128-bit
  // slot through koffi), RCX/RSI progress written, RIP not.
  const f = await okStep('exitBuiltinFault');
  assert.equal(f.value.result, 'exception');
  assert.equal(f.value.devices.length, 2);
  assert.deepEqual([hex(f.value.rcx), hex(f.value.rsi)], [1n, 0x800000000000n]);
  const fset = regs(f.value.exitLog, 'WHvSetVirtualProcessorRegisters')[0]!.kv;
  assertFields(fset, { count: '3', r0: '0x1:0x0000000000000001:0x0000000000000000', r1: '0x6:0x0000800000000000:0x0000000000000000' });
  // PendingEvent 0x80000002: EventPending | type 0 | DeliverErrorCode (bit 8) | vector 13 << 16, error code 0.
  assert.equal(fset['r2'], '0x80000002:0x00000000000d0101:0x0000000000000000');
  assert.deepEqual(f.value.pendingEvent.map(hex), [0xd0101n, 0n]);

  // winhv: WinHvEmulation's callbacks reach the same PIO bus; RIP set by the emulator.
  const w = await okStep('exitWinhvOut');
  assert.equal(w.value.result, 'done');
  assert.deepEqual(w.value.devices, [{ dev: 'recording-uart', op: 'write', offset: 0, size: 1, value: 0x41 }]);
  // The emulation double advances the register file's RIP (…125, left by the rep outsb step) by 1.
  assert.equal(hex(w.value.rip), 0xffffffff81000126n);
  assert.deepEqual(parseLog(w.emulationLog).map((l) => l.fn), ['WHvEmulatorCreateEmulator', 'WHvEmulatorTryIoEmulation', 'WHvEmulatorDestroyEmulator']);
  assertFields(parseLog(w.emulationLog)[1]!.kv, { 'vp.rip': '0xffffffff81000123', port: '0x3f8', 'io.data': '0x41', status: '0x1', hr: '0x00000000' });
});
