/**
 * `krun-whp inspect`: what the loader sees in a kernel (format, boot protocol,
 * version, 64-bit entry, compression, load constraints) and the guest memory layout
 * `run` would build for it, without creating a VM.
 */
import { Option, type Command } from 'commander';
import type { BootPlan, Region } from '../../loader/boot-plan.ts';
import { MAX_GUEST_MEMORY, MIB, MIN_GUEST_MEMORY } from '../../memory/layout.ts';
import type { CliContext } from '../context.ts';
import { hex, keyValues, table } from '../format.ts';
import { parseInteger } from '../options.ts';
import type { RegisterCommand } from './index.ts';

export const DEFAULT_MEM_MIB = 512;

interface InspectOptions {
  kernel: string;
  initrd?: string;
  cmdline?: string;
  mem: string;
}

export const register: RegisterCommand = (program: Command, getContext) => {
  program
    .command('inspect')
    .description('show what the loader finds in a kernel and the guest memory layout `run` would use')
    .requiredOption('--kernel <file>', 'Linux kernel: bzImage (vmlinuz) or ELF vmlinux')
    .option('--initrd <file>', 'initial ramdisk to place')
    .option('--cmdline <text>', 'kernel command-line additions (appended to the defaults)')
    .addOption(new Option('--mem <MiB>', 'guest memory in MiB').default(String(DEFAULT_MEM_MIB), `${DEFAULT_MEM_MIB} MiB`))
    .action(async (opts: InspectOptions) => {
      const ctx = await getContext();
      // Loaded on use, so `krun-whp --version`/`--help` never evaluate the loader.
      const [{ planBoot }, { readBootFile }, { e820TypeName }] = await Promise.all([
        import('../../loader/boot-plan.ts'),
        import('../../loader/read-boot-file.ts'),
        import('../../loader/e820.ts'),
      ]);
      // The range the loader accepts (src/memory/layout.ts), so the message states the real limits.
      const memMiB = parseInteger('--mem', opts.mem, MIN_GUEST_MEMORY / MIB, MAX_GUEST_MEMORY / MIB);
      const kernelBytes = readBootFile(opts.kernel, 'kernel', memMiB * MIB);
      const initrd = opts.initrd === undefined ? null : readBootFile(opts.initrd, 'initrd', memMiB * MIB);
      const plan = planBoot(kernelBytes, {
        memoryBytes: memMiB * MIB,
        initrd,
        kernelName: opts.kernel,
        initrdName: opts.initrd,
        cmdline: opts.cmdline,
        logger: ctx.log,
      });
      if (ctx.options.json) ctx.printJson(toJson(plan, opts, e820TypeName));
      else printHuman(ctx, plan, opts, e820TypeName);
    });
};

const region = (r: Region) => ({ addr: r.addr, size: r.size });

/** The `--json` document (schema in the README). */
type TypeName = (type: number) => string;

export function toJson(plan: BootPlan, opts: Pick<InspectOptions, 'kernel' | 'initrd'>, e820TypeName: TypeName): Record<string, unknown> {
  const k = plan.kernel;
  const l = plan.layout;
  const cpu = plan.cpu;
  return {
    kernel: opts.kernel,
    format: k.format,
    protocol: k.protocol,
    version: k.version,
    entry64: k.entry64,
    relocatable: k.relocatable,
    alignment: k.alignment,
    initSize: k.initSize,
    prefAddress: k.prefAddress,
    compression: k.compression,
    cmdlineSize: k.cmdlineSize,
    initrdAddrMax: k.initrdAddrMax,
    payload: k.format === 'bzImage' ? { offset: k.setupSize + k.payloadOffset, length: k.payloadLength } : null,
    xloadflags: k.format === 'bzImage' ? k.xloadflags : null,
    segments: k.format === 'elf' ? k.segments.map((s) => ({ paddr: s.paddr, fileSize: s.data.length, memSize: s.memSize })) : null,
    initrd: opts.initrd ?? null,
    memoryMiB: plan.memoryBytes / MIB,
    cmdline: plan.cmdline,
    layout: {
      gdt: region(l.gdt),
      tss: region(l.tss),
      zeroPage: region(l.zeroPage),
      bootStack: region(l.bootStack),
      pageTables: region(l.pageTables),
      cmdline: region(l.cmdline),
      mpTable: region(l.mpTable),
      kernel: region(l.kernel),
      kernelFootprint: region(l.kernelFootprint),
      initrd: l.initrd ? region(l.initrd) : null,
      entry: l.entry,
      identityMapped: l.identityMapped,
    },
    e820: l.e820.map((e) => ({ addr: e.addr, size: e.size, type: e.type, typeName: e820TypeName(e.type) })),
    registers: {
      rip: cpu.rip,
      rsi: cpu.rsi,
      rsp: cpu.rsp,
      rflags: cpu.rflags,
      cr0: cpu.cr0,
      cr3: cpu.cr3,
      cr4: cpu.cr4,
      efer: cpu.efer,
      cs: cpu.cs.selector,
      ds: cpu.ds.selector,
      tr: cpu.tr.selector,
      gdtr: cpu.gdtr,
      idtr: cpu.idtr,
    },
  };
}

/**
 * Human size: the largest unit that states the size exactly (to 0.1), e.g. "3071 MiB" rather
 * than a rounded "3.0 GiB" for 3 GiB − 1 MiB, as long as that stays under five digits;
 * otherwise one decimal in the largest unit ("51.5 MiB").
 */
export function formatSize(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let largest = 0;
  while (largest < units.length - 1 && bytes >= 1024 ** (largest + 1)) largest++;
  for (let u = largest; u > 0; u--) {
    const v = bytes / 1024 ** u;
    if (Number.isInteger(v * 10) && v < 10240) return `${v} ${units[u]}`;
  }
  return largest === 0 ? `${bytes} bytes` : `${(bytes / 1024 ** largest).toFixed(1)} ${units[largest]}`;
}

function printHuman(ctx: CliContext, plan: BootPlan, opts: InspectOptions, e820TypeName: TypeName): void {
  const { chalk } = ctx;
  const k = plan.kernel;
  const l = plan.layout;
  const bz = k.format === 'bzImage';
  const yes = chalk.green('yes');
  const addr = (v: number) => chalk.cyan(hex(v));
  // An ELF vmlinux has no setup header: say which values are derived or assumed, not read.
  const assumed = (why: string) => chalk.dim(`(assumed: ${why})`);

  ctx.print(chalk.bold(`Kernel ${opts.kernel}`));
  ctx.print(
    keyValues(chalk, [
      ['format', bz ? `bzImage, boot protocol ${k.protocol}` : 'ELF vmlinux (no setup header)'],
      ['version', k.version ?? chalk.dim('(not found)')],
      ['64-bit entry', k.entry64 ? yes : chalk.red('no')],
      ['relocatable', k.relocatable ? `${yes}, alignment ${formatSize(k.alignment)}` : bz ? 'no, runs at pref_address' : 'no, loaded at its p_paddr'],
      bz
        ? ['init_size', `${formatSize(k.initSize)} (${hex(k.initSize)})`]
        : ['load span', `${formatSize(k.initSize)} (${hex(k.initSize)}), first PT_LOAD to end of the last incl. .bss`],
      bz ? ['pref_address', addr(k.prefAddress)] : ['load address', `${addr(k.prefAddress)} (lowest p_paddr)`],
      [
        'payload',
        bz
          ? `${k.compression}, ${formatSize(k.payloadLength)} at file offset ${hex(k.setupSize + k.payloadOffset)}`
          : `${k.compression} (${k.segments.length} PT_LOAD segment${k.segments.length === 1 ? '' : 's'})`,
      ],
      ['cmdline_size', bz ? `${k.cmdlineSize} bytes` : `${k.cmdlineSize} bytes ${assumed('x86 COMMAND_LINE_SIZE - 1')}`],
      ['initrd_addr_max', bz ? addr(k.initrdAddrMax) : `${addr(k.initrdAddrMax)} ${assumed('the x86-64 bzImage value')}`],
    ]).join('\n'),
  );

  ctx.print();
  ctx.print(chalk.bold(`Guest memory layout (${formatSize(plan.memoryBytes)})`));
  const rows: [string, Region | null, string][] = [
    ['GDT', l.gdt, '__BOOT_CS 0x10, __BOOT_DS 0x18, TSS 0x20'],
    ['TSS', l.tss, `zeroed; TR ${hex(plan.cpu.tr.selector)}`],
    ['zero page', l.zeroPage, 'struct boot_params (RSI)'],
    ['boot stack', l.bootStack, `RSP ${hex(plan.cpu.rsp)}`],
    ['page tables', l.pageTables, `CR3; identity map of ${formatSize(l.identityMapped)} with 2 MiB pages`],
    ['command line', l.cmdline, `cmd_line_ptr; ${l.cmdline.size - 1} of ${k.cmdlineSize} bytes + NUL`],
    ['MP table', l.mpTable, 'room for the MP table (run writes it); e820-reserved'],
    ['kernel', l.kernel, bz ? 'protected-mode code' : 'PT_LOAD segments'],
    ['kernel init', l.kernelFootprint, bz ? 'init_size from the load address' : 'the PT_LOAD span'],
    ['initrd', l.initrd, l.initrd ? (opts.initrd ?? '') : ''],
  ];
  // The entry point shares the table so its address lines up with the region starts.
  const entryRow = ['entry point', addr(l.entry), '', '', chalk.dim(`RIP, 64-bit mode; RSI = ${hex(plan.cpu.rsi)}`)];
  ctx.print(
    table(
      chalk,
      ['region', 'start', 'end (excl.)', 'size', 'note'],
      [
        ...rows
          .filter((r): r is [string, Region, string] => r[1] !== null)
          .map(([name, r, note]) => [name, addr(r.addr), addr(r.addr + r.size), formatSize(r.size), chalk.dim(note)]),
        entryRow,
      ],
    ).join('\n'),
  );

  ctx.print();
  ctx.print(chalk.bold('Command line'));
  ctx.print('  ' + plan.cmdline);

  ctx.print();
  ctx.print(chalk.bold('e820 map'));
  ctx.print(
    table(
      chalk,
      ['start', 'end (excl.)', 'size', 'type'],
      l.e820.map((e) => [addr(e.addr), addr(e.addr + e.size), formatSize(e.size), `${e.type} ${e820TypeName(e.type)}`]),
    ).join('\n'),
  );
}
