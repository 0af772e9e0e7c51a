/**
 * Worker side of the ByteRing wake-up test: answers every byte that arrives on
 * `ping` with the same byte on `pong`, sleeping with Atomics.wait in between,
 * for `rounds` rounds. Each sleep has a long timeout; a sleep that ends by the
 * timeout although the main thread had already sent its byte is a lost
 * wake-up, which is what the test counts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ByteRing } from '../../src/devices/byte-ring.ts';

const ping = new ByteRing(workerData.ping as SharedArrayBuffer);
const pong = new ByteRing(workerData.pong as SharedArrayBuffer);
const rounds = workerData.rounds as number;
const timeoutMs = workerData.timeoutMs as number;
let timedOut = 0;
let sleeps = 0;
for (let i = 0; i < rounds; i++) {
  while (ping.available() === 0) {
    sleeps++;
    if (!ping.waitForData(timeoutMs)) timedOut++;
  }
  const b = ping.readByte();
  while (!pong.writeByte(b)) pong.waitForSpace(timeoutMs);
}
parentPort!.postMessage({ timedOut, sleeps });
