/*
 * TSS stack switching and checked stack pushes (tss.c), for interrupt
 * delivery (except.c) and call gates (gates.c).
 */
#ifndef CORE_EMU_TSS_H
#define CORE_EMU_TSS_H

#include <stdint.h>

struct emu_cpu;
struct x86_segment;

/* Legacy mode: the SS:ESP for privilege level new_cpl from the 16- or
 * 32-bit TSS, with the new SS's checks (#TS, #SS); ext is the error code's
 * EXT bit. */
void emu_tss_stack32(struct emu_cpu *c, unsigned new_cpl, uint32_t ext, struct x86_segment *ss, uint64_t *esp);
/* IA-32e mode: RSPn (ist == 0) or ISTn from the 64-bit TSS. */
uint64_t emu_tss_rsp64(struct emu_cpu *c, unsigned new_cpl, unsigned ist, uint32_t ext);
/* Push a value onto ss:*sp with the segment's limit checks (#SS(fault_err))
 * or, for 64-bit stacks, the canonical check. */
void emu_stack_push(struct emu_cpu *c, const struct x86_segment *ss, uint64_t *sp, unsigned size, uint64_t val,
		    unsigned acc, uint32_t fault_err);

#endif
