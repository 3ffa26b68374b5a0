/*
 * Tracepoint layouts from the kernel's format files: the text below is
 * /sys/kernel/tracing/events/kvm/kvm_exit/format and kvm_entry/format of
 * Linux 6.18 as the kernel prints them.
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
	RUN(test_malformed);
	return check_failures ? 1 : 0;
}
