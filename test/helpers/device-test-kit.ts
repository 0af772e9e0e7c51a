/**
 * Small test doubles for device tests: a recording IrqLine, a recording
 * InterruptInjector, array-backed byte sink/source, a recording Logger and a
 * seeded PRNG (mulberry32) for the fuzz tests.
 */
import type { IrqLine } from '../../src/devices/device.ts';
import type { InterruptInjector, InterruptRequest } from '../../src/devices/interrupt-injector.ts';
import type { ByteSink, ByteSource } from '../../src/devices/byte-stream.ts';
import type { Logger } from '../../src/log.ts';

export class RecordingIrq implements IrqLine {
  level = false;
  rises = 0;
  history: boolean[] = [];
  set(level: boolean): void {
    if (level && !this.level) this.rises++;
    this.level = level;
    this.history.push(level);
  }
  pulse(): void {
    this.set(true);
    this.set(false);
  }
}

export class RecordingInjector implements InterruptInjector {
  requests: InterruptRequest[] = [];
  requestInterrupt(r: Readonly<InterruptRequest>): void {
    this.requests.push({ ...r });
  }
}

export class ArraySink implements ByteSink {
  bytes: number[] = [];
  capacity: number;
  constructor(capacity = Infinity) {
    this.capacity = capacity;
  }
  writeByte(b: number): boolean {
    if (this.bytes.length >= this.capacity) return false;
    this.bytes.push(b);
    return true;
  }
}

export class ArraySource implements ByteSource {
  bytes: number[];
  constructor(bytes: Iterable<number> = []) {
    this.bytes = [...bytes];
  }
  readByte(): number {
    return this.bytes.length ? this.bytes.shift()! : -1;
  }
}

export class RecordingLogger implements Logger {
  lines: { level: string; obj: object | string; msg?: string }[] = [];
  debug(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'debug', obj, msg });
  }
  info(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object | string, msg?: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
  isLevelEnabled(): boolean {
    return true;
  }
}

/** mulberry32: a tiny seeded PRNG so fuzz failures can be replayed from the printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seed from FUZZ_SEED (to replay) or from the clock; the test prints it. */
export function fuzzSeed(): number {
  const env = process.env.FUZZ_SEED;
  return env !== undefined ? Number(env) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
}

/**
 * A driver's busy-wait, bounded: polls `done()` up to `max` times and fails the test naming
 * `what` if it never holds, instead of spinning until the runner's 10-minute timeout when a
 * device model stops setting a bit.
 */
export function pollUntil(done: () => boolean, what: string, max = 1_000_000): number {
  for (let n = 0; n < max; n++) if (done()) return n;
  throw new Error(`gave up waiting for ${what} after ${max} polls`);
}
