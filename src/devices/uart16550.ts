/**
 * A 16550A UART (National Semiconductor PC16550D datasheet), as a PC COM port.
 *
 * What is modelled, register by register (uart16550-regs.ts has the names):
 * - RBR/THR, IER, IIR/FCR with 16-byte FIFOs and the 1/4/8/14 RX trigger levels,
 *   LCR with DLAB and the divisor latch (DLL/DLM), MCR (loopback; OUT2 gates the
 *   IRQ as on every PC), LSR, MSR (with delta bits) and SCR.
 * - IIR priority (datasheet Table IV): line status > received data >
 *   character timeout > THR empty > modem status. Reading IIR clears a THRE
 *   indication; writing THR clears it; a THRE interrupt is raised when the
 *   transmitter becomes empty and when ETBEI is enabled while it is empty.
 *
 * Where a wire-level detail has no meaning for a virtual port, and what we do:
 * - Baud rate: bytes move as fast as the host takes them; the divisor is stored
 *   and reported (`baudRate`) but never used for timing, so divisor 0 is harmless.
 * - Character timeout (IIR 0xC): the datasheet raises it after 4 character times
 *   with no RX activity while the FIFO holds fewer bytes than the trigger level.
 *   The device pulls every byte the host has ready (up to the FIFO size) in one
 *   go, so "the line has gone idle" is exactly "the FIFO is below the trigger
 *   level": the indication is shown at once (as OpenVMM does) and clears when
 *   RBR is read, re-arming while bytes remain. Linux's 8250 driver relies on it
 *   to collect the tail of input below the trigger level.
 * - Transmit back-pressure: a byte leaves the TX FIFO only when the host sink
 *   accepts it, so THRE/TEMT stay 0 while the host output is full (the guest
 *   waits instead of losing output). A guest that writes THR while the FIFO is
 *   full loses that byte, as on hardware; it is counted in `stats.txDropped`.
 * - Receive back-pressure: bytes are taken from the host source only while the
 *   RX FIFO has room, so a slow guest makes the host queue fill and the host stop
 *   reading; nothing is dropped. With `waitForRts` (default on), input is taken
 *   only once the guest driver asserts RTS (Linux does when the tty is opened),
 *   so input typed during boot is not thrown away by the driver's FIFO reset.
 * - Loopback (MCR bit 4): THR feeds RBR, MSR mirrors DTR/RTS/OUT1/OUT2 as
 *   DSR/CTS/RI/DCD, the host sees nothing. The datasheet forces the modem
 *   outputs (OUT2 included) inactive in loopback, so the PC IRQ line is off.
 *   A loopback byte arriving at a full FIFO sets OE (overrun) and is lost.
 * - Modem inputs when not in loopback: a connected host terminal, i.e. CTS, DSR
 *   and DCD asserted, RI not.
 * - Word length, parity and stop bits (LCR bits 5:0) are stored and read back
 *   but bytes always travel whole: the host end is a byte stream, not a wire,
 *   and masking to the reset default of 5 bits would only garble guests that
 *   print before programming LCR (QEMU and OpenVMM do not mask either).
 *
 * Access width: the registers are byte wide; other widths are refused by the bus.
 */
import type { AccessSize, BusDevice, IrqLine } from './device.ts';
import { ACCESS_1, unconnectedIrq } from './device.ts';
import type { ByteSink, ByteSource } from './byte-stream.ts';
import { discardSink, emptySource } from './byte-stream.ts';
import * as R from './uart16550-regs.ts';

export interface Uart16550Options {
  name?: string;
  irq?: IrqLine;
  /** Where transmitted bytes go (the console). */
  sink?: ByteSink;
  /** Where received bytes come from (host input queue). */
  source?: ByteSource;
  /** Take host input only while MCR.RTS is set (default true; see header). */
  waitForRts?: boolean;
}

export interface Uart16550Stats {
  txBytes: number;
  rxBytes: number;
  /** Bytes taken from the host source (each had room in the RX FIFO). */
  rxFromHost: number;
  /** THR writes while the TX FIFO was full (lost, as on hardware). */
  txDropped: number;
  /** Loopback bytes lost to a full RX FIFO (overrun). */
  rxOverruns: number;
}

export class Uart16550 implements BusDevice {
  readonly name: string;
  readonly accessSizes = ACCESS_1;
  readonly stats: Uart16550Stats = { txBytes: 0, rxBytes: 0, rxFromHost: 0, txDropped: 0, rxOverruns: 0 };

  private readonly irq: IrqLine;
  sink: ByteSink;
  source: ByteSource;
  private readonly waitForRts: boolean;

  private readonly rx = new Uint8Array(R.FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  private readonly tx = new Uint8Array(R.FIFO_SIZE);
  private txHead = 0;
  private txCount = 0;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fifoEnabled = false;
  private triggerLevel = 1;
  /** Sticky LSR error bits (OE, PE, FE, BI), cleared by reading LSR. */
  private lsrErrors = 0;
  /** MSR delta bits (low nibble), cleared by reading MSR. */
  private msrDelta = 0;
  /** THRE interrupt indication (set when THR becomes empty, cleared by IIR read / THR write). */
  private thriPending = false;
  /** Last byte read from RBR: an empty RBR keeps returning it. */
  private lastRx = 0;
  private irqLevel = false;

  constructor(options: Uart16550Options = {}) {
    this.name = options.name ?? 'uart16550';
    this.irq = options.irq ?? unconnectedIrq;
    this.sink = options.sink ?? discardSink;
    this.source = options.source ?? emptySource;
    this.waitForRts = options.waitForRts ?? true;
  }

  /** Baud rate the guest programmed (0 when the divisor is 0: the chip would not clock). */
  get baudRate(): number {
    const divisor = this.dll | (this.dlm << 8);
    return divisor === 0 ? 0 : R.UART_CLOCK_HZ / (16 * divisor);
  }

  /** Current level of the IRQ output (after OUT2 gating). */
  get irqAsserted(): boolean {
    return this.irqLevel;
  }

  read(offset: number, _size: AccessSize): number {
    let value: number;
    switch (offset) {
      case R.REG_DATA:
        value = this.lcr & R.LCR_DLAB ? this.dll : this.readRbr();
        break;
      case R.REG_IER:
        value = this.lcr & R.LCR_DLAB ? this.dlm : this.ier;
        break;
      case R.REG_IIR_FCR:
        value = this.iir();
        // Datasheet Table IV: the THRE indication is reset by reading IIR when it is the source.
        if ((value & 0x0f) === R.IIR_THRE) this.thriPending = false;
        break;
      case R.REG_LCR:
        value = this.lcr;
        break;
      case R.REG_MCR:
        value = this.mcr;
        break;
      case R.REG_LSR:
        value = this.lsr();
        this.lsrErrors = 0;
        break;
      case R.REG_MSR:
        value = this.modemInputs() | this.msrDelta;
        this.msrDelta = 0;
        break;
      case R.REG_SCR:
        value = this.scr;
        break;
      default:
        return 0xff;
    }
    this.updateIrq();
    return value;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    switch (offset) {
      case R.REG_DATA:
        if (this.lcr & R.LCR_DLAB) this.dll = value;
        else this.writeThr(value);
        break;
      case R.REG_IER:
        if (this.lcr & R.LCR_DLAB) this.dlm = value;
        else {
          const old = this.ier;
          this.ier = value & R.IER_MASK;
          // Enabling ETBEI while the transmitter is empty raises THRE at once (Linux's
          // start_tx depends on this to get its first TX interrupt).
          if (!(old & R.IER_ETBEI) && this.ier & R.IER_ETBEI && this.txCount === 0) this.thriPending = true;
        }
        break;
      case R.REG_IIR_FCR:
        this.writeFcr(value);
        break;
      case R.REG_LCR:
        this.lcr = value;
        break;
      case R.REG_MCR:
        this.writeMcr(value & R.MCR_MASK);
        break;
      case R.REG_LSR:
        // LSR is read-only on the 16550A (factory test only); writes are ignored.
        break;
      case R.REG_MSR:
        break; // read-only
      case R.REG_SCR:
        this.scr = value;
        break;
      default:
        return;
    }
    this.updateIrq();
  }

  /**
   * Moves bytes between the FIFOs and the host: pushes pending TX bytes to the
   * sink and pulls input from the source. The VMM calls this when the host side
   * signals activity (input arrived, output drained).
   */
  pollHost(): void {
    this.flushTx();
    this.refillRx();
    this.updateIrq();
  }

  /** Back to the power-on state (datasheet Table V "UART reset configuration"). */
  reset(): void {
    this.ier = this.lcr = this.mcr = this.scr = this.dll = this.dlm = 0;
    this.fifoEnabled = false;
    this.triggerLevel = 1;
    this.lsrErrors = this.msrDelta = 0;
    this.rxHead = this.rxCount = this.txHead = this.txCount = 0;
    this.thriPending = false;
    this.updateIrq();
  }

  // --- registers -----------------------------------------------------------

  private rxCapacity(): number {
    return this.fifoEnabled ? R.FIFO_SIZE : 1;
  }

  private readRbr(): number {
    if (this.rxCount > 0) {
      this.lastRx = this.rx[this.rxHead]!;
      this.rxHead = (this.rxHead + 1) & (R.FIFO_SIZE - 1);
      this.rxCount--;
      this.refillRx();
    }
    return this.lastRx;
  }

  private writeThr(value: number): void {
    this.thriPending = false;
    if (this.mcr & R.MCR_LOOP) {
      this.stats.txBytes++;
      this.pushRx(value, true);
      // The byte went straight through the (internal) wire: THR is empty again.
      this.thriPending = true;
      return;
    }
    if (this.txCount === 0 && this.sink.writeByte(value)) {
      // Fast path: the host took the byte at once; the transmitter is empty again.
      this.stats.txBytes++;
      this.thriPending = true;
      return;
    }
    if (this.txCount >= (this.fifoEnabled ? R.FIFO_SIZE : 1)) {
      this.stats.txDropped++;
      return;
    }
    this.tx[(this.txHead + this.txCount) & (R.FIFO_SIZE - 1)] = value;
    this.txCount++;
    this.flushTx();
  }

  private flushTx(): void {
    if (this.txCount === 0 || this.mcr & R.MCR_LOOP) return;
    const sink = this.sink;
    while (this.txCount > 0 && sink.writeByte(this.tx[this.txHead]!)) {
      this.txHead = (this.txHead + 1) & (R.FIFO_SIZE - 1);
      this.txCount--;
      this.stats.txBytes++;
    }
    if (this.txCount === 0) this.thriPending = true;
  }

  /** Appends one received byte; `fromLoop` bytes can overrun, host bytes never arrive without room. */
  private pushRx(value: number, fromLoop: boolean): void {
    if (this.rxCount >= this.rxCapacity()) {
      if (fromLoop) {
        this.lsrErrors |= R.LSR_OE;
        this.stats.rxOverruns++;
        // Datasheet, LSR bit 1: without FIFOs the new character goes into RBR anyway,
        // "thereby destroying the previous character"; with FIFOs the character in the
        // shift register is overwritten and never reaches the FIFO (dropped here).
        if (!this.fifoEnabled) this.rx[this.rxHead] = value;
      }
      return;
    }
    this.rx[(this.rxHead + this.rxCount) & (R.FIFO_SIZE - 1)] = value;
    this.rxCount++;
    this.stats.rxBytes++;
  }

  private refillRx(): void {
    if (this.mcr & R.MCR_LOOP) return; // serial input is disconnected in loopback
    if (this.waitForRts && !(this.mcr & R.MCR_RTS)) return;
    const cap = this.rxCapacity();
    while (this.rxCount < cap) {
      const b = this.source.readByte();
      if (b < 0) break;
      this.stats.rxFromHost++;
      this.pushRx(b, false);
    }
  }

  private writeFcr(value: number): void {
    const enable = (value & R.FCR_ENABLE) !== 0;
    if (enable !== this.fifoEnabled) {
      // Changing FCR0 clears both FIFOs (datasheet, FCR bit 0).
      this.rxHead = this.rxCount = 0;
      this.txHead = this.txCount = 0;
      this.fifoEnabled = enable;
      this.thriPending = true;
    }
    if (!enable) return; // FCR bits 1-7 are written only when FCR0 is set
    if (value & R.FCR_CLEAR_RX) this.rxHead = this.rxCount = 0;
    if (value & R.FCR_CLEAR_TX) {
      if (this.txCount !== 0) this.thriPending = true;
      this.txHead = this.txCount = 0;
    }
    // FCR bit 3 (DMA mode) only changes the RXRDY/TXRDY pins, which a virtual port does not have.
    this.triggerLevel = R.FCR_TRIGGER_LEVELS[value >> 6]!;
    this.refillRx();
  }

  private writeMcr(value: number): void {
    const before = this.modemInputs();
    this.mcr = value;
    const after = this.modemInputs();
    const changed = before ^ after;
    if (changed & R.MSR_CTS) this.msrDelta |= R.MSR_DCTS;
    if (changed & R.MSR_DSR) this.msrDelta |= R.MSR_DDSR;
    if (changed & R.MSR_DCD) this.msrDelta |= R.MSR_DDCD;
    if (before & R.MSR_RI && !(after & R.MSR_RI)) this.msrDelta |= R.MSR_TERI; // trailing edge only
    this.flushTx();
    this.refillRx();
  }

  /** MSR bits 7:4. */
  private modemInputs(): number {
    const m = this.mcr;
    if (m & R.MCR_LOOP) {
      return (
        (m & R.MCR_RTS ? R.MSR_CTS : 0) |
        (m & R.MCR_DTR ? R.MSR_DSR : 0) |
        (m & R.MCR_OUT1 ? R.MSR_RI : 0) |
        (m & R.MCR_OUT2 ? R.MSR_DCD : 0)
      );
    }
    return R.MSR_CTS | R.MSR_DSR | R.MSR_DCD;
  }

  private lsr(): number {
    let v = this.lsrErrors;
    if (this.rxCount > 0) v |= R.LSR_DR;
    if (this.txCount === 0) v |= R.LSR_THRE | R.LSR_TEMT;
    return v;
  }

  /** Interrupt identification, highest-priority pending source first (datasheet Table IV). */
  private iir(): number {
    const fifo = this.fifoEnabled ? R.IIR_FIFOS_ENABLED : 0;
    const ier = this.ier;
    if (ier & R.IER_ELSI && this.lsrErrors & R.LSR_ERRORS) return fifo | R.IIR_RX_LINE_STATUS;
    if (ier & R.IER_ERBFI && this.rxCount > 0) {
      if (!this.fifoEnabled || this.rxCount >= this.triggerLevel) return fifo | R.IIR_RX_DATA;
      return fifo | R.IIR_CHAR_TIMEOUT;
    }
    if (ier & R.IER_ETBEI && this.thriPending) return fifo | R.IIR_THRE;
    if (ier & R.IER_EDSSI && this.msrDelta !== 0) return fifo | R.IIR_MODEM_STATUS;
    return fifo | R.IIR_NO_INT;
  }

  private updateIrq(): void {
    // PC wiring: INTR reaches the ISA IRQ only through OUT2; loopback forces OUT2 inactive.
    const gated = (this.mcr & (R.MCR_OUT2 | R.MCR_LOOP)) !== R.MCR_OUT2;
    if (gated && !this.irqLevel) return; // line stays low whatever is pending
    const level = !gated && (this.iir() & R.IIR_NO_INT) === 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
