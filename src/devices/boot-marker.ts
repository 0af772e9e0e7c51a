/**
 * Boot-time marker port. The test guest's init writes the magic value 123 to
 * port 0x3F0 as its first action (the same port and value Firecracker uses for
 * its boot-time measurement; 0x3F0 is the unused floppy controller's base, so
 * nothing else claims it). The device stamps the write with the VM's Clock and
 * emits `reached`, so the VMM records time-to-init without parsing the console.
 * Other values are ignored (counted); reads return all ones, like the absent
 * floppy controller.
 */
import type { AccessSize, BusDevice } from './device.ts';
import { ACCESS_1 } from './device.ts';
import type { Clock } from './clock.ts';
import { hostClock } from './clock.ts';
import { DeviceEvent } from './device-event.ts';

export const BOOT_MARKER_PORT = 0x3f0;
export const BOOT_MARKER_VALUE = 123;

export interface BootMarkerEvent {
  /** Clock.monotonicNs() at the write. */
  timeNs: number;
  value: number;
}

export class BootMarker implements BusDevice {
  readonly name = 'boot-marker';
  readonly accessSizes = ACCESS_1;
  readonly reached = new DeviceEvent<BootMarkerEvent>();
  /** Time of the first marker write, or undefined. */
  firstNs: number | undefined;
  ignoredWrites = 0;
  private readonly clock: Clock;

  constructor(clock: Clock = hostClock) {
    this.clock = clock;
  }

  read(_offset: number, _size: AccessSize): number {
    return 0xff;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    if ((value & 0xff) !== BOOT_MARKER_VALUE) {
      this.ignoredWrites++;
      return;
    }
    const timeNs = this.clock.monotonicNs();
    this.firstNs ??= timeNs;
    this.reached.emit({ timeNs, value: BOOT_MARKER_VALUE });
  }
}
