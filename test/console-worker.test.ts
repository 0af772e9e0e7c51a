/**
 * The real Console on the main thread and the real Uart16550 in a Worker,
 * connected only by the two SharedArrayBuffer rings: piped input crosses to the
 * UART and the echo crosses back, with rings far smaller than the data, so both
 * directions block and wake across threads. No CPU is involved (see the worker).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { PassThrough, Writable } from 'node:stream';
import { ByteRing } from '../src/devices/byte-ring.ts';
import { Console } from '../src/vmm/console.ts';
import type { ConsoleInput } from '../src/vmm/console.ts';
import { prng } from './helpers/device-test-kit.ts';

test('console ↔ UART across a Worker: 300 KB echoed byte-exact through 2 KiB rings', async () => {
  const toGuest = ByteRing.create(2048);
  const fromGuest = ByteRing.create(2048);
  const entry = new URL('./helpers/uart-echo-worker.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, {
    eval: true,
    workerData: { toGuest: toGuest.buffer, fromGuest: fromGuest.buffer },
  });
  const workerDone = new Promise<{ echoed: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', (e) => {
      fromGuest.close();
      reject(e);
    });
  });
  const chunks: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      setImmediate(cb); // an asynchronous consumer, like a slow pipe
    },
  });
  const input = new PassThrough();
  const con = new Console({ toGuest, fromGuest, input: input as unknown as ConsoleInput, output });
  con.start();
  assert.equal(con.raw, false, 'not a TTY: no raw mode');
  const rnd = prng(7);
  const data = Buffer.from(Uint8Array.from({ length: 300_000 }, () => (rnd() * 256) | 0));
  for (let off = 0; off < data.length; off += 10_000) input.write(data.subarray(off, off + 10_000));
  input.end();
  const { echoed } = await workerDone;
  // The worker closed fromGuest after its last byte; stop() drains what is left.
  await con.stop();
  await worker.terminate();
  assert.equal(echoed, data.length);
  assert.ok(Buffer.concat(chunks).equals(data), 'every byte came back, in order');
});
