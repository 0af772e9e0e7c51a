/**
 * TerminalRawMode and SerialLog without a real terminal: hooks are installed
 * only while raw, removed on restore, restore is idempotent; the serial log
 * keeps raw bytes and reports an unusable path as a HostError with a hint.
 * (The real-pty behaviour is in console-pty.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TerminalRawMode } from '../src/vmm/console-terminal.ts';
import { SerialLog } from '../src/vmm/console-serial-log.ts';
import { HostError } from '../src/errors.ts';

test('raw mode: set and restored through setRawMode; signal/exit hooks only while raw', () => {
  const calls: boolean[] = [];
  const fakeTty = { isTTY: true, setRawMode: (m: boolean) => calls.push(m) };
  const before = ['SIGTERM', 'SIGINT', 'SIGHUP', 'exit', 'uncaughtExceptionMonitor'].map((e) => process.listenerCount(e));
  const t = new TerminalRawMode(fakeTty);
  t.enter();
  assert.equal(t.isRaw, true);
  assert.equal(process.listenerCount('SIGTERM'), before[0]! + 1);
  assert.equal(process.listenerCount('uncaughtExceptionMonitor'), before[4]! + 1);
  t.restore();
  t.restore();
  assert.deepEqual(calls, [true, false]);
  const after = ['SIGTERM', 'SIGINT', 'SIGHUP', 'exit', 'uncaughtExceptionMonitor'].map((e) => process.listenerCount(e));
  assert.deepEqual(after, before);
});

test('not a TTY: raw mode is never touched', () => {
  let touched = false;
  const t = new TerminalRawMode({ isTTY: false, setRawMode: () => (touched = true) });
  t.enter();
  assert.equal(t.isRaw, false);
  assert.equal(touched, false);
});

test('a signal while raw restores first, then hands over to the owner', () => {
  const calls: boolean[] = [];
  const seen: string[] = [];
  const t = new TerminalRawMode({ isTTY: true, setRawMode: (m: boolean) => calls.push(m) }, (sig) => seen.push(sig));
  t.enter();
  process.emit('SIGHUP', 'SIGHUP');
  assert.deepEqual(calls, [true, false]);
  assert.deepEqual(seen, ['SIGHUP']);
});

test('serial log: bytes written exactly as received; bad path → HostError with a hint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'krun-serial-log-'));
  try {
    const path = join(dir, 'guest.log');
    const log = new SerialLog(path);
    const bytes = Uint8Array.from([0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x0d, 0x0a, 0xff, 0x00, 0xc3]);
    log.write(bytes);
    log.write(bytes.subarray(0, 2));
    log.close();
    log.close();
    assert.deepEqual([...readFileSync(path)], [...bytes, 0x1b, 0x5b]);
    assert.throws(
      () => new SerialLog(join(dir, 'missing-dir', 'x.log')),
      (e: unknown) => e instanceof HostError && /cannot open serial log .*ENOENT/.test(e.message) && e.hint !== undefined,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
