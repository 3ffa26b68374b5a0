/*
 * The IDT and the exception dispatcher (include/guest/exc.h).
 */
#include <guest/desc.h>
#include <guest/exc.h>
#include <guest/guest.h>
#include <guest/io.h>
#include <guest/tap.h>

volatile struct exc_record exc_last = { .vector = -1 };
volatile uint64_t exc_count[256];

static uint64_t idt[256][2] __attribute__((aligned(16)));
static exc_handler handlers[256];
static volatile uint64_t call_target;

/* Fixup table built by EXC_SAFE(): (faulting instruction, resume address). */
struct exc_fixup {
	uint64_t insn, resume;
};
extern const struct exc_fixup __start_exc_fixup[], __stop_exc_fixup[];

extern const char exc_stubs[];
extern const char user_resume[];
extern uint64_t user_kernel_rsp;

void exc_dispatch(struct exc_frame *f);

bool exc_pushes_error(unsigned v)
{
	return v < 32 && ((EXC_ERROR_VECTORS >> v) & 1);
}

uint64_t exc_stub(unsigned v)
{
	return (uint64_t)(uintptr_t)exc_stubs + 16u * v;
}

/* 64-bit IDT gate descriptor (SDM 3A 6.14.1, Figure 6-8). */
void exc_set_gate(unsigned v, unsigned dpl, bool trap_gate, unsigned ist)
{
	uint64_t off = exc_stub(v);
	idt[v][0] = (off & 0xffff) | ((uint64_t)SEL_KCODE << 16) | ((uint64_t)(ist & 7) << 32) |
		    ((uint64_t)(trap_gate ? 0xf : 0xe) << 40) | ((uint64_t)(dpl & 3) << 45) |
		    (1ull << 47) | ((off >> 16 & 0xffff) << 48);
	idt[v][1] = off >> 32;
}

void exc_set_ist(unsigned v, unsigned ist)
{
	idt[v][0] = (idt[v][0] & ~(7ull << 32)) | ((uint64_t)(ist & 7) << 32);
}

void exc_set_present(unsigned v, bool present)
{
	idt[v][0] = (idt[v][0] & ~(1ull << 47)) | ((uint64_t)present << 47);
}

void exc_set_handler(unsigned v, exc_handler h)
{
	handlers[v & 255] = h;
}

uint64_t exc_escape_rip, exc_escape_rsp;

bool exc_escape(struct exc_frame *f)
{
	f->rip = exc_escape_rip;
	f->rsp = exc_escape_rsp;
	f->cs = SEL_KCODE;
	f->ss = SEL_KDATA;
	return true;
}

bool exc_resume(struct exc_frame *f)
{
	(void)f;
	return true;
}

void exc_init(void)
{
	desc_init();
	for (unsigned v = 0; v < 256; v++)
		exc_set_gate(v, 0, false, 0);
	exc_set_gate(USER_RETURN_VECTOR, 3, false, 0);
	exc_set_ist(X86_DF, GUEST_IST_DF);
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void exc_dispatch(struct exc_frame *f)
{
	uint64_t cr2 = read_cr2();
	unsigned v = (unsigned)f->vector;
	if (v == USER_RETURN_VECTOR && (f->cs & 3) == 3) {
		/* End of a user_call(): back to CPL 0 on the saved stack. The
		 * record keeps the last exception the user code took. */
		f->rip = (uint64_t)(uintptr_t)user_resume;
		f->cs = SEL_KCODE;
		f->ss = SEL_KDATA;
		f->rsp = user_kernel_rsp;
		return;
	}
	exc_last.vector = (int)v;
	exc_last.error = f->error;
	exc_last.rip = f->rip;
	exc_last.cs = f->cs;
	exc_last.rflags = f->rflags;
	exc_last.rsp = f->rsp;
	exc_last.ss = f->ss;
	exc_last.cr2 = cr2;
	exc_last.frame = (uint64_t)(uintptr_t)&f->rip;
	exc_last.rax = f->rax;
	exc_count[v]++;

	if (handlers[v] && handlers[v](f))
		return;
	/* Traps (SDM 3A 6.5) report the next instruction: an EXC_SAFE trap
	 * instruction has already "resumed" when RIP is its resume address. */
	bool trap = v == X86_DB || v == X86_BP || v == X86_OF || v >= 32;
	for (const struct exc_fixup *x = __start_exc_fixup; x < __stop_exc_fixup; x++) {
		if (x->insn == f->rip) {
			f->rip = x->resume;
			return;
		}
		if (trap && x->resume == f->rip)
			return;
	}
	if (call_target && f->rip == call_target) {
		/* exc_call_safe(): the fetch at the callee faulted; return. */
		f->rip = *(const uint64_t *)(uintptr_t)f->rsp;
		f->rsp += 8;
		call_target = 0;
		return;
	}
	tap_bail("unexpected exception %u, error 0x%lx at %lx:%lx, RFLAGS 0x%lx, SS:RSP %lx:%lx, CR2 0x%lx",
		 v, f->error, f->cs, f->rip, f->rflags, f->ss, f->rsp, cr2);
}

int exc_read8_safe(const volatile void *p, uint8_t *v)
{
	uint8_t val = 0;
	exc_reset();
	__asm__ volatile(EXC_SAFE("movb (%1), %0") : "+q"(val) : "r"(p) : "memory");
	*v = val;
	return exc_last.vector;
}

int exc_read64_safe(const volatile void *p, uint64_t *v)
{
	uint64_t val = 0;
	exc_reset();
	__asm__ volatile(EXC_SAFE("movq (%1), %0") : "+r"(val) : "r"(p) : "memory");
	*v = val;
	return exc_last.vector;
}

int exc_write8_safe(volatile void *p, uint8_t v)
{
	exc_reset();
	__asm__ volatile(EXC_SAFE("movb %1, (%0)") : : "r"(p), "q"(v) : "memory");
	return exc_last.vector;
}

int exc_write64_safe(volatile void *p, uint64_t v)
{
	exc_reset();
	__asm__ volatile(EXC_SAFE("movq %1, (%0)") : : "r"(p), "r"(v) : "memory");
	return exc_last.vector;
}

int exc_rdmsr_safe(uint32_t msr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;
	exc_reset();
	__asm__ volatile(EXC_SAFE("rdmsr") : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*v = ((uint64_t)hi << 32) | lo;
	return exc_last.vector;
}

int exc_wrmsr_safe(uint32_t msr, uint64_t v)
{
	exc_reset();
	__asm__ volatile(EXC_SAFE("wrmsr") : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
	return exc_last.vector;
}

int exc_call_safe(uint64_t addr)
{
	exc_reset();
	call_target = addr;
	__asm__ volatile("call *%0"
			 :
			 : "r"(addr)
			 : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
	call_target = 0;
	return exc_last.vector;
}
