/*
 * Internal error helpers.  A failing function sets the thread-local last
 * error once, where the failure is first understood, and returns the code;
 * callers pass the code up unchanged.
 */
#ifndef SLUICE_UTIL_ERROR_H
#define SLUICE_UTIL_ERROR_H

#include "sluice/common.h"

/* Set the last error; returns `code` so callers can `return
 * sluice__error_set(...)`. */
int sluice__error_set(int code, sluice_error_class klass, const char *fmt, ...)
	SLUICE_PRINTF(3, 4);

/*
 * Like sluice__error_set with code SLUICE_EIO (or ENOTFOUND / EEXISTS when
 * errno says so), appending ": <strerror(errno)>".  Reads errno first.
 */
int sluice__error_os(sluice_error_class klass, const char *fmt, ...)
	SLUICE_PRINTF(2, 3);

/* Out of memory; returns SLUICE_ENOMEM. */
int sluice__error_oom(void);

/*
 * Prefix the current last error's message with "<prefix>: ", keeping its
 * code and class.  Returns the code of the last error.
 */
int sluice__error_wrap(const char *fmt, ...) SLUICE_PRINTF(1, 2);

#define SLUICE_ERRCHECK(expr)              \
	do {                               \
		int sluice__rc = (expr);   \
		if (sluice__rc < 0)        \
			return sluice__rc; \
	} while (0)

#endif
