/*
 * Finding the file that holds a USDT probe in a running process: the ELF
 * objects mapped by /proc/PID/maps whose .note.stapsdt section describes the
 * probe (SystemTap "UserSpaceProbeImplementation": NT_STAPSDT notes, owner
 * "stapsdt", with pc, base and semaphore addresses then provider, name and
 * argument strings).
 */
#ifndef TRACING_USDT_FIND_H
#define TRACING_USDT_FIND_H

#include <stddef.h>
#include <sys/types.h>

/* 0 and the path in out, -ENOENT when no mapped file has the probe, or
 * another -errno (e.g. no such process). */
int usdt_find(pid_t pid, const char *provider, const char *name, char *out, size_t len);
/* Does the ELF file at path describe provider:name? */
int usdt_file_has_probe(const char *path, const char *provider, const char *name);

#endif
