/*
 * The x87 FPU's data, arithmetic, comparison, transcendental and
 * environment instructions (SDM Vol. 1 chapter 8, Vol. 2 FADD...FYL2XP1),
 * executed on the host FPU: the guest's x87 state is loaded into it with
 * FRSTOR, the instruction runs with its own encoding from a stub (its memory
 * operand copied to a host buffer), and FNSAVE brings the state back
 * (x87_stubs.S). Results, condition codes, tags, stack faults and exception
 * flags are the host's -- bit for bit those of the same instruction on that
 * processor: the transcendental instructions' last bits can differ between
 * Intel and AMD implementations, and the guest gets the host's.
 *
 * Unmasked exceptions work as on hardware: they leave the exception
 * pending in the status word (ES), and the next waiting x87 instruction
 * raises #MF (x87_enter(), Vol. 1 8.6). What the host does not know is the
 * guest's instruction and data pointers and opcode (Vol. 1 8.1.8): those
 * are set here. The control instructions (FINIT, FCLEX, FLDCW, FSTCW,
 * FSTSW, WAIT: ops_fpstate.c) need no host FPU.
 *
 * Not modelled: the real-mode and virtual-8086 formats of FLDENV, FNSTENV,
 * FRSTOR and FNSAVE (#UD with an "unimplemented" trace event there), and the
 * FERR#/IRQ 13 reporting of CR0.NE = 0 (#MF always).
 */
#include "ops.h"
#include "sse.h"

typedef void (*x87_stub)(void *mem, void *fsave, uint64_t *rflags);
extern const uint8_t emu_x87_stubs_reg[], emu_x87_stubs_mem[], emu_x87_stubs_mem16[];
#define X87_STUB_SIZE 16

/*
 * The FNSAVE/FRSTOR image in the 32-bit protected-mode format (SDM Vol. 1
 * 8.1.10, Figures 8-9 and 8-12): a 28-byte environment -- FCW, FSW, the
 * full tag word (2 bits per physical register), FIP, FCS with FOP in bits
 * 26:16 of that doubleword, FDP, FDS -- then ST0-ST7, 10 bytes each. The
 * 16-bit protected-mode format (Figures 8-10 and 8-11) has a 14-byte
 * environment of words: FCW, FSW, FTW, FIP, FCS, FDP, FDS, and no FOP.
 */
enum {
	FS_FCW = 0,
	FS_FSW = 4,
	FS_FTW = 8,
	FS_FIP = 12,
	FS_FCS = 16,
	FS_FOP = 18,
	FS_FDP = 20,
	FS_FDS = 24,
	FS_ST0 = 28,
	FS_SIZE = 108,
	FS16_FIP = 6,
	FS16_FCS = 8,
	FS16_FDP = 10,
	FS16_FDS = 12,
	FS16_ENV = 14,
};

/*
 * The tag of a valid register from its contents (Vol. 2A FXSAVE, Table
 * 3-55 "Recreating FSAVE Format"): 00 valid, 01 zero, 10 special (NaN,
 * infinity, denormal, unsupported).
 */
static unsigned tag_of(const uint8_t *r)
{
	uint64_t m;
	uint16_t se;
	memcpy(&m, r, 8);
	memcpy(&se, r + 8, 2);
	unsigned e = se & 0x7fff;
	if (e == 0x7fff)
		return 2;
	if (e == 0)
		return m ? 2 : 1;
	return (m >> 63) ? 0 : 2;
}

/* The guest's state (FXSAVE image) as an FNSAVE image for FRSTOR. FCS and
 * FDS are 0: deprecated (CPUID.07H:EBX[13]). */
static void to_fsave(const uint8_t *fx, uint8_t *fs)
{
	memset(fs, 0, FS_SIZE);
	fx_put(fs, FS_FCW, 2, fx_get(fx, FX_FCW, 2));
	uint32_t fsw = fx_get(fx, FX_FSW, 2);
	fx_put(fs, FS_FSW, 2, fsw);
	unsigned top = (fsw & FSW_TOP) >> FSW_TOP_SHIFT, ftw = 0;
	for (unsigned p = 0; p < 8; p++) {
		unsigned tag = 3;
		if (fx[FX_FTW] & (1u << p))
			tag = tag_of(fx + FX_ST0 + 16 * ((p - top) & 7));
		ftw |= tag << (2 * p);
	}
	fx_put(fs, FS_FTW, 2, ftw);
	memcpy(fs + FS_FIP, fx + FX_FIP, 4);
	fx_put(fs, FS_FOP, 2, fx_get(fx, FX_FOP, 2) & 0x7ff);
	memcpy(fs + FS_FDP, fx + FX_FDP, 4);
	for (unsigned k = 0; k < 8; k++)
		memcpy(fs + FS_ST0 + 10 * k, fx + FX_ST0 + 16 * k, 10);
}

/* Back into the FXSAVE image: the abridged tag word says only "empty or
 * not" (FXSAVE). The pointers and opcode are the caller's business. */
static void from_fsave(uint8_t *fx, const uint8_t *fs)
{
	fx_put(fx, FX_FCW, 2, fx_get(fs, FS_FCW, 2));
	fx_put(fx, FX_FSW, 2, fx_get(fs, FS_FSW, 2));
	uint32_t ftw = fx_get(fs, FS_FTW, 2);
	uint8_t abridged = 0;
	for (unsigned p = 0; p < 8; p++)
		if (((ftw >> (2 * p)) & 3) != 3)
			abridged |= (uint8_t)(1u << p);
	fx[FX_FTW] = abridged;
	for (unsigned k = 0; k < 8; k++) {
		memcpy(fx + FX_ST0 + 16 * k, fs + FS_ST0 + 10 * k, 10);
		memset(fx + FX_ST0 + 16 * k + 10, 0, 6);
	}
}

/*
 * The pointer fields of an FLDENV/FRSTOR or FNSTENV/FNSAVE environment
 * (Vol. 1 8.1.10), moved between memory and the guest's state here rather
 * than left to the host: processors differ in what they save there (AMD
 * keeps FIP, FDP and FOP only while an exception is pending), and tortuga
 * stores what its own FXSAVE does -- the last non-control instruction's
 * offset, opcode and operand offset, FCS and FDS as 0 (deprecated,
 * CPUID.07H:EBX[13]). A load takes them from the image, FOP as 0 from the
 * 16-bit format, which has none.
 */
static void env_pointers(uint8_t *fx, uint8_t *img, bool fmt16, bool store)
{
	if (store && fmt16) {
		memcpy(img + FS16_FIP, fx + FX_FIP, 2);
		memcpy(img + FS16_FDP, fx + FX_FDP, 2);
		fx_put(img, FS16_FCS, 2, 0);
		fx_put(img, FS16_FDS, 2, 0);
	} else if (store) {
		memcpy(img + FS_FIP, fx + FX_FIP, 4);
		memcpy(img + FS_FDP, fx + FX_FDP, 4);
		fx_put(img, FS_FCS, 2, 0);
		fx_put(img, FS_FOP, 2, fx_get(fx, FX_FOP, 2) & 0x7ff);
		fx_put(img, FS_FDS, 4, 0);
	} else {
		memset(fx + FX_FIP, 0, 16);
		memcpy(fx + FX_FIP, img + (fmt16 ? FS16_FIP : FS_FIP), fmt16 ? 2 : 4);
		memcpy(fx + FX_FDP, img + (fmt16 ? FS16_FDP : FS_FDP), fmt16 ? 2 : 4);
		fx_put(fx, FX_FOP, 2, fmt16 ? 0 : fx_get(img, FS_FOP, 2) & 0x7ff);
	}
}

/* What an instruction does besides computing (its handler's kind). */
enum x87_form {
	XK_COMPUTE = 0, /* loads, arithmetic, compares into C3-C0, stack */
	XK_STORE = 1, /* FST(P), FIST(P), FBSTP: a memory operand is written */
	XK_EFLAGS = 2, /* FCOMI and friends: ZF, PF, CF (OF, SF, AF cleared) */
	XK_ENV = 4, /* FLDENV, FRSTOR, FNSTENV, FNSAVE: control instructions */
	XK_NOWAIT = 8, /* FNSTENV, FNSAVE: no pending-exception check */
};

/*
 * Whether FST(P), FIST(P) or FBSTP wrote its memory operand. An unmasked
 * invalid-operation, denormal-operand, overflow or underflow exception
 * leaves the destination unchanged; an unmasked precision exception does
 * not (SDM Vol. 1 8.5.1, 8.5.2, 8.5.4, 8.5.5, 8.5.6, and 4.9.2 for the
 * post-computation ones). No unmasked flag was set before the instruction
 * (it would have been pending: #MF), so the ones set now are its own.
 */
static bool stores_result(uint32_t fsw_before, const uint8_t *fx)
{
	uint32_t fcw = fx_get(fx, FX_FCW, 2), fsw = fx_get(fx, FX_FSW, 2);
	uint32_t raised = fsw & ~fsw_before & ~fcw & FSW_EXC;
	return !(raised & (FSW_IE | FSW_DE | FSW_OE | FSW_UE));
}

static const struct emu_operand *mem_operand(const struct emu_insn *i)
{
	for (unsigned k = 0; k < i->nops; k++)
		if (i->op[k].kind == OPK_MEM)
			return &i->op[k];
	return NULL;
}

static void x87_run(struct emu_cpu *c, const struct emu_insn *i, unsigned kind)
{
	/* #UD without an x87 FPU in the CPU model, then #NM (CR0.EM, CR0.TS)
	 * and a pending exception (#MF) for the waiting instructions. */
	if (!cpu_has(&c->vm->model, CPUF_FPU))
		emu_raise_noerr(c, X86_UD);
	/* The state's ES agrees with its flags and masks (every load
	 * recomputes it); restated here for state from elsewhere, as the
	 * host's FRSTOR would, so that x87_enter() raises #MF exactly when the
	 * host would take it. */
	fpu_fsw_summary(c->s->fxsave);
	x87_enter(c, (kind & XK_NOWAIT) ? X87_NOWAIT : X87_WAITING);
	/* The real-address-mode formats of the environment (Vol. 1 8.1.10,
	 * Figures 8-10 and 8-12: 20-bit linear FIP and FDP) are not
	 * modelled: real and virtual-8086 mode get #UD and a trace event,
	 * not the protected-mode layout. */
	if ((kind & XK_ENV) && (!(c->s->cr0 & CR0_PE) || (c->s->rflags & RFLAGS_VM)))
		emu_unimplemented(c, i);

	const struct emu_operand *o = mem_operand(i);
	uint8_t buf[FS_SIZE] = { 0 };
	uint64_t la = 0, ea = 0;
	bool store = (kind & XK_STORE) != 0;
	if (o) {
		/* A store faults as a write (#PF with W set) before anything;
		 * the memory is not read. */
		ea = emu_ea(c, i, o);
		la = emu_la(c, o->seg, ea, o->size, store ? ACC_WRITE : ACC_READ);
		if (store)
			emu_probe_write(c, la, o->size);
		else
			vec_read_la(c, la, buf, o->size);
	}
	unsigned op = i->opcode - 0xd8, modrm = i->cc;
	const uint8_t *stub;
	if (!o)
		stub = emu_x87_stubs_reg + X87_STUB_SIZE * (op * 64 + (modrm & 63));
	else if ((kind & XK_ENV) && i->opsize == 2)
		stub = emu_x87_stubs_mem16 + X87_STUB_SIZE * (op * 8 + ((modrm >> 3) & 7));
	else
		stub = emu_x87_stubs_mem + X87_STUB_SIZE * (op * 8 + ((modrm >> 3) & 7));

	uint8_t *fx = c->s->fxsave;
	uint8_t fs[FS_SIZE];
	uint32_t fsw_before = fx_get(fx, FX_FSW, 2);
	to_fsave(fx, fs);
	uint64_t rflags = (emu_flags(c) & RFLAGS_ARITH) | RFLAGS_FIXED1 | RFLAGS_IF;
	((x87_stub)(uintptr_t)stub)(buf, fs, &rflags);
	from_fsave(fx, fs);

	if (kind & XK_ENV) {
		env_pointers(fx, buf, i->opsize == 2, store);
		/* FNSAVE then initializes the FPU as FNINIT, pointers and
		 * opcode included (Vol. 2A FSAVE/FNSAVE). */
		if (i->mnem == ZYDIS_MNEMONIC_FNSAVE) {
			memset(fx + FX_FIP, 0, 16);
			fx_put(fx, FX_FOP, 2, 0);
		}
	} else {
		/* Every other x87 instruction records itself: the offset of
		 * the instruction in CS, its opcode's low 11 bits (the ModRM
		 * byte and the low 3 bits of the first opcode byte), and the
		 * offset of its memory operand (Vol. 1 8.1.8, 8.1.9). */
		uint64_t fip = c->s->rip;
		memcpy(fx + FX_FIP, &fip, 8);
		fx_put(fx, FX_FOP, 2, (op << 8) | modrm);
		if (o)
			memcpy(fx + FX_FDP, &ea, 8);
	}
	if (kind & XK_EFLAGS)
		emu_set_flags(c, (emu_flags(c) & ~RFLAGS_ARITH) | (rflags & RFLAGS_ARITH));
	if (store && o && ((kind & XK_ENV) || stores_result(fsw_before, fx)))
		vec_write_la(c, la, buf, o->size);
}

void op_x87(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_run(c, i, XK_COMPUTE);
}

void op_x87_store(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_run(c, i, XK_STORE);
}

void op_x87_comi(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_run(c, i, XK_EFLAGS);
}

void op_x87_ldenv(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_run(c, i, XK_ENV);
}

void op_x87_stenv(struct emu_cpu *c, const struct emu_insn *i)
{
	x87_run(c, i, XK_ENV | XK_STORE | XK_NOWAIT);
}
