/**
 * Importing the WHP modules on a non-Windows host loads no native addon and
 * prints nothing; opening WHP there is a typed error naming the platform.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from './helpers/cli.ts';

test('importing every src/whp module loads no native addon and writes nothing', () => {
  const script = `
    const loaded = [];
    const dlopen = process.dlopen;
    process.dlopen = function (m, f, ...r) { loaded.push(f); return dlopen.call(this, m, f, ...r); };
    const { readdirSync } = await import('node:fs');
    for (const f of readdirSync('src/whp')) await import('./src/whp/' + f);
    await import('./src/vmm/backend.ts');
    process.stderr.write('DLOPEN:' + JSON.stringify(loaded));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'DLOPEN:[]');
});

test('openWhp off Windows is a HostError that names the platform', { skip: process.platform === 'win32' ? 'this host is Windows' : false }, async () => {
  const { openWhp } = await import('../src/whp/whp-library.ts');
  const { HostError } = await import('../src/errors.ts');
  assert.throws(() => openWhp(), (err: unknown) => err instanceof HostError && err.message.includes(`this host is ${process.platform}`));
});
