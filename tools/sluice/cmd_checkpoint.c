/*
 * sluice checkpoint: look at checkpoints on storage without running a job.
 *   list DIR            completed checkpoints and savepoints under DIR
 *   inspect PATH [--json]  everything `_metadata` says
 *   verify PATH         every referenced file exists with its size/checksum
 *   gc DIR [--dry-run]  delete files no readable checkpoint refers to
 * All reading goes through the library (sys/metadata.h); this file only
 * formats and prints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "cmd.h"
#include "sluice/config.h"
#include "sluice/sluice.h"
#include "sluice/sys/metadata.h"
#include "sluice/sys/storage.h"

static const char *kind_name(sluice_snapshot_kind k)
{
	switch (k) {
	case SLUICE_SNAPSHOT_CHECKPOINT:
		return "checkpoint";
	case SLUICE_SNAPSHOT_SAVEPOINT:
		return "savepoint";
	case SLUICE_SNAPSHOT_SYNC_SAVEPOINT:
		return "stop-savepoint";
	case SLUICE_SNAPSHOT_FULL_CHECKPOINT:
		return "full-checkpoint";
	}
	return "?";
}

static const char *handle_kind(sluice_handle_kind k)
{
	switch (k) {
	case SLUICE_HANDLE_INLINE:
		return "inline";
	case SLUICE_HANDLE_FILE:
		return "file";
	case SLUICE_HANDLE_RELATIVE:
		return "relative";
	case SLUICE_HANDLE_PLACEHOLDER:
		return "placeholder";
	}
	return "?";
}

static const char *retention_name(sluice_retention r)
{
	switch (r) {
	case SLUICE_RETAIN_NONE:
		return "NO_EXTERNALIZED_CHECKPOINTS";
	case SLUICE_RETAIN_DELETE_ON_CANCELLATION:
		return "DELETE_ON_CANCELLATION";
	case SLUICE_RETAIN_ON_CANCELLATION:
		return "RETAIN_ON_CANCELLATION";
	}
	return "?";
}

static void fmt_time(char *buf, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm)) {
		snprintf(buf, n, "-");
		return;
	}
	snprintf(
		buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

typedef struct totals {
	uint64_t bytes, inline_bytes;
	unsigned files;
} totals;

static int add_total(const sluice_stream_handle *h, int shared, void *ctx)
{
	totals *t = ctx;

	(void)shared;
	t->bytes += h->size;
	if (h->kind == SLUICE_HANDLE_INLINE)
		t->inline_bytes += h->size;
	else if (h->kind != SLUICE_HANDLE_PLACEHOLDER)
		t->files++;
	return 0;
}

static int open_storage(sluice_storage **st, const char *path)
{
	if (sluice_storage_for_uri(st, path) < 0) {
		cli_error_last(path);
		return EXIT_USAGE;
	}
	return 0;
}

/* A directory argument must exist (listing a missing one finds nothing). */
static int open_dir(sluice_storage **st, const char *dir)
{
	int rc = open_storage(st, dir), is_dir = 0;

	if (rc)
		return rc;
	rc = sluice_storage_stat(*st, dir, NULL, &is_dir);
	if (rc < 0 && rc != SLUICE_ENOTFOUND) {
		cli_error_last(dir); /* I/O: unreachable storage, credentials */
		return EXIT_FAIL;
	}
	if (rc < 0 || !is_dir) {
		cli_error("%s: not a directory", dir);
		return EXIT_FAIL;
	}
	return 0;
}

/* ---- list ---- */

typedef struct found {
	char **paths;
	size_t n, cap;
} found;

static int collect_metadata(const char *path, uint64_t size, void *ctx)
{
	found *f = ctx;
	size_t len = strlen(path), ml = strlen("/" SLUICE_METADATA_FILE);

	(void)size;
	if (len < ml || strcmp(path + len - ml, "/" SLUICE_METADATA_FILE))
		return 0;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		char **p = realloc(f->paths, cap * sizeof(*p));
		if (!p)
			return SLUICE_ENOMEM;
		f->paths = p;
		f->cap = cap;
	}
	if (!(f->paths[f->n] = strdup(path)))
		return SLUICE_ENOMEM;
	f->n++;
	return 0;
}

static void found_free(found *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->paths[i]);
	free(f->paths);
}

typedef struct row {
	sluice_checkpoint_meta *m;
	char *dir;
} row;

static int by_id(const void *a, const void *b)
{
	const row *x = a, *y = b;

	if (x->m->checkpoint_id != y->m->checkpoint_id)
		return x->m->checkpoint_id < y->m->checkpoint_id ? -1 : 1;
	return strcmp(x->dir, y->dir);
}

/*
 * Load every `_metadata` under `dir`; unreadable ones are reported and
 * counted in `*unreadable` (may be NULL).
 */
static int load_all(
	sluice_storage *st,
	const char *dir,
	row **rows,
	size_t *n,
	int quiet,
	size_t *unreadable)
{
	found f = {NULL, 0, 0};
	size_t i;
	int rc;

	*rows = NULL;
	*n = 0;
	if ((rc = sluice_storage_list(st, dir, collect_metadata, &f)) < 0) {
		cli_error_last(dir);
		found_free(&f);
		return EXIT_FAIL;
	}
	*rows = calloc(f.n ? f.n : 1, sizeof(**rows));
	for (i = 0; *rows && i < f.n; i++) {
		row *r = &(*rows)[*n];
		if (sluice_checkpoint_load(&r->m, &r->dir, st, f.paths[i]) <
		    0) {
			if (!quiet)
				cli_error(
					"skipping unreadable checkpoint: %s",
					sluice_error_last()->message);
			if (unreadable)
				(*unreadable)++;
			continue;
		}
		(*n)++;
	}
	found_free(&f);
	if (!*rows)
		return EXIT_FAIL;
	qsort(*rows, *n, sizeof(**rows), by_id);
	return 0;
}

static void rows_free(row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		sluice_checkpoint_meta_free(rows[i].m);
		sluice_free_bytes(rows[i].dir);
	}
	free(rows);
}

static int do_list(int argc, char **argv)
{
	sluice_storage *st;
	row *rows;
	size_t n, i;
	int rc;

	if (argc != 2) {
		cli_error("usage: sluice checkpoint list DIR");
		return EXIT_USAGE;
	}
	if ((rc = open_dir(&st, argv[1])) ||
	    (rc = load_all(st, argv[1], &rows, &n, 0, NULL)))
		return rc;
	printf("%-8s %-24s %-15s %12s %6s %12s  %s\n", "ID", "COMPLETED",
	       "KIND", "BYTES", "FILES", "INLINE", "PATH");
	for (i = 0; i < n; i++) {
		totals t = {0, 0, 0};
		char when[40];
		sluice_checkpoint_meta_each_handle(rows[i].m, add_total, &t);
		fmt_time(when, sizeof(when), rows[i].m->complete_ms);
		printf("%-8" PRId64 " %-24s %-15s %12" PRIu64 " %6u %12" PRIu64
		       "  %s\n",
		       rows[i].m->checkpoint_id, when,
		       kind_name(rows[i].m->props.kind), t.bytes, t.files,
		       t.inline_bytes, rows[i].dir);
	}
	rows_free(rows, n);
	return 0;
}

/* ---- inspect ---- */

static cJSON *json_handle(const sluice_stream_handle *h)
{
	cJSON *o = cJSON_CreateObject();
	char sum[20];

	if (!h)
		return cJSON_CreateNull();
	snprintf(sum, sizeof(sum), "%016" PRIx64, h->checksum);
	cJSON_AddStringToObject(o, "kind", handle_kind(h->kind));
	cJSON_AddStringToObject(o, "path", h->path ? h->path : "");
	cJSON_AddNumberToObject(o, "size", (double)h->size);
	cJSON_AddStringToObject(o, "checksum", sum);
	return o;
}

static cJSON *json_files(const sluice_incremental_file *f, uint32_t n)
{
	cJSON *arr = cJSON_CreateArray(), *e;
	uint32_t i;

	for (i = 0; i < n; i++) {
		e = json_handle(f[i].handle);
		cJSON_AddStringToObject(e, "name", f[i].name);
		cJSON_AddItemToArray(arr, e);
	}
	return arr;
}

/* An incremental (RocksDB native) keyed handle. */
static cJSON *json_incremental(const sluice_incremental_handle *h)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "backend_id", h->backend_id);
	cJSON_AddNumberToObject(e, "checkpoint_id", (double)h->checkpoint_id);
	cJSON_AddNumberToObject(e, "start_key_group", h->start_key_group);
	cJSON_AddNumberToObject(e, "num_key_groups", h->num_key_groups);
	cJSON_AddNumberToObject(
		e, "checkpointed_size", (double)h->checkpointed_size);
	cJSON_AddItemToObject(e, "metadata", json_handle(h->metadata));
	cJSON_AddItemToObject(
		e, "shared_files", json_files(h->shared_files, h->num_shared));
	cJSON_AddItemToObject(
		e, "private_files",
		json_files(h->private_files, h->num_private));
	return e;
}

static cJSON *json_subtask(const sluice_subtask_state *s)
{
	cJSON *o = cJSON_CreateObject(), *arr, *e;
	uint32_t i, j;

	cJSON_AddNumberToObject(o, "index", s->index);
	cJSON_AddBoolToObject(o, "finished", s->finished);
	arr = cJSON_AddArrayToObject(o, "keyed");
	for (i = 0; i < s->num_keyed; i++) {
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(
			e, "start_key_group", s->keyed[i]->start_key_group);
		cJSON_AddNumberToObject(
			e, "num_key_groups", s->keyed[i]->num_key_groups);
		cJSON_AddItemToObject(
			e, "stream", json_handle(s->keyed[i]->stream));
		cJSON_AddItemToArray(arr, e);
	}
	arr = cJSON_AddArrayToObject(o, "incremental");
	for (i = 0; i < s->num_incremental; i++)
		cJSON_AddItemToArray(arr, json_incremental(s->incremental[i]));
	arr = cJSON_AddArrayToObject(o, "operator_state");
	for (i = 0; i < s->num_opstate; i++) {
		cJSON *names = cJSON_CreateArray();
		e = cJSON_CreateObject();
		for (j = 0; j < s->opstate[i]->num_states; j++)
			cJSON_AddItemToArray(
				names, cJSON_CreateString(
					       s->opstate[i]->states[j].name));
		cJSON_AddItemToObject(e, "states", names);
		cJSON_AddItemToObject(
			e, "stream", json_handle(s->opstate[i]->stream));
		cJSON_AddItemToArray(arr, e);
	}
	arr = cJSON_AddArrayToObject(o, "shared");
	for (i = 0; i < s->num_shared; i++) {
		e = json_handle(s->shared[i].handle);
		cJSON_AddStringToObject(e, "key", s->shared[i].key);
		cJSON_AddItemToArray(arr, e);
	}
	arr = cJSON_AddArrayToObject(o, "sections");
	for (i = 0; i < s->num_ext; i++) {
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "tag", s->ext[i].tag);
		cJSON_AddNumberToObject(e, "bytes", s->ext[i].len);
		cJSON_AddItemToArray(arr, e);
	}
	return o;
}

static int print_json(const sluice_checkpoint_meta *m, const char *dir)
{
	cJSON *root = cJSON_CreateObject(), *ops, *op, *subs;
	totals t = {0, 0, 0};
	uint32_t i, j;
	char *text;

	sluice_checkpoint_meta_each_handle(m, add_total, &t);
	cJSON_AddNumberToObject(
		root, "checkpoint_id", (double)m->checkpoint_id);
	cJSON_AddStringToObject(root, "directory", dir);
	cJSON_AddStringToObject(root, "job_id", m->job_id);
	cJSON_AddNumberToObject(root, "trigger_ms", (double)m->trigger_ms);
	cJSON_AddNumberToObject(root, "complete_ms", (double)m->complete_ms);
	cJSON_AddStringToObject(root, "kind", kind_name(m->props.kind));
	cJSON_AddStringToObject(
		root, "format",
		m->props.format == SLUICE_FORMAT_NATIVE ? "native"
							: "canonical");
	cJSON_AddStringToObject(
		root, "retention", retention_name(m->props.retention));
	cJSON_AddNumberToObject(root, "state_bytes", (double)t.bytes);
	cJSON_AddNumberToObject(root, "inline_bytes", (double)t.inline_bytes);
	cJSON_AddNumberToObject(root, "files", t.files);
	ops = cJSON_AddArrayToObject(root, "operators");
	for (i = 0; i < m->num_operators; i++) {
		const sluice_operator_state *o = &m->operators[i];
		op = cJSON_CreateObject();
		cJSON_AddStringToObject(op, "uid", o->uid);
		cJSON_AddStringToObject(op, "name", o->name);
		cJSON_AddNumberToObject(op, "parallelism", o->parallelism);
		cJSON_AddNumberToObject(
			op, "max_parallelism", o->max_parallelism);
		subs = cJSON_AddArrayToObject(op, "subtasks");
		for (j = 0; j < o->num_subtasks; j++)
			cJSON_AddItemToArray(
				subs, json_subtask(&o->subtasks[j]));
		cJSON_AddItemToArray(ops, op);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

static void print_handle(
	const char *indent, const char *what, const sluice_stream_handle *h)
{
	if (!h) {
		printf("%s%s: (none)\n", indent, what);
		return;
	}
	printf("%s%s: %s %s, %" PRIu64 " bytes, xxh3 %016" PRIx64 "\n", indent,
	       what, handle_kind(h->kind), h->path ? h->path : "", h->size,
	       h->checksum);
}

/* An incremental handle: range, sizes, then each file by local name. */
static void print_incremental(const sluice_incremental_handle *h)
{
	uint32_t i;
	char what[300];

	printf("      incremental (rocksdb %s, checkpoint %" PRId64
	       ") groups %d..%d: %u shared + %u private files, %" PRIu64
	       " bytes new\n",
	       h->backend_id, h->checkpoint_id, h->start_key_group,
	       h->start_key_group + h->num_key_groups - 1, h->num_shared,
	       h->num_private, h->checkpointed_size);
	print_handle("        ", "state meta data", h->metadata);
	for (i = 0; i < h->num_shared; i++) {
		snprintf(
			what, sizeof(what), "shared %s",
			h->shared_files[i].name);
		print_handle("        ", what, h->shared_files[i].handle);
	}
	for (i = 0; i < h->num_private; i++) {
		snprintf(
			what, sizeof(what), "private %s",
			h->private_files[i].name);
		print_handle("        ", what, h->private_files[i].handle);
	}
}

static void print_subtask(const sluice_subtask_state *s)
{
	uint32_t i;

	printf("    subtask %d%s\n", s->index,
	       s->finished ? " (finished)" : "");
	for (i = 0; i < s->num_keyed; i++) {
		char what[64];
		snprintf(
			what, sizeof(what), "keyed groups %d..%d",
			s->keyed[i]->start_key_group,
			s->keyed[i]->start_key_group +
				s->keyed[i]->num_key_groups - 1);
		print_handle("      ", what, s->keyed[i]->stream);
	}
	for (i = 0; i < s->num_incremental; i++)
		print_incremental(s->incremental[i]);
	for (i = 0; i < s->num_opstate; i++) {
		char what[64];
		snprintf(
			what, sizeof(what), "operator state (%u states)",
			s->opstate[i]->num_states);
		print_handle("      ", what, s->opstate[i]->stream);
	}
	if (s->num_incremental) /* the same files as listed above */
		printf("      %u shared references (the shared files above)\n",
		       s->num_shared);
	for (i = 0; !s->num_incremental && i < s->num_shared; i++) {
		char what[300];
		snprintf(what, sizeof(what), "shared %s", s->shared[i].key);
		print_handle("      ", what, s->shared[i].handle);
	}
	for (i = 0; i < s->num_ext; i++)
		printf("      section %u: %u bytes\n", s->ext[i].tag,
		       s->ext[i].len);
}

static void print_text(const sluice_checkpoint_meta *m, const char *dir)
{
	totals t = {0, 0, 0};
	char trig[40], done[40];
	uint32_t i, j;

	sluice_checkpoint_meta_each_handle(m, add_total, &t);
	fmt_time(trig, sizeof(trig), m->trigger_ms);
	fmt_time(done, sizeof(done), m->complete_ms);
	printf("checkpoint %" PRId64 " (%s, %s format)\n", m->checkpoint_id,
	       kind_name(m->props.kind),
	       m->props.format == SLUICE_FORMAT_NATIVE ? "native"
						       : "canonical");
	printf("  directory:  %s\n  job:        %s\n  triggered:  %s\n  "
	       "completed:  %s\n",
	       dir, m->job_id[0] ? m->job_id : "-", trig, done);
	printf("  retention:  %s\n", retention_name(m->props.retention));
	printf("  state:      %" PRIu64 " bytes in %u files, %" PRIu64
	       " bytes inline\n",
	       t.bytes, t.files, t.inline_bytes);
	for (i = 0; i < m->num_operators; i++) {
		const sluice_operator_state *o = &m->operators[i];
		printf("  operator %s%s%s%s parallelism %d, max parallelism "
		       "%d\n",
		       o->uid, o->name[0] ? " (" : "", o->name,
		       o->name[0] ? ")" : "", o->parallelism,
		       o->max_parallelism);
		for (j = 0; j < o->num_subtasks; j++)
			print_subtask(&o->subtasks[j]);
	}
}

static int do_inspect(int argc, char **argv)
{
	sluice_checkpoint_meta *m;
	sluice_storage *st;
	const char *path = NULL;
	int json = 0, i, rc;
	char *dir;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!path)
			path = argv[i];
		else
			path = NULL, i = argc + 1;
	}
	if (!path || i > argc) {
		cli_error("usage: sluice checkpoint inspect PATH [--json]");
		return EXIT_USAGE;
	}
	if ((rc = open_storage(&st, path)))
		return rc;
	if (sluice_checkpoint_load(&m, &dir, st, path) < 0) {
		cli_error_last(NULL);
		return EXIT_FAIL;
	}
	if (json)
		rc = print_json(m, dir);
	else
		print_text(m, dir);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	return rc;
}

/* ---- verify ---- */

static void print_problem(const char *problem, void *ctx)
{
	++*(int *)ctx;
	printf("%s\n", problem);
}

static int do_verify(int argc, char **argv)
{
	sluice_checkpoint_meta *m;
	sluice_storage *st;
	int problems = 0, rc;
	char *dir;

	if (argc != 2) {
		cli_error("usage: sluice checkpoint verify PATH");
		return EXIT_USAGE;
	}
	if ((rc = open_storage(&st, argv[1])))
		return rc;
	if (sluice_checkpoint_load(&m, &dir, st, argv[1]) < 0) {
		printf("%s\n", sluice_error_last()->message);
		return EXIT_FAIL;
	}
	rc = sluice_checkpoint_verify(st, dir, m, print_problem, &problems);
	if (rc == 0)
		printf("checkpoint %" PRId64 " at %s: ok\n", m->checkpoint_id,
		       dir);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(dir);
	return rc == 0 ? 0 : EXIT_FAIL;
}

/* ---- gc ---- */

typedef struct gcset {
	char **keep;
	size_t n, cap;
	int placeholders;
	const char *dir; /* of the checkpoint being collected */
} gcset;

static int keep_path(gcset *g, char *path)
{
	if (!path)
		return SLUICE_ENOMEM;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		char **p = realloc(g->keep, cap * sizeof(*p));
		if (!p) {
			free(path);
			return SLUICE_ENOMEM;
		}
		g->keep = p;
		g->cap = cap;
	}
	g->keep[g->n++] = path;
	return 0;
}

static int keep_handle(const sluice_stream_handle *h, int shared, void *ctx)
{
	gcset *g = ctx;
	char *loc, *copy;

	(void)shared;
	if (h->kind == SLUICE_HANDLE_PLACEHOLDER)
		g->placeholders = 1;
	if (h->kind != SLUICE_HANDLE_FILE && h->kind != SLUICE_HANDLE_RELATIVE)
		return 0;
	if (sluice_handle_location(&loc, g->dir, h) < 0)
		return SLUICE_ENOMEM;
	copy = strdup(loc);
	sluice_free_bytes(loc);
	return keep_path(g, copy);
}

/* Compare paths ignoring a leading file:// on either side. */
static const char *plain(const char *p)
{
	return strncmp(p, "file://", 7) ? p : p + 7;
}

typedef struct gcrun {
	gcset *g;
	sluice_storage *st;
	int dry;
	unsigned files;
	uint64_t bytes;
	int failed;
	gcset doomed; /* files to delete, in one batched delete */
	uint64_t *sizes;
} gcrun;

static int kept(const gcset *g, const char *path)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (!strcmp(plain(g->keep[i]), plain(path)))
			return 1;
	return 0;
}

static int gc_file(const char *path, uint64_t size, void *ctx)
{
	gcrun *r = ctx;
	uint64_t *sz;

	const char *base = strrchr(path, '/');

	/* .control/: a running job's control channel (docs/run.md);
	 * _job_result: the record that the job finished (docs/format.md) */
	if (strstr(path, "/taskowned/") || strstr(path, "/.control/") ||
	    (base && !strcmp(base, "/_job_result")) || kept(r->g, path))
		return 0;
	if (r->g->placeholders && strstr(path, "/shared/"))
		return 0;
	if (keep_path(&r->doomed, strdup(path)) < 0 ||
	    !(sz = realloc(r->sizes, r->doomed.cap * sizeof(*sz))))
		return SLUICE_ENOMEM;
	r->sizes = sz;
	r->sizes[r->doomed.n - 1] = size;
	return 0;
}

/* Drop the directory of `path` once it is empty (crashed chk-<n>). */
static void gc_rmdir(sluice_storage *st, const char *path)
{
	char *parent = strdup(path),
	     *slash = parent ? strrchr(parent, '/') : NULL;

	if (slash) {
		*slash = '\0';
		if (!strstr(parent, "/shared") &&
		    sluice_storage_rmdir(st, parent) < 0)
			sluice_error_clear();
	}
	free(parent);
}

/* Delete what gc_file collected (object stores: DeleteObjects batches). */
static void gc_delete(gcrun *r)
{
	size_t i;

	if (!r->dry && sluice_storage_remove_many(
			       r->st, (const char *const *)r->doomed.keep,
			       r->doomed.n) < 0) {
		cli_error_last("gc");
		r->failed = 1;
		return;
	}
	for (i = 0; i < r->doomed.n; i++) {
		printf("%s %s (%" PRIu64 " bytes)\n",
		       r->dry ? "would delete" : "deleted", r->doomed.keep[i],
		       r->sizes[i]);
		if (!r->dry)
			gc_rmdir(r->st, r->doomed.keep[i]);
		r->files++;
		r->bytes += r->sizes[i];
	}
}

static int do_gc(int argc, char **argv)
{
	gcset g = {NULL, 0, 0, 0, NULL};
	gcrun r = {&g, NULL, 0, 0, 0, 0, {NULL, 0, 0, 0, NULL}, NULL};
	const char *dir = NULL;
	sluice_storage *st;
	row *rows = NULL;
	size_t n = 0, i, unreadable = 0;
	int rc;

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			r.dry = 1;
		else if (!dir)
			dir = argv[i];
		else
			dir = NULL, i = (size_t)argc + 1;
	}
	if (!dir || i > (size_t)argc) {
		cli_error("usage: sluice checkpoint gc DIR [--dry-run]");
		return EXIT_USAGE;
	}
	if ((rc = open_dir(&st, dir)) ||
	    (rc = load_all(st, dir, &rows, &n, 0, &unreadable)))
		return rc;
	if (unreadable) {
		/* Its files may be all that is left of the state: never guess.
		 */
		cli_error(
			"gc: %zu checkpoint(s) under %s have an unreadable "
			"_metadata; not deleting anything.  Inspect them "
			"('sluice checkpoint inspect'), then move or delete "
			"them by hand",
			unreadable, dir);
		rows_free(rows, n);
		return EXIT_FAIL;
	}
	r.st = st;
	for (i = 0; i < n && !rc; i++) {
		size_t len =
			strlen(rows[i].dir) + sizeof(SLUICE_METADATA_FILE) + 1;
		char *meta = malloc(len);
		if (meta)
			snprintf(
				meta, len, "%s/%s", rows[i].dir,
				SLUICE_METADATA_FILE);
		g.dir = rows[i].dir;
		if (keep_path(&g, meta) < 0 ||
		    sluice_checkpoint_meta_each_handle(
			    rows[i].m, keep_handle, &g) < 0)
			rc = EXIT_FAIL;
	}
	if (g.placeholders)
		cli_error("a checkpoint references shared state by "
			  "placeholder: keeping every file in shared/");
	if (!rc && sluice_storage_list(st, dir, gc_file, &r) < 0) {
		cli_error_last(dir);
		rc = EXIT_FAIL;
	}
	if (!rc)
		gc_delete(&r);
	if (!rc)
		printf("%s %u files, %" PRIu64
		       " bytes not referenced by %zu checkpoints\n",
		       r.dry ? "would delete" : "deleted", r.files, r.bytes, n);
	for (i = 0; i < g.n; i++)
		free(g.keep[i]);
	free(g.keep);
	for (i = 0; i < r.doomed.n; i++)
		free(r.doomed.keep[i]);
	free(r.doomed.keep);
	free(r.sizes);
	rows_free(rows, n);
	return rc ? rc : r.failed ? EXIT_FAIL : 0;
}

/* ---- demo ---- */

static int demo_stream(
	sluice_location *loc,
	sluice_scope scope,
	size_t n,
	int64_t id,
	sluice_stream_handle **h)
{
	sluice_ostream *os;
	char buf[1024];
	size_t off;
	int rc;

	memset(buf, 'a' + (int)(id % 26), sizeof(buf));
	if ((rc = sluice_location_open_stream(&os, loc, scope)) < 0)
		return rc;
	for (off = 0; off < n; off += sizeof(buf))
		if ((rc = sluice_ostream_write(
			     os, buf,
			     n - off < sizeof(buf) ? n - off : sizeof(buf))) <
		    0) {
			sluice_ostream_abort(os);
			return rc;
		}
	return sluice_ostream_close(os, h);
}

/* One demo checkpoint: a keyed file per subtask, inline operator state, a
 * shared file. */
static int demo_one(
	sluice_checkpoint_storage *cs,
	sluice_completed_store *store,
	int64_t id)
{
	sluice_checkpoint_meta *m = NULL;
	sluice_location *loc = NULL;
	sluice_operator_state *op;
	sluice_keyed_handle k = {0, 64, NULL, NULL};
	uint64_t op_offsets[1] = {0};
	sluice_opstate_entry entry = {
		(char *)"source-offsets", SLUICE_OPSTATE_UNION, 1, op_offsets};
	sluice_opstate_handle o = {1, &entry, NULL};
	sluice_stream_handle *h = NULL;
	uint64_t offsets[64] = {0};
	char key[32];
	int rc, i;

	k.offsets = offsets;
	if ((rc = sluice_checkpoint_location_new(&loc, cs, id)) < 0 ||
	    (rc = sluice_checkpoint_meta_new(&m, id)) < 0)
		goto done;
	m->trigger_ms = 1767225600000 + id * 60000;
	m->complete_ms = m->trigger_ms + 1234;
	snprintf(
		m->job_id, sizeof(m->job_id), "%s",
		strrchr(sluice_checkpoint_storage_job_dir(cs), '/') + 1);
	if ((rc = sluice_checkpoint_meta_add_operator(
		     &op, m, "counter", "Count per key", 2, 128)) < 0)
		goto done;
	for (i = 0; i < 2 && !rc; i++) {
		k.start_key_group = i * 64;
		if ((rc = demo_stream(
			     loc, SLUICE_SCOPE_EXCLUSIVE, 30000 + (size_t)i, id,
			     &k.stream)) == 0)
			rc = sluice_subtask_add_keyed(
				&op->subtasks[i], sluice_keyed_handle_dup(&k));
		sluice_stream_handle_free(k.stream);
		k.stream = NULL;
	}
	if (!rc &&
	    (rc = demo_stream(
		     loc, SLUICE_SCOPE_EXCLUSIVE, 100, id, &o.stream)) == 0)
		rc = sluice_subtask_add_opstate(
			&op->subtasks[0], sluice_opstate_handle_dup(&o));
	snprintf(key, sizeof(key), "sst-%lld", (long long)id);
	if (!rc &&
	    (rc = demo_stream(loc, SLUICE_SCOPE_SHARED, 25000, id, &h)) == 0)
		rc = sluice_subtask_add_shared(&op->subtasks[1], key, h);
	if (!rc && (rc = sluice_location_finalize(loc, m)) == 0) {
		rc = sluice_completed_store_add(
			store, m, sluice_location_dir(loc));
		m = NULL;
	}
done:
	sluice_stream_handle_free(o.stream);
	sluice_checkpoint_meta_free(m);
	sluice_location_free(loc);
	return rc;
}

static int do_demo(int argc, char **argv)
{
	sluice_storage_options o;
	sluice_checkpoint_storage *cs = NULL;
	sluice_shared_registry *reg = NULL;
	sluice_completed_store *store = NULL;
	int64_t id, n;
	int rc;

	if (argc != 4 || (n = strtoll(argv[3], NULL, 10)) < 1) {
		cli_error("usage: sluice checkpoint demo DIR JOB-ID COUNT");
		return EXIT_USAGE;
	}
	sluice_storage_options_init(&o);
	o.checkpoint_dir = argv[1];
	if ((rc = sluice_checkpoint_storage_new(&cs, &o, argv[2])) < 0) {
		cli_error_last(NULL);
		return EXIT_USAGE;
	}
	rc = sluice_shared_registry_new(
		&reg, sluice_checkpoint_storage_backend(cs));
	if (!rc)
		rc = sluice_completed_store_new(
			&store, sluice_checkpoint_storage_backend(cs), reg, 2);
	for (id = 1; id <= n && !rc; id++)
		rc = demo_one(cs, store, id);
	if (rc < 0)
		cli_error_last("demo");
	else
		printf("wrote %lld checkpoints to %s (2 retained)\n",
		       (long long)n, sluice_checkpoint_storage_job_dir(cs));
	sluice_completed_store_free(store);
	sluice_shared_registry_free(reg);
	sluice_checkpoint_storage_free(cs);
	return rc < 0 ? EXIT_FAIL : 0;
}

static int dispatch(int argc, char **argv);

/* Strip --config/-D (object-store credentials and endpoint), make the
 * storages of s3:// and obs:// arguments available, then dispatch. */
static int run(int argc, char **argv)
{
	sluice_config *conf = NULL;
	int i, n = 0, r, rc = EXIT_USAGE;

	if (sluice_config_new(&conf) < 0) {
		cli_error_last("checkpoint");
		return EXIT_FAIL;
	}
	for (i = 0; i < argc; i++) {
		if ((r = cli_config_opt(conf, "checkpoint", argc, argv, &i)) <
		    0)
			goto done;
		if (!r)
			argv[n++] = argv[i];
	}
	for (i = 1; i < n; i++)
		if (cli_storage_for(conf, "checkpoint", argv[i]) < 0)
			goto done;
	rc = dispatch(n, argv);
done:
	sluice_config_free(conf);
	return rc;
}

static int dispatch(int argc, char **argv)
{
	if (argc < 2) {
		fputs(cmd_checkpoint_def.usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "list"))
		return do_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "inspect"))
		return do_inspect(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return do_verify(argc - 1, argv + 1);
	if (!strcmp(argv[1], "gc"))
		return do_gc(argc - 1, argv + 1);
	if (!strcmp(argv[1], "demo"))
		return do_demo(argc - 1, argv + 1);
	cli_error("checkpoint: unknown subcommand '%s'", argv[1]);
	fputs(cmd_checkpoint_def.usage, stderr);
	return EXIT_USAGE;
}

const cmd cmd_checkpoint_def = {
	"checkpoint", run, "list, inspect, verify and clean up checkpoints",
	"usage: sluice checkpoint <subcommand> ... [--config FILE] [-D "
	"key=value]\n"
	"\n"
	"  list DIR                 completed checkpoints and savepoints under "
	"a\n"
	"                           checkpoint or job directory: id, "
	"completion\n"
	"                           time, kind, state bytes, files, inline "
	"bytes\n"
	"  inspect PATH [--json]    everything a _metadata says (PATH: "
	"checkpoint\n"
	"                           directory or its _metadata file)\n"
	"  verify PATH              check that every referenced file exists "
	"with\n"
	"                           the recorded size and checksum; exit 1 and "
	"one\n"
	"                           line per problem otherwise\n"
	"  gc DIR [--dry-run]       delete files under DIR that no readable\n"
	"                           checkpoint refers to (left by crashes); "
	"never\n"
	"                           touches taskowned/.  Run it only while no "
	"job\n"
	"                           writes to DIR: in-progress checkpoints "
	"look\n"
	"                           like garbage.\n"
	"  demo DIR JOB-ID COUNT    write COUNT small demonstration "
	"checkpoints\n"
	"                           (2 retained) to try these commands on\n"
	"\n"
	"Exit status: 0 ok, 1 failed or problems found, 2 bad usage.\n"};
