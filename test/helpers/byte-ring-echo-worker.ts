/**
 * Worker side of the ByteRing cross-thread test: reads from `input` (blocking
 * with Atomics.wait, as a vCPU Worker would) and writes every byte back to
 * `output`, blocking while it is full, until `input` is closed and drained.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ByteRing } from '../../src/devices/byte-ring.ts';

const input = new ByteRing(workerData.input as SharedArrayBuffer);
const output = new ByteRing(workerData.output as SharedArrayBuffer);
const chunk = new Uint8Array(workerData.chunk as number);
let total = 0;
let sleeps = 0;
for (;;) {
  if (input.available() === 0) {
    if (input.closed) break;
    sleeps++;
    input.waitForData();
    continue;
  }
  const n = input.read(chunk);
  let off = 0;
  while (off < n) {
    off += output.write(chunk, off, n);
    if (off < n) output.waitForSpace();
  }
  total += n;
}
output.close();
parentPort!.postMessage({ total, sleeps });
