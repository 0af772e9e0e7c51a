/**
 * End to end: the BootPlan really boots Linux. QEMU (TCG) is only the CPU and the
 * PC chipset here — not the loader: every byte of the plan is placed with
 * `-device loader` at its guest-physical address, and a 64 KiB "firmware" assembled
 * from the plan's register state (CR3/CR4/EFER/CR0, GDTR/IDTR, selectors, RSP, RSI,
 * RFLAGS, RIP) switches the CPU from reset straight into long mode through our GDT and
 * page tables and jumps to the kernel's 64-bit entry. No BIOS runs, so the kernel
 * sees exactly our zero page, e820 map, command line and initrd.
 *
 * Kernels: the bundled bzImage, the ELF vmlinux inside it, and Debian's cloud kernel.
 * The guest's own console output proves it: the e820 lines Linux prints, the command
 * line /init reads from /proc/cmdline, the initrd's /init running at all, and the reset
 * through the i8042 (reboot=k) ending QEMU (-no-reboot).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planBoot, type BootPlan } from '../src/loader/boot-plan.ts';
import { MIB } from '../src/memory/layout.ts';
import { BUNDLED_BZIMAGE, SKIP_NO_BUNDLED, SKIP_NO_DEBIAN, debianKernel, vmlinuxFromBzImage } from './helpers/kernels.ts';
import { ROOT } from './helpers/cli.ts';

const INITRD = join(ROOT, 'guest', 'initramfs.cpio.gz');
const MEM_MIB = 128;

/** Each boot's stub, loader blobs and serial log (up to 14 MB), removed when the file ends. */
const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const hex = (v: number) => '0x' + v.toString(16);

/**
 * GNU as source for the reset-vector stub. Real mode at CS:IP = F000:FFF0 (CS base
 * 0xFFFF0000, Intel SDM Vol. 3A 9.1.4) → long mode as in SDM 9.8.5: PAE, CR3, EFER.LME,
 * then CR0.PG|PE, a far jump to the 64-bit code selector; then the data selectors, the
 * stack, RSI and RFLAGS from the plan, and a jump to the entry point. TR is not loaded:
 * LTR faults on a busy TSS and a TCG CPU does not need one to run.
 */
function stubSource(plan: BootPlan): string {
  const c = plan.cpu;
  return `
    .code16
    .text
    .globl _start
_start:
    cli
    lgdtl %cs:gdtr
    lidtl %cs:idtr
    movl $${hex(c.cr4)}, %eax
    movl %eax, %cr4
    movl $${hex(c.cr3)}, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          # IA32_EFER
    movl $${hex(c.efer & ~(1 << 10))}, %eax   # LMA is set by the CPU when paging turns on
    xorl %edx, %edx
    wrmsr
    movl $${hex(c.cr0)}, %eax
    movl %eax, %cr0
    ljmpl $${hex(c.cs.selector)}, $(0xffff0000 + long_mode)

    .code64
long_mode:
    movw $${hex(c.ds.selector)}, %ax
    movw %ax, %ds
    movw $${hex(c.es.selector)}, %ax
    movw %ax, %es
    movw $${hex(c.ss.selector)}, %ax
    movw %ax, %ss
    movw $${hex(c.fs.selector)}, %ax
    movw %ax, %fs
    movw $${hex(c.gs.selector)}, %ax
    movw %ax, %gs
    movabsq $${hex(c.rsp)}, %rsp
    movabsq $${hex(c.rbp)}, %rbp
    movabsq $${hex(c.rsi)}, %rsi
    xorl %edi, %edi
    xorl %ebx, %ebx
    pushq $${hex(c.rflags)}
    popfq
    movabsq $${hex(c.rip)}, %rax
    jmpq *%rax

    .balign 8
gdtr:
    .word ${hex(c.gdtr.limit)}
    .long ${hex(c.gdtr.base)}
    .balign 8
idtr:
    .word ${hex(c.idtr.limit)}
    .long ${hex(c.idtr.base)}

    .org 0xfff0
    .code16
reset_vector:
    jmp _start
    .org 0x10000
`;
}

function buildStub(plan: BootPlan, dir: string): string {
  writeFileSync(join(dir, 'stub.S'), stubSource(plan));
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stderr}`);
  };
  run('as', ['--64', '-o', 'stub.o', 'stub.S']);
  run('ld', ['-m', 'elf_x86_64', '-Ttext=0', '-e', '_start', '--oformat', 'binary', '-o', 'stub.bin', 'stub.o']);
  const bin = readFileSync(join(dir, 'stub.bin'));
  assert.equal(bin.length, 0x10000, 'firmware is exactly 64 KiB');
  return join(dir, 'stub.bin');
}

const skip = !existsSync(BUNDLED_BZIMAGE)
  ? SKIP_NO_BUNDLED
  : !have('qemu-system-x86_64')
    ? 'qemu-system-x86_64 is not installed (.ci/run installs qemu-system-x86)'
    : !have('as') || !have('ld')
      ? 'binutils (as, ld) not installed'
      : false;

async function bootsFromPlan(kernel: Uint8Array): Promise<void> {
  const plan = planBoot(kernel, {
    memoryBytes: MEM_MIB * MIB,
    initrd: readFileSync(INITRD),
    cmdline: 'krun.loadertest=1',
  });
  const dir = mkdtempSync(join(tmpdir(), 'krun-bootplan-'));
  tempDirs.push(dir);
  const bios = buildStub(plan, dir);
  assert.equal(plan.kernel.format, kernel[0] === 0x7f ? 'elf' : 'bzImage');
  // The console goes to a file: a pipe can fill up and make QEMU's 16550 drop characters.
  const serialFile = join(dir, 'serial.log');
  const args = ['-M', 'pc', '-accel', 'tcg', '-m', String(MEM_MIB), '-smp', '1', '-nodefaults', '-no-user-config',
    '-display', 'none', '-chardev', `file,id=con,path=${serialFile}`, '-serial', 'chardev:con', '-no-reboot', '-bios', bios];
  plan.writes.forEach((w, i) => {
    const f = join(dir, `w${i}.bin`);
    writeFileSync(f, 'data' in w ? w.data : new Uint8Array(w.zero));
    args.push('-device', `loader,file=${f},addr=${hex(w.gpa)},force-raw=on`);
  });

  const serial = await new Promise<{ out: string; code: number | null; timedOut: boolean }>((resolve) => {
    const p = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      resolve({ out: (existsSync(serialFile) ? readFileSync(serialFile, 'latin1') : '') + out, code: null, timedOut: true });
    }, 150_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ out: (existsSync(serialFile) ? readFileSync(serialFile, 'latin1') : '') + out, code, timedOut: false });
    });
  });
  const log = `\nqemu-system-x86_64 ${args.join(' ')}\n--- serial ---\n${serial.out}`;
  assert.equal(serial.timedOut, false, `guest did not finish${log}`);

  const lines = serial.out.split(/\r?\n/);
  // Linux prints the map it was given (arch/x86/kernel/e820.c e820__print_table, "BIOS-e820").
  const printed = lines
    .map((l) => l.match(/BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] (\w+)/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ addr: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16) + 1, type: m[3] }));
  assert.deepEqual(
    printed,
    plan.layout.e820.map((e) => ({ addr: e.addr, end: e.addr + e.size, type: e.type === 1 ? 'usable' : 'reserved' })),
    `e820 as Linux saw it${log}`,
  );
  // The command line reached the kernel and /init (which reads /proc/cmdline).
  assert.ok(lines.some((l) => l.includes(`Command line: ${plan.cmdline}`)), `kernel command line${log}`);
  assert.ok(lines.includes(`cmdline=${plan.cmdline}`), `/proc/cmdline${log}`);
  // The initrd was found where the zero page says (type_of_loader 0xFF): its /init ran.
  assert.ok(lines.includes('KRUN-GUEST-OK'), `guest /init ran from our initrd${log}`);
  assert.ok(lines.some((l) => l.startsWith('KRUN-GUEST-DONE')), `guest finished${log}`);
  // reboot=k: reset through the i8042; with -no-reboot QEMU exits 0.
  assert.equal(serial.code, 0, log);
}

test('the bundled bzImage boots from our BootPlan alone (QEMU as a bare CPU)', { skip, timeout: 180_000 }, async () => {
  await bootsFromPlan(readFileSync(BUNDLED_BZIMAGE));
});

test('the ELF vmlinux inside the bundled bzImage boots from our BootPlan alone', { skip, timeout: 180_000 }, async () => {
  await bootsFromPlan(vmlinuxFromBzImage(readFileSync(BUNDLED_BZIMAGE)));
});

// Debian's relocatable, LZ4-compressed distribution kernel with the bundled initramfs.
const deb = debianKernel();
const skipDeb = skip === SKIP_NO_BUNDLED ? 'guest/initramfs.cpio.gz is not built yet' : skip || (deb ? false : SKIP_NO_DEBIAN);
test("Debian's cloud kernel boots from our BootPlan alone", { skip: skipDeb, timeout: 180_000 }, async () => {
  await bootsFromPlan(readFileSync(deb!.path));
});
