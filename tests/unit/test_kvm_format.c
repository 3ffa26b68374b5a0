/*
 * Tracepoint layouts from the kernel's format files: the text below is
 * /sys/kernel/tracing/events/kvm/kvm_exit/format and kvm_entry/format of
 * Linux 6.18 as the kernel prints them; then the fields of the nested and
 * SMM tracepoints of Linux 6.1.
 */
#include <errno.h>

#include "tracing/kvm_format.h"

#include "check.h"

static const char kvm_exit_format[] =
	"name: kvm_exit\n"
	"ID: 103\n"
	"format:\n"
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
	"\n"
	"\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;\n"
	"\tfield:u64 info1;\toffset:32;\tsize:8;\tsigned:0;\n"
	"\tfield:u64 info2;\toffset:40;\tsize:8;\tsigned:0;\n"
	"\tfield:u32 intr_info;\toffset:48;\tsize:4;\tsigned:0;\n"
	"\tfield:u32 error_code;\toffset:52;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned int vcpu_id;\toffset:56;\tsize:4;\tsigned:0;\n"
	"\tfield:u64 requests;\toffset:64;\tsize:8;\tsigned:0;\n"
	"\n"
	"print fmt: \"vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx\", REC->vcpu_id\n";

static const char kvm_entry_format[] =
	"name: kvm_entry\n"
	"format:\n"
	"\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:bool immediate_exit;\toffset:24;\tsize:1;\tsigned:0;\n"
	"\tfield:u32 intr_info;\toffset:28;\tsize:4;\tsigned:0;\n"
	"\tfield:u32 error_code;\toffset:32;\tsize:4;\tsigned:0;\n";

/* The nested and SMM tracepoints of Linux 6.1 (Debian 6.1.0-56-amd64, read
 * in the kvm-qemu environment), fields only: kvm_nested_vmenter has `isa`
 * last, after a u64; kvm_entry has no intr_info/error_code yet. */
static const char kvm_nested_vmenter_format_61[] =
	"\tfield:__u64 rip;\toffset:8;\tsize:8;\tsigned:0;\n"
	"\tfield:__u64 vmcb;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:__u64 nested_rip;\toffset:24;\tsize:8;\tsigned:0;\n"
	"\tfield:__u32 int_ctl;\toffset:32;\tsize:4;\tsigned:0;\n"
	"\tfield:__u32 event_inj;\toffset:36;\tsize:4;\tsigned:0;\n"
	"\tfield:bool tdp_enabled;\toffset:40;\tsize:1;\tsigned:0;\n"
	"\tfield:__u64 guest_pgd;\toffset:48;\tsize:8;\tsigned:0;\n"
	"\tfield:__u32 isa;\toffset:56;\tsize:4;\tsigned:0;\n";

static const char kvm_nested_vmexit_inject_format_61[] =
	"\tfield:__u32 exit_code;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:__u64 exit_info1;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:__u64 exit_info2;\toffset:24;\tsize:8;\tsigned:0;\n"
	"\tfield:__u32 exit_int_info;\toffset:32;\tsize:4;\tsigned:0;\n"
	"\tfield:__u32 exit_int_info_err;\toffset:36;\tsize:4;\tsigned:0;\n"
	"\tfield:__u32 isa;\toffset:40;\tsize:4;\tsigned:0;\n";

static const char kvm_smm_transition_format_61[] =
	"\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:u64 smbase;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:bool entering;\toffset:24;\tsize:1;\tsigned:0;\n";

static const char kvm_entry_format_61[] =
	"\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:bool immediate_exit;\toffset:24;\tsize:1;\tsigned:0;\n";

static void check_field(const char *fmt, const char *name, unsigned off, unsigned size)
{
	struct kvm_tp_field f = { 0xffff, 0xffff };
	CHECK_EQ(kvm_tp_parse_field(fmt, name, &f), 0);
	CHECK_EQ(f.off, off);
	CHECK_EQ(f.size, size);
}

static void test_kvm_exit(void)
{
	check_field(kvm_exit_format, "exit_reason", 8, 4);
	check_field(kvm_exit_format, "guest_rip", 16, 8);
	check_field(kvm_exit_format, "isa", 24, 4);
	check_field(kvm_exit_format, "info1", 32, 8);
	check_field(kvm_exit_format, "info2", 40, 8);
	check_field(kvm_exit_format, "vcpu_id", 56, 4);
	/* "intr_info" must not match the tail of another name, nor "rip" guest_rip. */
	struct kvm_tp_field f;
	CHECK_EQ(kvm_tp_parse_field(kvm_exit_format, "rip", &f), -ENOENT);
	CHECK_EQ(kvm_tp_parse_field(kvm_exit_format, "info", &f), -ENOENT);
	CHECK_EQ(kvm_tp_parse_field(kvm_exit_format, "nested_rip", &f), -ENOENT);
}

static void test_kvm_entry(void)
{
	check_field(kvm_entry_format, "vcpu_id", 8, 4);
	check_field(kvm_entry_format, "rip", 16, 8);
	check_field(kvm_entry_format, "intr_info", 28, 4);
	check_field(kvm_entry_format, "error_code", 32, 4);
}

static void test_linux_61(void)
{
	check_field(kvm_nested_vmenter_format_61, "rip", 8, 8);
	check_field(kvm_nested_vmenter_format_61, "vmcb", 16, 8);
	check_field(kvm_nested_vmenter_format_61, "nested_rip", 24, 8);
	check_field(kvm_nested_vmenter_format_61, "isa", 56, 4);
	check_field(kvm_nested_vmexit_inject_format_61, "exit_code", 8, 4);
	check_field(kvm_nested_vmexit_inject_format_61, "exit_info1", 16, 8);
	check_field(kvm_nested_vmexit_inject_format_61, "exit_info2", 24, 8);
	check_field(kvm_nested_vmexit_inject_format_61, "isa", 40, 4);
	check_field(kvm_smm_transition_format_61, "vcpu_id", 8, 4);
	check_field(kvm_smm_transition_format_61, "smbase", 16, 8);
	check_field(kvm_smm_transition_format_61, "entering", 24, 1);
	check_field(kvm_entry_format_61, "rip", 16, 8);
	/* Optional fields this kernel lacks read as absent (size 0 in the layout). */
	struct kvm_tp_field f;
	CHECK_EQ(kvm_tp_parse_field(kvm_entry_format_61, "intr_info", &f), -ENOENT);
	CHECK_EQ(kvm_tp_parse_field(kvm_nested_vmexit_inject_format_61, "exit_info", &f), -ENOENT);
}

static void test_malformed(void)
{
	struct kvm_tp_field f;
	CHECK_EQ(kvm_tp_parse_field("\tfield:u32 isa;\toffset:x;\tsize:4;\n", "isa", &f), -EINVAL);
	CHECK_EQ(kvm_tp_parse_field("\tfield:u32 isa;\toffset:99999;\tsize:4;\n", "isa", &f), -EINVAL);
	CHECK_EQ(kvm_tp_parse_field("", "isa", &f), -ENOENT);
}

int main(void)
{
	RUN(test_kvm_exit);
	RUN(test_kvm_entry);
	RUN(test_linux_61);
	RUN(test_malformed);
	return check_failures ? 1 : 0;
}
