/**
 * Our WHP declarations against the MinGW-w64 headers, judged by the MinGW
 * compiler: the C is generated from the same TypeScript data that builds the
 * koffi bindings (src/whp/conformance-c.ts), so a wrong offset, size, enum
 * value, bit position or prototype in that data fails here, naming the member.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { emitBitfieldProbesC, emitConformanceC, parseConformanceErrors } from '../src/whp/conformance-c.ts';
import { WHV_CONSTANTS, whpRegistry } from '../src/whp/whp-decls.ts';
import { WHV_CALLBACKS, WHV_FUNCTIONS } from '../src/whp/whp-functions.ts';
import { compileC, mingwMissingReason, readRdata, symbolBytes, withTempDir } from './helpers/mingw.ts';

const MINGW_INCLUDE = '/usr/share/mingw-w64/include';
const conformanceSource = () => emitConformanceC(whpRegistry, WHV_FUNCTIONS, WHV_CALLBACKS, WHV_CONSTANTS);

function describeFailures(stderr: string): string {
  const f = parseConformanceErrors(stderr);
  return f.length ? f.map((x) => `  line ${x.line}: ${x.what}`).join('\n') : stderr;
}

test('the generated conformance C compiles against the MinGW headers with -Wall -Werror', (t) => {
  const skip = mingwMissingReason();
  if (skip) return t.skip(skip);
  const source = conformanceSource();
  const asserts = source.split('\n').filter((l) => l.startsWith('_Static_assert')).length;
  assert.ok(asserts > 1500, `expected a full set of assertions, got ${asserts}`);
  withTempDir((dir) => {
    const r = compileC(source, 'whp-conformance', dir);
    assert.ok(r.ok, `our WHP declarations disagree with the MinGW headers:\n${describeFailures(r.stderr)}`);
  });
});

test('a perturbed member offset fails the compile, and the failure names that member', (t) => {
  const skip = mingwMissingReason();
  if (skip) return t.skip(skip);
  const good = 'offsetof(WHV_X64_SEGMENT_REGISTER, Attributes) == 14';
  const source = conformanceSource();
  assert.ok(source.includes(good), 'the conformance C asserts the offset of WHV_X64_SEGMENT_REGISTER.Attributes');
  // Rewrite that one assertion as if our data said 12.
  const bad = source.split('\n').map((l) => (l.includes(good) ? l.replaceAll('== 14', '== 12') : l)).join('\n');
  withTempDir((dir) => {
    const r = compileC(bad, 'whp-conformance-bad', dir);
    assert.equal(r.ok, false, 'the compile must fail');
    const failures = parseConformanceErrors(r.stderr);
    assert.deepEqual(failures.map((f) => f.what), ['WHV_X64_SEGMENT_REGISTER.Attributes: offsetof == 12']);
  });
});

test('a perturbed prototype fails the compile, naming the function', (t) => {
  const skip = mingwMissingReason();
  if (skip) return t.skip(skip);
  const source = conformanceSource().replace('WHvRunVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT32 VpIndex', 'WHvRunVirtualProcessor(WHV_PARTITION_HANDLE Partition, UINT64 VpIndex');
  withTempDir((dir) => {
    const r = compileC(source, 'whp-conformance-bad-proto', dir);
    assert.equal(r.ok, false);
    assert.deepEqual(parseConformanceErrors(r.stderr).map((f) => f.what), ['prototype of WHvRunVirtualProcessor']);
  });
});

test('every bit-field sits where our layout says (bytes laid out by the MinGW compiler)', (t) => {
  const skip = mingwMissingReason();
  if (skip) return t.skip(skip);
  const { source, probes } = emitBitfieldProbesC(whpRegistry);
  assert.ok(probes.length > 250, `expected every bit-field probed, got ${probes.length}`);
  withTempDir((dir) => {
    const r = compileC(source, 'whp-bitfield-probes', dir);
    assert.ok(r.ok, r.stderr);
    const rdata = readRdata(r.object);
    const wrong: string[] = [];
    for (const p of probes) {
      const actual = symbolBytes(rdata, p.symbol, p.size);
      const expected = new Uint8Array(p.size);
      const unit = ((1n << BigInt(p.width)) - 1n) << BigInt(p.bitOffset);
      for (let i = 0; i < p.unitSize; i++) expected[p.unitOffset + i] = Number((unit >> BigInt(8 * i)) & 0xffn);
      if (Buffer.compare(Buffer.from(actual), Buffer.from(expected)) !== 0) {
        wrong.push(`${p.type}.${p.cPath}: expected bits ${p.bitOffset}..${p.bitOffset + p.width - 1} of the ${p.unitSize}-byte unit at +${p.unitOffset}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});

test('we declare every function, struct, union and enum of the headers', (t) => {
  let platform: string;
  let emulation: string;
  let defs: string;
  try {
    platform = readFileSync(`${MINGW_INCLUDE}/winhvplatform.h`, 'utf8');
    emulation = readFileSync(`${MINGW_INCLUDE}/winhvemulation.h`, 'utf8');
    defs = readFileSync(`${MINGW_INCLUDE}/winhvplatformdefs.h`, 'utf8');
  } catch {
    return t.skip(`MinGW headers not found under ${MINGW_INCLUDE} (apt-get install mingw-w64-x86-64-dev)`);
  }
  const headerFns = [...(platform + emulation).matchAll(/^HRESULT (?:WINAPI )?(WHv\w+)\(/gm)].map((m) => m[1]);
  assert.deepEqual(WHV_FUNCTIONS.map((f) => f.name), headerFns);
  assert.equal(WHV_FUNCTIONS.filter((f) => f.dll === 'WinHvPlatform.dll').length, 66);
  assert.equal(WHV_FUNCTIONS.filter((f) => f.dll === 'WinHvEmulation.dll').length, 4);
  const headerTypes = [...(defs + emulation).matchAll(/^\}\s*(\w+)\s*[,;]/gm)].map((m) => m[1]!);
  const missing = headerTypes.filter((n) => !whpRegistry.types.has(n));
  assert.deepEqual(missing, []);
});
