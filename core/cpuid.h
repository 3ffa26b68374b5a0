/*
 * The CPU model: what CPUID reports (Intel SDM Vol. 2A, CPUID). A model is a
 * vendor, a family/model/stepping signature, address sizes and a set of the
 * feature flags of hw/cpuid_features.def; a flag belongs in a model only when
 * the software CPU implements it.
 */
#ifndef CORE_CPUID_H
#define CORE_CPUID_H

#include <stdbool.h>
#include <stdint.h>

enum cpu_feature {
#define X(name, leaf, sub, reg, bit, desc) CPUF_##name,
#include "hw/cpuid_features.def"
#undef X
	CPUF_COUNT
};

struct cpu_model {
	char name[32];
	char vendor[13];
	char brand[49];
	uint32_t family, model, stepping;
	uint8_t phys_bits, virt_bits;
	uint64_t features[(CPUF_COUNT + 63) / 64];
	uint64_t tsc_hz;
};

/* Per-vCPU inputs to CPUID. */
struct cpuid_ctx {
	uint32_t apic_id;
	uint32_t vcpus;
	bool osxsave; /* CR4.OSXSAVE */
	bool apic_enabled; /* IA32_APIC_BASE.EN: CPUID.1:EDX.APIC follows it */
};

static inline bool cpu_has(const struct cpu_model *m, enum cpu_feature f)
{
	return (m->features[f / 64] >> (f % 64)) & 1;
}

/* Where CPUID reports a feature (its row of hw/cpuid_features.def). */
struct cpu_feature_bit {
	uint32_t leaf, subleaf;
	uint8_t reg, bit; /* reg: 0 EAX, 1 EBX, 2 ECX, 3 EDX */
	const char *name;
};
const struct cpu_feature_bit *cpu_feature_bit(enum cpu_feature f);

void cpu_model_set(struct cpu_model *m, enum cpu_feature f, bool on);
/* Fill m from "MODEL[,+FEATURE|-FEATURE]..."; -ENOENT for an unknown
 * model, -EINVAL for an unknown feature or one the software CPU does not
 * implement. NULL or "": the default model. */
int cpu_model_init(struct cpu_model *m, const char *name);
/* Names of the models cpu_model_init() accepts, NULL-terminated. */
const char *const *cpu_model_names(void);
/* Look a feature up by its name in hw/cpuid_features.def (case-insensitive). */
int cpu_feature_by_name(const char *name);

void cpuid_query(const struct cpu_model *m, const struct cpuid_ctx *ctx, uint32_t leaf,
		 uint32_t subleaf, uint32_t out[4]);

#endif
