/**
 * `krun-whp probe` as a user runs it. On this (non-Windows) host WHP is
 * unavailable with a reason naming the platform, and — with no other backend
 * yet — the exit code is 1 with a clear line, not an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.ts';
import { buildReport } from '../src/cli/commands/probe.ts';
import { probeBackends } from '../src/vmm/backend.ts';
import type { BackendEntry } from '../src/vmm/backend.ts';

const nonWindows = process.platform === 'win32' ? 'this host is Windows: WHP availability depends on the machine' : false;

test('probe --json: schema, whp unavailable with the platform named, exit 1', { skip: nonWindows }, () => {
  const r = runCli(['probe', '--json']);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, '');
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc).sort(), ['backends', 'host']);
  assert.equal(doc.host.platform, process.platform);
  assert.equal(typeof doc.host.arch, 'string');
  assert.equal(typeof doc.host.release, 'string');
  const whp = doc.backends.find((b: { name: string }) => b.name === 'whp');
  assert.deepEqual(Object.keys(whp).sort(), ['available', 'name', 'reason']);
  assert.equal(whp.available, false);
  assert.match(whp.reason, new RegExp(`requires Windows 10 1803 or later.*this host is ${process.platform}`));
});

test('probe (human): a table of backends and one clear "no backend is usable" line, exit 1, no error line', { skip: nonWindows }, () => {
  const r = runCli(['probe']);
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stderr, /error/);
  assert.match(r.stdout, /whp\s+no\s+requires Windows/);
  assert.match(r.stdout, /no backend is usable on this host: whp: requires Windows/);
});

test('probeBackends: a throwing backend is reported unavailable; buildReport keeps WHP capabilities', async () => {
  const entries: BackendEntry[] = [
    { name: 'whp', summary: 'x', load: async () => ({ name: 'whp', summary: 'x', probe: async () => ({ name: 'whp', available: true, reason: 'ok', details: { capabilities: { hypervisorPresent: true } } }) }) },
    { name: 'soft', summary: 'y', load: async () => { throw new Error('module missing'); } },
  ];
  const host = { platform: 'win32' as const, arch: 'x64', release: '10.0.22631' };
  const probes = await probeBackends(host, entries);
  assert.deepEqual(probes[1], { name: 'soft', available: false, reason: 'probe failed: module missing' });
  const report = buildReport(host, probes);
  assert.deepEqual(report.whp, { hypervisorPresent: true });
  assert.deepEqual(report.backends.map((b) => b.name), ['whp', 'soft']);
});
