/*
 * The configuration store: raw string values under the exact key they were
 * given with (key, alias or unknown key), each with its source.  Owns
 * precedence (a value from a lower source never replaces one from a higher
 * source), Flink's alias fallback on read (the key itself, then each
 * deprecated alias in order), the warnings recorded while setting, and
 * the typed getters, which parse on read.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"
#include "util/alloc.h"
#include "util/error.h"

int sluice__strlist_addf(sluice__strlist *l, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t i;
	char *copy;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (i = 0; i < l->n; i++)
		if (!strcmp(l->items[i], line))
			return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **items =
			sluice__reallocarray(l->items, cap, sizeof(*items));

		if (!items)
			return sluice__error_oom();
		l->items = items;
		l->cap = cap;
	}
	copy = sluice__strdup(line);
	if (!copy)
		return sluice__error_oom();
	l->items[l->n++] = copy;
	return 0;
}

void sluice__strlist_clear(sluice__strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		sluice__free(l->items[i]);
	sluice__free(l->items);
	memset(l, 0, sizeof(*l));
}

static int strlist_copy(sluice__strlist *dst, const sluice__strlist *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		SLUICE_ERRCHECK(sluice__strlist_addf(dst, "%s", src->items[i]));
	return 0;
}

const char *sluice_config_source_name(sluice_config_source source)
{
	switch (source) {
	case SLUICE_CONFIG_DEFAULT:
		return "default";
	case SLUICE_CONFIG_FILE:
		return "file";
	case SLUICE_CONFIG_JOB:
		return "job";
	case SLUICE_CONFIG_DYNAMIC:
		return "-D";
	case SLUICE_CONFIG_API:
		return "api";
	}
	return "?";
}

int sluice_config_new(sluice_config **out)
{
	sluice_config *conf = sluice__calloc(1, sizeof(*conf));

	*out = NULL;
	if (!conf)
		return sluice__error_oom();
	*out = conf;
	return 0;
}

void sluice_config_free(sluice_config *conf)
{
	size_t i;

	if (!conf)
		return;
	for (i = 0; i < conf->n; i++) {
		sluice__free(conf->entries[i].key);
		sluice__free(conf->entries[i].value);
	}
	sluice__free(conf->entries);
	sluice__strlist_clear(&conf->warnings);
	sluice__strlist_clear(&conf->problems);
	sluice__free(conf);
}

const sluice__cfg_entry *
sluice__cfg_entry_find(const sluice_config *conf, const char *key)
{
	size_t i;

	for (i = 0; i < conf->n; i++)
		if (!strcmp(conf->entries[i].key, key))
			return &conf->entries[i];
	return NULL;
}

const sluice__cfg_entry *
sluice__cfg_resolve(const sluice_config *conf, const sluice_option *opt)
{
	const sluice__cfg_entry *e = sluice__cfg_entry_find(conf, opt->key);
	size_t j;

	for (j = 0; !e && opt->aliases && opt->aliases[j]; j++)
		e = sluice__cfg_entry_find(conf, opt->aliases[j]);
	return e;
}

static int entry_add(
	sluice_config *conf,
	const char *key,
	const char *value,
	sluice_config_source source)
{
	sluice__cfg_entry *e;
	char *k, *v;

	if (conf->n == conf->cap) {
		size_t cap = conf->cap ? conf->cap * 2 : 16;

		e = sluice__reallocarray(conf->entries, cap, sizeof(*e));
		if (!e)
			return sluice__error_oom();
		conf->entries = e;
		conf->cap = cap;
	}
	k = sluice__strdup(key);
	v = sluice__strdup(value);
	if (!k || !v) {
		sluice__free(k);
		sluice__free(v);
		return sluice__error_oom();
	}
	e = &conf->entries[conf->n++];
	e->key = k;
	e->value = v;
	e->source = source;
	return 0;
}

/* Warnings that depend only on the key being used. */
static int key_warnings(sluice_config *conf, const char *key)
{
	const sluice_option *opt;
	const char *near;
	int via_alias;

	opt = sluice_option_find(key, &via_alias);
	if (!opt) {
		near = sluice_option_closest(key);
		if (near)
			return sluice__strlist_addf(
				&conf->warnings,
				"Unknown configuration key '%s' (did you mean "
				"'%s'?)",
				key, near);
		return sluice__strlist_addf(
			&conf->warnings, "Unknown configuration key '%s'", key);
	}
	if (via_alias)
		SLUICE_ERRCHECK(sluice__strlist_addf(
			&conf->warnings,
			"Config uses deprecated configuration key '%s' instead "
			"of proper key '%s'",
			key, opt->key));
	if (opt->flags & SLUICE_OPTF_NOOP)
		return sluice__strlist_addf(
			&conf->warnings,
			"'%s' is deprecated and has no effect: %s", opt->key,
			opt->description);
	if (opt->flags & SLUICE_OPTF_NO_EFFECT)
		return sluice__strlist_addf(
			&conf->warnings, "'%s' has no effect in sluice: %s",
			opt->key, opt->description);
	if (opt->flags & SLUICE_OPTF_DEPRECATED)
		return sluice__strlist_addf(
			&conf->warnings, "'%s' is deprecated: %s", opt->key,
			opt->description);
	return 0;
}

int sluice__config_put(
	sluice_config *conf,
	const char *key,
	const char *value,
	sluice_config_source source)
{
	sluice__cfg_entry *e;
	char *v;

	if (!conf || !key || !value)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"sluice_config_set: NULL %s",
			!conf  ? "config"
			: !key ? "key"
			       : "value");
	if (!*key)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"empty configuration key");
	e = (sluice__cfg_entry *)sluice__cfg_entry_find(conf, key);
	if (!e)
		return entry_add(conf, key, value, source);
	if (source < e->source)
		return 0;
	v = sluice__strdup(value);
	if (!v)
		return sluice__error_oom();
	sluice__free(e->value);
	e->value = v;
	e->source = source;
	return 0;
}

int sluice_config_set(
	sluice_config *conf,
	const char *key,
	const char *value,
	sluice_config_source source)
{
	SLUICE_ERRCHECK(sluice__config_put(conf, key, value, source));
	return key_warnings(conf, key);
}

int sluice_config_set_arg(sluice_config *conf, const char *arg)
{
	const char *eq = arg ? strchr(arg, '=') : NULL;
	char key[256];
	size_t b, n;

	if (!eq)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"-D '%s': expected key=value", arg ? arg : "(null)");
	b = strspn(arg, " \t");
	n = (size_t)(eq - arg) - b;
	while (n > 0 && (arg[b + n - 1] == ' ' || arg[b + n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(key))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"-D '%s': expected key=value with a key of 1 to %zu "
			"characters",
			arg, sizeof(key) - 1);
	memcpy(key, arg + b, n);
	key[n] = '\0';
	return sluice_config_set(conf, key, eq + 1, SLUICE_CONFIG_DYNAMIC);
}

int sluice_config_dup(sluice_config **out, const sluice_config *conf)
{
	sluice_config *c = NULL;
	size_t i;
	int rc;

	*out = NULL;
	rc = sluice_config_new(&c);
	for (i = 0; rc == 0 && i < conf->n; i++)
		rc = entry_add(
			c, conf->entries[i].key, conf->entries[i].value,
			conf->entries[i].source);
	if (rc == 0)
		rc = strlist_copy(&c->warnings, &conf->warnings);
	if (rc == 0)
		rc = strlist_copy(&c->problems, &conf->problems);
	if (rc < 0) {
		sluice_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

size_t sluice_config_problem_count(const sluice_config *conf)
{
	return conf->problems.n;
}

const char *sluice_config_problem(const sluice_config *conf, size_t i)
{
	return i < conf->problems.n ? conf->problems.items[i] : NULL;
}

size_t sluice_config_warning_count(const sluice_config *conf)
{
	return conf->warnings.n;
}

const char *sluice_config_warning(const sluice_config *conf, size_t i)
{
	return i < conf->warnings.n ? conf->warnings.items[i] : NULL;
}

size_t sluice_config_entry_count(const sluice_config *conf)
{
	return conf->n;
}

int sluice_config_entry_at(
	const sluice_config *conf,
	size_t i,
	const char **key,
	const char **raw,
	sluice_config_source *source)
{
	if (i >= conf->n)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_CONFIG,
			"configuration entry %zu: only %zu entries", i,
			conf->n);
	*key = conf->entries[i].key;
	*raw = conf->entries[i].value;
	*source = conf->entries[i].source;
	return 0;
}

int sluice_config_lookup(
	const sluice_config *conf,
	const char *key,
	const char **raw,
	sluice_config_source *source,
	const char **alias)
{
	const sluice_option *opt = sluice_option_find(key, NULL);
	const sluice__cfg_entry *e;

	*raw = NULL;
	*source = SLUICE_CONFIG_DEFAULT;
	*alias = NULL;
	e = opt ? sluice__cfg_resolve(conf, opt)
		: sluice__cfg_entry_find(conf, key);
	if (!opt && !e)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_CONFIG,
			"unknown configuration key '%s'", key);
	if (e) {
		*raw = e->value;
		*source = e->source;
		if (opt && strcmp(e->key, opt->key))
			*alias = e->key;
	} else {
		*raw = opt->default_value;
	}
	return 0;
}

/*
 * Resolve and parse `key` as `want` (one of two types; -1 = any).
 */
static int get_value(
	const sluice_config *conf,
	const char *key,
	int want,
	int want2,
	sluice__cfg_value *out)
{
	const sluice_option *opt = sluice_option_find(key, NULL);
	const sluice__cfg_entry *e;
	const char *raw, *used;
	char why[SLUICE__WHY_MAX];

	if (!opt)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_CONFIG,
			"unknown configuration key '%s'", key);
	if (want >= 0 && (int)opt->type != want && (int)opt->type != want2)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"configuration key '%s' is a %s, not a %s", opt->key,
			sluice_option_type_name(opt->type),
			sluice_option_type_name((sluice_option_type)want));
	e = sluice__cfg_resolve(conf, opt);
	raw = e ? e->value : opt->default_value;
	used = e ? e->key : opt->key;
	if (!raw)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_CONFIG,
			"configuration key '%s' is not set and has no default",
			opt->key);
	if (sluice__cfg_parse(opt, raw, out, why, sizeof(why)) < 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"Could not parse value '%s' for key '%s'. %s",
			sluice_config_is_sensitive(used) ? "******" : raw, used,
			why);
	return 0;
}

int sluice_config_get_bool(const sluice_config *conf, const char *key, int *out)
{
	sluice__cfg_value v;

	SLUICE_ERRCHECK(get_value(conf, key, SLUICE_OPT_BOOL, -1, &v));
	*out = (int)v.i;
	return 0;
}

int sluice_config_get_int(
	const sluice_config *conf, const char *key, int32_t *out)
{
	sluice__cfg_value v;

	SLUICE_ERRCHECK(get_value(conf, key, SLUICE_OPT_INT, -1, &v));
	*out = (int32_t)v.i;
	return 0;
}

int sluice_config_get_long(
	const sluice_config *conf, const char *key, int64_t *out)
{
	sluice__cfg_value v;

	SLUICE_ERRCHECK(
		get_value(conf, key, SLUICE_OPT_LONG, SLUICE_OPT_INT, &v));
	*out = v.i;
	return 0;
}

int sluice_config_get_duration(
	const sluice_config *conf, const char *key, int64_t *out_ms)
{
	sluice__cfg_value v;

	SLUICE_ERRCHECK(get_value(conf, key, SLUICE_OPT_DURATION, -1, &v));
	*out_ms = v.i;
	return 0;
}

int sluice_config_get_memory(
	const sluice_config *conf, const char *key, uint64_t *out_bytes)
{
	sluice__cfg_value v;

	SLUICE_ERRCHECK(get_value(conf, key, SLUICE_OPT_MEMORY, -1, &v));
	*out_bytes = v.u;
	return 0;
}

int sluice_config_get_double(
	const sluice_config *conf, const char *key, double *out)
{
	sluice__cfg_value v;

	SLUICE_ERRCHECK(get_value(conf, key, SLUICE_OPT_DOUBLE, -1, &v));
	*out = v.d;
	return 0;
}

int sluice_config_get_enum(const sluice_config *conf, const char *key, int *out)
{
	sluice__cfg_value v;

	SLUICE_ERRCHECK(get_value(conf, key, SLUICE_OPT_ENUM, -1, &v));
	*out = (int)v.i;
	return 0;
}

int sluice_config_get_enum_list(
	const sluice_config *conf, const char *key, int *out, size_t *n)
{
	sluice__cfg_value v;
	size_t i;

	SLUICE_ERRCHECK(get_value(conf, key, SLUICE_OPT_ENUM_LIST, -1, &v));
	for (i = 0; i < v.n; i++)
		out[i] = v.list[i];
	*n = v.n;
	return 0;
}

int sluice_config_get_string(
	const sluice_config *conf, const char *key, const char **out)
{
	const sluice_option *opt = sluice_option_find(key, NULL);
	const sluice__cfg_entry *e;
	sluice__cfg_value v;
	int rc;

	*out = NULL;
	if (!opt) {
		e = sluice__cfg_entry_find(conf, key);
		if (!e)
			return sluice__error_set(
				SLUICE_ENOTFOUND, SLUICE_ERRCLS_CONFIG,
				"configuration key '%s' is not set", key);
		*out = e->value;
		return 0;
	}
	if (!sluice__cfg_resolve(conf, opt) && !opt->default_value &&
	    (opt->type == SLUICE_OPT_STRING || opt->type == SLUICE_OPT_URI))
		return 0; /* absent: *out stays NULL */
	rc = get_value(conf, key, SLUICE_OPT_STRING, SLUICE_OPT_URI, &v);
	SLUICE_ERRCHECK(rc);
	*out = v.s;
	return 0;
}
