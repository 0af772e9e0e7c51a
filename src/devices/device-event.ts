/**
 * A minimal typed event for devices (reset requested, boot marker seen). Pure code:
 * devices must not depend on node:events, and a listener that throws must not be
 * able to break the device's register access path, so emit() isolates listeners.
 */
export type Unsubscribe = () => void;

export class DeviceEvent<T> {
  private listeners: ((value: T) => void)[] = [];
  /** Errors thrown by listeners; they are reported here instead of escaping into the bus. */
  listenerErrors: unknown[] = [];

  subscribe(listener: (value: T) => void): Unsubscribe {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(value: T): void {
    for (const l of this.listeners) {
      try {
        l(value);
      } catch (err) {
        if (this.listenerErrors.length < 16) this.listenerErrors.push(err);
      }
    }
  }

  get listenerCount(): number {
    return this.listeners.length;
  }
}
