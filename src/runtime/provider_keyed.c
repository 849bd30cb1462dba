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
 *  - incremental (`rocksdb` with execution.checkpointing.incremental, a
 *    checkpoint -- never a savepoint -- written through a stream
 *    factory, at least one keyed state): snapshot_sync is the backend's
 *    native RocksDB checkpoint (sluice_rocksdb_snapshot_sync) plus the
 *    provider's state meta data (names, kinds, TTL); the async phase
 *    uploads the SSTs not confirmed by an earlier completed checkpoint to
 *    the shared scope and references the rest (sluice_incremental_handle);
 *    the coordinator registers them with the shared-state registry.
 *    notify complete / aborted move the backend's base.  A failed upload
 *    deletes the files it uploaded through the stream factory's discard
 *    (when the factory has one; sluice_run's does).
 *  - incremental restore: the fresh backend is replaced by one restored
 *    from the handles (parallel download or hard links, rescaling merge
 *    and clip to the key-group range), and the states of the handles'
 *    meta data are registered again; a TTL switched on or off since is
 *    EINVALID, as are incremental handles with the hashmap backend
 *    (native snapshots do not move between backends: use a savepoint)
 *    or mixed with canonical keyed handles.
 *
 * Edge cases tested (tests/unit/test_runtime_provider.c): exact counts
 * after fail and restart on file storage with both backends; rescaled
 * restore 2→3 and 3→1; SPLIT and UNION redistribution at a new
 * parallelism (also several handles of one old subtask, and union state
 * set by operators); value get of an absent key is SLUICE_ENOTFOUND;
 * snapshot isolation; a foreign key is refused; a damaged stream is
 * SLUICE_ECORRUPT; every allocation failure is SLUICE_ENOMEM.
 * Incremental checkpoints through jobs (tests/unit/test_rocksdb_jobs.c):
 * only new files uploaded, retention, restore after compaction, rescale
 * 2->3 and 3->1, savepoint portability, refusals above.
 */
#include <string.h>

#include "sluice/config.h"
#include "sluice/sys/runtime.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

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
	sluice_keyed_options ko;   /* to make the backend again on restore */
	sluice_backend *engine;    /* the rocksdb engine under kb, or NULL */
	int incremental;           /* execution.checkpointing.incremental */
	char *uid;                 /* for messages */
	int32_t subtask;
} keyed_provider;

typedef struct keyed_snap {
	const sluice_stream_factory *streams; /* NULL: memory streams */
	int64_t id;
	sluice_keyed_snapshot *keyed;
	sluice_operator_state *ops;   /* NULL: no operator state */
	sluice_rocksdb_snapshot *rdb; /* incremental: native checkpoint */
	sluice_buf meta;              /* incremental: state meta data */
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
	sluice_rocksdb_snapshot_free(s->rdb);
	sluice_buf_release(&s->meta);
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

/* ---- incremental snapshots ----------------------------------------- */

#define META_MAGIC   0x534c4b4du /* "SLKM" */
#define META_VERSION 1

/*
 * The provider's state meta data, the metadata stream of an incremental
 * handle: u32 magic, u8 version, u32 n, n x (str16 name, u8 kind, u8 TTL
 * on, i64 TTL ms); its checksum is the stream handle's.
 */
static int meta_encode(keyed_provider *k, sluice_buf *b)
{
	size_t i;
	int rc;

	if ((rc = sluice_buf_put_u32(b, META_MAGIC)) < 0 ||
	    (rc = sluice_buf_put_u8(b, META_VERSION)) < 0 ||
	    (rc = sluice_buf_put_u32(b, (uint32_t)k->num_states)) < 0)
		return rc;
	for (i = 0; i < k->num_states && rc >= 0; i++)
		if ((rc = sluice_buf_put_str16(b, k->states[i].name)) < 0 ||
		    (rc = sluice_buf_put_u8(b, SLUICE_STATE_VALUE)) < 0 ||
		    (rc = sluice_buf_put_u8(b, k->ko.default_ttl_ms > 0)) < 0 ||
		    (rc = sluice_buf_put_u64(
			     b, (uint64_t)k->ko.default_ttl_ms)) < 0)
			return rc;
	return 0;
}

static int incremental_sync(keyed_provider *k, keyed_snap *s)
{
	int32_t start, end;

	sluice_keyed_backend_range(k->kb, &start, &end);
	SLUICE_ERRCHECK(meta_encode(k, &s->meta));
	return sluice_rocksdb_snapshot_sync(
		&s->rdb, k->engine, s->id, SLUICE_ROCKSDB_CHECKPOINT, start,
		end - start + 1);
}

typedef struct upload_ctx {
	const sluice_stream_factory *streams;
	int64_t id;
} upload_ctx;

static int
up_open_output(void *ctx, int shared, const char *name, sluice_ostream **out)
{
	upload_ctx *u = ctx;

	(void)name; /* storage picks unique names */
	return u->streams->open(
		u->streams->ctx, u->id,
		shared ? SLUICE_SCOPE_SHARED : SLUICE_SCOPE_EXCLUSIVE, out);
}

static void up_discard(void *ctx, const sluice_stream_handle *h)
{
	upload_ctx *u = ctx;

	if (u->streams->discard)
		u->streams->discard(u->streams->ctx, h);
}

static int
up_open_input(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	return sluice_open_inline(NULL, h, out);
}

static int incremental_async(keyed_snap *s, sluice_incremental_handle **out)
{
	upload_ctx u = {s->streams, s->id};
	sluice_rocksdb_transfer t;

	memset(&t, 0, sizeof(t));
	t.ctx = &u;
	t.open_output = up_open_output;
	t.open_input = up_open_input;
	t.discard = up_discard;
	return sluice_rocksdb_snapshot_upload(
		out, s->rdb, &t, SLUICE_SLICE(s->meta.ptr, s->meta.len));
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
	s->meta = (sluice_buf)SLUICE_BUF_INIT;
	if (k->engine && k->incremental && s->streams && !opts->savepoint &&
	    k->num_states)
		rc = incremental_sync(k, s);
	else
		rc = sluice_keyed_snapshot_sync(&s->keyed, k->kb);
	if (rc < 0 || (rc = copy_ops(k, &s->ops)) < 0) {
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

static int kp_snapshot_async_incremental(
	sluice_state_provider *p,
	void *snap,
	sluice_keyed_handle **keyed,
	sluice_opstate_handle **opstate,
	sluice_incremental_handle **inc)
{
	keyed_snap *s = snap;
	sluice_ostream *os;
	int rc = 0;

	(void)p;
	*keyed = NULL;
	*opstate = NULL;
	*inc = NULL;
	if (s->rdb)
		rc = incremental_async(s, inc);
	else if ((rc = open_ostream(s, "keyed", &os)) >= 0)
		rc = sluice_keyed_snapshot_write(s->keyed, os, keyed);
	if (rc >= 0 && s->ops && (rc = open_ostream(s, "opstate", &os)) >= 0)
		rc = sluice_operator_state_snapshot(s->ops, os, opstate);
	if (rc < 0) {
		sluice_keyed_handle_free(*keyed);
		sluice_incremental_handle_free(*inc);
		*keyed = NULL;
		*inc = NULL;
	}
	snap_free(s);
	return rc;
}

/* Canonical only: the incremental variant is what the runtime calls. */
static int kp_snapshot_async(
	sluice_state_provider *p,
	void *snap,
	sluice_keyed_handle **keyed,
	sluice_opstate_handle **opstate)
{
	sluice_incremental_handle *inc = NULL;
	int rc = kp_snapshot_async_incremental(p, snap, keyed, opstate, &inc);

	if (rc >= 0 && inc) {
		sluice_incremental_handle_free(inc);
		sluice_keyed_handle_free(*keyed);
		sluice_opstate_handle_free(*opstate);
		*keyed = NULL;
		*opstate = NULL;
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_STATE,
			"incremental snapshot: the caller must use "
			"snapshot_async_incremental");
	}
	return rc;
}

static void kp_snapshot_discard(sluice_state_provider *p, void *snap)
{
	(void)p;
	snap_free(snap);
}

/* Incremental: the backend's base moves to confirmed uploads only. */
static void kp_notify_complete(sluice_state_provider *p, int64_t id)
{
	if (KP(p)->engine)
		sluice_rocksdb_notify_complete(KP(p)->engine, id);
}

static void kp_notify_aborted(sluice_state_provider *p, int64_t id)
{
	if (KP(p)->engine)
		sluice_rocksdb_notify_aborted(KP(p)->engine, id);
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

/* The bytes of meta stream `h`, verified (size and checksum). */
static int meta_read(
	const sluice_subtask_restore *r,
	const sluice_stream_handle *h,
	uint8_t **data,
	size_t *len)
{
	*data = NULL;
	*len = 0;
	if (h->kind != SLUICE_HANDLE_INLINE && !r->storage)
		return sluice__error_set(
			SLUICE_EUNSUPPORTED, SLUICE_ERRCLS_STATE,
			"state handle '%s': no storage to read it from",
			h->path ? h->path : "?");
	if (h->kind != SLUICE_HANDLE_INLINE)
		return sluice_handle_read(data, len, r->storage, r->dir, h);
	if (sluice__xxh3(h->data, (size_t)h->size) != h->checksum)
		return sluice__error_set(
			SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
			"state meta data '%s': checksum mismatch",
			h->path ? h->path : "inline");
	if (!(*data = sluice__memdup(h->data, h->size ? h->size : 1)))
		return sluice__error_oom();
	*len = (size_t)h->size;
	return 0;
}

static int meta_bad(const sluice_incremental_handle *h, const char *what)
{
	return sluice__error_set(
		SLUICE_ECORRUPT, SLUICE_ERRCLS_STATE,
		"state meta data of checkpoint %lld (key groups %d+%d): %s",
		(long long)h->checkpoint_id, (int)h->start_key_group,
		(int)h->num_key_groups, what);
}

/* One restored state: registered again, its TTL layout checked. */
static int meta_state(keyed_provider *k, sluice_reader *rd)
{
	sluice_slice name = sluice_reader_str16(rd);
	uint8_t kind = sluice_reader_u8(rd), ttl_on = sluice_reader_u8(rd);
	sluice_state *st;
	char *n;
	int rc;

	(void)sluice_reader_u64(rd);
	if (rd->failed || kind != SLUICE_STATE_VALUE || !name.len)
		return SLUICE_ECORRUPT;
	if (!(n = sluice__strndup(name.data, name.len)))
		return sluice__error_oom();
	if ((ttl_on != 0) != (k->ko.default_ttl_ms > 0))
		rc = sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state '%s': TTL %s in the snapshot but %s now "
			"(incompatible serialized layout)",
			n, ttl_on ? "enabled" : "disabled",
			ttl_on ? "disabled" : "enabled");
	else
		rc = value_state(k, n, &st);
	sluice__free(n);
	return rc;
}

/* Register the states of every handle's meta data. */
static int meta_apply(
	keyed_provider *k,
	const sluice_subtask_restore *r,
	const sluice_incremental_handle *h)
{
	sluice_reader rd;
	uint8_t *data;
	size_t len;
	uint32_t n, i;
	int rc;

	if (!h->metadata)
		return meta_bad(h, "missing");
	SLUICE_ERRCHECK(meta_read(r, h->metadata, &data, &len));
	sluice_reader_init(&rd, data, len);
	rc = sluice_reader_u32(&rd) == META_MAGIC &&
			     sluice_reader_u8(&rd) == META_VERSION
		     ? 0
		     : SLUICE_ECORRUPT;
	n = sluice_reader_u32(&rd);
	for (i = 0; rc >= 0 && !rd.failed && i < n; i++)
		rc = meta_state(k, &rd);
	if (rc == SLUICE_ECORRUPT || (rc >= 0 && (rd.failed || rd.pos != len)))
		rc = meta_bad(h, "not a state meta data stream");
	sluice__free(data);
	return rc;
}

static int restore_check(keyed_provider *k, const sluice_subtask_restore *r)
{
	if (!k->engine)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state of '%s' subtask %d: the checkpoint holds "
			"incremental rocksdb snapshots, which only the rocksdb "
			"backend restores (state.backend.type: rocksdb; take "
			"a savepoint to change backends)",
			k->uid, (int)k->subtask);
	if (r->num_keyed || k->num_states)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"state of '%s' subtask %d: incremental and canonical "
			"keyed state cannot be restored together",
			k->uid, (int)k->subtask);
	return 0;
}

/*
 * Replace the fresh backend by one restored from the incremental handles
 * (downloads through the restore's storage; local files hard-linked),
 * then register their states.
 */
static int
restore_incremental(keyed_provider *k, const sluice_subtask_restore *r)
{
	sluice_rocksdb_storage_ctx sc = {NULL, r->storage, r->dir};
	sluice_rocksdb_transfer t;
	sluice_keyed_backend *kb = NULL;
	size_t i;
	int rc;

	SLUICE_ERRCHECK(restore_check(k, r));
	sluice_rocksdb_transfer_storage(&t, &sc);
	if (!r->storage) {
		t.ctx = (void *)r;
		t.open_input = open_handle;
		t.discard = NULL;
		t.local_path = NULL;
	}
	sluice_keyed_backend_range(
		k->kb, &k->ro.restore_start, &k->ro.restore_end);
	k->ro.restore = (sluice_incremental_handle *const *)r->incremental;
	k->ro.num_restore = r->num_incremental;
	k->ro.transfer = &t;
	k->engine = NULL;
	rc = sluice_keyed_backend_new(&kb, &k->ko);
	k->ro.restore = NULL;
	k->ro.num_restore = 0;
	k->ro.transfer = NULL;
	if (rc < 0)
		return rc; /* the old backend stays; the provider is freed */
	sluice_keyed_backend_free(k->kb);
	k->kb = kb;
	for (i = 0; i < r->num_incremental; i++)
		SLUICE_ERRCHECK(meta_apply(k, r, r->incremental[i]));
	return 0;
}

static int kp_restore(sluice_state_provider *p, const sluice_subtask_restore *r)
{
	keyed_provider *k = KP(p);
	size_t i, j;

	if (r->num_incremental)
		SLUICE_ERRCHECK(restore_incremental(k, r));
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
	sluice__free(k->uid);
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
	.notify_complete = kp_notify_complete,
	.notify_aborted = kp_notify_aborted,
	.free = kp_free,
	.opstate_set_mode = kp_opstate_set_mode,
	.snapshot_async_incremental = kp_snapshot_async_incremental,
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
	SLUICE_ERRCHECK(sluice_config_get_bool(
		conf, "execution.checkpointing.incremental", &c->incremental));
	return sluice_rocksdb_options_from_config(&c->rocksdb, conf);
}

/* The rocksdb factory, remembering the engine for incremental snapshots
 * (ctx: the provider, whose `ro` are the options). */
static int rocksdb_factory(sluice_backend **out, void *ctx)
{
	keyed_provider *k = ctx;

	SLUICE_ERRCHECK(sluice_backend_rocksdb_new(out, &k->ro));
	k->engine = *out;
	return 0;
}

/* Keyed options of one subtask from the shared configuration. */
static int subtask_options(
	keyed_provider *k,
	const sluice_keyed_provider_config *c,
	const sluice_state_provider_info *info)
{
	sluice_keyed_options *o = &k->ko;
	sluice_rocksdb_options *ro = &k->ro;

	if (c && c->version != SLUICE_KEYED_PROVIDER_CONFIG_VERSION)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"keyed provider config: unknown version %d",
			c->version);
	if (!(k->uid = sluice__strdup(info->uid ? info->uid : "")))
		return sluice__error_oom();
	k->subtask = info->subtask;
	if (c) {
		*o = c->keyed;
		*ro = c->rocksdb;
		k->incremental = c->incremental;
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
		o->factory = rocksdb_factory;
		o->factory_ctx = k;
	}
	return 0;
}

int sluice_keyed_state_provider_factory(
	sluice_state_provider **out,
	const sluice_state_provider_info *info,
	void *arg)
{
	keyed_provider *k;
	int32_t start, end;
	int rc;

	*out = NULL;
	if (!(k = sluice__calloc(1, sizeof(*k))))
		return sluice__error_oom();
	k->base = keyed_provider_base;
	if ((rc = subtask_options(k, arg, info)) < 0 ||
	    (rc = sluice_keyed_backend_new(&k->kb, &k->ko)) < 0 ||
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
