#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cpuid.h"
#include "fpu.h"

static const struct cpu_feature_bit feature_bits[CPUF_COUNT] = {
#define X(name_, leaf_, sub_, reg_, bit_, desc) \
	[CPUF_##name_] = { .leaf = leaf_, .subleaf = sub_, .reg = reg_, .bit = bit_, .name = #name_ },
#include "hw/cpuid_features.def"
#undef X
};

const struct cpu_feature_bit *cpu_feature_bit(enum cpu_feature f)
{
	return &feature_bits[f];
}

void cpu_model_set(struct cpu_model *m, enum cpu_feature f, bool on)
{
	if (on)
		m->features[f / 64] |= 1ull << (f % 64);
	else
		m->features[f / 64] &= ~(1ull << (f % 64));
}

int cpu_feature_by_name(const char *name)
{
	for (int f = 0; f < CPUF_COUNT; f++)
		if (!strcasecmp(feature_bits[f].name, name))
			return f;
	return -ENOENT;
}

/*
 * The features the software CPU implements today. Anything absent here makes
 * CPUID clear the bit, so a guest that checks CPUID never uses an instruction
 * tortuga would answer with #UD.
 */
static const enum cpu_feature tortuga_features[] = {
	CPUF_FPU, CPUF_PSE, CPUF_TSC, CPUF_MSR, CPUF_PAE, CPUF_CX8, CPUF_APIC, CPUF_SEP, CPUF_PGE, CPUF_CMOV,
	CPUF_PAT, CPUF_PSE36, CPUF_CLFSH, CPUF_MMX, CPUF_FXSR, CPUF_SSE, CPUF_SSE2, CPUF_XSAVE, CPUF_XSAVEOPT,
	CPUF_ZERO_FCS_FDS,
	CPUF_CX16, CPUF_PCID, CPUF_X2APIC, CPUF_POPCNT, CPUF_TSC_DEADLINE, CPUF_MOVBE, CPUF_HYPERVISOR,
	CPUF_BMI1, CPUF_SMEP, CPUF_ERMS, CPUF_SMAP, CPUF_UMIP,
	CPUF_LAHF_LM, CPUF_ABM, CPUF_SYSCALL, CPUF_NX, CPUF_PDPE1GB, CPUF_RDTSCP, CPUF_LM, CPUF_INVTSC,
};

/*
 * A second, older model: the feature set of a Nehalem-generation Xeon
 * (family 6, model 0x1a) restricted to what tortuga implements; no PCID,
 * SMEP, SMAP, UMIP, x2APIC, TSC-deadline timer, MOVBE, BMI1, ERMS, 1-GByte
 * pages, invariant TSC or XSAVE (FXSAVE and SSE/SSE2 only). Guests that probe CPUID take their fallbacks.
 */
static const enum cpu_feature nehalem_features[] = {
	CPUF_FPU, CPUF_PSE, CPUF_TSC, CPUF_MSR, CPUF_PAE, CPUF_CX8, CPUF_APIC, CPUF_SEP, CPUF_PGE, CPUF_CMOV,
	CPUF_PAT, CPUF_PSE36, CPUF_CLFSH, CPUF_MMX, CPUF_FXSR, CPUF_SSE, CPUF_SSE2, CPUF_CX16, CPUF_POPCNT,
	CPUF_HYPERVISOR,
	CPUF_LAHF_LM, CPUF_SYSCALL, CPUF_NX, CPUF_RDTSCP, CPUF_LM,
};

static const struct model_def {
	const char *name, *brand;
	uint32_t family, model, stepping;
	const enum cpu_feature *features;
	size_t nfeatures;
} models[] = {
	/* The default: family 6, model 0x55 (a Skylake server signature). */
	{ "tortuga", "tortuga virtual x86-64 CPU", 6, 0x55, 4, tortuga_features,
	  sizeof(tortuga_features) / sizeof(tortuga_features[0]) },
	{ "nehalem", "tortuga virtual x86-64 CPU (Nehalem features)", 6, 0x1a, 5, nehalem_features,
	  sizeof(nehalem_features) / sizeof(nehalem_features[0]) },
};

static const char *const model_names[] = { "tortuga", "nehalem", NULL };

const char *const *cpu_model_names(void)
{
	return model_names;
}

static bool implemented(enum cpu_feature f)
{
	for (size_t i = 0; i < sizeof(tortuga_features) / sizeof(tortuga_features[0]); i++)
		if (tortuga_features[i] == f)
			return true;
	return false;
}

/* "MODEL[,+FEATURE|-FEATURE]...": a named model, then features removed
 * or added back (only features the software CPU implements). */
int cpu_model_init(struct cpu_model *m, const char *spec)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", spec && *spec ? spec : "tortuga");
	char *save = NULL;
	char *name = strtok_r(buf, ",", &save);
	const struct model_def *d = NULL;
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (name && !strcasecmp(name, models[i].name))
			d = &models[i];
	if (!d)
		return -ENOENT;
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", d->name);
	memcpy(m->vendor, "GenuineIntel", 13);
	snprintf(m->brand, sizeof(m->brand), "%s", d->brand);
	m->family = d->family;
	m->model = d->model;
	m->stepping = d->stepping;
	m->phys_bits = 40;
	m->virt_bits = 48;
	m->tsc_hz = 1000000000ull; /* 1 GHz: one modelled cycle per ns */
	for (size_t i = 0; i < d->nfeatures; i++)
		cpu_model_set(m, d->features[i], true);
	for (char *t = strtok_r(NULL, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*t != '+' && *t != '-')
			return -EINVAL;
		int f = cpu_feature_by_name(t + 1);
		if (f < 0 || (*t == '+' && !implemented((enum cpu_feature)f)))
			return -EINVAL;
		cpu_model_set(m, (enum cpu_feature)f, *t == '+');
	}
	return 0;
}

static void apply_features(const struct cpu_model *m, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	for (int f = 0; f < CPUF_COUNT; f++)
		if (feature_bits[f].leaf == leaf && feature_bits[f].subleaf == subleaf && cpu_has(m, f))
			out[feature_bits[f].reg] |= 1u << feature_bits[f].bit;
}

static void put_str(uint32_t *regs, const char *s, int n)
{
	char buf[16] = { 0 };
	size_t len = strlen(s);
	memcpy(buf, s, len < (size_t)n * 4 ? len : (size_t)n * 4);
	memcpy(regs, buf, (size_t)n * 4);
}

/* Through 16H, so that leaf 15H can say how fast the TSC runs. */
#define MAX_BASIC_LEAF 0x16u
#define MAX_EXT_LEAF 0x80000008u
#define HV_LEAF 0x40000000u

/*
 * SDM Vol. 2A CPUID: leaves above the maximum basic leaf return the data of
 * the highest basic leaf (Intel behaviour); reserved subleaves return zeros.
 */
void cpuid_query(const struct cpu_model *m, const struct cpuid_ctx *ctx, uint32_t leaf,
		 uint32_t subleaf, uint32_t out[4])
{
	memset(out, 0, 4 * sizeof(uint32_t));
	if ((leaf > MAX_BASIC_LEAF && leaf < HV_LEAF) || (leaf > HV_LEAF + 0xff && leaf < 0x80000000) ||
	    leaf > MAX_EXT_LEAF) {
		leaf = MAX_BASIC_LEAF;
		subleaf = 0;
	}
	switch (leaf) {
	case 0: {
		out[0] = MAX_BASIC_LEAF;
		/* Vendor string in EBX, EDX, ECX order. */
		memcpy(&out[1], m->vendor, 4);
		memcpy(&out[3], m->vendor + 4, 4);
		memcpy(&out[2], m->vendor + 8, 4);
		break;
	}
	case 1: {
		uint32_t fam = m->family, mod = m->model;
		uint32_t eax = (m->stepping & 0xf) | ((mod & 0xf) << 4) | ((fam > 0xf ? 0xf : fam) << 8);
		if (fam == 6 || fam == 0xf)
			eax |= ((mod >> 4) & 0xf) << 16;
		if (fam > 0xf)
			eax |= ((fam - 0xf) & 0xff) << 20;
		out[0] = eax;
		/* EBX: CLFLUSH line size (8 x 8 = 64 bytes), logical processors, APIC id. */
		out[1] = (8u << 8) | ((ctx->vcpus & 0xff) << 16) | (ctx->apic_id << 24);
		apply_features(m, 1, 0, out);
		out[2] &= ~(1u << 27);
		if (ctx->osxsave && cpu_has(m, CPUF_XSAVE))
			out[2] |= 1u << 27;
		if (ctx->vcpus > 1)
			out[3] |= 1u << 28;
		else
			out[3] &= ~(1u << 28);
		/* SDM Vol. 3A 11.4.3: with the APIC disabled in IA32_APIC_BASE
		 * the CPUID APIC flag reads 0. */
		if (!ctx->apic_enabled)
			out[3] &= ~(1u << 9);
		break;
	}
	case 7:
		if (subleaf == 0)
			apply_features(m, 7, 0, out);
		break;
	case 0xd:
		/* Processor extended state enumeration (SDM Vol. 1 13.2,
		 * Vol. 2A CPUID leaf 0DH): sub-leaf 0 gives the XCR0 bits
		 * supported (x87, SSE) and the XSAVE area sizes -- the legacy
		 * region and the header, whatever XCR0 enables of the two;
		 * sub-leaf 1 the XSAVE variants. Components 2-62 are not
		 * supported: their sub-leaves are zero. */
		if (!cpu_has(m, CPUF_XSAVE))
			break;
		if (subleaf == 0) {
			out[0] = (uint32_t)XFEATURE_SUPPORTED;
			out[1] = XSAVE_SIZE;
			out[2] = XSAVE_SIZE;
			out[3] = (uint32_t)(XFEATURE_SUPPORTED >> 32);
		} else if (subleaf == 1) {
			apply_features(m, 0xd, 1, out);
		}
		break;
	case 0x15:
		/*
		 * TSC and core crystal clock (SDM Vol. 2A CPUID, leaf 15H; Vol. 3B
		 * "Determining the Processor Base Frequency": nominal TSC
		 * frequency = ECX * EBX / EAX). The crystal is
		 * reported at the TSC's own rate (ratio 1/1) because the local APIC
		 * timer counts at the core crystal clock when this leaf enumerates
		 * it (Vol. 3A 11.5.4), and tortuga's APIC timer counts at the TSC
		 * rate. A rate that does not fit ECX is not enumerated (ECX = 0).
		 */
		out[0] = 1;
		out[1] = 1;
		out[2] = m->tsc_hz <= UINT32_MAX ? (uint32_t)m->tsc_hz : 0;
		break;
	case 0x16:
		/* Processor frequency information (SDM Vol. 2A CPUID, leaf 16H):
		 * base, maximum and bus (reference) frequency in MHz, bits 15:0.
		 * The bus is the crystal of leaf 15H. */
		out[0] = out[1] = out[2] = (uint32_t)((m->tsc_hz + 500000) / 1000000) & 0xffff;
		break;
	case HV_LEAF:
		out[0] = HV_LEAF;
		put_str(&out[1], "TortugaHV\0\0\0", 3);
		break;
	case 0x80000000:
		out[0] = MAX_EXT_LEAF;
		break;
	case 0x80000001:
		apply_features(m, 0x80000001, 0, out);
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004:
		put_str(out, m->brand + (leaf - 0x80000002) * 16, 4);
		break;
	case 0x80000007:
		apply_features(m, 0x80000007, 0, out);
		break;
	case 0x80000008:
		out[0] = m->phys_bits | ((uint32_t)m->virt_bits << 8);
		break;
	default:
		break;
	}
}
