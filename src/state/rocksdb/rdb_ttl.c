/*
 * The callbacks RocksDB runs on our data: the list-append merge operator
 * (concatenation of length-prefixed elements) and the per-column-family
 * TTL compaction filter (spec §8.4).  Both run on RocksDB's threads.
 *
 * The filter drops expired values and map entries and rewrites lists
 * without their expired elements.  Like Flink's, it reads the clock only
 * every `query_after` entries and uses the cached time in between, so a
 * value that expired since the last read survives until the next one.
 * It starts disabled and is configured (kind, ttl) when its state is
 * registered; the configuration is atomic because compactions may run
 * at the same moment.  A rewritten list is handed to RocksDB in a buffer
 * owned by the calling thread (RocksDB copies it and never frees it),
 * released when that thread exits.
 */
#include <stdatomic.h>
#include <string.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- merge operator ---------------------------------------------------- */

static void noop_destructor(void *state)
{
	(void)state;
}

static const char *merge_name(void *state)
{
	(void)state;
	return "sluice.list-append";
}

static char *
concat(const char *first,
       size_t first_len,
       const char *const *ops,
       const size_t *lens,
       int n,
       unsigned char *success,
       size_t *out_len)
{
	size_t total = first_len, off;
	char *out;
	int i;

	for (i = 0; i < n; i++)
		total += lens[i];
	if (!(out = sluice__malloc(total))) {
		*success = 0;
		return NULL;
	}
	if (first_len)
		memcpy(out, first, first_len);
	off = first_len;
	for (i = 0; i < n; i++) {
		if (lens[i])
			memcpy(out + off, ops[i], lens[i]);
		off += lens[i];
	}
	*out_len = total;
	*success = 1;
	return out;
}

static char *full_merge(
	void *state,
	const char *key,
	size_t klen,
	const char *existing,
	size_t existing_len,
	const char *const *ops,
	const size_t *lens,
	int n,
	unsigned char *success,
	size_t *out_len)
{
	(void)state;
	(void)key;
	(void)klen;
	return concat(
		existing, existing ? existing_len : 0, ops, lens, n, success,
		out_len);
}

static char *partial_merge(
	void *state,
	const char *key,
	size_t klen,
	const char *const *ops,
	const size_t *lens,
	int n,
	unsigned char *success,
	size_t *out_len)
{
	(void)state;
	(void)key;
	(void)klen;
	return concat(NULL, 0, ops, lens, n, success, out_len);
}

static void delete_value(void *state, const char *value, size_t len)
{
	(void)state;
	(void)len;
	sluice__free((void *)value);
}

rocksdb_mergeoperator_t *sluice__rdb_merge_operator(void)
{
	return rocksdb_mergeoperator_create(
		NULL, noop_destructor, full_merge, partial_merge, delete_value,
		merge_name);
}

/* ---- TTL compaction filter ---------------------------------------------- */

struct sluice_rdb_filter {
	atomic_int kind;
	atomic_int_fast64_t ttl_ms; /* <= 0: disabled */
	atomic_int_fast64_t now_ms; /* cached clock reading */
	atomic_uint_fast64_t seen;  /* entries looked at */
	int64_t query_after;
	_Atomic(sluice_clock *) clock;
	rocksdb_compactionfilter_t *handle;
};

typedef struct thread_buf {
	char *p;
	size_t cap;
} thread_buf;

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
static int buf_key_ok;

static void thread_buf_free(void *p)
{
	thread_buf *b = p;

	sluice__free(b->p);
	sluice__free(b);
}

static void buf_key_init(void)
{
	buf_key_ok = pthread_key_create(&buf_key, thread_buf_free) == 0;
}

/* The calling thread's rewrite buffer with room for `n` bytes, or NULL. */
static char *thread_buffer(size_t n)
{
	thread_buf *b;

	pthread_once(&buf_once, buf_key_init);
	if (!buf_key_ok)
		return NULL;
	if (!(b = pthread_getspecific(buf_key))) {
		if (!(b = sluice__calloc(1, sizeof(*b))))
			return NULL;
		if (pthread_setspecific(buf_key, b) != 0) {
			sluice__free(b);
			return NULL;
		}
	}
	if (b->cap < n) {
		char *p = sluice__realloc(b->p, n);

		if (!p)
			return NULL;
		b->p = p;
		b->cap = n;
	}
	return b->p;
}

static int64_t filter_now(sluice_rdb_filter *f)
{
	uint_fast64_t n = atomic_fetch_add(&f->seen, 1);

	if (n % (uint_fast64_t)f->query_after == 0)
		atomic_store(
			&f->now_ms,
			sluice_clock_wall_ms(atomic_load(&f->clock)));
	return atomic_load(&f->now_ms);
}

static int value_expired(sluice_slice v, int64_t ttl, int64_t now)
{
	/* too short for a timestamp: not ours to judge, keep it */
	return v.len >= 8 &&
	       sluice__rdb_ttl_expired((int64_t)sluice__rd64(v.data), ttl, now);
}

/* 0 keep, 1 drop, 2 rewritten into *out (length *out_len) */
static int filter_list(
	const char *v,
	size_t len,
	int64_t ttl,
	int64_t now,
	char **out,
	size_t *out_len)
{
	size_t pos = 0, start, kept = 0, kept_bytes = 0, total = 0;
	sluice_slice e;
	int64_t ts;
	char *buf;
	int rc;

	while ((start = pos,
		rc = sluice__rdb_list_next(v, len, 1, &pos, &e, &ts)) == 1) {
		total++;
		if (!sluice__rdb_ttl_expired(ts, ttl, now)) {
			kept++;
			kept_bytes += pos - start;
		}
	}
	if (rc < 0 || kept == total)
		return 0; /* corrupt lists are reported on read, not here */
	if (kept == 0)
		return 1;
	if (!(buf = thread_buffer(kept_bytes)))
		return 0;
	*out = buf;
	*out_len = kept_bytes;
	pos = 0;
	while ((start = pos, sluice__rdb_list_next(v, len, 1, &pos, &e, &ts)) ==
	       1) {
		if (sluice__rdb_ttl_expired(ts, ttl, now))
			continue;
		memcpy(buf, v + start, pos - start);
		buf += pos - start;
	}
	return 2;
}

static unsigned char filter_cb(
	void *state,
	int level,
	const char *key,
	size_t klen,
	const char *v,
	size_t vlen,
	char **new_value,
	size_t *new_len,
	unsigned char *changed)
{
	sluice_rdb_filter *f = state;
	int64_t ttl = atomic_load(&f->ttl_ms);
	int64_t now;
	int rc;

	(void)level;
	(void)key;
	(void)klen;
	if (ttl <= 0)
		return 0;
	now = filter_now(f);
	if (atomic_load(&f->kind) != SLUICE_RDB_LIST)
		return (unsigned char)value_expired(
			SLUICE_SLICE(v, vlen), ttl, now);
	rc = filter_list(v, vlen, ttl, now, new_value, new_len);
	if (rc == 2)
		*changed = 1;
	return rc == 1;
}

static const char *filter_name(void *state)
{
	(void)state;
	return "sluice.ttl-filter";
}

int sluice__rdb_filter_new(
	sluice_rdb_filter **out, sluice_clock *clock, int64_t query_after)
{
	sluice_rdb_filter *f = sluice__calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return sluice__error_oom();
	atomic_init(&f->kind, SLUICE_RDB_VALUE);
	atomic_init(&f->ttl_ms, 0);
	atomic_init(&f->now_ms, 0);
	atomic_init(&f->seen, 0);
	f->query_after = query_after > 0 ? query_after : 1;
	atomic_init(&f->clock, clock ? clock : sluice_clock_system());
	f->handle = rocksdb_compactionfilter_create(
		f, noop_destructor, filter_cb, filter_name);
	*out = f;
	return 0;
}

void sluice__rdb_filter_configure(
	sluice_rdb_filter *f, sluice_rdb_kind kind, int64_t ttl_ms)
{
	atomic_store(&f->kind, (int)kind);
	atomic_store(&f->ttl_ms, ttl_ms > 0 ? ttl_ms : 0);
}

void sluice__rdb_filter_set_clock(sluice_rdb_filter *f, sluice_clock *clock)
{
	if (clock)
		atomic_store(&f->clock, clock);
}

rocksdb_compactionfilter_t *sluice__rdb_filter_handle(sluice_rdb_filter *f)
{
	return f->handle;
}

void sluice__rdb_filter_free(sluice_rdb_filter *f)
{
	if (!f)
		return;
	rocksdb_compactionfilter_destroy(f->handle);
	sluice__free(f);
}
