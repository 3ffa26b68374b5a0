/*
 * The binary trace file (little-endian):
 *
 *   struct trace_file_header          32 bytes
 *   struct trace_file_field[nfields]  32 bytes each: the event layout
 *   struct tortuga_event[...]         event_size bytes each, in arrival order
 *
 * header_size is the offset of the first event. The field table makes a file
 * self-describing (readers such as the Python harness build their record type
 * from it, never from a restated layout). Fixed-size records make the file
 * readable incrementally while a run is still appending to it: a reader takes
 * the complete records and waits for the rest.
 *
 * Version 1 (tortuga 0.1) had no field table (header_size 32, nfields 0);
 * readers accept it when event_size matches.
 */
#ifndef TRACING_TRACE_FILE_H
#define TRACING_TRACE_FILE_H

#include <stdint.h>

#define TRACE_FILE_MAGIC "TRTGTRC\n"
#define TRACE_FILE_VERSION 2

/* flags: who wrote the file */
#define TRACE_FILE_F_RING 0x1 /* the in-process ring (tortuga run --trace) */
#define TRACE_FILE_F_BPF 0x2 /* the eBPF reader (--trace-bpf, trace record) */

struct trace_file_header {
	char magic[8]; /* TRACE_FILE_MAGIC */
	uint32_t version; /* TRACE_FILE_VERSION */
	uint32_t header_size; /* offset of the first event */
	uint32_t event_size; /* sizeof(struct tortuga_event) */
	uint32_t flags; /* TRACE_FILE_F_* */
	uint32_t nfields; /* entries in the field table */
	uint32_t reserved; /* 0 */
};

#define TRACE_FIELD_NAME_MAX 24

struct trace_file_field {
	char name[TRACE_FIELD_NAME_MAX]; /* NUL-padded */
	uint32_t offset;
	uint32_t size;
};

/* This build's event layout, in the order and form the field table stores. */
struct trace_field_desc {
	const char *name;
	uint32_t offset, size;
};
extern const struct trace_field_desc trace_event_fields[];
extern const uint32_t trace_event_nfields;

_Static_assert(sizeof(struct trace_file_header) == 32, "trace file header is frozen");
_Static_assert(sizeof(struct trace_file_field) == 32, "trace file field entry is frozen");

#endif
