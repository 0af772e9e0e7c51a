/**
 * The koffi types built from our declarations lay out exactly as the C layout
 * that whp-conformance.test.ts checks against the header (except alignment
 * above 8, which koffi cannot express). koffi's Linux build computes layouts
 * the same way, so this runs here; the calls themselves need Windows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKoffi } from '../src/native/koffi.ts';
import type { Koffi } from '../src/native/koffi.ts';
import { whpRegistry } from '../src/whp/whp-decls.ts';
import { WHV_CALLBACKS, WHV_FUNCTIONS } from '../src/whp/whp-functions.ts';
import { koffiTypesFor } from '../src/whp/koffi-types.ts';

function koffiOrSkip(t: { skip: (m: string) => void }): Koffi | undefined {
  try {
    return loadKoffi();
  } catch (err) {
    t.skip(`koffi does not load on this host: ${(err as Error).message}`);
    return undefined;
  }
}

test('every struct and union: koffi size and member offsets equal the C layout', (t) => {
  const koffi = koffiOrSkip(t);
  if (!koffi) return;
  const kt = koffiTypesFor(koffi, whpRegistry);
  const wrong: string[] = [];
  let checked = 0;
  for (const decl of whpRegistry.types.values()) {
    if (decl.kind !== 'struct' && decl.kind !== 'union') continue;
    const layout = whpRegistry.layoutOf(decl.name);
    const type = kt.type(decl.name);
    if (koffi.sizeof(type) !== layout.size) wrong.push(`${decl.name}: koffi sizeof ${koffi.sizeof(type)}, C ${layout.size}`);
    if (koffi.alignof(type) !== layout.koffiAlign) wrong.push(`${decl.name}: koffi alignof ${koffi.alignof(type)}, expected ${layout.koffiAlign} (C ${layout.align})`);
    for (const f of layout.fields) {
      let cur = type;
      let offset = 0;
      for (const seg of f.koffiPath.split('.')) {
        const info = koffi.type(cur) as unknown as { primitive: string; members: Record<string, { type: typeof cur }> };
        offset += info.primitive === 'Union' ? 0 : koffi.offsetof(cur, seg);
        cur = info.members[seg]!.type;
      }
      checked++;
      if (offset !== f.offset || koffi.sizeof(cur) !== f.size) wrong.push(`${decl.name}.${f.cPath}: koffi +${offset}/${koffi.sizeof(cur)}, C +${f.offset}/${f.size}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(checked > 350, `checked ${checked} members`);
});

test('the 16-byte-aligned C types are the ones koffi can only align to 8', () => {
  const over8 = [...whpRegistry.types.values()]
    .filter((d) => (d.kind === 'struct' || d.kind === 'union') && whpRegistry.layoutOf(d.name).align > 8)
    .map((d) => d.name)
    .sort();
  // DECLSPEC_ALIGN(16) on WHV_UINT128, inherited by everything that contains one.
  assert.deepEqual(over8, [
    'WHV_HYPERCALL_CONTEXT',
    'WHV_REGISTER_VALUE',
    'WHV_RUN_VP_EXIT_CONTEXT',
    'WHV_UINT128',
    'WHV_X64_FP_CONTROL_STATUS_REGISTER',
    'WHV_X64_FP_REGISTER',
    'WHV_X64_PENDING_EXCEPTION_EVENT',
    'WHV_X64_PENDING_EXT_INT_EVENT',
    'WHV_X64_XMM_CONTROL_STATUS_REGISTER',
  ]);
  assert.equal(whpRegistry.layoutOf('WHV_RUN_VP_EXIT_CONTEXT').size, 224);
  assert.equal(whpRegistry.layoutOf('WHV_REGISTER_VALUE').size, 16);
});

test('koffi accepts a prototype for every function and callback, with the header parameter count', (t) => {
  const koffi = koffiOrSkip(t);
  if (!koffi) return;
  const kt = koffiTypesFor(koffi, whpRegistry);
  for (const decl of [...WHV_FUNCTIONS, ...WHV_CALLBACKS]) {
    const proto = kt.proto(decl);
    const info = koffi.type(proto) as unknown as { proto: { arguments: unknown[] } };
    assert.equal(info.proto.arguments.length, decl.params.length, decl.name);
  }
});
