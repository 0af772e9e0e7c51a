/**
 * 16550A register map and bit names, as in the National Semiconductor PC16550D
 * datasheet (June 1995), Table II "Summary of Registers". Offsets are from the
 * port base (COM1 = 0x3F8). DLAB is LCR bit 7.
 */
/** Offset 0: RBR (read, DLAB=0), THR (write, DLAB=0), DLL (DLAB=1). */
export const REG_DATA = 0;
/** Offset 1: IER (DLAB=0), DLM (DLAB=1). */
export const REG_IER = 1;
/** Offset 2: IIR (read), FCR (write). */
export const REG_IIR_FCR = 2;
export const REG_LCR = 3;
export const REG_MCR = 4;
export const REG_LSR = 5;
export const REG_MSR = 6;
export const REG_SCR = 7;

// IER: which conditions may raise the interrupt.
export const IER_ERBFI = 0x01; // received data available (and character timeout)
export const IER_ETBEI = 0x02; // transmitter holding register empty
export const IER_ELSI = 0x04; // receiver line status
export const IER_EDSSI = 0x08; // modem status
export const IER_MASK = 0x0f; // bits 4-7 are always 0 on a 16550A

// IIR: bit 0 = 1 means "no interrupt pending"; bits 3:1 identify the source.
export const IIR_NO_INT = 0x01;
export const IIR_MODEM_STATUS = 0x00;
export const IIR_THRE = 0x02;
export const IIR_RX_DATA = 0x04;
export const IIR_RX_LINE_STATUS = 0x06;
export const IIR_CHAR_TIMEOUT = 0x0c;
export const IIR_FIFOS_ENABLED = 0xc0;

// FCR (write only).
export const FCR_ENABLE = 0x01;
export const FCR_CLEAR_RX = 0x02;
export const FCR_CLEAR_TX = 0x04;
export const FCR_DMA_MODE = 0x08;
/** RX trigger level selected by FCR bits 7:6 (datasheet: 01, 04, 08, 14 bytes). */
export const FCR_TRIGGER_LEVELS = [1, 4, 8, 14] as const;

// LCR.
export const LCR_WORD_LENGTH_MASK = 0x03; // 00=5 bits ... 11=8 bits
export const LCR_STOP_BITS = 0x04;
export const LCR_PARITY_ENABLE = 0x08;
export const LCR_BREAK = 0x40;
export const LCR_DLAB = 0x80;

// MCR.
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
/** On PC serial ports OUT2 gates the UART's INTR pin onto the ISA IRQ line. */
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
export const MCR_MASK = 0x1f;

// LSR.
export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_PE = 0x04;
export const LSR_FE = 0x08;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
export const LSR_RX_FIFO_ERROR = 0x80;
export const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

// MSR: low nibble are "delta" bits, cleared by reading MSR.
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;

/** The 16550A FIFOs hold 16 bytes each. */
export const FIFO_SIZE = 16;
/** Input clock of PC serial ports (1.8432 MHz); baud = clock / (16 × divisor). */
export const UART_CLOCK_HZ = 1_843_200;

/** The four PC COM ports: base port and ISA IRQ (IBM PC/AT convention). */
export const COM_PORTS = [
  { name: 'COM1', base: 0x3f8, irq: 4 },
  { name: 'COM2', base: 0x2f8, irq: 3 },
  { name: 'COM3', base: 0x3e8, irq: 4 },
  { name: 'COM4', base: 0x2e8, irq: 3 },
] as const;
