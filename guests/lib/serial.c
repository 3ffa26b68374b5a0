/*
 * Serial console on COM1 (16550) and printf.
 */
#include <guest/guest.h>
#include <guest/io.h>

void serial_init(void)
{
	outb(GUEST_COM1 + 1, 0x00); /* no interrupts */
	outb(GUEST_COM1 + 3, 0x80); /* DLAB */
	outb(GUEST_COM1 + 0, 0x01); /* 115200 baud */
	outb(GUEST_COM1 + 1, 0x00);
	outb(GUEST_COM1 + 3, 0x03); /* 8N1 */
	outb(GUEST_COM1 + 2, 0xc7); /* FIFO on, cleared */
	outb(GUEST_COM1 + 4, 0x03); /* DTR, RTS */
}

#ifdef SERIAL_FIFO_BURST
/*
 * Characters go to the transmitter FIFO 16 at a time (PC16550D data sheet:
 * with FIFOs enabled, LSR bit 5 (THRE) says the 16-byte transmitter FIFO is
 * empty): one LSR read and one REP OUTSB for each line or 16 bytes, instead
 * of an LSR read and an OUT per character. Each is an exit under a
 * hypervisor, and on KVM inside QEMU TCG one costs a few hundred us.
 */
static char txq[16];
static unsigned txn;

void serial_flush(void)
{
	if (!txn)
		return;
	while (!(inb(GUEST_COM1 + 5) & 0x20))
		;
	const char *p = txq;
	unsigned long n = txn;
	__asm__ volatile("cld; rep outsb" : "+S"(p), "+c"(n) : "d"((uint16_t)GUEST_COM1) : "memory");
	txn = 0;
}

void serial_putc(char c)
{
	txq[txn++] = c;
	if (txn == sizeof(txq) || c == '\n')
		serial_flush();
}
#else
void serial_flush(void)
{
}

void serial_putc(char c)
{
	while (!(inb(GUEST_COM1 + 5) & 0x20))
		;
	outb(GUEST_COM1, (uint8_t)c);
}
#endif

void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

struct sink {
	char *buf;
	size_t cap, len;
	int to_serial;
};

static void emit(struct sink *k, char c)
{
	if (k->to_serial) {
		if (c == '\n')
			serial_putc('\r');
		serial_putc(c);
	} else if (k->len + 1 < k->cap) {
		k->buf[k->len] = c;
	}
	k->len++;
}

static void emit_num(struct sink *k, uint64_t v, unsigned base, int neg, int width, char pad, int upper)
{
	char tmp[24];
	int n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int w = n; w < width; w++)
		emit(k, pad);
	while (n)
		emit(k, tmp[--n]);
}

static int format(struct sink *k, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			emit(k, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		/* lng: the argument is 64 bits wide ("ll", or "l"/"z" where long
		 * and size_t are; this file also builds with -m32). */
		int ls = 0;
		while (*fmt == 'l') {
			ls++;
			fmt++;
		}
		lng = ls >= 2 || (ls == 1 && sizeof(long) == 8);
		if (*fmt == 'z') {
			lng = sizeof(size_t) == 8;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			emit_num(k, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, width, pad, 0);
			break;
		}
		case 'u':
			emit_num(k, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0, width, pad, 0);
			break;
		case 'x':
		case 'X':
			emit_num(k, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, 0, width, pad,
				 *fmt == 'X');
			break;
		case 'p':
			emit(k, '0');
			emit(k, 'x');
			emit_num(k, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, width, pad, 0);
			break;
		case 'c':
			emit(k, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)strlen(s);
			for (int w = n; w < width; w++)
				emit(k, ' ');
			while (*s)
				emit(k, *s++);
			break;
		}
		case '%':
			emit(k, '%');
			break;
		default:
			emit(k, '%');
			if (*fmt)
				emit(k, *fmt);
			else
				fmt--;
		}
	}
	return (int)k->len;
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink k = { .to_serial = 1 };
	return format(&k, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct sink k = { .buf = buf, .cap = n };
	int r = format(&k, fmt, ap);
	if (n)
		buf[k.len < n ? k.len : n - 1] = 0;
	return r;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

int puts(const char *s)
{
	serial_write(s, strlen(s));
	serial_putc('\r');
	serial_putc('\n');
	return 0;
}
