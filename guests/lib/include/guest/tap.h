/*
 * Numbered test results in TAP (Test Anything Protocol, version 13) over the
 * serial console, the way KVM selftests report stages: one line per result,
 *
 *     ok 3 - #DE: vector 0, no error code (SDM 3A 6.15)
 *     not ok 4 - #PF: CR2 = faulting address (SDM 3A 4.7) # got 0x0 want 0x7000
 *
 * then the plan "1..N" once the guest is done. A self-test guest returns
 * tap_done() from main(), so its exit status is its number of failures and
 * `tortuga run` exits with (failures << 1) | 1.
 */
#ifndef GUEST_TAP_H
#define GUEST_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* One result named by fmt; returns ok. */
bool tap_ok(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A result with a detail after " # " when it fails. */
bool tap_ok_detail(bool ok, const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* got == want, reporting both in hex on failure. */
bool tap_eq(uint64_t got, uint64_t want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A known failure (TAP "# TODO reason"): reported, not counted as failed.
 * Kept for bugs tracked elsewhere; tests/py fails once such a result passes,
 * so the marker is removed together with the bug. */
bool tap_todo(bool ok, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A result that cannot be checked here: "ok N - name # SKIP reason". */
void tap_skip(const char *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A diagnostic line ("# ..."), not a result. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the plan "1..N"; returns the number of failed results. */
int tap_done(void);
/* Give up: "Bail out! reason", then exit with status TAP_BAIL_STATUS. */
__attribute__((noreturn)) void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TAP_BAIL_STATUS 0x7f

#endif
