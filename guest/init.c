/*
 * /init for the krun-whp test guest: a static x86-64 Linux program with no libc.
 *
 * Built by scripts/build-guest.sh with
 *   gcc -Os -static -nostdlib -ffreestanding -fno-pie -no-pie ...
 * so everything below talks to the kernel through raw `syscall` instructions
 * (x86-64 ABI: number in rax; arguments in rdi, rsi, rdx, r10, r8; rcx and r11
 * clobbered; result in rax, -errno on failure).
 *
 * What it does, in order:
 *   1. writes the boot-complete byte 123 to I/O port 0x3F0 (Firecracker's
 *      boot-time marker), so a VMM can time "kernel reached userspace";
 *   2. mounts /proc and /sys, prints the line KRUN-GUEST-OK and then facts as
 *      key=value lines (kernel version, CPUs, TSC frequency, uptime, ...);
 *   3. with `krun.echo` on the kernel command line, copies console input back
 *      to the console until end of file (Ctrl-D at the start of a line);
 *   4. prints KRUN-GUEST-DONE and asks the kernel to restart, or to power off
 *      with `krun.poweroff`. With `reboot=k` the restart is a reset through the
 *      i8042 keyboard controller; under QEMU `-no-reboot` it ends QEMU.
 *
 * The console is fds 0/1/2, which the kernel opens on /dev/console before
 * starting init (the initramfs contains the /dev/console node for that).
 */

typedef unsigned long size_t;
typedef long ssize_t;

/* x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
enum {
	SYS_read = 0,
	SYS_write = 1,
	SYS_open = 2,
	SYS_close = 3,
	SYS_ioctl = 16,
	SYS_exit = 60,
	SYS_uname = 63,
	SYS_syslog = 103,
	SYS_mount = 165,
	SYS_reboot = 169,
	SYS_ioperm = 173,
};

/* include/uapi/linux/reboot.h */
#define LINUX_REBOOT_MAGIC1 0xfee1deadL
#define LINUX_REBOOT_MAGIC2 672274793L
#define LINUX_REBOOT_CMD_RESTART 0x01234567L
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321FEDCL

#define SYSLOG_ACTION_READ_ALL 3 /* include/linux/syslog.h */
#define TCGETS 0x5401            /* include/uapi/asm-generic/ioctls.h */
#define TCSETS 0x5402
#define ECHO_FLAG 0000010        /* c_lflag ECHO, include/uapi/asm-generic/termbits.h */

#define BOOT_MARKER_PORT 0x3F0   /* Firecracker: "boot complete" magic on x86 */
#define BOOT_MARKER_VALUE 123

static long syscall3(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static long syscall5(long n, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static void outb(unsigned short port, unsigned char value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

/* ---- tiny string helpers (no libc) ---------------------------------------- */

static size_t str_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static int starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

/* First occurrence of needle in haystack, or 0. */
static const char *find(const char *haystack, const char *needle)
{
	for (; *haystack; haystack++)
		if (starts_with(haystack, needle))
			return haystack;
	return 0;
}

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		long w = syscall3(SYS_write, 1, (long)s, (long)n);
		if (w <= 0)
			return; /* no console: nothing else we can do */
		s += w;
		n -= (size_t)w;
	}
}

/* One output line, assembled first so it reaches the UART in one write. */
static char line_buf[512];
static size_t line_len;

static void put(const char *s)
{
	while (*s && line_len < sizeof(line_buf) - 1)
		line_buf[line_len++] = *s++;
}

/* Puts the first n characters of s, stopping at a newline. */
static void put_n(const char *s, size_t n)
{
	while (n-- > 0 && *s && *s != '\n' && line_len < sizeof(line_buf) - 1)
		line_buf[line_len++] = *s++;
}

static void put_dec(long v)
{
	char digits[24];
	int i = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	if (v < 0)
		put("-");
	do {
		digits[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (i > 0) {
		char c[2] = { digits[--i], 0 };
		put(c);
	}
}

static void end_line(void)
{
	line_buf[line_len++] = '\n';
	write_all(line_buf, line_len);
	line_len = 0;
}

static void print_line(const char *s)
{
	put(s);
	end_line();
}

/* key=value, where value runs to the end of its line in the source text. */
static void print_fact(const char *key, const char *value)
{
	put(key);
	put("=");
	put_n(value, sizeof(line_buf));
	end_line();
}

/* ---- files ------------------------------------------------------------------ */

/* Reads a whole (small) file into buf, NUL-terminated. Returns length or -errno. */
static long read_file(const char *path, char *buf, size_t cap)
{
	long fd = syscall3(SYS_open, (long)path, 0 /* O_RDONLY */, 0);
	size_t len = 0;
	if (fd < 0)
		return fd;
	while (len < cap - 1) {
		long r = syscall3(SYS_read, fd, (long)(buf + len), (long)(cap - 1 - len));
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = 0;
	syscall3(SYS_close, fd, 0, 0);
	return (long)len;
}

/*
 * In a "key<tabs>: value" line of /proc/cpuinfo, returns the value of the
 * first line whose key is `key`, or 0.
 */
static const char *cpuinfo_value(const char *text, const char *key)
{
	const char *line = text;
	while (*line) {
		if (starts_with(line, key)) {
			const char *p = line + str_len(key);
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == ':')
				return p[1] == ' ' ? p + 2 : p + 1;
		}
		while (*line && *line != '\n')
			line++;
		if (*line)
			line++;
	}
	return 0;
}

static int count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;
	const char *line = text;
	while (*line) {
		if (starts_with(line, prefix))
			n++;
		while (*line && *line != '\n')
			line++;
		if (*line)
			line++;
	}
	return n;
}

/* Does the word appear, space-delimited, in the line starting at s? */
static int line_has_word(const char *s, const char *word)
{
	size_t n = str_len(word);
	while (*s && *s != '\n') {
		if (starts_with(s, word) && (s[n] == ' ' || s[n] == '\n' || s[n] == 0))
			return 1;
		while (*s && *s != ' ' && *s != '\n')
			s++;
		while (*s == ' ')
			s++;
	}
	return 0;
}

/* Is `word` one of the space-separated parameters of the kernel command line? */
static int cmdline_has(const char *cmdline, const char *word)
{
	return line_has_word(cmdline, word);
}

/* ---- facts ------------------------------------------------------------------ */

static char buf[32768];
static char log_buf[1 << 17]; /* CONFIG_LOG_BUF_SHIFT=17: the whole kernel log */
static char cmdline[4096];

/*
 * From the kernel log (what dmesg shows), prints the number that follows
 * `prefix` up to `suffix` as key=value; e.g. "tsc: Detected " .. " MHz processor".
 */
static int print_log_number(const char *log, const char *key, const char *prefix,
			    const char *suffix)
{
	const char *p = find(log, prefix);
	if (!p)
		return 0;
	p += str_len(prefix);
	const char *end = find(p, suffix);
	if (!end)
		return 0;
	put(key);
	put("=");
	put_n(p, (size_t)(end - p));
	end_line();
	return 1;
}

static void print_facts(void)
{
	/* uname(2): struct utsname is six 65-byte fields; release is the 3rd. */
	if (syscall3(SYS_uname, (long)buf, 0, 0) == 0)
		print_fact("kernel_release", buf + 2 * 65);
	if (read_file("/proc/version", buf, sizeof(buf)) > 0)
		print_fact("kernel_version", buf);
	print_fact("cmdline", cmdline);

	if (read_file("/proc/cpuinfo", buf, sizeof(buf)) > 0) {
		const char *v;
		put("cpus=");
		put_dec(count_lines_starting(buf, "processor"));
		end_line();
		if ((v = cpuinfo_value(buf, "vendor_id")))
			print_fact("cpu_vendor", v);
		if ((v = cpuinfo_value(buf, "model name")))
			print_fact("cpu_model", v);
		/* x86 show_cpuinfo: the measured frequency, or cpu_khz as calibrated at boot. */
		if ((v = cpuinfo_value(buf, "cpu MHz")))
			print_fact("cpu_mhz", v);
		if ((v = cpuinfo_value(buf, "flags"))) {
			/* Set when the frequency came from CPUID/MSR/hypervisor, not calibration. */
			print_fact("tsc_known_freq", line_has_word(v, "tsc_known_freq") ? "yes" : "no");
			print_fact("hypervisor_flag", line_has_word(v, "hypervisor") ? "yes" : "no");
		}
	}

	/* What arch/x86/kernel/tsc.c logged, and which hypervisor the kernel detected. */
	long n = syscall3(SYS_syslog, SYSLOG_ACTION_READ_ALL, (long)log_buf, sizeof(log_buf) - 1);
	if (n > 0) {
		log_buf[n] = 0;
		int found;
		if (find(log_buf, "MHz TSC"))
			found = print_log_number(log_buf, "tsc_mhz", "tsc: Detected ", " MHz TSC");
		else
			found = print_log_number(log_buf, "tsc_mhz", "tsc: Detected ", " MHz processor");
		/* e.g. "tsc: Unable to calibrate against PIT" (TCG on a busy host). */
		if (!found)
			print_fact("tsc_mhz", "none");
		print_log_number(log_buf, "tsc_refined_mhz",
				 "tsc: Refined TSC clocksource calibration: ", " MHz");
		const char *h = find(log_buf, "Hypervisor detected: ");
		print_fact("hypervisor", h ? h + str_len("Hypervisor detected: ") : "none");
	} else {
		put("kernel_log=error ");
		put_dec(n);
		end_line();
	}

	if (read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		      buf, sizeof(buf)) > 0)
		print_fact("clocksource", buf);

	/* Seconds since the kernel started: how long the boot took to reach here. */
	if (read_file("/proc/uptime", buf, sizeof(buf)) > 0) {
		const char *sp = find(buf, " ");
		put("uptime_s=");
		put_n(buf, sp ? (size_t)(sp - buf) : str_len(buf));
		end_line();
	}
}

/* ---- console echo (krun.echo) ----------------------------------------------- */

/* struct termios as the kernel's TCGETS/TCSETS use it (asm-generic/termbits.h). */
struct kernel_termios {
	unsigned int c_iflag, c_oflag, c_cflag, c_lflag;
	unsigned char c_line;
	unsigned char c_cc[19];
};

static void echo_console(void)
{
	struct kernel_termios t;
	/*
	 * The tty line discipline already echoes typed characters; turn that off so
	 * every byte the host sees back was written by this program. Canonical
	 * mode stays on: each read returns one line, and Ctrl-D (VEOF) at the
	 * start of a line reads as end of file.
	 */
	if (syscall3(SYS_ioctl, 0, TCGETS, (long)&t) == 0) {
		t.c_lflag &= ~(unsigned int)ECHO_FLAG;
		syscall3(SYS_ioctl, 0, TCSETS, (long)&t);
	}
	print_line("KRUN-ECHO-READY");
	for (;;) {
		long r = syscall3(SYS_read, 0, (long)buf, sizeof(buf));
		if (r <= 0)
			break;
		write_all(buf, (size_t)r);
	}
	print_line("KRUN-ECHO-EOF");
}

/* ---- main --------------------------------------------------------------------- */

/* Not static: only the assembly entry below calls it. */
void __attribute__((noreturn, used)) init_main(void);
void __attribute__((noreturn, used)) init_main(void)
{
	/*
	 * 1. Boot-time marker, before anything else. ioperm needs
	 * CONFIG_X86_IOPL_IOPERM and CAP_SYS_RAWIO (init runs as root). Reported
	 * below, once there is a console to say it on.
	 */
	long marker = syscall3(SYS_ioperm, BOOT_MARKER_PORT, 1, 1);
	if (marker == 0)
		outb(BOOT_MARKER_PORT, BOOT_MARKER_VALUE);

	/* 2. Pseudo filesystems, then the marker line and the facts. */
	long proc = syscall5(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0);
	syscall5(SYS_mount, (long)"sysfs", (long)"/sys", (long)"sysfs", 0, 0);

	print_line("KRUN-GUEST-OK");
	put("boot_marker=");
	if (marker == 0) {
		put("port 0x3f0 value ");
		put_dec(BOOT_MARKER_VALUE);
	} else {
		put("ioperm error ");
		put_dec(marker);
	}
	end_line();
	if (proc != 0) {
		put("mount_proc=error ");
		put_dec(proc);
		end_line();
	}
	if (read_file("/proc/cmdline", cmdline, sizeof(cmdline)) < 0)
		cmdline[0] = 0;
	print_facts();

	/* 3. Optional console echo. */
	if (cmdline_has(cmdline, "krun.echo"))
		echo_console();

	/* 4. End of the VM. */
	int power_off = cmdline_has(cmdline, "krun.poweroff");
	put("KRUN-GUEST-DONE action=");
	put(power_off ? "poweroff" : "restart");
	end_line();
	/*
	 * Without ACPI there is no power-off driver, so the kernel turns POWER_OFF
	 * into HALT: every CPU stops with interrupts off. RESTART with reboot=k
	 * writes 0xFE to the i8042 command port (0x64), a CPU reset.
	 */
	long r = syscall5(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			  power_off ? LINUX_REBOOT_CMD_POWER_OFF : LINUX_REBOOT_CMD_RESTART, 0, 0);
	put("reboot=error ");
	put_dec(r);
	end_line();
	/* Exiting init makes the kernel panic; with panic=-1 that resets too. */
	syscall3(SYS_exit, 1, 0, 0);
	for (;;)
		;
}

/*
 * Process entry: the kernel starts us with rsp pointing at argc (16-byte
 * aligned, x86-64 psABI 3.4.1). Calling init_main pushes the return address,
 * giving it the usual call-site alignment.
 */
__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	call init_main\n"
	"	hlt\n");
