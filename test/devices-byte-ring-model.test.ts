/**
 * SPIN (Debian's `spin`, G. J. Holzmann's model checker) explores every
 * interleaving of a Promela model of ByteRing's wait/wake protocol
 * (test/models/byte-ring.pml) and must find no process asleep for good.
 *
 * What it proves: the protocol as modelled (one Atomics operation per Promela
 * step, futex semantics of Atomics.wait) cannot lose a wake-up, for a producer
 * and a consumer that both sleep, with and without close(). What it does not:
 * that byte-ring.ts matches the model line for line (that is kept by review;
 * the comments in both name the same steps), nor anything about bytes or order
 * (the Worker tests in devices-byte-ring.test.ts check those on real threads).
 *
 * The earlier protocol (-DOLD) must fail, once through close() and once through
 * the stale-producer race that hung the console test in CI: that is what shows
 * the model can see the bug at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODEL = new URL('./models/byte-ring.pml', import.meta.url).pathname;
const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = ['spin', 'gcc'].filter((c) => !have(c));
const skip = missing.length > 0 ? `needs ${missing.join(' and ')} (apt-get install spin gcc; .ci/run installs them)` : false;

interface Verdict {
  errors: number;
  invalidEndState: boolean;
  statesStored: number;
  output: string;
}

function check(defines: string[]): Verdict {
  const dir = mkdtempSync(join(tmpdir(), 'krun-spin-'));
  try {
    copyFileSync(MODEL, join(dir, 'byte-ring.pml'));
    const gen = spawnSync('spin', [...defines, '-a', 'byte-ring.pml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(gen.status, 0, `spin -a failed: ${gen.stdout}${gen.stderr}`);
    const cc = spawnSync('gcc', ['-O1', '-o', 'pan', 'pan.c'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(cc.status, 0, `gcc pan.c failed: ${cc.stderr}`);
    // -m: search depth bound, far above the model's depth (about 80); pan reports if it is hit.
    const run = spawnSync('./pan', ['-m100000'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    const output = run.stdout + run.stderr;
    const errors = Number(/errors: (\d+)/.exec(output)?.[1] ?? NaN);
    assert.ok(!Number.isNaN(errors), `no verdict from pan:\n${output}`);
    assert.doesNotMatch(output, /max search depth too small/, 'the search was complete');
    return {
      errors,
      invalidEndState: /invalid end state/.test(output),
      statesStored: Number(/(\d+) states, stored/.exec(output)?.[1] ?? 0),
      output,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the ring protocol loses no wake-up, in any interleaving (SPIN)', { skip }, () => {
  for (const defines of [[], ['-DNOCLOSE']]) {
    const v = check(defines);
    assert.equal(v.errors, 0, `spin ${defines.join(' ')}:\n${v.output}`);
    assert.ok(v.statesStored > 100, `the search covered the interleavings (${v.statesStored} states)`);
  }
});

test('the model sees both lost wake-ups of the earlier protocol (SPIN finds them)', { skip }, () => {
  const closeRace = check(['-DOLD']);
  assert.equal(closeRace.errors, 1, closeRace.output);
  assert.ok(closeRace.invalidEndState, 'a process left asleep for good');
  const staleProducer = check(['-DOLD', '-DNOCLOSE']);
  assert.equal(staleProducer.errors, 1, staleProducer.output);
  assert.ok(staleProducer.invalidEndState, 'a process left asleep for good');
});
