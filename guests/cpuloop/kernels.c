/*
 * cpuloop's kernels (kernels.h): what CPU-bound C code does all day.
 *  - a sieve of Eratosthenes over 64 Ki bytes (byte loads/stores, loops);
 *  - a quicksort of 4096 pseudo-random 32-bit keys (compares, branches,
 *    recursion through CALL/RET, swaps);
 *  - table-driven CRC-32 over 16 KiB (shifts, xors, table lookups);
 *  - an open-addressing hash table: 3000 inserts and 6000 lookups with
 *    64-bit multiplicative hashing (multiplies, dependent loads).
 * Every iteration checks its own results, so a wrong instruction shows up
 * as a bad iteration rather than as a faster benchmark.
 */
#include <string.h>

#include "kernels.h"

#define SIEVE_N 65536
#define SORT_N 4096
#define CRC_N 16384
#define HASH_SLOTS 8192
#define HASH_KEYS 3000

static uint8_t sieve[SIEVE_N];
static uint32_t keys[SORT_N];
static uint8_t crc_buf[CRC_N];
static uint32_t crc_table[256];
static uint64_t slots[HASH_SLOTS];

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint32_t count_primes(void)
{
	memset(sieve, 1, sizeof(sieve));
	sieve[0] = sieve[1] = 0;
	for (uint32_t i = 2; i * i < SIEVE_N; i++)
		if (sieve[i])
			for (uint32_t j = i * i; j < SIEVE_N; j += i)
				sieve[j] = 0;
	uint32_t n = 0;
	for (uint32_t i = 0; i < SIEVE_N; i++)
		n += sieve[i];
	return n;
}

static void quicksort(uint32_t *a, long lo, long hi)
{
	while (lo < hi) {
		uint32_t pivot = a[lo + (hi - lo) / 2];
		long i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				uint32_t t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		/* Recurse into the smaller part, loop on the larger. */
		if (j - lo < hi - i) {
			quicksort(a, lo, j);
			lo = i;
		} else {
			quicksort(a, i, hi);
			hi = j;
		}
	}
}

static bool sort_keys(uint64_t *seed, uint64_t *sum_out)
{
	uint64_t sum = 0;
	for (int i = 0; i < SORT_N; i++) {
		keys[i] = (uint32_t)xorshift(seed);
		sum += keys[i];
	}
	quicksort(keys, 0, SORT_N - 1);
	uint64_t after = keys[0];
	bool ok = true;
	for (int i = 1; i < SORT_N; i++) {
		ok &= keys[i - 1] <= keys[i];
		after += keys[i];
	}
	*sum_out = sum;
	return ok && after == sum;
}

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32(const uint8_t *p, uint64_t n)
{
	uint32_t c = 0xffffffffu;
	for (uint64_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static uint64_t hash64(uint64_t k)
{
	k *= 0x9e3779b97f4a7c15ull;
	return k ^ (k >> 29);
}

/* Insert HASH_KEYS distinct nonzero keys, then look up each of them and as
 * many absent ones; returns the number of hits (must be HASH_KEYS). */
static uint32_t hash_round(uint64_t *seed)
{
	memset(slots, 0, sizeof(slots));
	uint64_t base = xorshift(seed) | 1;
	for (uint64_t i = 0; i < HASH_KEYS; i++) {
		uint64_t k = base + 2 * i; /* odd: never 0, never an absent key */
		uint64_t h = hash64(k) & (HASH_SLOTS - 1);
		while (slots[h] && slots[h] != k)
			h = (h + 1) & (HASH_SLOTS - 1);
		slots[h] = k;
	}
	uint32_t hits = 0;
	for (uint64_t i = 0; i < 2 * HASH_KEYS; i++) {
		uint64_t k = base + i; /* even offsets are present, odd absent */
		uint64_t h = hash64(k) & (HASH_SLOTS - 1);
		while (slots[h]) {
			if (slots[h] == k) {
				hits++;
				break;
			}
			h = (h + 1) & (HASH_SLOTS - 1);
		}
	}
	return hits;
}

void cpuloop_run(uint64_t iterations, struct cpuloop_result *r)
{
	memset(r, 0, sizeof(*r));
	crc_init();
	r->crc_check = crc32((const uint8_t *)"123456789", 9);
	uint64_t seed = 0x2545f4914f6cdd1dull;
	uint64_t sum = 0;
	for (uint64_t it = 0; it < iterations; it++) {
		uint32_t primes = count_primes();
		uint64_t sort_sum;
		bool sorted = sort_keys(&seed, &sort_sum);
		for (int i = 0; i < CRC_N; i++)
			crc_buf[i] = (uint8_t)(xorshift(&seed) >> 32);
		uint32_t crc = crc32(crc_buf, CRC_N);
		uint32_t hits = hash_round(&seed);
		if (primes != CPULOOP_PRIMES || !sorted || hits != HASH_KEYS)
			r->bad++;
		sum = (sum * 31) ^ primes ^ sort_sum ^ ((uint64_t)crc << 17) ^ hits;
	}
	r->iterations = iterations;
	r->checksum = sum;
}
