/**
 * What the IOAPIC hands to the CPU backend: one interrupt message, as the
 * IOAPIC would put it on the APIC bus (82093AA datasheet, 3.2.4 redirection
 * table; Intel SDM Vol. 3A 11.11.2 message data). Each backend implements
 * InterruptInjector: WHP with WHvRequestInterrupt (WHV_INTERRUPT_CONTROL carries
 * the same five fields), the software CPU with its own LAPIC.
 *
 * The numeric codes are the architectural encodings, so a backend can copy them
 * straight into WHV_INTERRUPT_CONTROL (Type, DestinationMode, TriggerMode).
 */
export const DeliveryMode = {
  Fixed: 0,
  LowestPriority: 1,
  Smi: 2,
  Nmi: 4,
  Init: 5,
  ExtInt: 7,
} as const;
export type DeliveryMode = (typeof DeliveryMode)[keyof typeof DeliveryMode];

export const DestinationMode = { Physical: 0, Logical: 1 } as const;
export type DestinationMode = (typeof DestinationMode)[keyof typeof DestinationMode];

export const TriggerMode = { Edge: 0, Level: 1 } as const;
export type TriggerMode = (typeof TriggerMode)[keyof typeof TriggerMode];

export interface InterruptRequest {
  vector: number;
  /** APIC ID (physical mode) or logical destination bitmap (logical mode), 8 bits. */
  destination: number;
  destinationMode: DestinationMode;
  deliveryMode: DeliveryMode;
  trigger: TriggerMode;
}

export interface InterruptInjector {
  /**
   * Delivers one interrupt message. The request object is reused by the caller
   * (no allocation per interrupt): copy the fields, do not keep the object.
   * Must not throw; a backend that cannot deliver (e.g. ExtINT without a PIC)
   * logs and drops.
   */
  requestInterrupt(request: Readonly<InterruptRequest>): void;
}
