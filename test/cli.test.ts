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

test('--log-file records the error as a pino JSON line while stderr keeps one line', async (t) => {
  const { mkdtempSync, readFileSync: read, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const logDir = mkdtempSync(join(tmpdir(), 'krun-log-'));
  t.after(() => rmSync(logDir, { recursive: true, force: true }));
  const file = join(logDir, 'run.log');
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
  // The reader closes its end of the pipe at once and then lives on, so the CLI's write is
  // certain to fail with EPIPE (with `| true` it could land in the pipe buffer first). The CLI's
  // own status is read through PIPESTATUS; SIGPIPE is ignored in the shell, as Node does anyway.
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" inspect --kernel guest/bzImage --json | (exec 0<&-; sleep 1); echo "cli=\${PIPESTATUS[0]}"`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), 'cli=0');
});

test('an unusable --log-file is a one-line usage error, not a hang', () => {
  // /proc cannot hold new files or folders; pino's own mkdir would spin on it.
  const r = runCli(['--log-file', '/proc/krun-no-such-dir/run.log', 'probe'], { timeoutMs: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^krun-whp: error: cannot open the log file '\/proc\/krun-no-such-dir\/run\.log' \(ENOENT\) \(hint: pass --log-file a writable file/);
});

test('global options with no command, or help for an unknown command, are usage errors (exit 2, help on stderr)', () => {
  for (const args of [['--json'], ['--no-color'], ['--log-level', 'info'], ['help', 'bogus']]) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', `${args.join(' ')}: stdout stays empty for scripts`);
    assert.match(r.stderr, /Usage: krun-whp/);
  }
});

test("commander's 'Did you mean' suggestion stays on the one error line", () => {
  const r = runCli(['inspekt']);
  assert.equal(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^krun-whp: error: unknown command 'inspekt' \(Did you mean inspect\?\)/);
});

test('a --log-file FIFO with no reader is a one-line usage error, not a hang', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'krun-fifo-'));
  try {
    const fifo = join(dir, 'log');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const r = runCli(['--log-file', fifo, '--log-level', 'info', 'probe'], { timeoutMs: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /cannot open the log file .*\(ENXIO\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log that cannot be written (/dev/full) warns once; the real error line and exit code survive', () => {
  const r = runCli(['--log-file', '/dev/full', '--log-level', 'info', 'inspect', '--kernel', 'guest/bzImage', '--mem', '16']);
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^krun-whp: warning: cannot write to the log file '\/dev\/full' \(ENOSPC\); logging stopped$/);
  assert.match(lines[1]!, /^krun-whp: error: guest memory of 16 MiB is too small/);
});

test('stdout that cannot be written (ENOSPC) is a one-line error with exit 1, not a stack trace', async () => {
  const { openSync, closeSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const full = openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'krun-whp'), 'inspect', '--kernel', 'guest/bzImage'], {
      cwd: ROOT, stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'krun-whp: error: cannot write to stdout (ENOSPC)\n');
  } finally {
    closeSync(full);
  }
});

test("a subcommand's option error points at that subcommand's help", () => {
  const r = runCli(['probe-tsc', '--tsc-khzz', '1']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "krun-whp: error: unknown option '--tsc-khzz' (Did you mean --tsc-khz?) (see 'krun-whp probe-tsc --help')\n");
});
