/*
 * The cost model (DESIGN.md "Exit-centric design"): modelled cycles charged
 * per VM exit by reason and per retired guest instruction. It turns a trace
 * into an estimated time on hardware; the emulated TSC advances by it, so
 * guest-visible time is deterministic.
 */
#ifndef CORE_COST_MODEL_H
#define CORE_COST_MODEL_H

#include <stdint.h>

#include <tortuga/event.h>

/*
 * Direct cost of one VM exit plus entry with KVM: about 2,000 cycles on a
 * Xeon X5570 (Landau, Ben-Yehuda, Gordon: "SplitX: Split Guest/Hypervisor
 * Execution on Multi-Core", WIOV 2011). Used for every reason until
 * per-reason measurements replace it.
 */
#define COST_EXIT_DEFAULT 2000u
/* One modelled cycle per retired instruction (CPI 1). */
#define COST_INSN_DEFAULT 1u

void cost_model_default(uint32_t cost[TORTUGA_EXIT_REASON_MAX]);

#endif
