/**
 * The host side of a byte device, as the device sees it. Both calls are
 * non-blocking and allocation-free; "not now" is a return value, never a wait,
 * because a device runs on the vCPU's thread and must not stall the bus.
 *
 * ByteRing (byte-ring.ts) implements both over a SharedArrayBuffer so the host
 * end can live on another thread; tests use simple arrays.
 */
export interface ByteSink {
  /** Offers one byte; returns false when the sink is full (the caller keeps the byte and retries later). */
  writeByte(byte: number): boolean;
}

export interface ByteSource {
  /** Takes one byte, or returns -1 when none is available right now. */
  readByte(): number;
}

/** A source that never has data (a port with nothing attached). */
export const emptySource: ByteSource = { readByte: () => -1 };
/** A sink that accepts and discards everything (libkrun's "sink" serial ports). */
export const discardSink: ByteSink = { writeByte: () => true };
