/*
 * The public API's view of nested/'s tables (include/tortuga/tortuga.h): the
 * names the trace tools and the Python harness show.
 */
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
