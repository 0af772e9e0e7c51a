import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, ROOT } from './helpers/cli.ts';

test('--version prints the package version and exits 0', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const r = runCli(['--version']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('an unknown option is a one-line usage error with exit code 2', () => {
  const r = runCli(['--definitely-not-an-option']);
  assert.equal(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^krun-whp: error: unknown option '--definitely-not-an-option'/);
});

test('an invalid --log-level is a usage error naming the allowed choices', () => {
  const r = runCli(['--log-level', 'loud', '--version']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^krun-whp: error: .*loud.*silent/);
});

test('--help lists the global options and exits 0', () => {
  const r = runCli(['--help']);
  assert.equal(r.status, 0);
  for (const opt of ['--log-level', '--log-file', '--json', '--no-color', '--version']) assert.ok(r.stdout.includes(opt), opt);
});

test('a stack trace appears only at --log-level debug, not when "debug" is just an argument value', () => {
  const plain = runCli(['inspect', '--kernel', '/nonexistent/kernel', '--cmdline', 'debug']);
  assert.equal(plain.status, 2);
  assert.equal(plain.stderr.trim().split('\n').length, 1, plain.stderr);
  const debug = runCli(['--log-level', 'debug', 'inspect', '--kernel', '/nonexistent/kernel']);
  assert.equal(debug.status, 2);
  const lines = debug.stderr.trim().split('\n');
  assert.match(lines[0]!, /^krun-whp: error: kernel '\/nonexistent\/kernel' does not exist/);
  assert.ok(lines.some((l) => /^\s+at /.test(l)), 'debug level prints the stack');
});

test('--log-file records the error as a pino JSON line while stderr keeps one line', async () => {
  const { mkdtempSync, readFileSync: read } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'krun-log-')), 'run.log');
  const r = runCli(['--log-file', file, 'inspect', '--kernel', '/nonexistent/kernel']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const entry = JSON.parse(read(file, 'utf8').trim().split('\n').at(-1)!);
  assert.equal(entry.level, 50); // pino's "error"
  assert.equal(entry.err.type, 'InputError');
  assert.match(entry.msg, /does not exist/);
});

test('a reader that closes the pipe early ends the CLI quietly (no EPIPE trace)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { BIN } = await import('./helpers/cli.ts');
  // `| true`: the reader has exited before the CLI (100+ ms to start) writes anything, so the write fails with EPIPE.
  const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" inspect --kernel guest/bzImage --json | true`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
});

test('an unusable --log-file is a one-line usage error, not a hang', () => {
  // /proc cannot hold new files or folders; pino's own mkdir would spin on it.
  const r = runCli(['--log-file', '/proc/krun-no-such-dir/run.log', 'probe'], { timeoutMs: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^krun-whp: error: cannot open the log file '\/proc\/krun-no-such-dir\/run\.log' \(ENOENT\) \(hint: pass --log-file a writable file/);
});
