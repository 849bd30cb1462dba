/*
 * Job files to jobs: the registry of built-ins, loading (parse, then a
 * trial build so every stage's parameters are checked at load time) and
 * building the sluice_job.  The job file owns the built job and every
 * built-in's argument, which must outlive the job.
 *
 * Graph rules checked here (errors name file:line:column of the stage):
 * a chain starts with a source and has no other source; the pipeline
 * ends with a sink and has no other sink; an `inputs` chain has no sink;
 * `key-by: key` is the only key-by and makes the next edge a key-by edge;
 * keyed operators (count, sum, tumbling-window, dedup, join) need that
 * key-by before them (join on both inputs); only two-input operators
 * take `inputs`, and they require it.
 */
#include <stdio.h>
#include <string.h>

#include "jobs/builtins.h"
#include "sluice/jobfile.h"
#include "util/alloc.h"
#include "util/error.h"

#define MAX_FILE_SZ (4u << 20)

static const sluice__builtin *const registry[] = {
	&sluice__builtin_sequence,  &sluice__builtin_file_source,
	&sluice__builtin_count,     &sluice__builtin_sum,
	&sluice__builtin_window,    &sluice__builtin_dedup,
	&sluice__builtin_join,      &sluice__builtin_throttle,
	&sluice__builtin_file_sink, &sluice__builtin_stdout,
	&sluice__builtin_null,
};

#define NUM_BUILTINS (sizeof(registry) / sizeof(registry[0]))

const sluice__builtin *
sluice__builtin_find(sluice__stage_kind stage, const char *type)
{
	size_t i;

	for (i = 0; i < NUM_BUILTINS; i++)
		if (registry[i]->stage == stage &&
		    !strcmp(registry[i]->type, type))
			return registry[i];
	return NULL;
}

void sluice__builtin_names(sluice__stage_kind stage, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < NUM_BUILTINS && used < len; i++)
		if (registry[i]->stage == stage)
			used += (size_t)snprintf(
				buf + used, len - used, "%s%s",
				used ? ", " : "", registry[i]->type);
}

struct sluice_jobfile {
	sluice__jobspec js;
	sluice_job *job;
	void **args;
	const sluice__builtin **owners;
	size_t num_args, cap_args;
};

/* Build state of one pass (trial at load, real at build). */
typedef struct builder {
	sluice_jobfile *jf;
	const sluice_config *conf;
	sluice_job *job;
	int vertices;
} builder;

/*
 * The job file's value, else the configuration's `key` when positive,
 * else `fallback`: parallelism from `parallelism.default` (as in Flink,
 * where an operator without a parallelism of its own runs at the
 * default), max parallelism from `pipeline.max-parallelism` (-1: unset,
 * derived from the parallelism).  A value that does not parse is the
 * getter's error, never a silent default.
 */
static int setting_of(
	const builder *bd,
	int32_t given,
	const char *key,
	int32_t fallback,
	int32_t *out)
{
	int32_t v = 0;
	int rc;

	*out = given;
	if (given)
		return 0;
	*out = fallback;
	if (!bd->conf)
		return 0;
	if ((rc = sluice_config_get_int(bd->conf, key, &v)) < 0)
		return rc == SLUICE_ENOTFOUND ? 0 : rc;
	if (v > 0)
		*out = v;
	return 0;
}

static int keep_arg(sluice_jobfile *jf, const sluice__builtin *b, void *arg)
{
	if (jf->num_args == jf->cap_args) {
		size_t cap = jf->cap_args ? jf->cap_args * 2 : 8;
		void **a = sluice__reallocarray(jf->args, cap, sizeof(*a));
		const sluice__builtin **o;

		if (a)
			jf->args = a;
		o = sluice__reallocarray(jf->owners, cap, sizeof(*o));
		if (o)
			jf->owners = o;
		if (!a || !o) {
			b->free_arg(arg);
			return sluice__error_oom();
		}
		jf->cap_args = cap;
	}
	jf->args[jf->num_args] = arg;
	jf->owners[jf->num_args] = b;
	jf->num_args++;
	return 0;
}

static void free_args(sluice_jobfile *jf)
{
	size_t i;

	for (i = 0; i < jf->num_args; i++)
		jf->owners[i]->free_arg(jf->args[i]);
	jf->num_args = 0;
}

static const char *kind_word(sluice__stage_kind k)
{
	static const char *const w[] = {"source", "key-by", "operator", "sink"};

	return w[k];
}

static int check_position(
	builder *bd, sluice__stage *st, size_t i, size_t n, int main_chain)
{
	const sluice__jobspec *js = &bd->jf->js;

	if (i == 0 && st->kind != SLUICE__STAGE_SOURCE)
		return sluice__jobspec_error(
			js, st->line, st->col,
			"%s '%s': a chain must start with a source",
			kind_word(st->kind), st->type);
	if (i > 0 && st->kind == SLUICE__STAGE_SOURCE)
		return sluice__jobspec_error(
			js, st->line, st->col,
			"source '%s' in the middle of a chain (a second input "
			"goes under the join's 'inputs')",
			st->type);
	if (st->kind == SLUICE__STAGE_SINK && (!main_chain || i + 1 != n))
		return sluice__jobspec_error(
			js, st->line, st->col,
			"sink '%s' must be the last stage of the pipeline",
			st->type);
	if (main_chain && i + 1 == n && st->kind != SLUICE__STAGE_SINK)
		return sluice__jobspec_error(
			js, st->line, st->col,
			"the pipeline must end with a sink, not %s '%s'",
			kind_word(st->kind), st->type);
	if (st->kind == SLUICE__STAGE_KEY_BY && strcmp(st->type, "key"))
		return sluice__jobspec_error(
			js, st->line, st->col,
			"key-by '%s': only 'key' (the record key) is supported",
			st->type);
	return 0;
}

static int build_chain(
	builder *bd, sluice__chain *c, int main_chain, int *last, int *keyed);

static int
add_vertex(builder *bd, sluice__stage *st, const sluice__builtin *b, int *id)
{
	const sluice__jobspec *js = &bd->jf->js;
	sluice_vertex_spec spec;
	const char *uid = NULL, *name = NULL;
	char auto_uid[128];
	void *arg = NULL;
	int rc;

	if ((rc = sluice__param_str(js, st, "uid", 0, &uid)) < 0 ||
	    (rc = sluice__param_str(js, st, "name", 0, &name)) < 0 ||
	    (rc = b->configure(&arg, js, st, bd->conf)) < 0)
		return rc;
	if ((rc = keep_arg(bd->jf, b, arg)) < 0)
		return rc;
	if ((rc = sluice__param_check_unused(js, st)) < 0)
		return rc;
	snprintf(auto_uid, sizeof(auto_uid), "%d-%s", bd->vertices, b->type);
	memset(&spec, 0, sizeof(spec));
	spec.kind = b->vertex;
	spec.uid = uid ? uid : auto_uid;
	spec.name = name;
	if ((rc = setting_of(
		     bd, js->parallelism, "parallelism.default", 1,
		     &spec.parallelism)) < 0 ||
	    (rc = setting_of(
		     bd, js->max_parallelism, "pipeline.max-parallelism", 0,
		     &spec.max_parallelism)) < 0)
		return rc;
	spec.op = b->op;
	spec.arg = arg;
	if ((rc = sluice_job_add(bd->job, id, &spec)) < 0)
		return sluice__error_wrap(
			"%s:%zu:%zu: %s '%s'", js->file, st->line, st->col,
			kind_word(st->kind), st->type);
	bd->vertices++;
	return 0;
}

static int connect_second(builder *bd, sluice__stage *st, int to)
{
	const sluice__jobspec *js = &bd->jf->js;
	int from = -1, keyed = 0, rc;

	if (!st->has_inputs)
		return sluice__jobspec_error(
			js, st->line, st->col,
			"operator '%s' takes two inputs: give the second as "
			"a chain under 'inputs'",
			st->type);
	if ((rc = build_chain(bd, &st->inputs, 0, &from, &keyed)) < 0)
		return rc;
	if (!keyed)
		return sluice__jobspec_error(
			js, st->inputs_line, st->inputs_col,
			"operator '%s': its 'inputs' chain must end with "
			"key-by",
			st->type);
	return sluice_job_connect(bd->job, from, to, 1, SLUICE_EDGE_KEY_BY);
}

static int build_stage(builder *bd, sluice__stage *st, int *last, int *keyed)
{
	const sluice__jobspec *js = &bd->jf->js;
	const sluice__builtin *b = sluice__builtin_find(st->kind, st->type);
	char names[256];
	int id, rc;

	if (!b) {
		sluice__builtin_names(st->kind, names, sizeof(names));
		return sluice__jobspec_error(
			js, st->line, st->col, "unknown %s '%s' (known: %s)",
			kind_word(st->kind), st->type, names);
	}
	if (b->keyed && !*keyed)
		return sluice__jobspec_error(
			js, st->line, st->col,
			"operator '%s' keeps keyed state: put '- key-by: key' "
			"before it",
			st->type);
	if (st->has_inputs && b->vertex != SLUICE_VERTEX_OPERATOR2)
		return sluice__jobspec_error(
			js, st->inputs_line, st->inputs_col,
			"unexpected key 'inputs' in operator '%s' (it has one "
			"input)",
			st->type);
	if ((rc = add_vertex(bd, st, b, &id)) < 0)
		return rc;
	if (*last >= 0 &&
	    (rc = sluice_job_connect(
		     bd->job, *last, id, 0,
		     *keyed ? SLUICE_EDGE_KEY_BY : SLUICE_EDGE_FORWARD)) < 0)
		return rc;
	if (b->vertex == SLUICE_VERTEX_OPERATOR2 &&
	    (rc = connect_second(bd, st, id)) < 0)
		return rc;
	*last = id;
	*keyed = 0;
	return 0;
}

static int build_chain(
	builder *bd, sluice__chain *c, int main_chain, int *last, int *keyed)
{
	size_t i;
	int rc;

	*last = -1;
	*keyed = 0;
	for (i = 0; i < c->count; i++) {
		sluice__stage *st = &c->stages[i];

		if ((rc = check_position(bd, st, i, c->count, main_chain)) < 0)
			return rc;
		if (st->kind == SLUICE__STAGE_KEY_BY) {
			if (st->num_params)
				return sluice__param_check_unused(
					&bd->jf->js, st);
			*keyed = 1;
			continue;
		}
		if ((rc = build_stage(bd, st, last, keyed)) < 0)
			return rc;
	}
	return 0;
}

static int build_into(
	sluice_jobfile *jf,
	const sluice_config *conf,
	const sluice_job_options *opts,
	sluice_job **out)
{
	builder bd = {jf, conf, NULL, 0};
	int last, keyed, rc;

	if ((rc = sluice_job_new(&bd.job, jf->js.name, opts)) < 0)
		return rc;
	if ((rc = build_chain(&bd, &jf->js.pipeline, 1, &last, &keyed)) < 0 ||
	    (rc = sluice_job_validate(bd.job)) < 0) {
		sluice_job_free(bd.job);
		free_args(jf);
		return rc;
	}
	*out = bd.job;
	return 0;
}

static int apply_config(const sluice__jobspec *js, sluice_config *conf)
{
	size_t i;
	int rc;

	for (i = 0; conf && i < js->num_config; i++)
		if ((rc = sluice_config_set(
			     conf, js->config_keys[i], js->config_values[i],
			     SLUICE_CONFIG_JOB)) < 0)
			return rc;
	return 0;
}

int sluice_jobfile_load_string(
	sluice_jobfile **out,
	const char *yaml,
	size_t len,
	const char *name,
	sluice_config *conf)
{
	sluice_jobfile *jf = sluice__calloc(1, sizeof(*jf));
	sluice_job *trial = NULL;
	int rc;

	if (!jf)
		return sluice__error_oom();
	if ((rc = sluice__jobspec_parse(&jf->js, yaml, len, name)) < 0 ||
	    (rc = build_into(jf, conf, NULL, &trial)) < 0)
		goto fail;
	sluice_job_free(trial);
	free_args(jf);
	if ((rc = apply_config(&jf->js, conf)) < 0)
		goto fail;
	*out = jf;
	return 0;
fail:
	sluice_jobfile_free(jf);
	return rc;
}

int sluice_jobfile_load(
	sluice_jobfile **out, const char *path, sluice_config *conf)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	int rc;

	if (!f)
		return sluice__error_os(
			SLUICE_ERRCLS_JOB, "job file '%s': open", path);
	if (!(buf = sluice__malloc(MAX_FILE_SZ + 1))) {
		fclose(f);
		return sluice__error_oom();
	}
	n = fread(buf, 1, MAX_FILE_SZ + 1, f);
	if (ferror(f))
		rc = sluice__error_os(
			SLUICE_ERRCLS_JOB, "job file '%s': read", path);
	else if (n > MAX_FILE_SZ)
		rc = sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
			"job file '%s' is larger than %u bytes", path,
			MAX_FILE_SZ);
	else
		rc = sluice_jobfile_load_string(out, buf, n, path, conf);
	fclose(f);
	sluice__free(buf);
	return rc;
}

const char *sluice_jobfile_name(const sluice_jobfile *jf)
{
	return jf->js.name;
}

int32_t sluice_jobfile_parallelism(const sluice_jobfile *jf)
{
	return jf->js.parallelism;
}

int32_t sluice_jobfile_max_parallelism(const sluice_jobfile *jf)
{
	return jf->js.max_parallelism;
}

void sluice_jobfile_job_id(const sluice_jobfile *jf, char out[33])
{
	sluice_job_id_of(jf->js.name, out); /* the id sluice_run uses */
}

int sluice_jobfile_build(
	sluice_jobfile *jf,
	const sluice_config *conf,
	const sluice_job_options *opts,
	sluice_job **job)
{
	int rc;

	if (jf->job)
		return sluice__error_set(
			SLUICE_EBUSY, SLUICE_ERRCLS_JOB,
			"job file '%s': the job was built already",
			jf->js.file);
	if ((rc = build_into(jf, conf, opts, &jf->job)) < 0)
		return rc;
	*job = jf->job;
	return 0;
}

void sluice_jobfile_free(sluice_jobfile *jf)
{
	if (!jf)
		return;
	sluice_job_free(jf->job);
	free_args(jf);
	sluice__free(jf->args);
	sluice__free(jf->owners);
	sluice__jobspec_release(&jf->js);
	sluice__free(jf);
}
