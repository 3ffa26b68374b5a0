/*
 * The binary trace file: a 32-byte header followed by 64-byte events
 * (struct tortuga_event, little-endian) in sequence order. Fixed-size records
 * make the file readable incrementally while a run is still appending to it.
 */
#ifndef TRACING_TRACE_FILE_H
#define TRACING_TRACE_FILE_H

#include <stdint.h>

#define TRACE_FILE_MAGIC "TRTGTRC\n"
#define TRACE_FILE_VERSION 1

struct trace_file_header {
	char magic[8]; /* TRACE_FILE_MAGIC */
	uint32_t version; /* TRACE_FILE_VERSION */
	uint32_t header_size; /* sizeof(struct trace_file_header) */
	uint32_t event_size; /* sizeof(struct tortuga_event) */
	uint32_t flags; /* reserved, 0 */
	uint64_t reserved;
};

_Static_assert(sizeof(struct trace_file_header) == 32, "trace file header is frozen");

#endif
