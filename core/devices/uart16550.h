/*
 * 16550A UART (National Semiconductor PC16550D data sheet): the serial
 * console at I/O port 0x3f8. Output goes to a file descriptor and/or an
 * in-memory capture; input comes from tortuga_vm_serial_write().
 */
#ifndef CORE_DEVICES_UART16550_H
#define CORE_DEVICES_UART16550_H

#include <stddef.h>
#include <stdint.h>

struct iobus;
struct uart16550;

struct uart16550 *uart16550_create(int out_fd, uint64_t capture_max);
void uart16550_destroy(struct uart16550 *u);
int uart16550_attach(struct uart16550 *u, struct iobus *bus, uint16_t base);

/* Captured output. */
uint64_t uart16550_captured(const struct uart16550 *u);
size_t uart16550_read_capture(const struct uart16550 *u, uint64_t off, char *buf, size_t len);
/* Bytes for the receiver (RBR); returns how many were queued. */
size_t uart16550_receive(struct uart16550 *u, const char *buf, size_t len);
/* -errno of the first failed write to out_fd, 0 if none. */
int uart16550_output_error(const struct uart16550 *u);

#endif
