/*
 * Native x86-64 execution oracle for the krun-whp instruction executor tests.
 *
 * Reads a batch of cases from stdin, runs each case's instruction bytes on the
 * host CPU (user mode) from the given GPRs, RFLAGS, XMM registers and data
 * memory, and writes the resulting state to stdout. The TypeScript side
 * (test/helpers/native-cpu.ts) runs the same cases through the emulator and
 * compares every architecturally defined result.
 *
 * Fixed addresses, so a test can encode absolute and RIP-relative operands:
 *   DATA_BASE  0x10000000  data buffer (the case's memory image is copied here)
 *   CODE_BASE  0x20000000  the instruction, followed by an exit stub
 *   MARK_ADDR  0x0f000000  where exit stubs record the final RIP
 * Every 32-byte slot from CODE_BASE+0x40 to the end of the code page also
 * holds an exit stub, so branch tests can target CODE_BASE + 0x40 + 32*k and
 * the final RIP tells which way the branch went.
 *
 * A case may ask for compatibility mode (32-bit code, CS = 0x23): the harness far-jumps there
 * and back through trampolines at the end of the code page (see put_stubs).
 *
 * The test instruction may use every GPR including RSP (push/pop/call/ret tests
 * point RSP into the data buffer): the trampoline keeps the host RSP in a
 * global, and fault signals run on an alternate stack.
 *
 * Wire format (little-endian), batch header: u32 magic 'X86T', u32 count, u32 memLen.
 *   case in : u8 code[16], u32 codeLen, u32 mode (64, or 32 = compat mode, CS 0x23),
 *             u64 gpr[16], u64 rflags, u8 xmm[16][16], u8 mem[memLen]
 *   case out: u64 gpr[16], u64 rflags, u64 rip, i32 vector (-1 = none), u32 errorCode,
 *             u64 cr2, u8 xmm[16][16], u8 mem[memLen]
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define DATA_BASE 0x10000000UL
#define DATA_SIZE 0x10000UL
#define CODE_BASE 0x20000000UL
#define CODE_SIZE 0x1000UL
#define MARK_ADDR 0x0f000000UL
#define STUB_FIRST 0x40
#define STUB_STRIDE 32
/* Flags a test may set: CF PF AF ZF SF OF DF. TF would trap, AC could raise #AC. */
#define SETTABLE_FLAGS 0xcd5UL

struct regs {
  uint64_t gpr[16];
  uint64_t rflags;
  uint8_t xmm[16][16];
};

/* Shared with the trampoline (referenced RIP-relative from the asm below). */
struct regs harness_in, harness_out;
uint64_t harness_host_rsp;

static sigjmp_buf fault_jmp;
static volatile int fault_vector;
static volatile uint32_t fault_error;
static volatile uint64_t fault_cr2;
static volatile uint64_t fault_rip;
static uint64_t fault_gpr[16];
static uint64_t fault_rflags;

void harness_enter(void);

/*
 * harness_enter(): saves callee-saved registers and the host RSP, loads every
 * register from harness_in, jumps to CODE_BASE; the exit stub jumps back to
 * harness_return, which stores every register into harness_out and returns.
 */
__asm__(
    ".text\n"
    ".globl harness_enter\n"
    "harness_enter:\n"
    "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  mov %rsp, harness_host_rsp(%rip)\n"
    "  cmpl $32, harness_mode(%rip)\n"   /* compat-mode case: DS/ES = __USER_DS (null faults there) */
    "  jne 1f\n"
    "  movl $0x2b, %eax\n"
    "  movl %eax, %ds\n"
    "  movl %eax, %es\n"
    "1:\n"
    "  movdqu harness_in+136+0*16(%rip), %xmm0\n"
    "  movdqu harness_in+136+1*16(%rip), %xmm1\n"
    "  movdqu harness_in+136+2*16(%rip), %xmm2\n"
    "  movdqu harness_in+136+3*16(%rip), %xmm3\n"
    "  movdqu harness_in+136+4*16(%rip), %xmm4\n"
    "  movdqu harness_in+136+5*16(%rip), %xmm5\n"
    "  movdqu harness_in+136+6*16(%rip), %xmm6\n"
    "  movdqu harness_in+136+7*16(%rip), %xmm7\n"
    "  movdqu harness_in+136+8*16(%rip), %xmm8\n"
    "  movdqu harness_in+136+9*16(%rip), %xmm9\n"
    "  movdqu harness_in+136+10*16(%rip), %xmm10\n"
    "  movdqu harness_in+136+11*16(%rip), %xmm11\n"
    "  movdqu harness_in+136+12*16(%rip), %xmm12\n"
    "  movdqu harness_in+136+13*16(%rip), %xmm13\n"
    "  movdqu harness_in+136+14*16(%rip), %xmm14\n"
    "  movdqu harness_in+136+15*16(%rip), %xmm15\n"
    "  pushq harness_in+128(%rip)\n"
    "  popfq\n"
    "  mov harness_in+0*8(%rip), %rax\n"
    "  mov harness_in+1*8(%rip), %rcx\n"
    "  mov harness_in+2*8(%rip), %rdx\n"
    "  mov harness_in+3*8(%rip), %rbx\n"
    "  mov harness_in+5*8(%rip), %rbp\n"
    "  mov harness_in+6*8(%rip), %rsi\n"
    "  mov harness_in+7*8(%rip), %rdi\n"
    "  mov harness_in+8*8(%rip), %r8\n"
    "  mov harness_in+9*8(%rip), %r9\n"
    "  mov harness_in+10*8(%rip), %r10\n"
    "  mov harness_in+11*8(%rip), %r11\n"
    "  mov harness_in+12*8(%rip), %r12\n"
    "  mov harness_in+13*8(%rip), %r13\n"
    "  mov harness_in+14*8(%rip), %r14\n"
    "  mov harness_in+15*8(%rip), %r15\n"
    "  mov harness_in+4*8(%rip), %rsp\n"
    "  jmp *harness_code_ptr(%rip)\n"
    ".globl harness_return\n"
    "harness_return:\n"
    "  mov %rax, harness_out+0*8(%rip)\n"
    "  mov %rcx, harness_out+1*8(%rip)\n"
    "  mov %rdx, harness_out+2*8(%rip)\n"
    "  mov %rbx, harness_out+3*8(%rip)\n"
    "  mov %rsp, harness_out+4*8(%rip)\n"
    "  mov %rbp, harness_out+5*8(%rip)\n"
    "  mov %rsi, harness_out+6*8(%rip)\n"
    "  mov %rdi, harness_out+7*8(%rip)\n"
    "  mov %r8, harness_out+8*8(%rip)\n"
    "  mov %r9, harness_out+9*8(%rip)\n"
    "  mov %r10, harness_out+10*8(%rip)\n"
    "  mov %r11, harness_out+11*8(%rip)\n"
    "  mov %r12, harness_out+12*8(%rip)\n"
    "  mov %r13, harness_out+13*8(%rip)\n"
    "  mov %r14, harness_out+14*8(%rip)\n"
    "  mov %r15, harness_out+15*8(%rip)\n"
    "  mov harness_host_rsp(%rip), %rsp\n"
    "  pushfq\n"
    "  popq harness_out+128(%rip)\n"
    "  xorl %eax, %eax\n"   /* back to the 64-bit process's null DS/ES */
    "  movl %eax, %ds\n"
    "  movl %eax, %es\n"
    "  pushq $0x202\n"  /* clean flags for C code: a test may have set AC (alignment checks) or DF */
    "  popfq\n"
    "  movdqu %xmm0, harness_out+136+0*16(%rip)\n"
    "  movdqu %xmm1, harness_out+136+1*16(%rip)\n"
    "  movdqu %xmm2, harness_out+136+2*16(%rip)\n"
    "  movdqu %xmm3, harness_out+136+3*16(%rip)\n"
    "  movdqu %xmm4, harness_out+136+4*16(%rip)\n"
    "  movdqu %xmm5, harness_out+136+5*16(%rip)\n"
    "  movdqu %xmm6, harness_out+136+6*16(%rip)\n"
    "  movdqu %xmm7, harness_out+136+7*16(%rip)\n"
    "  movdqu %xmm8, harness_out+136+8*16(%rip)\n"
    "  movdqu %xmm9, harness_out+136+9*16(%rip)\n"
    "  movdqu %xmm10, harness_out+136+10*16(%rip)\n"
    "  movdqu %xmm11, harness_out+136+11*16(%rip)\n"
    "  movdqu %xmm12, harness_out+136+12*16(%rip)\n"
    "  movdqu %xmm13, harness_out+136+13*16(%rip)\n"
    "  movdqu %xmm14, harness_out+136+14*16(%rip)\n"
    "  movdqu %xmm15, harness_out+136+15*16(%rip)\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "  ret\n");

void harness_return(void);
uint64_t harness_code_ptr = CODE_BASE;
uint32_t harness_mode = 64;

_Static_assert(sizeof(struct regs) == 136 + 256, "struct regs layout used by the asm");

static void on_fault(int sig, siginfo_t *si, void *uctx) {
  ucontext_t *uc = (ucontext_t *)uctx;
  fault_vector = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
  fault_error = (uint32_t)uc->uc_mcontext.gregs[REG_ERR];
  fault_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
  fault_cr2 = sig == SIGSEGV || sig == SIGBUS ? (uint64_t)si->si_addr : 0;
  /* The registers at the fault: a faulting instruction leaves them as they were,
   * except a rep string instruction that faults part-way (RCX/RSI/RDI advanced). */
  const greg_t *g = uc->uc_mcontext.gregs;
  static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; i++) fault_gpr[i] = (uint64_t)g[order[i]];
  fault_rflags = (uint64_t)g[REG_EFL];
  siglongjmp(fault_jmp, 1);
}

/* Writes an exit stub at p: record the final RIP (low 32 bits) then jump back. */
static uint8_t *put_stub(uint8_t *p) {
  uint32_t rip = (uint32_t)(uintptr_t)p;
  /* mov dword ptr [MARK_ADDR], rip  (C7 04 25 disp32 imm32): no flags, no registers */
  *p++ = 0xc7; *p++ = 0x04; *p++ = 0x25;
  uint32_t mark = (uint32_t)MARK_ADDR;
  memcpy(p, &mark, 4); p += 4;
  memcpy(p, &rip, 4); p += 4;
  /* jmp qword ptr [rip+0]; .quad harness_return */
  *p++ = 0xff; *p++ = 0x25; *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0;
  uint64_t back = (uint64_t)(uintptr_t)&harness_return;
  memcpy(p, &back, 8); p += 8;
  return p;
}

/*
 * Compat-mode (32-bit) cases: the entry jumps to a 64-bit trampoline at TRAMP_ENTER32 that far-
 * jumps to CODE_BASE with CS = __USER32_CS (0x23); 32-bit exit stubs far-jump back to a 64-bit
 * stub at TRAMP_BACK64 (CS = __USER_CS, 0x33), which jumps to harness_return.
 */
#define TRAMP_BACK64 0xf80
#define TRAMP_ENTER32 0xfc0

static uint8_t *put_stub32(uint8_t *p) {
  uint32_t eip = (uint32_t)(uintptr_t)p;
  uint32_t mark = (uint32_t)MARK_ADDR;
  /* mov dword ptr [MARK_ADDR], eip  (C7 05 disp32 imm32 in 32-bit mode) */
  *p++ = 0xc7; *p++ = 0x05;
  memcpy(p, &mark, 4); p += 4;
  memcpy(p, &eip, 4); p += 4;
  /* ljmp 0x33:CODE_BASE+TRAMP_BACK64  (EA ptr16:32) */
  uint32_t back = (uint32_t)(CODE_BASE + TRAMP_BACK64);
  uint16_t sel = 0x33;
  *p++ = 0xea;
  memcpy(p, &back, 4); p += 4;
  memcpy(p, &sel, 2); p += 2;
  return p;
}

static void put_stubs(uint8_t *code, uint32_t mode) {
  memset(code, 0xcc, CODE_SIZE);
  for (unsigned off = STUB_FIRST; off + STUB_STRIDE <= TRAMP_BACK64; off += STUB_STRIDE)
    mode == 32 ? put_stub32(code + off) : put_stub(code + off);
  /* 64-bit: jmp qword ptr [rip+0]; .quad harness_return */
  uint8_t *p = code + TRAMP_BACK64;
  *p++ = 0xff; *p++ = 0x25; *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0;
  uint64_t ret = (uint64_t)(uintptr_t)&harness_return;
  memcpy(p, &ret, 8);
  /* 64-bit: ljmp *[rip+0] with m16:32 = {CODE_BASE, 0x23} (FF /5, no flags changed) */
  p = code + TRAMP_ENTER32;
  *p++ = 0xff; *p++ = 0x2d; *p++ = 0; *p++ = 0; *p++ = 0; *p++ = 0;
  uint32_t target = (uint32_t)CODE_BASE;
  uint16_t cs32 = 0x23;
  memcpy(p, &target, 4); p += 4;
  memcpy(p, &cs32, 2);
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void read_exact(void *buf, size_t n) {
  if (n && fread(buf, 1, n, stdin) != n) {
    fprintf(stderr, "harness: short read\n");
    exit(2);
  }
}

int main(void) {
  uint8_t *data = mmap((void *)DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (data != (uint8_t *)DATA_BASE) die("mmap data");
  uint8_t *code = mmap((void *)CODE_BASE, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (uint8_t *)CODE_BASE) die("mmap code (RWX)");
  uint8_t *mark = mmap((void *)MARK_ADDR, 0x1000, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (mark != (uint8_t *)MARK_ADDR) die("mmap mark");

  static uint8_t altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL)) die("sigaltstack");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    if (sigaction(sigs[i], &sa, NULL)) die("sigaction");

  uint32_t hdr[3];
  read_exact(hdr, sizeof hdr);
  if (hdr[0] != 0x54363858) { /* 'X86T' */
    fprintf(stderr, "harness: bad magic\n");
    return 2;
  }
  uint32_t count = hdr[1], mem_len = hdr[2];
  if (mem_len > DATA_SIZE) {
    fprintf(stderr, "harness: memLen too large\n");
    return 2;
  }

  /* Exit stubs at fixed branch targets; the per-case stub goes right after the instruction. */
  uint32_t stubs_mode = 64;
  put_stubs(code, stubs_mode);

  int trace = getenv("X86_HARNESS_TRACE") != NULL;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t bytes[16];
    uint32_t len_pad[2];
    read_exact(bytes, 16);
    read_exact(len_pad, 8);
    read_exact(harness_in.gpr, 8 * 16);
    read_exact(&harness_in.rflags, 8);
    read_exact(harness_in.xmm, 256);
    read_exact(data, mem_len);
    memset(data + mem_len, 0, DATA_SIZE - mem_len); /* the rest of the 64 KiB data mapping reads as zero */
    uint32_t len = len_pad[0];
    uint32_t mode = len_pad[1] == 32 ? 32 : 64;
    if (mode != stubs_mode) put_stubs(code, stubs_mode = mode);
    harness_mode = mode;
    harness_code_ptr = mode == 32 ? CODE_BASE + TRAMP_ENTER32 : CODE_BASE;
    if (trace) fprintf(stderr, "case %u\n", i);
    if (len > 15) {
      fprintf(stderr, "harness: instruction longer than 15 bytes\n");
      return 2;
    }
    harness_in.rflags = (harness_in.rflags & SETTABLE_FLAGS) | 0x202; /* bit 1 reads as 1; IF is always 1 in user mode */
    memset(code, 0xcc, STUB_FIRST);
    memcpy(code, bytes, len);
    mode == 32 ? put_stub32(code + len) : put_stub(code + len);
    *(volatile uint32_t *)mark = 0;

    fault_vector = -1;
    fault_error = 0;
    fault_cr2 = 0;
    memset(&harness_out, 0, sizeof harness_out);
    if (sigsetjmp(fault_jmp, 1) == 0) {
      harness_enter();
    } else {
      /* Registers as the kernel saw them at the fault; XMM as loaded (SSE moves that fault change nothing). */
      harness_out = harness_in;
      memcpy(harness_out.gpr, fault_gpr, sizeof fault_gpr);
      harness_out.rflags = fault_rflags;
      __asm__ volatile("pushq $0x202\n\tpopfq\n\txorl %%eax, %%eax\n\tmovl %%eax, %%ds\n\tmovl %%eax, %%es" ::: "memory", "cc", "eax");
    }
    uint64_t rip = fault_vector >= 0 ? fault_rip : (uint64_t)*(volatile uint32_t *)mark;
    int32_t vec = fault_vector;
    uint32_t err = fault_error;
    uint64_t cr2 = fault_cr2;
    fwrite(harness_out.gpr, 8, 16, stdout);
    fwrite(&harness_out.rflags, 8, 1, stdout);
    fwrite(&rip, 8, 1, stdout);
    fwrite(&vec, 4, 1, stdout);
    fwrite(&err, 4, 1, stdout);
    fwrite(&cr2, 8, 1, stdout);
    fwrite(harness_out.xmm, 1, 256, stdout);
    fwrite(data, 1, mem_len, stdout);
  }
  fflush(stdout);
  return 0;
}
