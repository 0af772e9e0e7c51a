/**
 * Worker side of the console-across-threads test: a Uart16550 living in a
 * Worker, as it will in a vCPU Worker (design.md, "Threads"), with a polled
 * echo "driver" (no CPU: JS calling the registers). It sleeps on the input
 * ring with Atomics.wait like a halted vCPU, and waits for ring space when the
 * host's output is behind, so back-pressure crosses the thread boundary.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ByteRing } from '../../src/devices/byte-ring.ts';
import { Uart16550 } from '../../src/devices/uart16550.ts';

const toGuest = new ByteRing(workerData.toGuest as SharedArrayBuffer);
const fromGuest = new ByteRing(workerData.fromGuest as SharedArrayBuffer);
const uart = new Uart16550({ sink: fromGuest, source: toGuest });
uart.write(2, 1, 0x01); // FIFO on
uart.write(3, 1, 0x03); // 8N1
uart.write(4, 1, 0x03); // DTR, RTS: input may flow

let echoed = 0;
for (;;) {
  uart.pollHost();
  if (uart.read(5, 1) & 0x01) {
    const b = uart.read(0, 1);
    while (!(uart.read(5, 1) & 0x20)) {
      fromGuest.waitForSpace(1000);
      uart.pollHost();
    }
    uart.write(0, 1, b);
    echoed++;
  } else if (toGuest.closed && toGuest.available() === 0) break;
  else toGuest.waitForData(1000);
}
while (!(uart.read(5, 1) & 0x40)) {
  fromGuest.waitForSpace(1000);
  uart.pollHost();
}
fromGuest.close();
parentPort!.postMessage({ echoed });
