/*
 * Logging.  The library never prints: it hands each log line to a callback
 * the host installs.  With no callback, lines are dropped.
 *
 * Threading: the callback may be called from any sluice thread at once; it
 * must be thread-safe.  Install it before starting jobs.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sluice_log_level {
	SLUICE_LOG_DEBUG = 0,
	SLUICE_LOG_INFO = 1,
	SLUICE_LOG_WARN = 2,
	SLUICE_LOG_ERROR = 3
} sluice_log_level;

/* `msg` is one line without newline, valid only during the call. */
typedef void (*sluice_log_fn)(
	sluice_log_level level, const char *msg, void *payload);

/* Install (or with NULL remove) the log callback; lines below `min` drop. */
SLUICE_EXTERN(void)
sluice_log_set(sluice_log_fn fn, void *payload, sluice_log_level min);

/* "DEBUG", "INFO", "WARN", "ERROR". */
SLUICE_EXTERN(const char *) sluice_log_level_name(sluice_log_level level);

#ifdef __cplusplus
}
#endif
#endif
