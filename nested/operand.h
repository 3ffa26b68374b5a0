/*
 * Operands of exiting VMX instructions (operand.c).
 */
#ifndef NESTED_OPERAND_H
#define NESTED_OPERAND_H

#include <stdbool.h>
#include <stdint.h>

#include "core/exit.h"
#include "core/vm.h"
#include "core/vmx_insn_info.h"

/* Linear address of the memory operand of len bytes; ARCH_OK or the
 * segmentation fault (ARCH_FAULT(X86_GP / X86_SS)). */
int nested_operand_la(struct vcpu *v, const struct vm_exit *e, unsigned len, bool write, uint64_t *la);
/* Read / write the memory operand; on a fault, inject it and return false
 * (the instruction is then not retired). */
bool nested_operand_read(struct vcpu *v, const struct vm_exit *e, void *buf, unsigned len);
bool nested_operand_write(struct vcpu *v, const struct vm_exit *e, const void *buf, unsigned len);
/* A register operand at the instruction's operand size (64 bits in 64-bit
 * mode, else 32). */
uint64_t nested_reg_read(const struct vcpu *v, unsigned reg);
void nested_reg_write(struct vcpu *v, unsigned reg, uint64_t val);

#endif
