/*
 * Names of event kinds, exit reasons and event fields, all derived from the tables in
 * include/tortuga/ (event_kinds.def, exit_reasons.def, svm_exit_codes.def).
 */
#include <stdio.h>

#include "trace.h"
#include "trace_file.h"

const char *trace_exit_reason_name(uint32_t reason)
{
	static const char *const names[TORTUGA_EXIT_REASON_MAX] = {
#define X(name, num, str) [num] = #name,
#include <tortuga/exit_reasons.def>
#undef X
	};
	return reason < TORTUGA_EXIT_REASON_MAX ? names[reason] : NULL;
}

const char *trace_event_kind_name(uint32_t kind)
{
	static const char *const names[TORTUGA_EV_KIND_COUNT] = {
#define X(name, num, str, doc) [num] = str,
#include <tortuga/event_kinds.def>
#undef X
	};
	return kind < TORTUGA_EV_KIND_COUNT ? names[kind] : NULL;
}

const char *trace_svm_exit_name(uint32_t code, char buf[TRACE_NAME_MAX])
{
	switch (code) {
#define X(name, num, str)                                                                          \
	case num:                                                                                  \
		return #name;
#define R(name, first, last, str)                                                                  \
	case first ... last:                                                                       \
		snprintf(buf, TRACE_NAME_MAX, "%s%u", #name, code - (first));                     \
		return buf;
#include <tortuga/svm_exit_codes.def>
#undef R
#undef X
	}
	return NULL;
}

bool trace_kind_has_exit_reason(uint32_t kind)
{
	return kind == TORTUGA_EV_EXIT || kind == TORTUGA_EV_ENTRY || kind == TORTUGA_EV_NESTED_EXIT ||
	       kind == TORTUGA_EV_REFLECT || kind == TORTUGA_EV_NESTED_ENTRY;
}

const char *trace_reason_name(const struct tortuga_event *e, char buf[TRACE_NAME_MAX])
{
	if (!trace_kind_has_exit_reason(e->kind) || (e->flags & TORTUGA_EVF_NO_REASON))
		return NULL;
	const char *n = (e->flags & TORTUGA_EVF_SVM) ? trace_svm_exit_name(e->reason, buf) :
						       trace_exit_reason_name(e->reason);
	if (n)
		return n;
	snprintf(buf, TRACE_NAME_MAX, "%s%u", (e->flags & TORTUGA_EVF_SVM) ? "svm-" : "reason-",
		 e->reason);
	return buf;
}

const struct trace_field_desc trace_event_fields[] = {
#define X(type, name, doc)                                                                         \
	{ #name, (uint32_t)__builtin_offsetof(struct tortuga_event, name),                          \
	  (uint32_t)sizeof(((struct tortuga_event *)0)->name) },
	TORTUGA_EVENT_FIELDS(X)
#undef X
};
const uint32_t trace_event_nfields = sizeof(trace_event_fields) / sizeof(trace_event_fields[0]);
