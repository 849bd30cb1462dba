/* Internal logging: formats a line and hands it to the host's callback. */
#ifndef SLUICE_UTIL_LOG_H
#define SLUICE_UTIL_LOG_H

#include "sluice/log.h"

void sluice__log(sluice_log_level level, const char *fmt, ...)
	SLUICE_PRINTF(2, 3);
/* True when a line of `level` would be delivered (skip costly formatting). */
int sluice__log_enabled(sluice_log_level level);

#define sluice__debug(...) sluice__log(SLUICE_LOG_DEBUG, __VA_ARGS__)
#define sluice__info(...)  sluice__log(SLUICE_LOG_INFO, __VA_ARGS__)
#define sluice__warn(...)  sluice__log(SLUICE_LOG_WARN, __VA_ARGS__)

#endif
