/*
 * The thread-local last error.  Each thread owns one sluice_error and a
 * message buffer; setting an error overwrites both.  Messages are truncated
 * at a generous fixed size rather than allocated, so reporting an
 * out-of-memory condition can never itself fail.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#define MSG_MAX 1024

static _Thread_local sluice_error last_error;
static _Thread_local char last_message[MSG_MAX];

static void
set_v(int code,
      sluice_error_class klass,
      const char *suffix,
      const char *fmt,
      va_list ap)
{
	char tmp[MSG_MAX];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);

	if (n < 0)
		tmp[0] = '\0';
	if (suffix)
		snprintf(
			last_message, sizeof(last_message), "%s: %s", tmp,
			suffix);
	else
		memcpy(last_message, tmp, sizeof(tmp));
	last_error.code = code;
	last_error.klass = klass;
	last_error.message = last_message;
}

int sluice__error_set(int code, sluice_error_class klass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_v(code, klass, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int sluice__error_os(sluice_error_class klass, const char *fmt, ...)
{
	int err = errno;
	int code = SLUICE_EIO;
	char ebuf[128];
	va_list ap;

	if (err == ENOENT)
		code = SLUICE_ENOTFOUND;
	else if (err == EEXIST)
		code = SLUICE_EEXISTS;
	else if (err == ENOMEM)
		code = SLUICE_ENOMEM;
	snprintf(ebuf, sizeof(ebuf), "%s", strerror(err));
	va_start(ap, fmt);
	set_v(code, klass, ebuf, fmt, ap);
	va_end(ap);
	return code;
}

int sluice__error_oom(void)
{
	last_error.code = SLUICE_ENOMEM;
	last_error.klass = SLUICE_ERRCLS_NOMEM;
	snprintf(last_message, sizeof(last_message), "out of memory");
	last_error.message = last_message;
	return SLUICE_ENOMEM;
}

int sluice__error_wrap(const char *fmt, ...)
{
	char prefix[MSG_MAX];
	char old[MSG_MAX];
	va_list ap;

	if (last_error.code == 0)
		return SLUICE_ERROR;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, last_message, sizeof(old));
	snprintf(last_message, sizeof(last_message), "%s: %s", prefix, old);
	return last_error.code;
}

const sluice_error *sluice_error_last(void)
{
	if (!last_error.message) {
		last_message[0] = '\0';
		last_error.message = last_message;
	}
	return &last_error;
}

void sluice_error_clear(void)
{
	last_error.code = 0;
	last_error.klass = SLUICE_ERRCLS_NONE;
	last_message[0] = '\0';
	last_error.message = last_message;
}

const char *sluice_code_name(int code)
{
	switch (code) {
	case SLUICE_OK:
		return "OK";
	case SLUICE_ERROR:
		return "ERROR";
	case SLUICE_ENOTFOUND:
		return "ENOTFOUND";
	case SLUICE_EEXISTS:
		return "EEXISTS";
	case SLUICE_EBUSY:
		return "EBUSY";
	case SLUICE_ETIMEOUT:
		return "ETIMEOUT";
	case SLUICE_ECANCELED:
		return "ECANCELED";
	case SLUICE_ECORRUPT:
		return "ECORRUPT";
	case SLUICE_EIO:
		return "EIO";
	case SLUICE_ENOMEM:
		return "ENOMEM";
	case SLUICE_EINVALID:
		return "EINVALID";
	case SLUICE_EUNSUPPORTED:
		return "EUNSUPPORTED";
	default:
		return "UNKNOWN";
	}
}

const char *sluice_version(void)
{
	return SLUICE_VERSION;
}
