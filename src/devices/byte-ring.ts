/**
 * A bounded single-producer / single-consumer byte queue in a SharedArrayBuffer,
 * for console bytes that cross between the main thread (terminal) and the
 * thread that runs the devices (design.md, "Threads").
 *
 * Layout (Int32 header, then data):
 *   [0] head   total bytes ever written (mod 2^32), written only by the producer
 *   [1] tail   total bytes ever read (mod 2^32), written only by the consumer
 *   [2] consumerWaiting  1 while the consumer sleeps (it sleeps on this word)
 *   [3] producerWaiting  1 while the producer sleeps (it sleeps on this word)
 *   [4] closed           1 once the producer will write no more
 *   data at byte 64, `capacity` bytes (a power of two)
 *
 * Ordering: the data bytes are stored before the Atomics.store of head (and read
 * before the store of tail); Atomics are sequentially consistent in the JS
 * memory model, so the other side sees the bytes once it sees the new index.
 *
 * Wake-ups cost nothing when nobody sleeps. A waiter sleeps on its own
 * "waiting" word, never on head or tail: it stores 1 there, re-checks the
 * index, then waits for the word to leave 1. The other side stores the index,
 * then, if the word is 1, exchanges it to 0 and notifies it (once: a producer
 * writing 64 KiB byte by byte to a sleeping consumer notifies on the first byte
 * only). With SC atomics either the waiter's re-check sees the new index, or
 * the other side sees the 1; and whoever clears the word notifies it, so a
 * waiter can never sleep on a word that nobody will touch again.
 *
 * (An earlier version slept on head/tail with the value it read before raising
 * its flag, and lost wake-ups two ways: close() changes no index, so its notify
 * could land before the consumer slept; and a producer still inside an older
 * write could take down the new flag before the consumer slept, after which
 * the next write saw no flag and notified nobody. The second hung the console
 * test about once in 20 runs. test/models/byte-ring.pml models both versions;
 * SPIN finds both hangs in the old one and none in this one.)
 *
 * Back-pressure is the point: a full ring makes `write` return short, and the
 * producer waits for space (the console pauses stdin; the UART keeps THRE low)
 * instead of dropping bytes.
 *
 * Pure: uses SharedArrayBuffer and Atomics only (no worker_threads); the buffer
 * is handed to a Worker by the VMM with `postMessage`.
 */
import type { ByteSink, ByteSource } from './byte-stream.ts';

const HEAD = 0;
const TAIL = 1;
const CONSUMER_WAITING = 2;
const PRODUCER_WAITING = 3;
const CLOSED = 4;
const DATA_OFFSET = 64;

/** Atomics.waitAsync (V8 since 8.7, Node >= 16) is missing from the ES2022 lib typings the project uses. */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const atomicsWaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export class ByteRing implements ByteSink, ByteSource {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  private readonly ctl: Int32Array;
  private readonly data: Uint8Array;
  private readonly mask: number;
  /**
   * Producer-side copies: head is written only by the producer, so its owner keeps it in a
   * field; tailSeen is a possibly stale tail (stale only ever means "less room").
   * One ByteRing object serves one producer (and any consumer); a second producer object on
   * the same buffer would be a second producer, which this SPSC ring does not support.
   */
  private producerHead: number;
  private tailSeen: number;

  constructor(buffer: SharedArrayBuffer) {
    const capacity = buffer.byteLength - DATA_OFFSET;
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`ByteRing buffer must be ${DATA_OFFSET} + a power of two bytes, got ${buffer.byteLength}`);
    }
    this.buffer = buffer;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.ctl = new Int32Array(buffer, 0, 8);
    this.data = new Uint8Array(buffer, DATA_OFFSET, capacity);
    this.producerHead = Atomics.load(this.ctl, HEAD);
    this.tailSeen = Atomics.load(this.ctl, TAIL);
  }

  /** A new, empty ring holding up to `capacity` bytes (rounded up to a power of two). */
  static create(capacity: number): ByteRing {
    let c = 2;
    while (c < capacity) c *= 2;
    return new ByteRing(new SharedArrayBuffer(DATA_OFFSET + c));
  }

  /** Bytes ready to read. */
  available(): number {
    return (Atomics.load(this.ctl, HEAD) - Atomics.load(this.ctl, TAIL)) >>> 0;
  }

  /** Room left for writing. */
  free(): number {
    return this.capacity - this.available();
  }

  get closed(): boolean {
    return Atomics.load(this.ctl, CLOSED) !== 0;
  }

  // --- producer side -------------------------------------------------------

  writeByte(byte: number): boolean {
    // Hot path (one call per guest THR write): head is ours, so read it without a fence;
    // tail is re-read from shared memory only when the cached value says "full".
    const ctl = this.ctl;
    const head = this.producerHead;
    if (((head - this.tailSeen) >>> 0) >= this.capacity) {
      this.tailSeen = Atomics.load(ctl, TAIL);
      if (((head - this.tailSeen) >>> 0) >= this.capacity) return false;
    }
    this.data[head & this.mask] = byte;
    const next = (head + 1) | 0;
    this.producerHead = next;
    Atomics.store(ctl, HEAD, next);
    if (Atomics.load(ctl, CONSUMER_WAITING) !== 0 && Atomics.exchange(ctl, CONSUMER_WAITING, 0) !== 0) Atomics.notify(ctl, CONSUMER_WAITING);
    return true;
  }

  /** Copies as much of src[start, end) as fits; returns the number of bytes written. */
  write(src: Uint8Array, start = 0, end = src.length): number {
    const ctl = this.ctl;
    const head = this.producerHead;
    this.tailSeen = Atomics.load(ctl, TAIL);
    const room = this.capacity - ((head - this.tailSeen) >>> 0);
    const n = Math.min(room, end - start);
    if (n <= 0) return 0;
    const at = head & this.mask;
    const first = Math.min(n, this.capacity - at);
    this.data.set(src.subarray(start, start + first), at);
    if (n > first) this.data.set(src.subarray(start + first, start + n), 0);
    this.producerHead = (head + n) | 0;
    Atomics.store(ctl, HEAD, this.producerHead);
    if (Atomics.load(ctl, CONSUMER_WAITING) !== 0 && Atomics.exchange(ctl, CONSUMER_WAITING, 0) !== 0) Atomics.notify(ctl, CONSUMER_WAITING);
    return n;
  }

  /** The producer will write no more; wakes a sleeping consumer. */
  close(): void {
    Atomics.store(this.ctl, CLOSED, 1);
    this.wakeConsumer();
  }

  // --- consumer side -------------------------------------------------------

  readByte(): number {
    const ctl = this.ctl;
    const tail = Atomics.load(ctl, TAIL);
    if (Atomics.load(ctl, HEAD) === tail) return -1;
    const b = this.data[tail & this.mask]!;
    Atomics.store(ctl, TAIL, (tail + 1) | 0);
    if (Atomics.load(ctl, PRODUCER_WAITING) !== 0 && Atomics.exchange(ctl, PRODUCER_WAITING, 0) !== 0) Atomics.notify(ctl, PRODUCER_WAITING);
    return b;
  }

  /** Moves up to dst.length bytes into dst; returns how many. */
  read(dst: Uint8Array): number {
    const ctl = this.ctl;
    const tail = Atomics.load(ctl, TAIL);
    const n = Math.min(dst.length, (Atomics.load(ctl, HEAD) - tail) >>> 0);
    if (n === 0) return 0;
    const at = tail & this.mask;
    const first = Math.min(n, this.capacity - at);
    dst.set(this.data.subarray(at, at + first), 0);
    if (n > first) dst.set(this.data.subarray(0, n - first), first);
    Atomics.store(ctl, TAIL, (tail + n) | 0);
    if (Atomics.load(ctl, PRODUCER_WAITING) !== 0 && Atomics.exchange(ctl, PRODUCER_WAITING, 0) !== 0) Atomics.notify(ctl, PRODUCER_WAITING);
    return n;
  }

  // --- waiting ---------------------------------------------------------------

  /**
   * Blocks the calling thread until data is available, the ring is closed, or
   * `timeoutMs` passes. For Workers only (the main thread may not Atomics.wait).
   * Returns true when data is available.
   */
  waitForData(timeoutMs = Infinity): boolean {
    return this.waitSync(CONSUMER_WAITING, () => this.available() > 0 || this.closed, timeoutMs);
  }

  /** Blocks until there is room for at least one byte (Workers only). */
  waitForSpace(timeoutMs = Infinity): boolean {
    return this.waitSync(PRODUCER_WAITING, () => this.free() > 0, timeoutMs);
  }

  /**
   * Resolves after at most one wake-up: when data arrives, the ring is closed,
   * `wakeConsumer()` is called, or the timeout passes. Resolves to whether data
   * is available (or the ring is closed); callers loop. Any thread, non-blocking.
   */
  waitForDataAsync(timeoutMs = Infinity): Promise<boolean> {
    return this.waitAsync(CONSUMER_WAITING, () => this.available() > 0 || this.closed, timeoutMs);
  }

  /** Like waitForDataAsync, for room to write at least one byte (`wakeProducer()` interrupts it). */
  waitForSpaceAsync(timeoutMs = Infinity): Promise<boolean> {
    return this.waitAsync(PRODUCER_WAITING, () => this.free() > 0, timeoutMs);
  }

  /** Wakes a consumer sleeping in a wait without adding data (e.g. to let it see a stop request). */
  wakeConsumer(): void {
    Atomics.store(this.ctl, CONSUMER_WAITING, 0);
    Atomics.notify(this.ctl, CONSUMER_WAITING);
  }

  /** Wakes a producer sleeping in a wait without freeing space. */
  wakeProducer(): void {
    Atomics.store(this.ctl, PRODUCER_WAITING, 0);
    Atomics.notify(this.ctl, PRODUCER_WAITING);
  }

  private waitSync(flag: number, ready: () => boolean, timeoutMs: number): boolean {
    const ctl = this.ctl;
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      Atomics.store(ctl, flag, 1);
      if (ready()) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(ctl, flag, 1, left);
    }
    Atomics.store(ctl, flag, 0);
    return ready();
  }

  private async waitAsync(flag: number, ready: () => boolean, timeoutMs: number): Promise<boolean> {
    const ctl = this.ctl;
    if (ready()) return true;
    Atomics.store(ctl, flag, 1);
    if (!ready()) {
      const r = atomicsWaitAsync(ctl, flag, 1, timeoutMs === Infinity ? undefined : timeoutMs);
      if (r.async) {
        // A pending waitAsync does not keep Node's event loop alive; a timer does, so the
        // process does not exit (or a test end) while the other side is about to notify.
        const keepAlive = setInterval(() => {}, 1 << 30);
        try {
          await r.value;
        } finally {
          clearInterval(keepAlive);
        }
      }
    }
    Atomics.store(ctl, flag, 0);
    return ready();
  }
}
