/*
 * Reading a tracepoint's record layout from the kernel's description of it
 * (tracefs events/<system>/<name>/format, lines such as
 * "\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;").
 */
#ifndef TRACING_KVM_FORMAT_H
#define TRACING_KVM_FORMAT_H

#include <linux/types.h>

#include "kvm_tp.h"

/* 0 and the field's offset and size, -ENOENT when the format has no such
 * field, -EINVAL when its line is malformed. */
int kvm_tp_parse_field(const char *format_text, const char *name, struct kvm_tp_field *out);

#endif
