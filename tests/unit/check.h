/*
 * A minimal unit-test harness: CHECK*() record failures with their location
 * and keep going; TEST_MAIN() runs the listed tests and exits non-zero if
 * any check failed.
 */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static const char *check_test;

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			check_failures++;                                                      \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,   \
				check_test, #cond);                                            \
		}                                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                                         \
	do {                                                                                   \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                               \
		if (a_ != b_) {                                                                \
			check_failures++;                                                      \
			fprintf(stderr, "%s:%d: %s: %s == 0x%" PRIx64 ", expected %s == 0x%" PRIx64 "\n", \
				__FILE__, __LINE__, check_test, #a, a_, #b, b_);               \
		}                                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                                        \
	do {                                                                                   \
		const char *a_ = (a), *b_ = (b);                                               \
		if (!a_ || !b_ || strcmp(a_, b_)) {                                            \
			check_failures++;                                                      \
			fprintf(stderr, "%s:%d: %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__,     \
				check_test, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
		}                                                                              \
	} while (0)

#define RUN(fn)                                                                                \
	do {                                                                                   \
		check_test = #fn;                                                              \
		fn();                                                                          \
	} while (0)

#define TEST_MAIN(...)                                                                         \
	int main(void)                                                                         \
	{                                                                                      \
		void (*tests_[])(void) = { __VA_ARGS__ };                                      \
		for (size_t k_ = 0; k_ < sizeof(tests_) / sizeof(tests_[0]); k_++) {            \
			check_test = "?";                                                      \
			tests_[k_]();                                                          \
		}                                                                              \
		if (check_failures)                                                            \
			fprintf(stderr, "%d check(s) failed\n", check_failures);               \
		return check_failures ? 1 : 0;                                                 \
	}

#endif
