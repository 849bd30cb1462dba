/*
 * The runtime's state provider over the real keyed backends (state.h):
 * what a job uses when its state should live in the `hashmap` or the
 * `rocksdb` backend chosen by configuration instead of the simple
 * in-memory provider (memstate.c).
 *
 * Behaviour:
 *  - One sluice_keyed_backend per subtask, made from the factory's
 *    sluice_keyed_provider_config (backend, TTL, latency, compression;
 *    rocksdb options) with the subtask's parallelism, max parallelism and
 *    index, so its key-group range is the one the runtime routes to.
 *  - Keyed value state: one VALUE descriptor per state name, created on
 *    the first access (or taken over from restored meta data).  get
 *    borrows the backend's bytes until the next provider call.
 *  - Operator list state lives in a sluice_operator_state.  Lists created
 *    by opstate_set are SPLIT, by opstate_set_mode SPLIT or UNION (a
 *    list never changes mode: EINVALID); a restored list keeps the mode
 *    it was written with (UNION lists stay UNION, BROADCAST maps are
 *    carried through checkpoints unchanged).
 *  - snapshot_sync: sluice_keyed_snapshot_sync (copy-on-write view, no
 *    entry copied) plus a copy of the operator lists (small by nature).
 *    snapshot_async: the keyed view in the canonical format and the
 *    operator copy, each into one stream of the job's stream factory (or
 *    memory streams: INLINE handles).
 *  - restore: keyed handles through sluice_keyed_backend_restore, which
 *    keeps only this subtask's key groups and verifies every block;
 *    operator handles (already redistributed by the runtime, spec §7.3)
 *    through sluice_operator_state_restore.  FILE / RELATIVE handles are
 *    opened with sluice_handle_open on the restore's storage.
 *  - notify complete / aborted: nothing to do; RocksDB checkpoints are
 *    full canonical snapshots here (incremental bookkeeping not wired).
 *
 * Edge cases tested (tests/unit/test_runtime_provider.c): exact counts
 * after fail and restart on file storage with both backends; rescaled
 * restore 2→3 and 3→1; SPLIT and UNION redistribution at a new
 * parallelism (also several handles of one old subtask, and union state
 * set by operators); value get of an absent key is SLUICE_ENOTFOUND;
 * snapshot isolation; a foreign key is refused; a damaged stream is
 * SLUICE_ECORRUPT; every allocation failure is SLUICE_ENOMEM.
 */
#include <string.h>

#include "sluice/config.h"
#include "sluice/sys/runtime.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct named_state {
	char *name;
	sluice_state *st;
} named_state;

typedef struct op_name {
	char *name;
	sluice_opstate_mode mode;
} op_name;

typedef struct keyed_provider {
	sluice_state_provider base;
	sluice_keyed_backend *kb;
	named_state *states;
	size_t num_states;
	sluice_operator_state *ops;
	op_name *names;
	size_t num_names;
	sluice_slice *view; /* opstate_get result */
	size_t view_cap;
	sluice_rocksdb_options ro; /* factory context kept in the backend's
				      options: lives as long as it */
} keyed_provider;

typedef struct keyed_snap {
	const sluice_stream_factory *streams; /* NULL: memory streams */
	int64_t id;
	sluice_keyed_snapshot *keyed;
	sluice_operator_state *ops; /* NULL: no operator state */
} keyed_snap;

#define KP(p) ((keyed_provider *)(p))

/* ---- keyed value state ------------------------------------------------ */

static int value_state(keyed_provider *k, const char *name, sluice_state **out)
{
	sluice_state_desc d;
	named_state *grown;
	size_t i;

	for (i = 0; i < k->num_states; i++)
		if (!strcmp(k->states[i].name, name)) {
			*out = k->states[i].st;
			return 0;
		}
	memset(&d, 0, sizeof(d));
	d.name = name;
	d.kind = SLUICE_STATE_VALUE;
	SLUICE_ERRCHECK(sluice_keyed_backend_state(out, k->kb, &d));
	grown = sluice__reallocarray(
		k->states, k->num_states + 1, sizeof(*grown));
	if (!grown)
		return sluice__error_oom();
	k->states = grown;
	if (!(grown[k->num_states].name = sluice__strdup(name)))
		return sluice__error_oom();
	grown[k->num_states++].st = *out;
	return 0;
}

/* The state `name` with `key` as the current key. */
static int keyed_at(
	keyed_provider *k,
	const char *name,
	sluice_slice key,
	sluice_state **st)
{
	SLUICE_ERRCHECK(sluice_keyed_backend_set_key(k->kb, key));
	return value_state(k, name, st);
}

static int kp_value_get(
	sluice_state_provider *p,
	const char *state,
	sluice_slice key,
	sluice_slice *out)
{
	sluice_state *st;

	*out = SLUICE_SLICE(NULL, 0);
	SLUICE_ERRCHECK(keyed_at(KP(p), state, key, &st));
	return sluice_value_get(st, out);
}

static int kp_value_put(
	sluice_state_provider *p,
	const char *state,
	sluice_slice key,
	sluice_slice value)
{
	sluice_state *st;

	SLUICE_ERRCHECK(keyed_at(KP(p), state, key, &st));
	return sluice_value_update(st, value);
}

static int
kp_value_remove(sluice_state_provider *p, const char *state, sluice_slice key)
{
	sluice_state *st;

	SLUICE_ERRCHECK(keyed_at(KP(p), state, key, &st));
	return sluice_state_clear(st);
}

/* ---- operator state ------------------------------------------------- */

static op_name *name_find(keyed_provider *k, const char *name)
{
	size_t i;

	for (i = 0; i < k->num_names; i++)
		if (!strcmp(k->names[i].name, name))
			return &k->names[i];
	return NULL;
}

/* Remember `name` with `mode` unless known (the first mode wins). */
static int
name_add(keyed_provider *k, const char *name, sluice_opstate_mode mode)
{
	op_name *grown;

	if (name_find(k, name))
		return 0;
	grown = sluice__reallocarray(
		k->names, k->num_names + 1, sizeof(*grown));
	if (!grown)
		return sluice__error_oom();
	k->names = grown;
	if (!(grown[k->num_names].name = sluice__strdup(name)))
		return sluice__error_oom();
	grown[k->num_names++].mode = mode;
	return 0;
}

static int kp_opstate_get(
	sluice_state_provider *p,
	const char *name,
	const sluice_slice **elems,
	size_t *count)
{
	keyed_provider *k = KP(p);
	sluice_list_iter it;
	sluice_slice e;
	size_t n = 0;

	*elems = NULL;
	*count = 0;
	SLUICE_ERRCHECK(sluice_operator_list_get(k->ops, name, &it));
	if (it.count > k->view_cap) {
		sluice_slice *grown =
			sluice__reallocarray(k->view, it.count, sizeof(*grown));

		if (!grown)
			return sluice__error_oom();
		k->view = grown;
		k->view_cap = it.count;
	}
	while (n < it.count && sluice_list_next(&it, &e) == 1)
		k->view[n++] = e;
	*elems = n ? k->view : NULL;
	*count = n;
	return 0;
}

static int kp_opstate_set(
	sluice_state_provider *p,
	const char *name,
	const sluice_slice *elems,
	size_t count)
{
	keyed_provider *k = KP(p);
	op_name *known;

	SLUICE_ERRCHECK(name_add(k, name, SLUICE_OPSTATE_SPLIT));
	known = name_find(k, name);
	return sluice_operator_list_update(
		k->ops, name, known->mode, elems, count);
}

static const char *mode_name(sluice_opstate_mode m)
{
	return m == SLUICE_OPSTATE_UNION       ? "union"
	       : m == SLUICE_OPSTATE_BROADCAST ? "broadcast"
					       : "split";
}

static int kp_opstate_set_mode(
	sluice_state_provider *p,
	const char *name,
	sluice_opstate_mode mode,
	const sluice_slice *elems,
	size_t count)
{
	keyed_provider *k = KP(p);
	op_name *known;

	SLUICE_ERRCHECK(name_add(k, name, mode));
	known = name_find(k, name);
	if (known->mode != mode)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"operator state '%s': is a %s list, not %s", name,
			mode_name(known->mode), mode_name(mode));
	return sluice_operator_list_update(k->ops, name, mode, elems, count);
}

/* ---- snapshots -------------------------------------------------------- */

static void snap_free(keyed_snap *s)
{
	if (!s)
		return;
	sluice_keyed_snapshot_free(s->keyed);
	sluice_operator_state_free(s->ops);
	sluice__free(s);
}

typedef struct bc_copy {
	sluice_operator_state *to;
	const char *name;
} bc_copy;

static int bc_put(void *ctx, sluice_slice key, sluice_slice value)
{
	bc_copy *c = ctx;

	return sluice_broadcast_put(c->to, c->name, key, value);
}

/* Copy list (or broadcast map) `n` of `from` into `to`. */
static int copy_one(
	sluice_operator_state *to,
	sluice_operator_state *from,
	const op_name *n)
{
	sluice_list_iter it;
	sluice_slice e, *v;
	size_t i = 0;
	bc_copy c = {to, n->name};
	int rc;

	if (n->mode == SLUICE_OPSTATE_BROADCAST)
		return sluice_broadcast_foreach(from, n->name, bc_put, &c);
	SLUICE_ERRCHECK(sluice_operator_list_get(from, n->name, &it));
	if (!(v = sluice__calloc(it.count + 1, sizeof(*v))))
		return sluice__error_oom();
	while (i < it.count && sluice_list_next(&it, &e) == 1)
		v[i++] = e;
	rc = sluice_operator_list_update(to, n->name, n->mode, v, i);
	sluice__free(v);
	return rc;
}

static int copy_ops(keyed_provider *k, sluice_operator_state **out)
{
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!k->num_names)
		return 0;
	SLUICE_ERRCHECK(sluice_operator_state_new(out));
	for (i = 0; i < k->num_names && rc >= 0; i++)
		rc = copy_one(*out, k->ops, &k->names[i]);
	if (rc < 0) {
		sluice_operator_state_free(*out);
		*out = NULL;
	}
	return rc;
}

static int kp_snapshot_sync(
	sluice_state_provider *p,
	int64_t id,
	const sluice_checkpoint_options *opts,
	void **out)
{
	keyed_provider *k = KP(p);
	keyed_snap *s = sluice__calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return sluice__error_oom();
	s->streams = opts ? opts->streams : NULL;
	s->id = id;
	if ((rc = sluice_keyed_snapshot_sync(&s->keyed, k->kb)) < 0 ||
	    (rc = copy_ops(k, &s->ops)) < 0) {
		snap_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int open_ostream(keyed_snap *s, const char *name, sluice_ostream **os)
{
	if (s->streams)
		return s->streams->open(
			s->streams->ctx, s->id, SLUICE_SCOPE_EXCLUSIVE, os);
	return sluice_mem_ostream_new(os, name);
}

static int kp_snapshot_async(
	sluice_state_provider *p,
	void *snap,
	sluice_keyed_handle **keyed,
	sluice_opstate_handle **opstate)
{
	keyed_snap *s = snap;
	sluice_ostream *os;
	int rc;

	(void)p;
	*keyed = NULL;
	*opstate = NULL;
	if ((rc = open_ostream(s, "keyed", &os)) >= 0)
		rc = sluice_keyed_snapshot_write(s->keyed, os, keyed);
	if (rc >= 0 && s->ops && (rc = open_ostream(s, "opstate", &os)) >= 0)
		rc = sluice_operator_state_snapshot(s->ops, os, opstate);
	if (rc < 0) {
		sluice_keyed_handle_free(*keyed);
		*keyed = NULL;
	}
	snap_free(s);
	return rc;
}

static void kp_snapshot_discard(sluice_state_provider *p, void *snap)
{
	(void)p;
	snap_free(snap);
}

/* Full snapshots only: nothing to confirm or roll back. */
static void kp_notify(sluice_state_provider *p, int64_t id)
{
	(void)p;
	(void)id;
}

/* ---- restore ---------------------------------------------------------- */

/* sluice_open_fn over the restore's storage (ctx: the restore). */
static int
open_handle(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	const sluice_subtask_restore *r = ctx;

	if (h->kind == SLUICE_HANDLE_INLINE)
		return sluice_open_inline(NULL, h, out);
	if (!r->storage)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_STATE,
			"state handle '%s': no storage to read it from",
			h->path ? h->path : "?");
	return sluice_handle_open(out, r->storage, r->dir, h);
}

static int kp_restore(sluice_state_provider *p, const sluice_subtask_restore *r)
{
	keyed_provider *k = KP(p);
	size_t i, j;

	if (r->num_keyed)
		SLUICE_ERRCHECK(sluice_keyed_backend_restore(
			k->kb, r->keyed, r->num_keyed, open_handle, (void *)r));
	if (!r->num_opstate)
		return 0;
	SLUICE_ERRCHECK(sluice_operator_state_restore(
		k->ops, r->opstate, r->num_opstate, open_handle, (void *)r));
	for (i = 0; i < r->num_opstate; i++)
		for (j = 0; j < r->opstate[i]->num_states; j++)
			SLUICE_ERRCHECK(name_add(
				k, r->opstate[i]->states[j].name,
				r->opstate[i]->states[j].mode));
	return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

static void kp_free(sluice_state_provider *p)
{
	keyed_provider *k = KP(p);
	size_t i;

	if (!k)
		return;
	for (i = 0; i < k->num_states; i++)
		sluice__free(k->states[i].name);
	for (i = 0; i < k->num_names; i++)
		sluice__free(k->names[i].name);
	sluice__free(k->states);
	sluice__free(k->names);
	sluice__free(k->view);
	sluice_operator_state_free(k->ops);
	sluice_keyed_backend_free(k->kb);
	sluice__free(k);
}

static const sluice_state_provider keyed_provider_base = {
	.version = SLUICE_STATE_PROVIDER_VERSION,
	.value_get = kp_value_get,
	.value_put = kp_value_put,
	.value_remove = kp_value_remove,
	.opstate_get = kp_opstate_get,
	.opstate_set = kp_opstate_set,
	.restore = kp_restore,
	.snapshot_sync = kp_snapshot_sync,
	.snapshot_async = kp_snapshot_async,
	.snapshot_discard = kp_snapshot_discard,
	.notify_complete = kp_notify,
	.notify_aborted = kp_notify,
	.free = kp_free,
	.opstate_set_mode = kp_opstate_set_mode,
};

void sluice_keyed_provider_config_init(sluice_keyed_provider_config *c)
{
	memset(c, 0, sizeof(*c));
	c->version = SLUICE_KEYED_PROVIDER_CONFIG_VERSION;
	sluice_keyed_options_init(&c->keyed);
	sluice_rocksdb_options_init(&c->rocksdb);
}

int sluice_keyed_provider_config_from_config(
	sluice_keyed_provider_config *c, const sluice_config *conf)
{
	sluice_keyed_provider_config_init(c);
	SLUICE_ERRCHECK(sluice_keyed_options_from_config(&c->keyed, conf));
	return sluice_rocksdb_options_from_config(&c->rocksdb, conf);
}

/* Keyed options of one subtask from the shared configuration. */
static int subtask_options(
	sluice_keyed_options *o,
	sluice_rocksdb_options *ro,
	const sluice_keyed_provider_config *c,
	const sluice_state_provider_info *info)
{
	if (c && c->version != SLUICE_KEYED_PROVIDER_CONFIG_VERSION)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"keyed provider config: unknown version %d",
			c->version);
	if (c) {
		*o = c->keyed;
		*ro = c->rocksdb;
	} else {
		sluice_keyed_options_init(o);
		sluice_rocksdb_options_init(ro);
	}
	o->parallelism = info->parallelism;
	o->max_parallelism = info->max_parallelism;
	o->subtask = info->subtask;
	o->clock = info->clock;
	if (!o->factory && o->backend && !strcmp(o->backend, "rocksdb")) {
		ro->max_parallelism = info->max_parallelism;
		ro->clock = info->clock;
		o->factory = sluice_backend_rocksdb_new;
		o->factory_ctx = ro;
	}
	return 0;
}

int sluice_keyed_state_provider_factory(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg)
{
	sluice_keyed_options o;
	keyed_provider *k;
	int32_t start, end;
	int rc;

	*out = NULL;
	if (!(k = sluice__calloc(1, sizeof(*k))))
		return sluice__error_oom();
	k->base = keyed_provider_base;
	if ((rc = subtask_options(&o, &k->ro, arg, info)) < 0 ||
	    (rc = sluice_keyed_backend_new(&k->kb, &o)) < 0 ||
	    (rc = sluice_operator_state_new(&k->ops)) < 0)
		goto fail;
	sluice_keyed_backend_range(k->kb, &start, &end);
	if (start != info->key_group_start || end != info->key_group_end) {
		rc = sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state of '%s' subtask %d: backend key groups %d-%d, "
			"runtime routes %d-%d",
			info->uid, (int)info->subtask, (int)start, (int)end,
			(int)info->key_group_start, (int)info->key_group_end);
		goto fail;
	}
	*out = &k->base;
	return 0;
fail:
	kp_free(&k->base);
	return rc;
}
