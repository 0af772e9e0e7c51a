/**
 * Device-model costs, each beside a baseline measured in the same run:
 * - one port-I/O dispatch to the UART (PortIoBus → Uart16550 LSR read, and a THR
 *   write into the console ring) vs. a plain indexed load in a loop;
 * - guest console output through the UART to a file: a JS "guest" polls LSR.THRE
 *   and writes THR byte by byte (two port-I/O dispatches per byte, as Linux's
 *   serial console does), the bytes go UART → ByteRing → Console → file, vs.
 *   writing the same bytes to a file with fs.writeSync in 64 KiB chunks.
 */
import { openSync, closeSync, writeSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from './harness.ts';
import { nsPerOp, median } from './harness.ts';
import { PortIoBus } from '../src/devices/bus.ts';
import { Uart16550 } from '../src/devices/uart16550.ts';
import { ByteRing } from '../src/devices/byte-ring.ts';
import { Console } from '../src/vmm/console.ts';
import type { ConsoleInput } from '../src/vmm/console.ts';
import { PassThrough } from 'node:stream';

let blackhole = 0;

function dispatchBench(): BenchResult[] {
  const bus = new PortIoBus();
  const ring = ByteRing.create(1 << 16);
  const uart = new Uart16550({ sink: ring });
  bus.register(0x3f8, 8, uart);
  bus.write(0x3fb, 1, 0x03);
  const plain = new Uint8Array(8).fill(0x60);
  let i = 0;
  const ref = nsPerOp(() => {
    blackhole += plain[i++ & 7]!;
  }, 2_000_000);
  const lsr = nsPerOp(() => {
    blackhole += bus.read(0x3fd, 1);
  }, 2_000_000);
  const scratch = new Uint8Array(4096);
  let n = 0;
  const thr = nsPerOp(() => {
    bus.write(0x3f8, 1, 0x41);
    if (++n === 4096) {
      n = 0;
      ring.read(scratch);
      ring.read(scratch); // keep the ring from filling (amortised)
    }
  }, 2_000_000);
  return [
    {
      name: 'port I/O dispatch: UART LSR read',
      unit: 'ns/op',
      value: lsr,
      reference: { name: 'plain indexed load', value: ref },
      goal: '< 500 ns',
      pass: lsr < 500,
    },
    {
      name: 'port I/O dispatch: UART THR write → ring',
      unit: 'ns/op',
      value: thr,
      reference: { name: 'plain indexed load', value: ref },
      goal: '< 500 ns',
      pass: thr < 500,
    },
  ];
}

async function throughputOnce(dir: string, total: number): Promise<{ uart: number; plain: number }> {
  const payload = Buffer.alloc(total);
  for (let i = 0; i < total; i++) payload[i] = 32 + (i % 95);

  // Baseline: the same bytes straight to a file.
  const plainPath = join(dir, 'plain.out');
  let fd = openSync(plainPath, 'w');
  let t0 = process.hrtime.bigint();
  for (let off = 0; off < total; off += 65536) writeSync(fd, payload, off, Math.min(65536, total - off));
  closeSync(fd);
  const plainS = Number(process.hrtime.bigint() - t0) / 1e9;

  // Through the UART: guest → PortIoBus → Uart16550 → ByteRing → Console → file.
  const uartPath = join(dir, 'uart.out');
  fd = openSync(uartPath, 'w');
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      writeSync(fd, chunk); // like process.stdout on a file: synchronous
      cb();
    },
  });
  const toGuest = ByteRing.create(4096);
  const fromGuest = ByteRing.create(1 << 16);
  const bus = new PortIoBus();
  const uart = new Uart16550({ sink: fromGuest, source: toGuest });
  bus.register(0x3f8, 8, uart);
  const input = new PassThrough() as unknown as ConsoleInput;
  const con = new Console({ toGuest, fromGuest, input, output, onOutputDrained: () => uart.pollHost() });
  con.start();
  bus.write(0x3fb, 1, 0x03);
  bus.write(0x3fa, 1, 0x07); // FIFO on
  t0 = process.hrtime.bigint();
  let i = 0;
  while (i < total) {
    // serial8250_console_putchar: wait for THRE, then write THR.
    if (bus.read(0x3fd, 1) & 0x20) bus.write(0x3f8, 1, payload[i++]!);
    else await fromGuest.waitForSpaceAsync(); // the "vCPU" waits; the console drains
  }
  await con.stop();
  closeSync(fd);
  const uartS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (statSync(uartPath).size !== total) throw new Error(`UART path wrote ${statSync(uartPath).size} of ${total} bytes`);
  return { uart: total / uartS / 1e6, plain: total / plainS / 1e6 };
}

async function throughputBench(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'krun-bench-devices-'));
  try {
    const runs: { uart: number; plain: number }[] = [];
    await throughputOnce(dir, 1 << 20); // warm-up
    for (let r = 0; r < 5; r++) runs.push(await throughputOnce(dir, 8 << 20));
    const uart = median(runs.map((x) => x.uart));
    return [
      {
        name: 'guest console output via UART to a file',
        unit: 'MB/s',
        value: uart,
        reference: { name: 'fs.writeSync 64 KiB chunks', value: median(runs.map((x) => x.plain)) },
        goal: '> 5 MB/s',
        pass: uart > 5,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const results = [...dispatchBench(), ...(await throughputBench())];
  if (blackhole === 0.5) console.log(blackhole); // keep the measured loads alive
  return results;
}
