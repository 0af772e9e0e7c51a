/**
 * The console with pipes instead of a terminal (CI, `cmd | krun-whp run …`):
 * no raw mode, no escape processing, and every piped byte reaches the UART's
 * receive side and comes back out, in order, through rings smaller than the
 * input (so back-pressure is exercised both ways). The serial log holds the
 * same bytes as stdout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng } from './helpers/device-test-kit.ts';

const helper = join(import.meta.dirname, 'helpers', 'console-loopback-guest.ts');

test('piped input reaches the UART with no byte lost; output and serial log are byte-exact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'krun-console-pipe-'));
  try {
    const recv = join(dir, 'received.bin');
    const log = join(dir, 'serial.log');
    const rnd = prng(42);
    // every byte value, including Ctrl-A (no escape processing on a pipe) and CR/LF
    const input = Buffer.from(Uint8Array.from({ length: 200_000 }, () => (rnd() * 256) | 0));
    const p = spawn(process.execPath, ['--import', 'tsx', helper, '--serial-log', log, '--received-log', recv, '--ring-size', '1024'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => chunks.push(d));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.end(input);
    const code = await new Promise<number | null>((resolve) => p.on('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.match(stderr, /raw=false/);
    const out = Buffer.concat(chunks);
    const banner = Buffer.from('guest: echo ready\r\n');
    assert.ok(readFileSync(recv).equals(input), 'UART receive side got every byte, in order');
    assert.ok(out.subarray(0, banner.length).equals(banner));
    assert.ok(out.subarray(banner.length).equals(input), 'echo came back byte-exact');
    assert.ok(readFileSync(log).equals(out), '--serial-log equals stdout');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
