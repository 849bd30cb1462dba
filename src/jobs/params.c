/*
 * Stage parameters of job files: lookup by key with positions, typed
 * parsing with errors naming file:line:column, and the check that a
 * built-in consumed every parameter it was given.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/spec.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

int sluice__jobspec_error(
	const sluice__jobspec *js,
	size_t line,
	size_t col,
	const char *fmt,
	...)
{
	sluice_buf b = SLUICE_BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sluice_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0 || sluice_buf_cstr(&b) < 0) {
		sluice_buf_release(&b);
		return sluice__error_oom();
	}
	rc = sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_JOB, "%s:%zu:%zu: %s", js->file,
		line, col, (const char *)b.ptr);
	sluice_buf_release(&b);
	return rc;
}

static const char *kind_name(sluice__stage_kind k)
{
	switch (k) {
	case SLUICE__STAGE_SOURCE:
		return "source";
	case SLUICE__STAGE_KEY_BY:
		return "key-by";
	case SLUICE__STAGE_OPERATOR:
		return "operator";
	default:
		return "sink";
	}
}

static sluice__param *find(sluice__stage *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->num_params; i++)
		if (!strcmp(st->params[i].key, key)) {
			st->params[i].used = 1;
			return &st->params[i];
		}
	return NULL;
}

int sluice__param_str(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	int required,
	const char **out)
{
	sluice__param *p = find(st, key);

	if (!p && required)
		return sluice__jobspec_error(
			js, st->line, st->col, "%s '%s': missing key '%s'",
			kind_name(st->kind), st->type, key);
	if (p && !*p->value)
		return sluice__jobspec_error(
			js, p->line, p->col, "%s '%s': '%s' is empty",
			kind_name(st->kind), st->type, key);
	if (p)
		*out = p->value;
	return 0;
}

int sluice__param_i64(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	int required,
	int64_t min,
	int64_t *out)
{
	const char *v = NULL;
	char *end;
	long long n;
	int rc;

	if ((rc = sluice__param_str(js, st, key, required, &v)) < 0 || !v)
		return rc;
	n = strtoll(v, &end, 10);
	if (*end || end == v || n < min || n == LLONG_MAX) {
		sluice__param *p = find(st, key);

		return sluice__jobspec_error(
			js, p->line, p->col,
			"%s '%s': %s: '%s' is not an integer >= %" PRId64,
			kind_name(st->kind), st->type, key, v, min);
	}
	*out = n;
	return 0;
}

int sluice__param_duration(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	int required,
	int64_t *out_ms)
{
	const char *v = NULL;
	int64_t ms;
	int rc;

	if ((rc = sluice__param_str(js, st, key, required, &v)) < 0 || !v)
		return rc;
	if (sluice_parse_duration(v, &ms) < 0 || ms < 0) {
		sluice__param *p = find(st, key);

		return sluice__jobspec_error(
			js, p->line, p->col,
			"%s '%s': %s: could not parse '%s' as a duration",
			kind_name(st->kind), st->type, key, v);
	}
	*out_ms = ms;
	return 0;
}

int sluice__param_choice(
	const sluice__jobspec *js,
	sluice__stage *st,
	const char *key,
	const char *const *choices,
	int *out)
{
	const char *v = NULL;
	char list[256] = "";
	int i, rc;

	if ((rc = sluice__param_str(js, st, key, 0, &v)) < 0 || !v)
		return rc;
	for (i = 0; choices[i]; i++) {
		if (!strcmp(choices[i], v)) {
			*out = i;
			return 0;
		}
		snprintf(
			list + strlen(list), sizeof(list) - strlen(list),
			"%s'%s'", i ? ", " : "", choices[i]);
	}
	{
		sluice__param *p = find(st, key);

		return sluice__jobspec_error(
			js, p->line, p->col,
			"%s '%s': %s: '%s' is not one of %s",
			kind_name(st->kind), st->type, key, v, list);
	}
}

int sluice__param_bool(
	const sluice__jobspec *js, sluice__stage *st, const char *key, int *out)
{
	static const char *const choices[] = {"false", "true", NULL};

	return sluice__param_choice(js, st, key, choices, out);
}

int sluice__param_check_unused(
	const sluice__jobspec *js, const sluice__stage *st)
{
	size_t i;

	for (i = 0; i < st->num_params; i++)
		if (!st->params[i].used)
			return sluice__jobspec_error(
				js, st->params[i].line, st->params[i].col,
				"unexpected key '%s' in %s '%s'",
				st->params[i].key, kind_name(st->kind),
				st->type);
	return 0;
}

void sluice__chain_release(sluice__chain *c)
{
	size_t i, j;

	for (i = 0; i < c->count; i++) {
		sluice__stage *st = &c->stages[i];

		for (j = 0; j < st->num_params; j++) {
			sluice__free(st->params[j].key);
			sluice__free(st->params[j].value);
		}
		sluice__free(st->params);
		sluice__free(st->type);
		sluice__chain_release(&st->inputs);
	}
	sluice__free(c->stages);
	c->stages = NULL;
	c->count = 0;
}

void sluice__jobspec_release(sluice__jobspec *js)
{
	size_t i;

	sluice__chain_release(&js->pipeline);
	for (i = 0; i < js->num_config; i++) {
		sluice__free(js->config_keys[i]);
		sluice__free(js->config_values[i]);
	}
	sluice__free(js->config_keys);
	sluice__free(js->config_values);
	sluice__free(js->file);
	sluice__free(js->name);
	memset(js, 0, sizeof(*js));
}
