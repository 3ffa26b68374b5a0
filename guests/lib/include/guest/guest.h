/*
 * tortuga's guest support library: start-up, serial console, formatted
 * output, exit through the debug-exit port, and a small libc subset.
 *
 * A guest defines `int main(const struct tortuga_bootinfo *bi)`; the value
 * main returns is written to the debug-exit port, so `tortuga run` exits
 * with (value << 1) | 1.
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <tortuga/bootinfo.h>

#define GUEST_DEBUG_EXIT_PORT 0xf4
#define GUEST_COM1 0x3f8

int main(const struct tortuga_bootinfo *bi);

/* Stop the VM: tortuga exits with (code << 1) | 1. Never returns. */
__attribute__((noreturn)) void guest_exit(uint32_t code);

void serial_init(void);
void serial_putc(char c);
/* Send what serial_putc() queued (guests built with SERIAL_FIFO_BURST
 * queue up to a line; the others send each character at once). */
void serial_flush(void);
void serial_write(const char *s, size_t n);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int puts(const char *s);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *h, const char *n);

/* The value of "key=value" in the command line (NULL if absent); the
 * returned pointer is to a static copy terminated at the next space. */
const char *cmdline_get(const struct tortuga_bootinfo *bi, const char *key);
/* The value of "key=value" in a command line string (NULL if absent),
 * as cmdline_get(). */
const char *cmdline_value(const char *cmdline, const char *key);
/* Parse an unsigned decimal or 0x hex number; returns def on failure. */
uint64_t parse_u64(const char *s, uint64_t def);

#endif
