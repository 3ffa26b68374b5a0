/*
 * Who handles an exit of L2: two side-effect-free decisions, as KVM's
 * nested_vmx_l0_wants_exit() and nested_vmx_l1_wants_exit(). L0 first takes
 * the exits that are its own whatever L1 asked for; of the rest, L1 gets
 * those its vmcs12 controls make exits (Intel SDM Vol. 3C 26.1, 26.2); L0
 * handles what neither claims, on L2's behalf.
 */
#ifndef NESTED_REFLECT_H
#define NESTED_REFLECT_H

#include <stdbool.h>

#include "core/exit.h"
#include "core/exit_policy.h"

bool nested_l0_wants_exit(const struct vm_exit *e);
/* c12: vmcs12's controls with its bitmaps mapped. */
bool nested_l1_wants_exit(const struct vmx_exec_controls *c12, const struct vm_exit *e);

#endif
