/*
 * A tiny KVM VM for testing the KVM tracepoint path of tortuga's eBPF
 * recorder: real-mode guest code writes AL to I/O port 0x10 a number of times
 * (each write is an I/O VM exit that reaches user space: KVM_EXIT_IO), then
 * halts. It prints "ready PID" and waits for a line on stdin before running,
 * so that a recorder can attach first; then it prints how many I/O exits it
 * saw. Exit status 77 when /dev/kvm cannot be used.
 *
 * usage: kvm_io [COUNT]   (default 3)
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000
#define IO_PORT 0x10

static int die(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned count = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 3;
	if (count == 0 || count > 1000) {
		fprintf(stderr, "usage: kvm_io [COUNT 1..1000]\n");
		return 2;
	}
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("/dev/kvm");
		return 77;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("KVM_CREATE_VM");
		return 77;
	}
	uint8_t *mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return die("mmap");
	/* mov al, 1; (out 0x10, al) x count; hlt (Intel SDM Vol. 2 encodings) */
	size_t n = 0;
	mem[n++] = 0xb0;
	mem[n++] = 0x01;
	for (unsigned i = 0; i < count; i++) {
		mem[n++] = 0xe6;
		mem[n++] = IO_PORT;
	}
	mem[n++] = 0xf4;
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = GUEST_ADDR,
		.memory_size = 0x1000,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return die("KVM_SET_USER_MEMORY_REGION");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return die("KVM_CREATE_VCPU");
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return die("mmap kvm_run");
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return die("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return die("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = GUEST_ADDR, .rflags = 2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return die("KVM_SET_REGS");

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	unsigned io = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			return die("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == IO_PORT)
			io++;
		else if (run->exit_reason == KVM_EXIT_HLT)
			break;
		else {
			fprintf(stderr, "unexpected KVM exit %u\n", run->exit_reason);
			return 1;
		}
	}
	printf("io_exits=%u\n", io);
	return io == count ? 0 : 1;
}
