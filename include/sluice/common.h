/*
 * Basic types shared by every part of the public API: byte slices, return
 * codes and the thread-local last error.
 *
 * Threading: everything here is safe to call from any thread.  The last
 * error is per thread.
 */
#ifndef SLUICE_COMMON_H
#define SLUICE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SLUICE_EXTERN(type) __attribute__((visibility("default"))) type
#define SLUICE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SLUICE_EXTERN(type) type
#define SLUICE_PRINTF(f, a)
#endif

#define SLUICE_VERSION_MAJOR 0
#define SLUICE_VERSION_MINOR 1
#define SLUICE_VERSION_PATCH 0
#define SLUICE_VERSION       "0.1.0"

/* Bytes travel as a slice.  A slice never owns its bytes. */
typedef struct sluice_slice {
	const void *data;
	size_t len;
} sluice_slice;

#define SLUICE_SLICE(p, n)  ((sluice_slice){(p), (n)})
#define SLUICE_SLICE_FMT(s) ((int)(s).len), ((const char *)(s).data)

/*
 * Return codes.  0 is success; failures are negative.  These values are
 * stable: a code is never renumbered or reused.
 */
typedef enum sluice_code {
	SLUICE_OK = 0,
	SLUICE_ERROR = -1,        /* generic failure, see the message */
	SLUICE_ENOTFOUND = -3,    /* the thing asked for does not exist */
	SLUICE_EEXISTS = -4,      /* the thing to create already exists */
	SLUICE_EBUSY = -5,        /* resource in use, try later */
	SLUICE_ETIMEOUT = -6,     /* an operation ran out of time */
	SLUICE_ECANCELED = -7,    /* canceled by request */
	SLUICE_ECORRUPT = -8,     /* data failed a checksum or format check */
	SLUICE_EIO = -9,          /* operating system or network I/O failed */
	SLUICE_ENOMEM = -10,      /* allocation failed */
	SLUICE_EINVALID = -11,    /* invalid argument, value or configuration */
	SLUICE_EUNSUPPORTED = -12 /* valid request this build cannot do */
} sluice_code;

/* Where an error came from.  Stable like the codes. */
typedef enum sluice_error_class {
	SLUICE_ERRCLS_NONE = 0,
	SLUICE_ERRCLS_OS = 1,
	SLUICE_ERRCLS_NOMEM = 2,
	SLUICE_ERRCLS_CONFIG = 3,
	SLUICE_ERRCLS_STATE = 4,
	SLUICE_ERRCLS_STORAGE = 5,
	SLUICE_ERRCLS_CHECKPOINT = 6,
	SLUICE_ERRCLS_RUNTIME = 7,
	SLUICE_ERRCLS_ROCKSDB = 8,
	SLUICE_ERRCLS_NET = 9,
	SLUICE_ERRCLS_JOB = 10,
	SLUICE_ERRCLS_INVALID = 11
} sluice_error_class;

typedef struct sluice_error {
	int code;                 /* a sluice_code */
	sluice_error_class klass; /* where it came from */
	const char *message;      /* one line, never NULL */
} sluice_error;

/*
 * The last error set on this thread by a failing sluice call.  Never NULL:
 * when no error was set it reports code 0 and an empty message.  The
 * pointer stays valid until the next sluice call on this thread.
 */
SLUICE_EXTERN(const sluice_error *) sluice_error_last(void);

/* Forget the last error of this thread. */
SLUICE_EXTERN(void) sluice_error_clear(void);

/* Short stable name of a code ("ENOTFOUND"), never NULL. */
SLUICE_EXTERN(const char *) sluice_code_name(int code);

/* The library version string, e.g. "0.1.0". */
SLUICE_EXTERN(const char *) sluice_version(void);

#ifdef __cplusplus
}
#endif
#endif
