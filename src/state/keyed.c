/*
 * The keyed-state front end object: one subtask's keyed backend (its
 * key-group range, the backend instance), the current key and namespace
 * with their hashes computed once, and the registry of states created
 * from descriptors (or announced by a restored snapshot).  Operations of
 * the state kinds are in ops.c; snapshots and restore in format.c.
 */
#include <string.h>

#include "state/keyed.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

/* xxh3-64 inlined for the per-record key hash (the library call and its
 * dispatch cost as much as the rest of set_key); same function as
 * sluice__xxh3, checked by the unit tests. */
#define XXH_INLINE_ALL
#include <xxhash.h>

void sluice_keyed_options_init(sluice_keyed_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->version = SLUICE_KEYED_OPTIONS_VERSION;
	opts->backend = "hashmap";
	opts->parallelism = 1;
	opts->latency_interval = 100;
	opts->latency_history = 128;
	opts->latency_name_as_variable = 1;
}

static int
pick_factory(const sluice_keyed_options *o, sluice_backend_factory *f)
{
	const char *name = o->backend ? o->backend : "hashmap";

	if (o->factory) {
		*f = o->factory;
		return 0;
	}
	if (!strcmp(name, "hashmap") || !strcmp(name, "jobmanager") ||
	    !strcmp(name, "filesystem")) {
		*f = sluice_backend_hashmap_new;
		return 0;
	}
	if (!strcmp(name, "rocksdb")) {
		*f = sluice_backend_rocksdb_new;
		return 0;
	}
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
		"state.backend.type: unknown state backend '%s' (known: "
		"hashmap, rocksdb)",
		name);
}

static int check_options(const sluice_keyed_options *o)
{
	if (o->version != SLUICE_KEYED_OPTIONS_VERSION)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"keyed options: unknown version %d", o->version);
	if (o->latency_enabled && o->latency_interval < 1)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"state.latency-track.sample-interval: must be >= 1, "
			"got %d",
			(int)o->latency_interval);
	if (o->latency_enabled && o->latency_history < 1)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"state.latency-track.history-size: must be >= 1, got "
			"%d",
			(int)o->latency_history);
	if (o->default_ttl_ms < 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"table.exec.state.ttl: must not be "
			"negative");
	return 0;
}

int sluice_keyed_backend_new(
	sluice_keyed_backend **out, const sluice_keyed_options *opts)
{
	sluice_keyed_backend *kb;
	sluice_backend_factory factory = NULL;
	int32_t maxp;
	int rc;

	*out = NULL;
	SLUICE_ERRCHECK(check_options(opts));
	SLUICE_ERRCHECK(pick_factory(opts, &factory));
	if (opts->parallelism <= 0 ||
	    opts->parallelism > SLUICE_KEYGROUP_UPPER_BOUND)
		return sluice_keygroup_check(1, opts->parallelism);
	maxp = opts->max_parallelism ? opts->max_parallelism
				     : sluice_keygroup_default_max_parallelism(
					       opts->parallelism);
	if (!(kb = sluice__calloc(1, sizeof(*kb))))
		return sluice__error_oom();
	kb->opts = *opts;
	kb->maxp = maxp;
	if (!(maxp & (maxp - 1)))
		kb->maxp_mask = (uint32_t)maxp - 1;
	kb->p = opts->parallelism;
	kb->subtask = opts->subtask;
	kb->clock = opts->clock ? opts->clock : sluice_clock_system();
	kb->ns_hash = sluice__ns_hash(SLUICE_SLICE(NULL, 0));
	kb->sk.hash = sluice__state_hash(kb->key_hash, kb->ns_hash);
	if ((rc = sluice_keygroup_range(
		     &kb->start, &kb->end, maxp, kb->p, kb->subtask)) < 0 ||
	    (rc = factory(&kb->be, opts->factory_ctx)) < 0) {
		sluice__free(kb);
		return rc;
	}
	*out = kb;
	return 0;
}

static void state_free(sluice_state *st)
{
	if (!st)
		return;
	sluice__lat_free(st->lat);
	sluice__free(st->default_value);
	sluice__free(st->name);
	sluice__free(st);
}

void sluice_keyed_backend_free(sluice_keyed_backend *kb)
{
	size_t i;

	if (!kb)
		return;
	for (i = 0; i < kb->nstates; i++)
		state_free(kb->states[i]);
	sluice__free(kb->states);
	if (kb->be)
		kb->be->free(kb->be);
	sluice_buf_release(&kb->key);
	sluice_buf_release(&kb->ns);
	sluice_buf_release(&kb->scratch);
	sluice_buf_release(&kb->work);
	sluice_buf_release(&kb->filter);
	sluice__free(kb);
}

void sluice_keyed_backend_range(
	const sluice_keyed_backend *kb, int32_t *start, int32_t *end)
{
	*start = kb->start;
	*end = kb->end;
}

int32_t sluice_keyed_backend_max_parallelism(const sluice_keyed_backend *kb)
{
	return kb->maxp;
}

size_t sluice_keyed_backend_memory(sluice_keyed_backend *kb)
{
	return kb->be->memory ? kb->be->memory(kb->be) : 0;
}

uint32_t sluice__ns_hash(sluice_slice ns)
{
	return (uint32_t)sluice__xxh3(ns.data, ns.len);
}

/*
 * Both inputs are already well mixed (fmix64 / xxh3 outputs); one
 * multiply (Fibonacci hashing, high half) decorrelates the result from
 * the key group, which is the key hash modulo max parallelism, so that a
 * subtask owning some key groups still uses every slot of a table whose
 * index is the low bits.  Never persisted.
 */
uint32_t sluice__state_hash(uint32_t key_hash, uint32_t ns_hash)
{
	uint64_t x = ((uint64_t)ns_hash << 32) | key_hash;

	return (uint32_t)((x * 0x9e3779b97f4a7c15ull) >> 32);
}

/* murmur3 fmix64, inlined (the same as sluice__fmix64). */
static inline uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

static SLUICE__NOINLINE int
key_out_of_range(const sluice_keyed_backend *kb, int32_t kg)
{
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
		"key of key group %d is not in this subtask's range [%d, %d]",
		(int)kg, (int)kb->start, (int)kb->end);
}

static SLUICE__NOINLINE int key_copy(sluice_keyed_backend *kb, sluice_slice key)
{
	sluice_buf_clear(&kb->key);
	SLUICE_ERRCHECK(sluice_buf_put(&kb->key, key.data, key.len));
	kb->sk.key = SLUICE_SLICE(kb->key.ptr, kb->key.len);
	return 0;
}

/*
 * xxh3-64 of exactly 8 bytes with seed 0 (its 4-to-8-byte branch: the two
 * little-endian 32-bit halves swapped into one word, xored with secret
 * bytes 8..23, then the "rrmxmx" finaliser), the common key length, without
 * the length dispatch of the general function.  The unit tests check it
 * against sluice__xxh3.
 */
static inline uint64_t xxh3_8(const void *p)
{
	const uint64_t bitflip = 0x1cad21f72c81017cull ^ 0xdb979083e96dd4deull;
	uint32_t lo, hi;
	uint64_t h;

	__builtin_memcpy(&lo, p, 4);
	__builtin_memcpy(&hi, (const uint8_t *)p + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	lo = __builtin_bswap32(lo);
	hi = __builtin_bswap32(hi);
#endif
	h = ((uint64_t)hi + ((uint64_t)lo << 32)) ^ bitflip;
	h ^= ((h << 49) | (h >> 15)) ^ ((h << 24) | (h >> 40));
	h *= 0x9fb21c651e98df25ull;
	h ^= (h >> 35) + 8;
	h *= 0x9fb21c651e98df25ull;
	return h ^ (h >> 28);
}

/* Keys of other lengths: kept out of set_key's frame. */
static SLUICE__NOINLINE uint64_t xxh3_any(const void *p, size_t len)
{
	return XXH3_64bits(p, len);
}

/* The key group of key hash h (power-of-two max parallelism: a mask). */
static inline int32_t key_group_of(const sluice_keyed_backend *kb, uint32_t h)
{
	h &= 0x7fffffffu;
	return (int32_t)(kb->maxp_mask ? h & kb->maxp_mask : h % (uint32_t)kb->maxp);
}

/* Make (key, h, kg) current; the key bytes are already in kb->key. */
static inline void key_commit(sluice_keyed_backend *kb, uint32_t h, int32_t kg)
{
	kb->key_hash = h;
	kb->sk.hash = sluice__state_hash(h, kb->ns_hash);
	kb->sk.key_group = kg;
	kb->key_set = 1;
}

/* Any key length, growing the key buffer when needed. */
static SLUICE__NOINLINE int
set_key_general(sluice_keyed_backend *kb, sluice_slice key)
{
	uint32_t h = (uint32_t)fmix64(
		key.len == 8 ? xxh3_8(key.data) : xxh3_any(key.data, key.len));
	int32_t kg = key_group_of(kb, h);

	if (kg < kb->start || kg > kb->end)
		return key_out_of_range(kb, kg);
	if (key.len <= kb->key.cap) {
		if (key.len)
			memcpy(kb->key.ptr, key.data, key.len);
		kb->key.len = key.len;
		kb->sk.key = SLUICE_SLICE(kb->key.ptr, key.len);
	} else {
		SLUICE_ERRCHECK(key_copy(kb, key));
	}
	key_commit(kb, h, kg);
	return 0;
}

/*
 * Called once per record: the key hash (sluice__hash32, inlined), the key
 * group, the state hash of (key, namespace) and a copy of the key.  The
 * common 8-byte key into an allocated buffer is a straight line of
 * arithmetic and stores (no call, no saved registers); everything else is
 * set_key_general.  On failure the previous key stays current.
 */
int sluice_keyed_backend_set_key(sluice_keyed_backend *kb, sluice_slice key)
{
	uint32_t h;
	int32_t kg;

	if (__builtin_expect(key.len != 8 || kb->key.cap < 8, 0))
		return set_key_general(kb, key);
	h = (uint32_t)fmix64(xxh3_8(key.data));
	kg = key_group_of(kb, h);
	if (__builtin_expect(kg < kb->start || kg > kb->end, 0))
		return key_out_of_range(kb, kg);
	__builtin_memcpy(kb->key.ptr, key.data, 8);
	kb->key.len = 8;
	kb->sk.key.len = 8;
	key_commit(kb, h, kg);
	return 0;
}

int sluice_keyed_backend_set_namespace(
	sluice_keyed_backend *kb, sluice_slice ns)
{
	sluice_buf_clear(&kb->ns);
	SLUICE_ERRCHECK(sluice_buf_put(&kb->ns, ns.data, ns.len));
	kb->ns_hash = sluice__ns_hash(ns);
	kb->sk.hash = sluice__state_hash(kb->key_hash, kb->ns_hash);
	kb->sk.ns = SLUICE_SLICE(kb->ns.ptr, kb->ns.len);
	return 0;
}

static const char *const kind_names[] = {
	"value", "list", "map", "reducing", "aggregating"};

int sluice__state_key_ready(const sluice_state *st, sluice_state_kind kind)
{
	if (st->kind != kind)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s' is a %s state, not %s", st->name,
			kind_names[st->kind], kind_names[kind]);
	if (!st->kb->key_set)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': no current key set", st->name);
	return 0;
}

void sluice__state_fast_refresh(sluice_state *st)
{
	st->fast_put =
		st->kind == SLUICE_STATE_VALUE && !st->ttl_on && !st->lat;
	st->fast_get = st->fast_put && !st->has_default;
}

static sluice_state *find_state(sluice_keyed_backend *kb, const char *name)
{
	size_t i;

	for (i = 0; i < kb->nstates; i++)
		if (!strcmp(kb->states[i]->name, name))
			return kb->states[i];
	return NULL;
}

int sluice__state_lookup(
	sluice_state **out,
	sluice_keyed_backend *kb,
	const char *name,
	sluice_state_kind kind,
	int ttl_on,
	int64_t ttl_ms)
{
	sluice_state *st = find_state(kb, name);
	int rc;

	*out = NULL;
	if (st) {
		if (st->kind != kind)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
				"state '%s' exists as a %s state, not %s", name,
				kind_names[st->kind], kind_names[kind]);
		if (st->ttl_on != ttl_on)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
				"state '%s': TTL %s in the snapshot but %s "
				"now (incompatible serialized layout)",
				name, st->ttl_on ? "enabled" : "disabled",
				ttl_on ? "enabled" : "disabled");
		*out = st;
		return 0;
	}
	if (kb->nstates == kb->scap) {
		size_t cap = kb->scap ? kb->scap * 2 : 8;
		sluice_state **s =
			sluice__reallocarray(kb->states, cap, sizeof(*s));

		if (!s)
			return sluice__error_oom();
		kb->states = s;
		kb->scap = cap;
	}
	if (!(st = sluice__calloc(1, sizeof(*st))) ||
	    !(st->name = sluice__strdup(name))) {
		state_free(st);
		return sluice__error_oom();
	}
	st->kb = kb;
	st->kind = kind;
	st->ttl_on = ttl_on;
	st->ttl_ms = ttl_ms;
	st->update = SLUICE_TTL_ON_CREATE_AND_WRITE;
	st->cleanup_size = 5;
	st->full_cleanup = 1;
	rc = kb->be->register_state(
		kb->be, name,
		kind == SLUICE_STATE_MAP ? SLUICE_SHAPE_MAP : SLUICE_SHAPE_FLAT,
		&st->bs);
	if (rc == 0 && kb->opts.latency_enabled)
		rc = sluice__lat_new(
			&st->lat, (uint32_t)kb->opts.latency_interval,
			(uint32_t)kb->opts.latency_history);
	if (rc < 0) {
		state_free(st);
		return rc;
	}
	sluice__state_fast_refresh(st);
	kb->states[kb->nstates++] = st;
	*out = st;
	return 0;
}

static int check_desc(const sluice_state_desc *d)
{
	if (!d->name || !*d->name || strlen(d->name) > 65535)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state descriptor: name must be 1..65535 bytes");
	if ((unsigned)d->kind > SLUICE_STATE_AGGREGATING)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': unknown kind %d", d->name, (int)d->kind);
	if (d->ttl.ttl_ms < 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': TTL is expected to be "
			"positive.",
			d->name);
	if (d->kind == SLUICE_STATE_REDUCING && !d->reduce)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': reducing state needs a "
			"reduce function",
			d->name);
	if (d->kind == SLUICE_STATE_AGGREGATING && !d->agg_add)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': aggregating state needs "
			"an add function",
			d->name);
	return 0;
}

static int bind_desc(sluice_state *st, const sluice_state_desc *d, int64_t ttl)
{
	if (d->kind == SLUICE_STATE_VALUE && d->default_value.data) {
		sluice__free(st->default_value);
		st->default_value = sluice__memdup(
			d->default_value.data,
			d->default_value.len ? d->default_value.len : 1);
		if (!st->default_value)
			return sluice__error_oom();
		st->default_len = d->default_value.len;
		st->has_default = 1;
	}
	st->reduce = d->reduce;
	st->agg_add = d->agg_add;
	st->agg_get = d->agg_get;
	st->fn_ctx = d->fn_ctx;
	st->ttl_ms = ttl;
	if (d->ttl.ttl_ms > 0) {
		st->update = d->ttl.update == SLUICE_TTL_ON_READ_AND_WRITE
				     ? SLUICE_TTL_ON_READ_AND_WRITE
				     : SLUICE_TTL_ON_CREATE_AND_WRITE;
		st->visibility = d->ttl.visibility;
		st->cleanup_size =
			d->ttl.cleanup_size ? d->ttl.cleanup_size : 5;
		st->full_cleanup = !d->ttl.no_full_snapshot_cleanup;
	}
	st->bound = 1;
	sluice__state_fast_refresh(st);
	return 0;
}

int sluice_keyed_backend_state(
	sluice_state **out,
	sluice_keyed_backend *kb,
	const sluice_state_desc *desc)
{
	sluice_state *st = NULL;
	int64_t ttl;

	*out = NULL;
	SLUICE_ERRCHECK(check_desc(desc));
	ttl = desc->ttl.ttl_ms > 0 ? desc->ttl.ttl_ms : kb->opts.default_ttl_ms;
	st = find_state(kb, desc->name);
	if (st && st->bound) {
		if (st->kind != desc->kind)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
				"state '%s' exists as a %s state, not %s",
				desc->name, kind_names[st->kind],
				kind_names[desc->kind]);
		*out = st;
		return 0;
	}
	SLUICE_ERRCHECK(sluice__state_lookup(
		&st, kb, desc->name, desc->kind, ttl > 0, ttl));
	SLUICE_ERRCHECK(bind_desc(st, desc, ttl));
	if (st->ttl_on && kb->be->configure_ttl)
		SLUICE_ERRCHECK(kb->be->configure_ttl(
			kb->be, st->bs, st->ttl_ms,
			st->kind == SLUICE_STATE_LIST, kb->clock));
	*out = st;
	return 0;
}

const char *sluice_state_name(const sluice_state *st)
{
	return st->name;
}

sluice_state_kind sluice_state_kind_of(const sluice_state *st)
{
	return st->kind;
}

int sluice_open_inline(
	void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	*out = NULL;
	if (h->kind != SLUICE_HANDLE_INLINE)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_STATE,
			"stream '%s': only inline handles can be opened "
			"without checkpoint storage",
			h->path ? h->path : "");
	if (sluice__xxh3(h->data, (size_t)h->size) != h->checksum)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"stream '%s': checksum mismatch",
			h->path ? h->path : "");
	return sluice_mem_istream_new(out, h->data, (size_t)h->size);
}
