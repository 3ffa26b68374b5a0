/*
 * The KVM device: opening it, the API version, capabilities (checked, never
 * assumed), and the names of KVM's exit reasons. Linux
 * Documentation/virt/kvm/api.rst, sections 4.1 (KVM_GET_API_VERSION) and 4.4
 * (KVM_CHECK_EXTENSION).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm.h"

/* api.rst 4.1: "Applications should refuse to run if KVM_GET_API_VERSION
 * returns a value other than 12." */
#define KVM_API_EXPECTED 12

const struct kvm_cap_info kvm_cap_table[KCAP_COUNT] = {
#define X(name_, cap_, need_, why_) [KCAP_##name_] = { "KVM_CAP_" #name_, cap_, need_, why_ },
#include "kvm_caps.def"
#undef X
};

void kvm_caps_query(kvm_check_fn check, void *ctx, struct kvm_caps *caps)
{
	for (int i = 0; i < KCAP_COUNT; i++) {
		int r = check(ctx, kvm_cap_table[i].cap);
		caps->val[i] = r > 0 ? r : 0;
	}
}

int kvm_caps_require(const struct kvm_caps *caps, enum kvm_need need, char *msg, size_t len)
{
	for (int i = 0; i < KCAP_COUNT; i++) {
		if (kvm_cap_table[i].need != need || caps->val[i] > 0)
			continue;
		snprintf(msg, len, "the host's KVM lacks %s, which tortuga needs for %s", kvm_cap_table[i].name,
			 kvm_cap_table[i].why);
		return -ENOTSUP;
	}
	return 0;
}

const char *kvm_device_path(void)
{
	const char *p = getenv("TORTUGA_KVM_DEVICE");
	return p && *p ? p : "/dev/kvm";
}

int kvm_open_device(char *msg, size_t len)
{
	const char *path = kvm_device_path();
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(msg, len,
				 "%s does not exist: this host offers no KVM (no kvm_intel or kvm_amd module)",
				 path);
		else if (e == EACCES || e == EPERM)
			snprintf(msg, len,
				 "%s: permission denied (join the group that owns it, usually kvm)",
				 path);
		else
			snprintf(msg, len, "%s: %s", path, strerror(e));
		return -e;
	}
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_EXPECTED) {
		if (api < 0)
			snprintf(msg, len, "%s: KVM_GET_API_VERSION failed: %s (is it a KVM device?)", path,
				 strerror(errno));
		else
			snprintf(msg, len, "%s speaks KVM API version %d; tortuga needs %d", path, api,
				 KVM_API_EXPECTED);
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

static int check_extension(void *ctx, long cap)
{
	return ioctl(*(int *)ctx, KVM_CHECK_EXTENSION, cap);
}

int kvm_probe(char *msg, size_t len)
{
	int fd = kvm_open_device(msg, len);
	if (fd < 0)
		return fd;
	struct kvm_caps caps;
	kvm_caps_query(check_extension, &fd, &caps);
	int err = kvm_caps_require(&caps, KVM_NEED_ALWAYS, msg, len);
	close(fd);
	return err;
}

static const struct {
	uint32_t reason;
	const char *name;
} exit_names[] = {
#define X(name_, num_, doc_) { num_, "KVM_EXIT_" #name_ },
#include "kvm_exits.def"
#undef X
};

const char *kvm_exit_name(uint32_t reason)
{
	for (size_t i = 0; i < sizeof(exit_names) / sizeof(exit_names[0]); i++)
		if (exit_names[i].reason == reason)
			return exit_names[i].name;
	return NULL;
}
