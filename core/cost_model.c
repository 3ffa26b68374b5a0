#include "cost_model.h"

void cost_model_default(uint32_t cost[TORTUGA_EXIT_REASON_MAX])
{
	for (unsigned i = 0; i < TORTUGA_EXIT_REASON_MAX; i++)
		cost[i] = COST_EXIT_DEFAULT;
}
