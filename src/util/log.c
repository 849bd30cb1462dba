/*
 * Log dispatch.  The library formats a line and passes it to the callback
 * installed by the host (the CLI prints it to stderr).  The callback and
 * threshold are read atomically so installing one while threads log is
 * safe, though hosts should install it once at start.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "log.h"

static _Atomic(sluice_log_fn) log_fn;
static _Atomic(void *) log_payload;
static atomic_int log_min = SLUICE_LOG_INFO;

void sluice_log_set(sluice_log_fn fn, void *payload, sluice_log_level min)
{
	atomic_store(&log_payload, payload);
	atomic_store(&log_min, (int)min);
	atomic_store(&log_fn, fn);
}

const char *sluice_log_level_name(sluice_log_level level)
{
	switch (level) {
	case SLUICE_LOG_DEBUG:
		return "DEBUG";
	case SLUICE_LOG_INFO:
		return "INFO";
	case SLUICE_LOG_WARN:
		return "WARN";
	case SLUICE_LOG_ERROR:
		return "ERROR";
	}
	return "?";
}

int sluice__log_enabled(sluice_log_level level)
{
	return atomic_load(&log_fn) != NULL &&
	       (int)level >= atomic_load(&log_min);
}

void sluice__log(sluice_log_level level, const char *fmt, ...)
{
	sluice_log_fn fn = atomic_load(&log_fn);
	char line[2048];
	va_list ap;

	if (!fn || (int)level < atomic_load(&log_min))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fn(level, line, atomic_load(&log_payload));
}
