/**
 * The PC/AT keyboard controller (Intel 8042 as IBM programmed it), enough for a
 * guest to find it and for `reboot=k`:
 * - data port 0x60 and status/command port 0x64 (two BusDevices, since the PIT's
 *   port 0x61 sits between them: `dataPort`, `commandPort`);
 * - controller commands: 0x20/0x60 read/write the command byte, 0xA7/0xA8 AUX
 *   disable/enable, 0xA9 AUX test, 0xAA self-test (→ 0x55), 0xAB keyboard test,
 *   0xAD/0xAE keyboard disable/enable, 0xC0 input port, 0xD0/0xD1 output port,
 *   0xD2/0xD3 write keyboard/AUX output buffer (Linux's AUX loopback probe),
 *   0xD4 write to AUX device (no mouse: answered with 0xFE and the timeout bit);
 * - 0xFE (and any 0xF0-0xFF "pulse output lines" command with bit 0 clear, and
 *   an output-port write with bit 0 clear) pulses the CPU reset line: the
 *   `resetRequested` event fires; the VMM ends the VM as a reboot.
 * - a keyboard that answers the commands atkbd sends at probe (reset → FA AA,
 *   identify → FA AB 83 (AB 41 through the XLATE translation), set LEDs / typematic / scancode set → FA, echo → EE)
 *   and never produces key presses (no host key input is routed here).
 * - IRQ 1 (keyboard) and IRQ 12 (AUX) follow the output buffer and the
 *   command byte's interrupt enables, one rising edge per byte.
 * Kernel options `i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd` shorten
 * the probe, as Firecracker recommends.
 */
import type { AccessSize, BusDevice, IrqLine } from './device.ts';
import { ACCESS_1, unconnectedIrq } from './device.ts';
import { DeviceEvent } from './device-event.ts';

const STATUS_OBF = 0x01;
const STATUS_SYS = 0x04;
const STATUS_CMD = 0x08; // last write went to port 0x64
const STATUS_UNLOCKED = 0x10;
const STATUS_AUX_DATA = 0x20;
const STATUS_TIMEOUT = 0x40;

const CTR_KBD_INT = 0x01;
const CTR_AUX_INT = 0x02;
const CTR_SYS = 0x04;
const CTR_KBD_DISABLED = 0x10;
const CTR_AUX_DISABLED = 0x20;
const CTR_XLATE = 0x40;

const QUEUE_MAX = 16;

export interface I8042ResetRequest {
  /** Which write asked for the reset. */
  command: number;
}

export interface I8042Options {
  irq1?: IrqLine;
  irq12?: IrqLine;
}

export class I8042 {
  readonly resetRequested = new DeviceEvent<I8042ResetRequest>();
  private readonly irq1: IrqLine;
  private readonly irq12: IrqLine;
  private ctr = CTR_KBD_INT | CTR_SYS | CTR_XLATE | CTR_AUX_DISABLED;
  private outputPort = 0x03; // bit 0: reset line not asserted; bit 1: A20 enabled
  private status = STATUS_SYS | STATUS_UNLOCKED;
  /** Output buffer queue: byte | 0x100 when it comes from the AUX port. */
  private readonly queue: number[] = [];
  /** Controller command waiting for its parameter byte on port 0x60, or 0. */
  private pendingCommand = 0;
  /** Keyboard command waiting for its parameter byte, or 0. */
  private pendingKbdCommand = 0;
  private irq1Level = false;
  private irq12Level = false;
  /** Last byte read from port 0x60: an empty output buffer keeps showing it. */
  private lastData = 0;
  droppedBytes = 0;

  readonly dataPort: BusDevice;
  readonly commandPort: BusDevice;

  constructor(options: I8042Options = {}) {
    this.irq1 = options.irq1 ?? unconnectedIrq;
    this.irq12 = options.irq12 ?? unconnectedIrq;
    this.dataPort = {
      name: 'i8042-data',
      accessSizes: ACCESS_1,
      read: () => this.readData(),
      write: (_o: number, _s: AccessSize, v: number) => this.writeData(v & 0xff),
    };
    this.commandPort = {
      name: 'i8042-command',
      accessSizes: ACCESS_1,
      read: () => this.readStatus(),
      write: (_o: number, _s: AccessSize, v: number) => this.writeCommand(v & 0xff),
    };
  }

  private readStatus(): number {
    let s = this.status & ~(STATUS_OBF | STATUS_AUX_DATA);
    if (this.queue.length > 0) {
      s |= STATUS_OBF;
      if (this.queue[0]! & 0x100) s |= STATUS_AUX_DATA;
    }
    return s;
  }

  private readData(): number {
    const v = this.queue.shift();
    this.status &= ~STATUS_TIMEOUT;
    // Drop the lines so the next queued byte (if any) makes a fresh edge.
    this.setIrqs(false, false);
    this.updateIrq();
    // Reading with OBF clear returns the output buffer's old contents: the register is
    // only overwritten by the next byte (QEMU behaves the same; some DOS extenders rely on it).
    if (v !== undefined) this.lastData = v & 0xff;
    return this.lastData;
  }

  private writeCommand(cmd: number): void {
    this.status |= STATUS_CMD;
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x20:
        this.push(this.ctr);
        break;
      case 0x60:
      case 0xd1:
      case 0xd2:
      case 0xd3:
      case 0xd4:
        this.pendingCommand = cmd;
        break;
      case 0xa7:
        this.ctr |= CTR_AUX_DISABLED;
        break;
      case 0xa8:
        this.ctr &= ~CTR_AUX_DISABLED;
        break;
      case 0xa9: // AUX interface test: 00 = no error
      case 0xab: // keyboard interface test
        this.push(0x00);
        break;
      case 0xaa:
        this.status |= STATUS_SYS;
        this.push(0x55);
        break;
      case 0xad:
        this.ctr |= CTR_KBD_DISABLED;
        break;
      case 0xae:
        this.ctr &= ~CTR_KBD_DISABLED;
        break;
      case 0xc0:
        this.push(0x80); // input port: keyboard not inhibited
        break;
      case 0xd0:
        this.push(this.outputPort);
        break;
      default:
        // 0xF0-0xFF pulse output lines 3:0 low for 6 µs; bit 0 is the CPU reset line.
        if (cmd >= 0xf0 && (cmd & 1) === 0) this.resetRequested.emit({ command: cmd });
        break;
    }
    this.updateIrq();
  }

  private writeData(v: number): void {
    this.status &= ~STATUS_CMD;
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x60:
        this.ctr = v;
        this.status = (this.status & ~STATUS_SYS) | (v & CTR_SYS);
        break;
      case 0xd1:
        this.outputPort = v;
        if ((v & 1) === 0) this.resetRequested.emit({ command: 0xd1 });
        break;
      case 0xd2:
        this.push(v);
        break;
      case 0xd3:
        this.push(v | 0x100);
        break;
      case 0xd4:
        // No pointing device behind the AUX port: the controller times out.
        this.status |= STATUS_TIMEOUT;
        this.push(0xfe | 0x100);
        break;
      default:
        this.keyboardCommand(v);
    }
    this.updateIrq();
  }

  private keyboardCommand(v: number): void {
    this.ctr &= ~CTR_KBD_DISABLED; // writing to the keyboard enables its interface
    if (this.pendingKbdCommand !== 0) {
      this.pendingKbdCommand = 0;
      this.push(0xfa);
      return;
    }
    switch (v) {
      case 0xff: // reset: ACK, then BAT passed
        this.push(0xfa);
        this.push(0xaa);
        break;
      case 0xf2: // identify: MF2 keyboard
        this.push(0xfa);
        this.push(0xab);
        this.push(this.translate(0x83));
        break;
      case 0xee:
        this.push(0xee);
        break;
      case 0xed: // set LEDs
      case 0xf3: // typematic rate
      case 0xf0: // scancode set
        this.pendingKbdCommand = v;
        this.push(0xfa);
        break;
      default: // F4 enable, F5 disable, F6 defaults, ...: ACK
        this.push(0xfa);
    }
  }

  /**
   * With CTR bit 6 (XLATE) set the controller passes every keyboard byte through its
   * scan-code set 2 → set 1 table. The keyboard here sends only replies (FA, AA, AB,
   * 83, EE), and of those only 0x83 is a set-2 scan code (F7), which the table turns
   * into 0x41 (set-1 F7); the others pass unchanged. That is why a translated PC
   * keyboard identifies as AB 41 (Linux shows it as "Version=ab41" for the "AT
   * Translated Set 2 keyboard"), and as AB 83 with translation off.
   */
  private translate(v: number): number {
    return this.ctr & CTR_XLATE && v === 0x83 ? 0x41 : v;
  }

  private push(v: number): void {
    if (this.queue.length >= QUEUE_MAX) {
      this.droppedBytes++;
      return;
    }
    this.queue.push(v);
  }

  private updateIrq(): void {
    const head = this.queue[0];
    const kbd = head !== undefined && (head & 0x100) === 0 && (this.ctr & CTR_KBD_INT) !== 0;
    const aux = head !== undefined && (head & 0x100) !== 0 && (this.ctr & CTR_AUX_INT) !== 0;
    this.setIrqs(kbd, aux);
  }

  private setIrqs(kbd: boolean, aux: boolean): void {
    if (kbd !== this.irq1Level) {
      this.irq1Level = kbd;
      this.irq1.set(kbd);
    }
    if (aux !== this.irq12Level) {
      this.irq12Level = aux;
      this.irq12.set(aux);
    }
  }
}
