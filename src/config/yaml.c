/*
 * Loading configuration from YAML with libyaml (event API).  Accepts both
 * Flink styles: flat keys ("execution.checkpointing.interval: 10s") and
 * nested maps, flattened with dots ("execution: {checkpointing: {interval:
 * 10s}}"), mixed freely.  An empty file or document is an empty config; a
 * null value ("key:" or "key: ~") leaves the key unset.
 *
 * Errors name file:line:column (1-based): malformed YAML (libyaml's
 * problem), a top level that is not a map, non-scalar keys, sequences,
 * aliases (*ref), more than one document, nesting deeper than 32 levels.
 * A key given twice (flat and nested spellings count) warns; the last
 * value wins.  Loading is all or nothing: values are parsed into a scratch
 * config and only copied into the target when the whole file is valid.
 */
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "config/internal.h"
#include "util/alloc.h"
#include "util/error.h"

#define MAX_DEPTH   32
#define MAX_KEY     1024
#define MAX_FILE_SZ (16u << 20)

typedef struct loader {
	yaml_parser_t parser;
	const char *name;
	sluice_config *scratch;
	sluice__strlist dups; /* warnings for keys given twice */
} loader;

static int
at(const loader *ld, yaml_mark_t m, const char *what, const char *key)
{
	if (key && *key)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"%s:%zu:%zu: key '%s': %s", ld->name, m.line + 1,
			m.column + 1, key, what);
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG, "%s:%zu:%zu: %s",
		ld->name, m.line + 1, m.column + 1, what);
}

static int next(loader *ld, yaml_event_t *ev)
{
	const yaml_parser_t *p = &ld->parser;

	if (yaml_parser_parse(&ld->parser, ev))
		return 0;
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
		"%s:%zu:%zu: malformed YAML: %s%s%s", ld->name,
		p->problem_mark.line + 1, p->problem_mark.column + 1,
		p->problem ? p->problem : "parse error", p->context ? " " : "",
		p->context ? p->context : "");
}

static int is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int join(char *out, const char *prefix, const char *key)
{
	int n = *prefix ? snprintf(out, MAX_KEY, "%s.%s", prefix, key)
			: snprintf(out, MAX_KEY, "%s", key);

	return n >= 0 && n < MAX_KEY;
}

static int load_mapping(loader *ld, const char *prefix, int depth);

/* One value (the event after its key) under the full key `full`. */
static int load_value(loader *ld, yaml_event_t *ev, const char *full, int depth)
{
	int rc;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (is_null(ev))
			return 0;
		if (sluice__cfg_entry_find(ld->scratch, full))
			SLUICE_ERRCHECK(sluice__strlist_addf(
				&ld->dups,
				"%s:%zu:%zu: key '%s' is given more than once; "
				"the last value wins",
				ld->name, ev->start_mark.line + 1,
				ev->start_mark.column + 1, full));
		rc = sluice__config_put(
			ld->scratch, full, (const char *)ev->data.scalar.value,
			SLUICE_CONFIG_API);
		if (rc < 0)
			return sluice__error_wrap(
				"%s:%zu:%zu", ld->name, ev->start_mark.line + 1,
				ev->start_mark.column + 1);
		return 0;
	case YAML_MAPPING_START_EVENT:
		if (depth >= MAX_DEPTH)
			return at(
				ld, ev->start_mark, "maps nested too deeply",
				full);
		return load_mapping(ld, full, depth + 1);
	case YAML_SEQUENCE_START_EVENT:
		return at(
			ld, ev->start_mark,
			"lists are not supported; write the value as one "
			"string",
			full);
	case YAML_ALIAS_EVENT:
		return at(
			ld, ev->start_mark,
			"YAML aliases (*name) are not supported", full);
	default:
		return at(ld, ev->start_mark, "unexpected YAML element", full);
	}
}

static int load_mapping(loader *ld, const char *prefix, int depth)
{
	char full[MAX_KEY];
	yaml_event_t ev;
	int rc;

	for (;;) {
		SLUICE_ERRCHECK(next(ld, &ev));
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			rc = at(ld, ev.start_mark,
				"map keys must be plain strings", prefix);
			yaml_event_delete(&ev);
			return rc;
		}
		if (!join(full, prefix, (const char *)ev.data.scalar.value)) {
			rc = at(ld, ev.start_mark, "key too long", prefix);
			yaml_event_delete(&ev);
			return rc;
		}
		yaml_event_delete(&ev);
		SLUICE_ERRCHECK(next(ld, &ev));
		rc = load_value(ld, &ev, full, depth);
		yaml_event_delete(&ev);
		SLUICE_ERRCHECK(rc);
	}
}

/* The document body: a map, or nothing. */
static int load_document(loader *ld)
{
	yaml_event_t ev;
	int rc = 0;

	SLUICE_ERRCHECK(next(ld, &ev));
	if (ev.type == YAML_MAPPING_START_EVENT)
		rc = load_mapping(ld, "", 1);
	else if (!(ev.type == YAML_SCALAR_EVENT && is_null(&ev)))
		rc = at(ld, ev.start_mark,
			"the top level must be a map of keys to values", NULL);
	yaml_event_delete(&ev);
	SLUICE_ERRCHECK(rc);
	SLUICE_ERRCHECK(next(ld, &ev)); /* DOCUMENT_END */
	yaml_event_delete(&ev);
	return 0;
}

static int load_stream(loader *ld)
{
	yaml_event_t ev;
	int docs = 0, rc = 0;

	SLUICE_ERRCHECK(next(ld, &ev)); /* STREAM_START */
	yaml_event_delete(&ev);
	for (;;) {
		SLUICE_ERRCHECK(next(ld, &ev));
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (docs++ > 0)
			rc = at(ld, ev.start_mark,
				"more than one YAML document", NULL);
		yaml_event_delete(&ev);
		SLUICE_ERRCHECK(rc);
		SLUICE_ERRCHECK(load_document(ld));
	}
}

/* Copy the scratch entries and warnings into `conf` from `source`. */
static int
merge(sluice_config *conf, const loader *ld, sluice_config_source source)
{
	const sluice_config *scratch = ld->scratch;
	size_t i;

	for (i = 0; i < scratch->n; i++)
		SLUICE_ERRCHECK(sluice_config_set(
			conf, scratch->entries[i].key,
			scratch->entries[i].value, source));
	for (i = 0; i < ld->dups.n; i++)
		SLUICE_ERRCHECK(sluice__strlist_addf(
			&conf->warnings, "%s", ld->dups.items[i]));
	return 0;
}

int sluice_config_load_string(
	sluice_config *conf,
	const char *yaml,
	size_t len,
	const char *name,
	sluice_config_source source)
{
	loader ld;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.name = name ? name : "<string>";
	rc = sluice_config_new(&ld.scratch);
	if (rc < 0)
		return rc;
	if (!yaml_parser_initialize(&ld.parser)) {
		sluice_config_free(ld.scratch);
		return sluice__error_oom();
	}
	yaml_parser_set_input_string(
		&ld.parser, (const unsigned char *)(yaml ? yaml : ""),
		yaml ? len : 0);
	rc = load_stream(&ld);
	yaml_parser_delete(&ld.parser);
	if (rc == 0)
		rc = merge(conf, &ld, source);
	sluice_config_free(ld.scratch);
	sluice__strlist_clear(&ld.dups);
	return rc;
}

/* Read all of `f` into a new buffer (*buf, *len); at most MAX_FILE_SZ. */
static int read_all(FILE *f, const char *path, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *b = sluice__malloc(cap), *nb;

	if (!b)
		return sluice__error_oom();
	while ((got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n > MAX_FILE_SZ) {
			sluice__free(b);
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
				"configuration file '%s': larger than %u bytes",
				path, MAX_FILE_SZ);
		}
		if (n < cap)
			continue;
		nb = sluice__realloc(b, cap * 2);
		if (!nb) {
			sluice__free(b);
			return sluice__error_oom();
		}
		b = nb;
		cap *= 2;
	}
	if (ferror(f)) {
		sluice__free(b);
		return sluice__error_os(
			SLUICE_ERRCLS_CONFIG, "configuration file '%s'", path);
	}
	*buf = b;
	*len = n;
	return 0;
}

int sluice_config_load_file(
	sluice_config *conf, const char *path, sluice_config_source source)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (!f)
		return sluice__error_os(
			SLUICE_ERRCLS_CONFIG, "configuration file '%s'", path);
	rc = read_all(f, path, &buf, &len);
	fclose(f);
	if (rc < 0)
		return rc;
	rc = sluice_config_load_string(conf, buf, len, path, source);
	sluice__free(buf);
	return rc;
}
