/*
 * The public API's view of nested/'s tables (include/tortuga/tortuga.h): the
 * names the trace tools and the Python harness show.
 */
#include <errno.h>
#include <string.h>

#include <tortuga/tortuga.h>

#include "nested.h"

TORTUGA_API const char *tortuga_vmcs_field_name(uint64_t encoding)
{
	return vmcs_field_name(encoding);
}

TORTUGA_API const char *tortuga_vmx_error_name(uint32_t number)
{
	return vmx_error_name(number);
}

TORTUGA_API int64_t tortuga_vmcs_field_encoding(const char *name)
{
	for (int id = 0; id < VMCSF_COUNT; id++)
		if (!strcmp(vmcs_fields[id].name, name))
			return vmcs_fields[id].enc;
	return -1;
}

TORTUGA_API int tortuga_vm_set_vmcs_shadow(tortuga_vm *tvm, uint64_t encoding, uint32_t mode)
{
	struct vm *vm = (struct vm *)tvm;
	if (!(vm->cfg.flags & TORTUGA_CFG_NESTED))
		return vm_error(vm, -EINVAL, "VMCS shadowing is a nested-VMX policy: create the VM with nesting");
	int id = vmcs_field_lookup(encoding);
	if (id < 0 || (encoding & 1) || !vmcs_fields[id].implemented)
		return vm_error(vm, -EINVAL, "no VMCS field with encoding %#llx that tortuga implements",
				(unsigned long long)encoding);
	if (mode > SH_RW)
		return vm_error(vm, -EINVAL, "shadow mode %u is not none (0), read-only (1) or read-write (2)", mode);
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		nested_shadow_set_field(nested_of(vm->vcpus[i]), id, (enum vmcs_shadow)mode);
	return 0;
}
