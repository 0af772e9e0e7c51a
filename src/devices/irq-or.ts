/**
 * Several devices on one interrupt input (COM1 and COM3 both use ISA IRQ 4,
 * COM2 and COM4 IRQ 3): the input is asserted while any source asserts it, the
 * wired-OR a shared-IRQ board provides. Linux's 8250 driver handles a shared
 * line by servicing every port on it until all are idle, so the line drops and
 * the next interrupt is a fresh edge.
 */
import type { IrqLine } from './device.ts';

export function sharedIrq(target: IrqLine, sources: number): IrqLine[] {
  const levels = new Uint8Array(sources);
  let asserted = 0;
  return Array.from({ length: sources }, (_, i) => {
    const set = (level: boolean) => {
      const v = level ? 1 : 0;
      if (levels[i] === v) return;
      levels[i] = v;
      const was = asserted;
      asserted += level ? 1 : -1;
      if ((was === 0) !== (asserted === 0)) target.set(asserted !== 0);
    };
    return {
      set,
      pulse: () => {
        if (asserted === 0) target.pulse();
      },
    };
  });
}
