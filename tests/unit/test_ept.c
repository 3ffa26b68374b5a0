/*
 * The EPT walk (nested/ept.c) against Intel SDM Vol. 3C 29.3: 4-level
 * translation with 4-KByte, 2-MByte and 1-GByte pages, permissions and
 * execute-only entries, EPT misconfigurations (29.3.3.1), violations with
 * the permission bits of their qualification (28.2.1, Table 28-7), and the
 * accessed and dirty flags (29.3.5).
 */
#include "nested/checks.h"
#include "nested/ept.h"

#include "check.h"

/* A small fake L1 memory: page tables at 0x1000 pages. */
#define MEM_PAGES 16
static uint64_t mem[MEM_PAGES][512];
static struct vmx_caps caps;

static bool rd(void *opaque, uint64_t pa, uint64_t *val)
{
	(void)opaque;
	if (pa >= MEM_PAGES * 4096ull)
		return false;
	*val = mem[pa / 4096][(pa % 4096) / 8];
	return true;
}

static void wr(void *opaque, uint64_t pa, uint64_t val)
{
	(void)opaque;
	mem[pa / 4096][(pa % 4096) / 8] = val;
}

static const struct ept_mem m = { .read = rd, .write = wr };

#define PML4 1
#define PDPT 2
#define PD 3
#define PT 4
#define WB (6ull << 3)
#define EPTP ((PML4 * 4096ull) | (3 << 3) | 6)

static void tables(void)
{
	memset(mem, 0, sizeof(mem));
	mem[PML4][0] = PDPT * 4096ull | 7;
	mem[PDPT][0] = PD * 4096ull | 7;
	mem[PD][0] = PT * 4096ull | 7;
	mem[PT][5] = 0x77000 | 7 | WB; /* 4 KiB: gpa 0x5000 -> 0x77000 */
	mem[PD][1] = 0x40000000ull | 7 | WB | EPTE_PS; /* 2 MiB: 0x200000 -> 0x40000000 */
	mem[PDPT][1] = 0x80000000ull | 5 | WB | EPTE_PS; /* 1 GiB, read+execute */
}

static enum ept_status tr(uint64_t gpa, unsigned acc, struct ept_walk *w)
{
	return ept_translate(&caps, EPTP, 40, gpa, acc, &m, w);
}

static void translations(void)
{
	struct ept_walk w;
	check_test = __func__;
	tables();
	CHECK_EQ(tr(0x5123, EPT_R, &w), EPT_OK);
	CHECK_EQ(w.pa, 0x77123);
	CHECK_EQ(w.leaf_level, 1);
	CHECK_EQ(tr(0x2fedcb, EPT_W, &w), EPT_OK);
	CHECK_EQ(w.pa, 0x400fedcb);
	CHECK_EQ(w.leaf_level, 2);
	CHECK_EQ(tr(0x40000000ull + 0x123456, EPT_X, &w), EPT_OK);
	CHECK_EQ(w.pa, 0x80123456ull);
	CHECK_EQ(w.leaf_level, 3);
	CHECK_EQ(w.perms, EPT_R | EPT_X);
}

static void violations(void)
{
	struct ept_walk w;
	check_test = __func__;
	tables();
	/* Not present at the PTE: permissions 0 in the qualification. */
	CHECK_EQ(tr(0x6000, EPT_R, &w), EPT_VIOLATION);
	CHECK_EQ(w.perms, 0);
	/* Write to a read+execute 1-GiB page: permissions R|X reported. */
	CHECK_EQ(tr(0x40000000ull, EPT_W, &w), EPT_VIOLATION);
	CHECK_EQ(w.perms, EPT_R | EPT_X);
	CHECK_EQ(ept_violation_qual(EPT_W, w.perms, true, true), 0x2 | (0x5 << 3) | (1 << 7) | (1 << 8));
	/* Permissions AND over all levels: a read-only PDE. */
	mem[PD][0] = PT * 4096ull | 1;
	CHECK_EQ(tr(0x5000, EPT_W, &w), EPT_VIOLATION);
	CHECK_EQ(w.perms, EPT_R);
	/* Beyond MAXPHYADDR: no translation. */
	CHECK_EQ(tr(1ull << 40, EPT_R, &w), EPT_VIOLATION);
	/* A paging-structure access (no "final" bit) with no linear address. */
	CHECK_EQ(ept_violation_qual(EPT_R, 0, false, false), 1);
}

static void execute_only(void)
{
	struct ept_walk w;
	check_test = __func__;
	tables();
	mem[PT][5] = 0x77000 | EPT_X | WB;
	CHECK_EQ(tr(0x5000, EPT_X, &w), EPT_OK);
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_VIOLATION);
	/* Without the capability an execute-only entry is a misconfiguration. */
	caps.ept_vpid &= ~EPT_CAP_EXEC_ONLY;
	CHECK_EQ(tr(0x5000, EPT_X, &w), EPT_MISCONFIG);
	caps.ept_vpid |= EPT_CAP_EXEC_ONLY;
}

/* 29.3.3.1: each kind of misconfiguration. */
static void misconfigurations(void)
{
	struct ept_walk w;
	check_test = __func__;
	tables();
	mem[PT][5] = 0x77000 | EPT_W | WB; /* write without read */
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PT][5] = 0x77000 | 7 | (2ull << 3); /* memory type 2 is reserved */
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PT][5] = 0x77000 | 7 | (7ull << 3); /* and 7 */
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PT][5] = (1ull << 45) | 7 | WB; /* address beyond MAXPHYADDR */
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PML4][0] |= 1ull << 3; /* PML4E bits 7:3 are reserved */
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PD][0] |= 1ull << 4; /* non-leaf PDE bits 6:3 */
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PD][1] |= 1ull << 13; /* 2-MiB page: bits 20:12 reserved */
	CHECK_EQ(tr(0x200000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PDPT][1] |= 1ull << 29; /* 1-GiB page: bits 29:12 reserved */
	CHECK_EQ(tr(0x40000000ull, EPT_R, &w), EPT_MISCONFIG);
	tables();
	mem[PML4][0] |= EPTE_PS; /* no 512-GiB pages */
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
	tables();
	caps.ept_vpid &= ~EPT_CAP_1G; /* 1-GiB pages not supported: PS reserved */
	CHECK_EQ(tr(0x40000000ull, EPT_R, &w), EPT_MISCONFIG);
	caps.ept_vpid |= EPT_CAP_1G;
	/* A table outside RAM reads as all ones: misconfigured, never a crash. */
	tables();
	mem[PD][0] = 0xfff000 | 7;
	CHECK_EQ(tr(0x5000, EPT_R, &w), EPT_MISCONFIG);
}

static void accessed_dirty(void)
{
	struct ept_walk w;
	check_test = __func__;
	tables();
	/* A/D disabled in the EPTP: nothing written. */
	CHECK_EQ(tr(0x5000, EPT_W, &w), EPT_OK);
	CHECK_EQ(mem[PT][5] & (EPTE_A | EPTE_D), 0);
	/* Enabled: A in every entry of a successful walk, D in the leaf for a write. */
	CHECK_EQ(ept_translate(&caps, EPTP | EPTP_AD, 40, 0x5000, EPT_R, &m, &w), EPT_OK);
	CHECK(mem[PML4][0] & EPTE_A);
	CHECK(mem[PDPT][0] & EPTE_A);
	CHECK(mem[PD][0] & EPTE_A);
	CHECK_EQ(mem[PT][5] & (EPTE_A | EPTE_D), EPTE_A);
	CHECK_EQ(ept_translate(&caps, EPTP | EPTP_AD, 40, 0x5000, EPT_W, &m, &w), EPT_OK);
	CHECK_EQ(mem[PT][5] & (EPTE_A | EPTE_D), EPTE_A | EPTE_D);
	CHECK_EQ(mem[PD][0] & EPTE_D, 0); /* D only in the leaf */
	/* A failed walk sets nothing. */
	mem[PT][6] = 0;
	mem[PD][0] &= ~EPTE_A;
	CHECK_EQ(ept_translate(&caps, EPTP | EPTP_AD, 40, 0x6000, EPT_R, &m, &w), EPT_VIOLATION);
	CHECK_EQ(mem[PD][0] & EPTE_A, 0);
}

/* 25.6.11: EPTP memory type, page-walk length, A/D enable, reserved bits. */
static void eptp_validity(void)
{
	check_test = __func__;
	CHECK(nested_eptp_valid(&caps, EPTP, 40));
	CHECK(nested_eptp_valid(&caps, (EPTP & ~7ull) | 0, 40)); /* UC */
	CHECK(!nested_eptp_valid(&caps, (EPTP & ~7ull) | 1, 40)); /* WC: not allowed */
	CHECK(!nested_eptp_valid(&caps, (EPTP & ~0x38ull) | (4 << 3), 40)); /* 5-level */
	CHECK(nested_eptp_valid(&caps, EPTP | EPTP_AD, 40));
	caps.ept_vpid &= ~EPT_CAP_AD;
	CHECK(!nested_eptp_valid(&caps, EPTP | EPTP_AD, 40));
	caps.ept_vpid |= EPT_CAP_AD;
	CHECK(!nested_eptp_valid(&caps, EPTP | (1ull << 8), 40)); /* bits 11:8 reserved */
	CHECK(!nested_eptp_valid(&caps, EPTP | (1ull << 40), 40)); /* beyond MAXPHYADDR */
}

static void setup(void)
{
	vmx_caps_init(&caps, 0, 40);
}

TEST_MAIN(setup, translations, violations, execute_only, misconfigurations, accessed_dirty, eptp_validity)
