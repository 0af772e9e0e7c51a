/**
 * The console under a real pseudo-terminal (util-linux script(1)): raw mode is
 * set while the console runs and the terminal settings (`stty -g`) are exactly
 * restored after a normal end, after Ctrl-A x, after SIGTERM and SIGINT, and
 * after an uncaught exception. Also: Enter reaches the guest as CR, Ctrl-A
 * Ctrl-A sends one Ctrl-A, Ctrl-A h prints help.
 *
 * Driven through test/helpers/console-loopback-guest.ts (real Console, real
 * Uart16550, JS stand-in for the guest's 8250 driver; no CPU).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const hasScript = spawnSync('script', ['--version']).status === 0;
const helper = join(import.meta.dirname, 'helpers', 'console-loopback-guest.ts');

interface PtyRun {
  out: string;
  before: string;
  after: string;
  exit: string;
  raw: string;
  received: Buffer;
}

/**
 * Runs the helper inside a pty; `interact` gets a writer for the pty input and
 * the helper's pid once the helper says it is ready.
 */
function runInPty(extraArgs: string[], interact: (write: (s: string) => void, pid: number) => void): Promise<PtyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'krun-console-'));
  const recv = join(dir, 'received.bin');
  const inner = [
    'echo "STTY-BEFORE $(stty -g)"',
    `node --import tsx ${helper} --stty-probe --received-log ${recv} ${extraArgs.join(' ')}`,
    'echo "EXIT=$?"',
    'echo "STTY-AFTER $(stty -g)"',
  ].join('; ');
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qfec', inner, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'], cwd: join(import.meta.dirname, '..') });
    let out = '';
    let ready = false;
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`pty run timed out; output so far: ${JSON.stringify(out)}`));
    }, 30_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      const m = /ready pid=(\d+)/.exec(out);
      if (m && !ready) {
        ready = true;
        interact((s) => p.stdin.write(s), Number(m[1]));
      }
    });
    p.on('exit', () => {
      clearTimeout(timer);
      p.stdin.destroy();
      const grab = (re: RegExp) => re.exec(out)?.[1] ?? '';
      let received = Buffer.alloc(0);
      try {
        received = readFileSync(recv);
      } catch {
        // no received log when the helper was killed before writing it
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({
        out,
        before: grab(/STTY-BEFORE (\S+)/),
        after: grab(/STTY-AFTER (\S+)/),
        exit: grab(/EXIT=(\d+)/),
        raw: grab(/\[raw-stty ([^\]]*)\]/),
        received,
      });
    });
  });
}

function assertRawThenRestored(r: PtyRun): void {
  assert.equal(r.raw, '-icanon -echo -icrnl -isig', 'raw mode while the console runs');
  assert.ok(r.before.length > 10, `stty -g captured before: ${JSON.stringify(r.out)}`);
  assert.equal(r.after, r.before, 'terminal settings restored exactly');
}

test('Ctrl-A x quits; raw mode set, then restored; Enter is CR; Ctrl-A Ctrl-A is literal; Ctrl-A h helps', { skip: !hasScript && 'script(1) not installed' }, async () => {
  const r = await runInPty([], (write) => {
    write('ab\r\x01\x01');
    setTimeout(() => write('\x01h'), 150);
    setTimeout(() => write('\x01x'), 300);
  });
  assertRawThenRestored(r);
  assert.equal(r.exit, '0');
  assert.deepEqual([...r.received], [0x61, 0x62, 0x0d, 0x01], 'guest received a b CR ^A');
  assert.match(r.out, /Ctrl-A x\s+quit/);
  assert.match(r.out, /guest: echo ready/);
  assert.match(r.out, /done: quit/);
});

test('normal end (the guest powers off): terminal restored', { skip: !hasScript && 'script(1) not installed' }, async () => {
  const r = await runInPty(['--end-after-bytes', '3'], (write) => write('xyz'));
  assertRawThenRestored(r);
  assert.equal(r.exit, '0');
  assert.match(r.out, /done: guest-exit/);
  assert.equal(r.received.toString(), 'xyz');
});

for (const [signal, code] of [['SIGTERM', '143'], ['SIGINT', '130']] as const) {
  test(`${signal}: terminal restored, exit status says killed by ${signal}`, { skip: !hasScript && 'script(1) not installed' }, async () => {
    const r = await runInPty([], (_write, pid) => setTimeout(() => process.kill(pid, signal), 100));
    assertRawThenRestored(r);
    assert.equal(r.exit, code);
  });
}

test('uncaught exception: terminal restored, Node reports the error and exits 1', { skip: !hasScript && 'script(1) not installed' }, async () => {
  const r = await runInPty(['--throw-after-ready'], () => {});
  assertRawThenRestored(r);
  assert.equal(r.exit, '1');
  assert.match(r.out, /deliberate uncaught exception/);
});
