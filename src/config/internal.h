/*
 * Internals shared by the files of src/config: the store layout, the
 * value parsers that explain a failure in a caller buffer, and registry
 * helpers (closest key, sensitivity).
 */
#ifndef SLUICE_CONFIG_INTERNAL_H
#define SLUICE_CONFIG_INTERNAL_H

#include "sluice/config.h"

/* One raw value as set, under the exact key it was given with. */
typedef struct sluice__cfg_entry {
	char *key;
	char *value;
	sluice_config_source source;
} sluice__cfg_entry;

/* A growable list of owned strings (warnings, problems). */
typedef struct sluice__strlist {
	char **items;
	size_t n;
	size_t cap;
} sluice__strlist;

struct sluice_config {
	sluice__cfg_entry *entries;
	size_t n;
	size_t cap;
	sluice__strlist warnings;
	sluice__strlist problems;
};

/* A parsed value of any option type. */
typedef struct sluice__cfg_value {
	int64_t i;     /* bool, int, long, duration (ms), enum index */
	uint64_t u;    /* memory (bytes) */
	double d;      /* double */
	const char *s; /* string / uri: the raw text */
	uint8_t list[SLUICE_CONFIG_LIST_MAX]; /* enum list: indexes */
	size_t n;                             /* enum list: entries */
} sluice__cfg_value;

/* Size of the reason buffers the parsers fill. */
#define SLUICE__WHY_MAX 512

/*
 * Parse `raw` as a value of `opt`'s type into `out`.  Returns 0, or
 * SLUICE_EINVALID with a one-sentence reason in `why` (no last error set).
 */
int sluice__cfg_parse(
	const sluice_option *opt,
	const char *raw,
	sluice__cfg_value *out,
	char *why,
	size_t whylen);

/* The same for one syntax; `why` as above. */
int sluice__parse_duration(
	const char *text, int64_t *out_ms, char *why, size_t whylen);
int sluice__parse_memory(
	const char *text, uint64_t *out, char *why, size_t whylen);

/* Append a formatted line unless an identical one is there.  0 / ENOMEM. */
int sluice__strlist_addf(sluice__strlist *l, const char *fmt, ...)
	SLUICE_PRINTF(2, 3);
void sluice__strlist_clear(sluice__strlist *l);

/*
 * The effective entry for `opt`: the key itself, else its aliases in
 * order.  NULL when none is set.
 */
const sluice__cfg_entry *
sluice__cfg_resolve(const sluice_config *conf, const sluice_option *opt);
/* sluice_config_set without the warnings (scratch configs). */
int sluice__config_put(
	sluice_config *conf,
	const char *key,
	const char *value,
	sluice_config_source source);
/* The entry set under exactly `key`, or NULL. */
const sluice__cfg_entry *
sluice__cfg_entry_find(const sluice_config *conf, const char *key);

/*
 * Edit distance (Levenshtein) between two strings, ASCII case-insensitive.
 * Stops early once it exceeds `max`, returning some value > max.
 */
size_t sluice__edit_distance(const char *a, const char *b, size_t max);

/* The Flink duration unit table, for messages and docs. */
const char *sluice__duration_units(void);
const char *sluice__memory_units(void);

#endif
