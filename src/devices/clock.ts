/**
 * Time sources for the devices. One Clock per VM (design.md, "Time"): the PIT
 * counts from `monotonicNs()`, the RTC shows `wallMs()`. Tests inject a
 * ManualClock and move virtual time explicitly.
 */
export interface Clock {
  /** Monotonic time in nanoseconds since an arbitrary origin (a double: exact to 2^53 ns ≈ 104 days). */
  monotonicNs(): number;
  /** Wall-clock time in milliseconds since the Unix epoch (UTC), with sub-millisecond fraction when available. */
  wallMs(): number;
}

/**
 * The host's clocks. `performance.now()` is monotonic with sub-microsecond
 * resolution; the wall clock is derived from it (timeOrigin + now) so the RTC's
 * update-in-progress window, which is 244 µs wide, can be observed at all.
 */
export const hostClock: Clock = {
  monotonicNs: () => performance.now() * 1e6,
  wallMs: () => performance.timeOrigin + performance.now(),
};

/** A clock that moves only when told to: for tests and deterministic runs. */
export class ManualClock implements Clock {
  private ns: number;
  private wallOriginMs: number;
  constructor(startWallMs = Date.UTC(2024, 0, 1), startNs = 0) {
    this.ns = startNs;
    this.wallOriginMs = startWallMs;
  }
  monotonicNs(): number {
    return this.ns;
  }
  wallMs(): number {
    return this.wallOriginMs + this.ns / 1e6;
  }
  advanceNs(ns: number): void {
    this.ns += ns;
  }
  advanceMs(ms: number): void {
    this.ns += ms * 1e6;
  }
  /** Moves the wall clock without moving monotonic time (e.g. to place it just before a second boundary). */
  setWallMs(ms: number): void {
    this.wallOriginMs = ms - this.ns / 1e6;
  }
}
