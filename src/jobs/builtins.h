/*
 * The built-in sources, operators and sinks of job files (docs/jobs.md),
 * and their registry.  Each built-in is a sluice_operator plus a
 * configure function that reads the stage's parameters into an argument
 * (the vertex's sluice_ctx_arg) owned by the job file.  The argument
 * structs are declared here so C code and tests can use the built-ins
 * without a job file.
 *
 * Records between built-ins carry text: a source's value is a decimal
 * number (sequence) or a line (file); count / sum emit "<key>,<n>";
 * sinks write the value, one record per line.
 */
#ifndef SLUICE_JOBS_BUILTINS_H
#define SLUICE_JOBS_BUILTINS_H

#include "jobs/spec.h"
#include "sluice/builtins.h"

typedef struct sluice__builtin {
	sluice__stage_kind stage;
	const char *type;
	sluice_vertex_kind vertex;
	int keyed; /* needs key-by edges into it */
	const sluice_operator *op;
	/* Read the stage's parameters into a new `*arg` (NULL allowed). */
	int (*configure)(
		void **arg,
		const sluice__jobspec *js,
		sluice__stage *st,
		const sluice_config *conf);
	void (*free_arg)(void *arg);
} sluice__builtin;

/* The built-in of kind `stage` named `type`, or NULL. */
const sluice__builtin *
sluice__builtin_find(sluice__stage_kind stage, const char *type);
/* "sequence, file" etc. for messages: names of all built-ins of a kind. */
void sluice__builtin_names(sluice__stage_kind stage, char *buf, size_t len);

/* source: sequence */
typedef struct sluice__sequence_arg {
	int64_t count; /* 0 = unbounded */
	int64_t keys;  /* key = "k<i mod keys>" */
	int64_t rate;  /* total records per second over all subtasks; 0 */
} sluice__sequence_arg;
extern const sluice_operator sluice__sequence_op;

/* source: file (the public options of include/sluice/builtins.h) */
typedef sluice_file_source_options sluice__file_source_arg;
extern const sluice_operator sluice__file_source_op;

/*
 * Operator state of items a subtask owns at a parallelism (owned_list.c):
 * a union list `name`, or where the provider has none a split list
 * `legacy` (also what older checkpoints hold), which restores at its own
 * parallelism only.
 */
typedef struct sluice__owned_list {
	const char *name;   /* union list */
	const char *legacy; /* split list */
	int legacy_held;    /* a restored split list to empty */
} sluice__owned_list;

typedef struct sluice__owned_ops {
	const char *what; /* the operator, for messages: "file source" */
	const char *item; /* "a file's offset" */
	/* 1 when this subtask owns the item, 0 not, < 0 malformed */
	int (*owns)(sluice_ctx *ctx, sluice_slice item, void *arg);
	/* keep an owned item */
	int (*take)(sluice_ctx *ctx, sluice_slice item, void *arg);
} sluice__owned_ops;

/* The restored items of both lists this subtask owns, to `take`; an
 * item of the split list it does not own fails (SLUICE_EINVALID). */
int sluice__owned_list_restore(
	sluice_ctx *ctx,
	sluice__owned_list *l,
	const sluice__owned_ops *ops,
	void *arg);
/* Replace the items (union list; split list without union support). */
int sluice__owned_list_save(
	sluice_ctx *ctx,
	sluice__owned_list *l,
	const sluice_slice *items,
	size_t n);

/* operators */
extern const sluice_operator sluice__count_op; /* arg NULL */
extern const sluice_operator sluice__sum_op;   /* arg NULL */

typedef struct sluice__window_arg {
	int64_t size_ms;
	int event_time; /* 0 processing time, 1 record timestamps */
	int sum;        /* 0 count, 1 sum of the values */
} sluice__window_arg;
extern const sluice_operator sluice__window_op;

typedef struct sluice__ttl_arg {
	int64_t ttl_ms; /* 0 = forever */
} sluice__ttl_arg;
extern const sluice_operator sluice__dedup_op; /* arg: sluice__ttl_arg */
extern const sluice_operator sluice__join_op;  /* arg: sluice__ttl_arg */

typedef struct sluice__throttle_arg {
	int64_t per_record_ms;
} sluice__throttle_arg;
extern const sluice_operator sluice__throttle_op;

/* sinks */
typedef sluice_file_sink_options sluice__file_sink_arg;
extern const sluice_operator sluice__file_sink_op;

typedef struct sluice__stdout_arg {
	int fd; /* 1 unless a test redirects it */
} sluice__stdout_arg;
extern const sluice_operator sluice__stdout_op;
extern const sluice_operator sluice__null_op; /* arg NULL */

/* Registry entries (build.c lists them). */
extern const sluice__builtin sluice__builtin_sequence;
extern const sluice__builtin sluice__builtin_file_source;
extern const sluice__builtin sluice__builtin_count;
extern const sluice__builtin sluice__builtin_sum;
extern const sluice__builtin sluice__builtin_window;
extern const sluice__builtin sluice__builtin_dedup;
extern const sluice__builtin sluice__builtin_join;
extern const sluice__builtin sluice__builtin_throttle;
extern const sluice__builtin sluice__builtin_file_sink;
extern const sluice__builtin sluice__builtin_stdout;
extern const sluice__builtin sluice__builtin_null;

/* Shared by the operators: parse a decimal int64 value (whole slice). */
int sluice__value_i64(sluice_slice v, int64_t *out);
/* Emit `key` with value "<key>,<n>". */
int sluice__emit_key_count(
	sluice_ctx *ctx, const sluice_record *rec, int64_t n);

#endif
