/*
 * 16550A UART register model (PC16550D data sheet, Table 2 "Summary of
 * Registers"): RBR/THR/DLL at +0, IER/DLM at +1, IIR/FCR at +2, LCR +3,
 * MCR +4, LSR +5, MSR +6, SCR +7; DLAB (LCR bit 7) selects the divisor latch.
 * Transmission is instantaneous: THR is always empty (LSR.THRE|TEMT).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/iobus.h"
#include "uart16550.h"

#define RX_FIFO 4096

#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IER_RDA 0x01
#define IER_THRE 0x02
#define MCR_LOOP 0x10
#define IIR_NONE 0x01
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

struct uart16550 {
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	int thr_irq; /* THRE interrupt pending (cleared by reading IIR) */
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;
	int out_fd;
	int out_err;
	char *cap;
	uint64_t cap_len, cap_max, total;
};

struct uart16550 *uart16550_create(int out_fd, uint64_t capture_max)
{
	struct uart16550 *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->out_fd = out_fd;
	u->cap_max = capture_max;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = 0xb0; /* DCD, DSR, CTS asserted */
	u->dll = 1; /* 115200 baud */
	return u;
}

void uart16550_destroy(struct uart16550 *u)
{
	if (!u)
		return;
	free(u->cap);
	free(u);
}

static void rx_push(struct uart16550 *u, uint8_t c)
{
	if (u->rx_count == RX_FIFO) {
		u->lsr |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count++) % RX_FIFO] = c;
	u->lsr |= LSR_DR;
}

static void transmit(struct uart16550 *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP) {
		rx_push(u, c);
		return;
	}
	u->total++;
	if (u->out_fd >= 0 && !u->out_err) {
		ssize_t n;
		do
			n = write(u->out_fd, &c, 1);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			u->out_err = -errno;
	}
	if (u->cap_len < u->cap_max) {
		if (!u->cap || (u->cap_len & 4095) == 0) {
			char *p = realloc(u->cap, (size_t)u->cap_len + 4096);
			if (!p)
				return;
			u->cap = p;
		}
		u->cap[u->cap_len++] = (char)c;
	}
}

/* IIR: highest-priority pending interrupt (data sheet Table 4). */
static uint8_t iir(const struct uart16550 *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
	if ((u->ier & IER_RDA) && (u->lsr & LSR_DR))
		return IIR_RDA | fifo;
	if ((u->ier & IER_THRE) && u->thr_irq)
		return IIR_THRE | fifo;
	return IIR_NONE | fifo;
}

static uint32_t uart_read(void *opaque, uint16_t port, unsigned size)
{
	struct uart16550 *u = opaque;
	(void)size;
	switch (port & 7) {
	case 0:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			uint8_t c = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % RX_FIFO;
			if (--u->rx_count == 0)
				u->lsr &= ~LSR_DR;
			return c;
		}
		return 0;
	case 1:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case 2: {
		uint8_t v = iir(u);
		if ((v & 0x0f) == IIR_THRE)
			u->thr_irq = 0;
		return v;
	}
	case 3:
		return u->lcr;
	case 4:
		return u->mcr;
	case 5: {
		uint8_t v = u->lsr;
		u->lsr &= ~LSR_OE; /* overrun is cleared by reading LSR */
		return v;
	}
	case 6:
		if (u->mcr & MCR_LOOP) /* loopback: MCR outputs appear as inputs */
			return (uint32_t)(((u->mcr & 0x0c) << 4) | ((u->mcr & 0x01) << 5) |
					  ((u->mcr & 0x02) << 3));
		return u->msr;
	default:
		return u->scr;
	}
}

static void uart_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct uart16550 *u = opaque;
	uint8_t b = (uint8_t)val;
	(void)size;
	switch (port & 7) {
	case 0:
		if (u->lcr & LCR_DLAB) {
			u->dll = b;
		} else {
			transmit(u, b);
			u->thr_irq = 1;
		}
		break;
	case 1:
		if (u->lcr & LCR_DLAB) {
			u->dlm = b;
		} else {
			/* Enabling THRE interrupts with THR empty raises one at once. */
			if ((b & IER_THRE) && !(u->ier & IER_THRE))
				u->thr_irq = 1;
			u->ier = b & 0x0f;
		}
		break;
	case 2:
		u->fcr = b & 0xc9;
		if (b & FCR_CLEAR_RX) {
			u->rx_count = 0;
			u->lsr &= ~LSR_DR;
		}
		break;
	case 3:
		u->lcr = b;
		break;
	case 4:
		u->mcr = b & 0x1f;
		break;
	case 5:
	case 6:
		break; /* read-only */
	default:
		u->scr = b;
	}
}

static const struct io_ops uart_ops = { .read = uart_read, .write = uart_write };

int uart16550_attach(struct uart16550 *u, struct iobus *bus, uint16_t base)
{
	return iobus_register(bus, base, 8, &uart_ops, u, "uart16550");
}

uint64_t uart16550_captured(const struct uart16550 *u)
{
	return u->cap_len;
}

size_t uart16550_read_capture(const struct uart16550 *u, uint64_t off, char *buf, size_t len)
{
	if (off >= u->cap_len)
		return 0;
	if (len > u->cap_len - off)
		len = (size_t)(u->cap_len - off);
	memcpy(buf, u->cap + off, len);
	return len;
}

size_t uart16550_receive(struct uart16550 *u, const char *buf, size_t len)
{
	size_t n = 0;
	while (n < len && u->rx_count < RX_FIFO)
		rx_push(u, (uint8_t)buf[n++]);
	return n;
}

int uart16550_output_error(const struct uart16550 *u)
{
	return u->out_err;
}
