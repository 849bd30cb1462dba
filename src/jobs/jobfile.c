/*
 * Parsing job files (docs/jobs.md) with libyaml's document API into the
 * model of spec.h.  The top level is a map with exactly the sections
 * `job:` (name, parallelism, max-parallelism), `pipeline:` (a list of
 * stages; a two-input operator's second input is the stage list under
 * its `inputs:` key) and `config:` (configuration keys, nested maps
 * flattened with dots).  Anything else — an unknown section or key, a
 * list where a value belongs, a stage without or with two kinds — fails
 * with SLUICE_EINVALID naming file:line:column.  Stage parameters are
 * kept as strings; the built-ins parse them (params.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "jobs/spec.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct parse {
	yaml_document_t doc;
	sluice__jobspec *js;
} parse;

#define LINE(n) ((n)->start_mark.line + 1)
#define COL(n)  ((n)->start_mark.column + 1)

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
expect(parse *p, const yaml_node_t *n, yaml_node_type_t t, const char *what)
{
	static const char *const names[] = {
		"nothing", "a value", "a list", "a map"};

	if (n->type == t)
		return 0;
	return sluice__jobspec_error(
		p->js, LINE(n), COL(n), "%s must be %s, not %s", what, names[t],
		names[n->type]);
}

/* "key:", "key: ~" or "key: null" (plain): no value, as sluice.yaml */
static int is_null(const yaml_node_t *n)
{
	const char *v = scalar(n);

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*v || !strcmp(v, "~") || !strcmp(v, "null") ||
		!strcmp(v, "Null") || !strcmp(v, "NULL"));
}

static int
parse_posint(parse *p, const yaml_node_t *n, const char *key, int32_t *out)
{
	char *end;
	long v;
	int rc;

	if ((rc = expect(p, n, YAML_SCALAR_NODE, key)) < 0)
		return rc;
	v = strtol(scalar(n), &end, 10);
	if (*end || end == scalar(n) || v <= 0 || v > 32768)
		return sluice__jobspec_error(
			p->js, LINE(n), COL(n),
			"job: %s: '%s' is not a positive integer (1..32768)",
			key, scalar(n));
	*out = (int32_t)v;
	return 0;
}

static int parse_job(parse *p, const yaml_node_t *map)
{
	yaml_node_pair_t *pr;
	int rc;

	if ((rc = expect(p, map, YAML_MAPPING_NODE, "job")) < 0)
		return rc;
	for (pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&p->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&p->doc, pr->value);
		const char *key;

		if ((rc = expect(p, k, YAML_SCALAR_NODE, "a key")) < 0)
			return rc;
		key = scalar(k);
		if (!strcmp(key, "name")) {
			if ((rc = expect(p, v, YAML_SCALAR_NODE, "job: name")) <
			    0)
				return rc;
			if (!*scalar(v))
				return sluice__jobspec_error(
					p->js, LINE(v), COL(v),
					"job: name is empty");
			sluice__free(p->js->name);
			if (!(p->js->name = sluice__strdup(scalar(v))))
				return sluice__error_oom();
		} else if (!strcmp(key, "parallelism")) {
			rc = parse_posint(p, v, key, &p->js->parallelism);
		} else if (!strcmp(key, "max-parallelism")) {
			rc = parse_posint(p, v, key, &p->js->max_parallelism);
		} else {
			return sluice__jobspec_error(
				p->js, LINE(k), COL(k),
				"unexpected key '%s' in job (expected name, "
				"parallelism, max-parallelism)",
				key);
		}
		if (rc < 0)
			return rc;
	}
	if (!p->js->name)
		return sluice__jobspec_error(
			p->js, LINE(map), COL(map), "job: missing key 'name'");
	if (p->js->max_parallelism && p->js->parallelism &&
	    p->js->max_parallelism < p->js->parallelism)
		return sluice__jobspec_error(
			p->js, LINE(map), COL(map),
			"job: max-parallelism %d is smaller than parallelism "
			"%d",
			(int)p->js->max_parallelism, (int)p->js->parallelism);
	return 0;
}

static int parse_chain(
	parse *p, const yaml_node_t *seq, sluice__chain *c, const char *what);

static int kind_of(const char *key, sluice__stage_kind *k)
{
	static const char *const kinds[] = {
		"source", "key-by", "operator", "sink"};
	int i;

	for (i = 0; i < 4; i++)
		if (!strcmp(key, kinds[i])) {
			*k = (sluice__stage_kind)i;
			return 1;
		}
	return 0;
}

static int add_param(
	parse *p, sluice__stage *st, const yaml_node_t *k, const yaml_node_t *v)
{
	sluice__param *np;
	size_t i;
	int rc;

	for (i = 0; i < st->num_params; i++)
		if (!strcmp(st->params[i].key, scalar(k)))
			return sluice__jobspec_error(
				p->js, LINE(k), COL(k),
				"key '%s' given twice in one stage", scalar(k));
	if ((rc = expect(p, v, YAML_SCALAR_NODE, scalar(k))) < 0)
		return rc;
	np = sluice__reallocarray(st->params, st->num_params + 1, sizeof(*np));
	if (!np)
		return sluice__error_oom();
	st->params = np;
	np = &st->params[st->num_params];
	memset(np, 0, sizeof(*np));
	np->line = LINE(k);
	np->col = COL(k);
	np->key = sluice__strdup(scalar(k));
	np->value = sluice__strdup(scalar(v));
	st->num_params++;
	if (!np->key || !np->value)
		return sluice__error_oom();
	return 0;
}

static int stage_pair(
	parse *p,
	sluice__stage *st,
	const yaml_node_t *k,
	const yaml_node_t *v,
	int *has_kind)
{
	sluice__stage_kind kind;
	int rc;

	if ((rc = expect(p, k, YAML_SCALAR_NODE, "a key")) < 0)
		return rc;
	if (kind_of(scalar(k), &kind)) {
		if (*has_kind)
			return sluice__jobspec_error(
				p->js, LINE(k), COL(k),
				"stage has two kinds ('%s' after another of "
				"source, key-by, operator, sink)",
				scalar(k));
		if ((rc = expect(p, v, YAML_SCALAR_NODE, scalar(k))) < 0)
			return rc;
		*has_kind = 1;
		st->kind = kind;
		st->line = LINE(k);
		st->col = COL(k);
		if (!(st->type = sluice__strdup(scalar(v))))
			return sluice__error_oom();
		return 0;
	}
	if (!strcmp(scalar(k), "inputs")) {
		if (st->has_inputs)
			return sluice__jobspec_error(
				p->js, LINE(k), COL(k),
				"key 'inputs' given twice in one stage");
		st->has_inputs = 1;
		st->inputs_line = LINE(k);
		st->inputs_col = COL(k);
		return parse_chain(p, v, &st->inputs, "inputs");
	}
	return add_param(p, st, k, v);
}

static int parse_stage(parse *p, const yaml_node_t *map, sluice__stage *st)
{
	yaml_node_pair_t *pr;
	int rc, has_kind = 0;

	if ((rc = expect(p, map, YAML_MAPPING_NODE, "a pipeline stage")) < 0)
		return rc;
	for (pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++)
		if ((rc = stage_pair(
			     p, st, yaml_document_get_node(&p->doc, pr->key),
			     yaml_document_get_node(&p->doc, pr->value),
			     &has_kind)) < 0)
			return rc;
	if (!has_kind)
		return sluice__jobspec_error(
			p->js, LINE(map), COL(map),
			"stage has none of source, key-by, operator, sink");
	if (st->has_inputs && st->kind != SLUICE__STAGE_OPERATOR)
		return sluice__jobspec_error(
			p->js, st->inputs_line, st->inputs_col,
			"unexpected key 'inputs' in %s '%s' (only two-input "
			"operators have a second input)",
			st->kind == SLUICE__STAGE_SINK ? "sink" : "source",
			st->type);
	return 0;
}

static int parse_chain(
	parse *p, const yaml_node_t *seq, sluice__chain *c, const char *what)
{
	yaml_node_item_t *it;
	size_t n;
	int rc;

	if ((rc = expect(p, seq, YAML_SEQUENCE_NODE, what)) < 0)
		return rc;
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0)
		return sluice__jobspec_error(
			p->js, LINE(seq), COL(seq), "%s is empty", what);
	if (!(c->stages = sluice__calloc(n, sizeof(*c->stages))))
		return sluice__error_oom();
	for (it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *st = yaml_document_get_node(&p->doc, *it);

		c->count++;
		if ((rc = parse_stage(p, st, &c->stages[c->count - 1])) < 0)
			return rc;
	}
	return 0;
}

static int add_config(parse *p, const char *key, const char *value)
{
	sluice__jobspec *js = p->js;
	char **k, **v;

	k = sluice__reallocarray(
		js->config_keys, js->num_config + 1, sizeof(*k));
	if (k)
		js->config_keys = k;
	v = sluice__reallocarray(
		js->config_values, js->num_config + 1, sizeof(*v));
	if (v)
		js->config_values = v;
	if (!k || !v)
		return sluice__error_oom();
	k[js->num_config] = sluice__strdup(key);
	v[js->num_config] = sluice__strdup(value);
	js->num_config++;
	if (!k[js->num_config - 1] || !v[js->num_config - 1])
		return sluice__error_oom();
	return 0;
}

static int
parse_config(parse *p, const yaml_node_t *map, const char *prefix, int depth)
{
	yaml_node_pair_t *pr;
	char key[1024];
	int rc;

	if ((rc = expect(p, map, YAML_MAPPING_NODE, "config")) < 0)
		return rc;
	for (pr = map->data.mapping.pairs.start;
	     pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(&p->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(&p->doc, pr->value);
		int n;

		if ((rc = expect(p, k, YAML_SCALAR_NODE, "a key")) < 0)
			return rc;
		n = snprintf(
			key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "",
			scalar(k));
		if (n < 0 || (size_t)n >= sizeof(key) || depth > 32)
			return sluice__jobspec_error(
				p->js, LINE(k), COL(k),
				"config key too long or nested too deep");
		if (v->type == YAML_MAPPING_NODE)
			rc = parse_config(p, v, key, depth + 1);
		else if (
			(rc = expect(p, v, YAML_SCALAR_NODE, key)) == 0 &&
			!is_null(v))
			rc = add_config(p, key, scalar(v));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
top_pair(parse *p, const yaml_node_t *k, const yaml_node_t *v, unsigned *seen)
{
	static const char *const sections[] = {"job", "pipeline", "config"};
	unsigned i;
	int rc;

	if ((rc = expect(p, k, YAML_SCALAR_NODE, "a key")) < 0)
		return rc;
	for (i = 0; i < 3; i++)
		if (!strcmp(scalar(k), sections[i]))
			break;
	if (i == 3)
		return sluice__jobspec_error(
			p->js, LINE(k), COL(k),
			"unexpected key '%s' (a job file has job, pipeline "
			"and config)",
			scalar(k));
	if (*seen & (1u << i))
		return sluice__jobspec_error(
			p->js, LINE(k), COL(k), "section '%s' given twice",
			sections[i]);
	*seen |= 1u << i;
	if (i == 0)
		return parse_job(p, v);
	if (i == 1)
		return parse_chain(p, v, &p->js->pipeline, "pipeline");
	if (v->type == YAML_SCALAR_NODE && !*scalar(v))
		return 0; /* "config:" with nothing */
	return parse_config(p, v, "", 0);
}

static int parse_top(parse *p)
{
	yaml_node_t *root = yaml_document_get_root_node(&p->doc);
	yaml_node_pair_t *pr;
	unsigned seen = 0;
	int rc;

	if (!root)
		return sluice__jobspec_error(
			p->js, 1, 1,
			"empty job file (expected job and "
			"pipeline sections)");
	if ((rc = expect(p, root, YAML_MAPPING_NODE, "a job file")) < 0)
		return rc;
	for (pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++)
		if ((rc = top_pair(
			     p, yaml_document_get_node(&p->doc, pr->key),
			     yaml_document_get_node(&p->doc, pr->value),
			     &seen)) < 0)
			return rc;
	if (!(seen & 1u))
		return sluice__jobspec_error(
			p->js, LINE(root), COL(root), "missing section 'job'");
	if (!(seen & 2u))
		return sluice__jobspec_error(
			p->js, LINE(root), COL(root),
			"missing section 'pipeline'");
	return 0;
}

int sluice__jobspec_parse(
	sluice__jobspec *js, const char *yaml, size_t len, const char *name)
{
	yaml_parser_t parser;
	parse p;
	int rc;

	memset(js, 0, sizeof(*js));
	memset(&p, 0, sizeof(p));
	p.js = js;
	if (!(js->file = sluice__strdup(name)))
		return sluice__error_oom();
	if (!yaml_parser_initialize(&parser))
		return sluice__error_oom();
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &p.doc)) {
		rc = sluice__jobspec_error(
			js, parser.problem_mark.line + 1,
			parser.problem_mark.column + 1, "malformed YAML: %s",
			parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return rc;
	}
	rc = parse_top(&p);
	yaml_document_delete(&p.doc);
	yaml_parser_delete(&parser);
	return rc;
}
