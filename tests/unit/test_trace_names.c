/*
 * Names derived from the hardware tables: VMX basic exit reasons (SDM Vol. 3D
 * Appendix C), AMD SVM exit codes (APM Vol. 2 Appendix C, Table C-1, including
 * its ranges) and event kinds.
 */
#include "tracing/trace.h"

#include "check.h"

static void test_vmx_reasons(void)
{
	CHECK_STR(trace_exit_reason_name(10), "CPUID");
	CHECK_STR(trace_exit_reason_name(30), "IO_INSTRUCTION");
	CHECK_STR(trace_exit_reason_name(48), "EPT_VIOLATION");
	CHECK(trace_exit_reason_name(35) == NULL); /* unused in the SDM table */
	CHECK(trace_exit_reason_name(1000) == NULL);
}

static void test_svm_codes(void)
{
	char buf[TRACE_NAME_MAX];
	CHECK_STR(trace_svm_exit_name(0x003, buf), "READ_CR3");
	CHECK_STR(trace_svm_exit_name(0x018, buf), "WRITE_CR8");
	CHECK_STR(trace_svm_exit_name(0x027, buf), "READ_DR7");
	CHECK_STR(trace_svm_exit_name(0x04e, buf), "EXCP14"); /* #PF */
	CHECK_STR(trace_svm_exit_name(0x072, buf), "CPUID");
	CHECK_STR(trace_svm_exit_name(0x07b, buf), "IOIO");
	CHECK_STR(trace_svm_exit_name(0x07c, buf), "MSR");
	CHECK_STR(trace_svm_exit_name(0x093, buf), "CR_WRITE_TRAP3");
	CHECK_STR(trace_svm_exit_name(0x400, buf), "NPF");
	CHECK(trace_svm_exit_name(0x0b0, buf) == NULL);
}

static void test_reason_name_by_event(void)
{
	char buf[TRACE_NAME_MAX];
	struct tortuga_event e = { .kind = TORTUGA_EV_EXIT, .reason = 0x78 };
	/* 0x78 is HLT in SVM's table and reason-120 in VMX's. */
	CHECK_STR(trace_reason_name(&e, buf), "reason-120");
	e.flags = TORTUGA_EVF_SVM | TORTUGA_EVF_KVM;
	CHECK_STR(trace_reason_name(&e, buf), "HLT");
	e.reason = 0x200;
	CHECK_STR(trace_reason_name(&e, buf), "svm-512");
	e = (struct tortuga_event){ .kind = TORTUGA_EV_REFLECT, .reason = 12 };
	CHECK_STR(trace_reason_name(&e, buf), "HLT");
	e.kind = TORTUGA_EV_EXCEPTION; /* reason is a vector there */
	CHECK(trace_reason_name(&e, buf) == NULL);
	/* A vCPU's first KVM entry ends no exit: reason 0 is not EXCEPTION_NMI. */
	e = (struct tortuga_event){ .kind = TORTUGA_EV_ENTRY, .flags = TORTUGA_EVF_KVM };
	CHECK_STR(trace_reason_name(&e, buf), "EXCEPTION_NMI");
	e.flags |= TORTUGA_EVF_NO_REASON;
	CHECK(trace_reason_name(&e, buf) == NULL);
	e.kind = TORTUGA_EV_NESTED_ENTRY;
	CHECK(trace_reason_name(&e, buf) == NULL);
}

static void test_kinds(void)
{
	CHECK_EQ(TORTUGA_EV_KIND_COUNT, TORTUGA_EV_LOST + 1);
	for (uint32_t k = 0; k < TORTUGA_EV_KIND_COUNT; k++)
		CHECK(trace_event_kind_name(k) != NULL);
	CHECK(trace_event_kind_name(TORTUGA_EV_KIND_COUNT) == NULL);
	CHECK_STR(trace_event_kind_name(TORTUGA_EV_REFLECT), "reflect");
}

int main(void)
{
	RUN(test_vmx_reasons);
	RUN(test_svm_codes);
	RUN(test_reason_name_by_event);
	RUN(test_kinds);
	return check_failures ? 1 : 0;
}
