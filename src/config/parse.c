/*
 * Value syntaxes of Flink's configuration: durations (TimeUtils), memory
 * sizes (MemorySize), booleans, plain decimal integers and doubles, enum
 * names.  Each parser explains a failure in one sentence so the caller can
 * prefix "Could not parse value '<raw>' for key '<key>'.".
 *
 * Duration: trim; leading decimal digits (none: "text does not start with
 * a number"); the digits must fit a signed 64-bit long (else Flink's
 * overflow message, with its original "re represented" typo); the rest,
 * trimmed and lower-cased, is the unit label; no label = milliseconds.
 * No sign, no fraction ("1.5s" fails on the label ".5s").  Sub-millisecond
 * results are truncated to whole milliseconds; a result beyond int64 ms
 * is an overflow.
 * Memory: the same shape, units of 1024 (b, k/kb, m/mb, g/gb, t/tb and the
 * long names), no label = bytes, results beyond int64 bytes overflow.
 * Integers: optional sign and decimal digits only, after trimming; "4 *
 * 1024" is an error everywhere.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "util/error.h"

typedef struct unit {
	const char *labels[6]; /* NULL-terminated */
	const char *name;
	int64_t num; /* value = n * num / den */
	int64_t den;
} unit;

static const unit duration_units[] = {
	{{"d", "day", "days", NULL}, "DAYS", 86400000LL, 1},
	{{"h", "hour", "hours", NULL}, "HOURS", 3600000LL, 1},
	{{"min", "m", "minute", "minutes", NULL}, "MINUTES", 60000LL, 1},
	{{"s", "sec", "secs", "second", "seconds", NULL}, "SECONDS", 1000, 1},
	{{"ms", "milli", "millis", "millisecond", "milliseconds", NULL},
	 "MILLISECONDS",
	 1,
	 1},
	{{"\xc2\xb5s", "micro", "micros", "microsecond", "microseconds", NULL},
	 "MICROSECONDS",
	 1,
	 1000},
	{{"ns", "nano", "nanos", "nanosecond", "nanoseconds", NULL},
	 "NANOSECONDS",
	 1,
	 1000000},
};

static const unit memory_units[] = {
	{{"b", "bytes", NULL}, "BYTES", 1, 1},
	{{"k", "kb", "kibibytes", NULL}, "KILO_BYTES", 1LL << 10, 1},
	{{"m", "mb", "mebibytes", NULL}, "MEGA_BYTES", 1LL << 20, 1},
	{{"g", "gb", "gibibytes", NULL}, "GIGA_BYTES", 1LL << 30, 1},
	{{"t", "tb", "tebibytes", NULL}, "TERA_BYTES", 1LL << 40, 1},
};

#define NDUR (sizeof(duration_units) / sizeof(duration_units[0]))
#define NMEM (sizeof(memory_units) / sizeof(memory_units[0]))

/* The unit lists of messages, written out so they need no shared state. */
static const char duration_labels[] =
	"DAYS: (d | day | days), HOURS: (h | hour | hours), MINUTES: (min | "
	"m | minute | minutes), SECONDS: (s | sec | secs | second | seconds), "
	"MILLISECONDS: (ms | milli | millis | millisecond | milliseconds), "
	"MICROSECONDS: (\xc2\xb5s | micro | micros | microsecond | "
	"microseconds), NANOSECONDS: (ns | nano | nanos | nanosecond | "
	"nanoseconds)";
static const char memory_labels[] =
	"(b | bytes) / (k | kb | kibibytes) / (m | mb | mebibytes) / (g | gb | "
	"gibibytes) / (t | tb | tebibytes)";

const char *sluice__duration_units(void)
{
	return duration_labels;
}

const char *sluice__memory_units(void)
{
	return memory_labels;
}

static int ci_equal(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) !=
		    tolower((unsigned char)b[i]))
			return 0;
	return 1;
}

static void why_set(char *why, size_t len, const char *fmt, ...)
	SLUICE_PRINTF(3, 4);

static void why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* Trimmed [*b, *e) of `text`. */
static void trim(const char *text, const char **b, const char **e)
{
	const char *s = text, *t = text + strlen(text);

	while (s < t && isspace((unsigned char)*s))
		s++;
	while (t > s && isspace((unsigned char)t[-1]))
		t--;
	*b = s;
	*e = t;
}

/*
 * Split "<digits><ws><label>": the number into *num, the lower-cased label
 * into `label`.  Returns 0 or EINVALID with `why`.
 */
static int split_number(
	const char *text,
	int64_t *num,
	char *label,
	size_t label_len,
	char *why,
	size_t whylen)
{
	const char *b, *e, *p;
	int64_t v = 0;
	size_t n = 0;

	if (!text)
		return why_set(why, whylen, "no value"), SLUICE_EINVALID;
	trim(text, &b, &e);
	if (b == e) {
		why_set(why, whylen,
			"argument is an empty- or whitespace-only string");
		return SLUICE_EINVALID;
	}
	for (p = b; p < e && isdigit((unsigned char)*p); p++) {
		int d = *p - '0';

		if (v > (INT64_MAX - d) / 10) {
			why_set(why, whylen,
				"The value '%.*s' cannot be re represented as "
				"64bit number (numeric overflow).",
				(int)(e - b), b);
			return SLUICE_EINVALID;
		}
		v = v * 10 + d;
	}
	if (p == b) {
		why_set(why, whylen, "text does not start with a number");
		return SLUICE_EINVALID;
	}
	while (p < e && isspace((unsigned char)*p))
		p++;
	for (; p < e && n + 1 < label_len; p++)
		label[n++] = (char)tolower((unsigned char)*p);
	if (p < e) {
		why_set(why, whylen, "the unit label is too long");
		return SLUICE_EINVALID;
	}
	label[n] = '\0';
	*num = v;
	return 0;
}

static const unit *find_unit(const unit *u, size_t n, const char *label)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; u[i].labels[j]; j++)
			if (!strcmp(u[i].labels[j], label))
				return &u[i];
	return NULL;
}

/* "1.5s": Flink reads ".5s" as the label; say what is really wrong. */
static int is_fraction(const char *label, char *why, size_t whylen)
{
	if (label[0] != '.' || !isdigit((unsigned char)label[1]))
		return 0;
	why_set(why, whylen,
		"fractions are not supported (unit label '%s'): write a whole "
		"number of a smaller unit",
		label);
	return 1;
}

int sluice__parse_duration(
	const char *text, int64_t *out_ms, char *why, size_t whylen)
{
	char label[32];
	const unit *u;
	int64_t n;
	int rc;

	rc = split_number(text, &n, label, sizeof(label), why, whylen);
	if (rc < 0)
		return rc;
	if (!label[0]) {
		*out_ms = n;
		return 0;
	}
	if (is_fraction(label, why, whylen))
		return SLUICE_EINVALID;
	u = find_unit(duration_units, NDUR, label);
	if (!u) {
		why_set(why, whylen,
			"Time interval unit label '%s' does not match any of "
			"the recognized units: %s",
			label, sluice__duration_units());
		return SLUICE_EINVALID;
	}
	if (n > INT64_MAX / u->num) {
		why_set(why, whylen,
			"The value '%lld %s' cannot be represented in "
			"milliseconds as a 64bit number (numeric overflow).",
			(long long)n, label);
		return SLUICE_EINVALID;
	}
	*out_ms = n * u->num / u->den;
	return 0;
}

int sluice__parse_memory(
	const char *text, uint64_t *out, char *why, size_t whylen)
{
	char label[32];
	const unit *u;
	int64_t n;
	int rc;

	rc = split_number(text, &n, label, sizeof(label), why, whylen);
	if (rc < 0)
		return rc;
	if (!label[0]) {
		*out = (uint64_t)n;
		return 0;
	}
	if (is_fraction(label, why, whylen))
		return SLUICE_EINVALID;
	u = find_unit(memory_units, NMEM, label);
	if (!u) {
		why_set(why, whylen,
			"Memory size unit '%s' does not match any of the "
			"recognized units: %s",
			label, sluice__memory_units());
		return SLUICE_EINVALID;
	}
	if (n > INT64_MAX / u->num) {
		const char *b, *e;

		trim(text, &b, &e);
		why_set(why, whylen,
			"The value '%.*s' cannot be re represented as 64bit "
			"number of bytes (numeric overflow).",
			(int)(e - b), b);
		return SLUICE_EINVALID;
	}
	*out = (uint64_t)(n * u->num);
	return 0;
}

int sluice_parse_duration(const char *text, int64_t *out_ms)
{
	char why[SLUICE__WHY_MAX];

	if (sluice__parse_duration(text, out_ms, why, sizeof(why)) < 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"Could not parse '%s' as a duration: %s",
			text ? text : "(null)", why);
	return 0;
}

int sluice_parse_memory(const char *text, uint64_t *out_bytes)
{
	char why[SLUICE__WHY_MAX];

	if (sluice__parse_memory(text, out_bytes, why, sizeof(why)) < 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CONFIG,
			"Could not parse '%s' as a memory size: %s",
			text ? text : "(null)", why);
	return 0;
}

static int parse_bool(const char *raw, int64_t *out, char *why, size_t len)
{
	const char *b, *e;

	trim(raw, &b, &e);
	if (e - b == 4 && ci_equal(b, "true", 4))
		*out = 1;
	else if (e - b == 5 && ci_equal(b, "false", 5))
		*out = 0;
	else
		return why_set(why, len, "expected 'true' or 'false'"),
		       SLUICE_EINVALID;
	return 0;
}

/* Plain decimal integer with optional sign in [lo, hi]. */
static int parse_integer(
	const char *raw,
	int64_t lo,
	int64_t hi,
	const char *what,
	int64_t *out,
	char *why,
	size_t len)
{
	const char *b, *e, *p;
	int neg = 0;
	uint64_t v = 0, lim;

	trim(raw, &b, &e);
	p = b;
	if (p < e && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (p == e)
		goto bad;
	lim = neg ? (uint64_t)(-(lo + 1)) + 1 : (uint64_t)hi;
	for (; p < e; p++) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		if (v > (lim - (uint64_t)(*p - '0')) / 10 ||
		    v * 10 + (uint64_t)(*p - '0') > lim) {
			why_set(why, len, "the number is out of range for %s",
				what);
			return SLUICE_EINVALID;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg)
		*out = v ? -(int64_t)(v - 1) - 1 : 0;
	else
		*out = (int64_t)v;
	return 0;
bad:
	why_set(why, len,
		"expected %s written as plain decimal digits (no units, no "
		"arithmetic)",
		what);
	return SLUICE_EINVALID;
}

static int parse_double(const char *raw, double *out, char *why, size_t len)
{
	const char *b, *e;
	char buf[64], *end;
	double d;

	trim(raw, &b, &e);
	if (b == e || (size_t)(e - b) >= sizeof(buf))
		goto bad;
	memcpy(buf, b, (size_t)(e - b));
	buf[e - b] = '\0';
	errno = 0;
	d = strtod(buf, &end);
	if (*end || errno == ERANGE || !isfinite(d) ||
	    isalpha((unsigned char)buf[0]))
		goto bad;
	*out = d;
	return 0;
bad:
	why_set(why, len, "expected a finite decimal number such as 1.5");
	return SLUICE_EINVALID;
}

static int parse_enum(
	const sluice_option *opt,
	const char *raw,
	int64_t *out,
	char *why,
	size_t len)
{
	const char *b, *e;
	size_t i, j, off = 0;

	trim(raw, &b, &e);
	for (i = 0; opt->enum_values && opt->enum_values[i]; i++) {
		if (strlen(opt->enum_values[i]) == (size_t)(e - b) &&
		    ci_equal(opt->enum_values[i], b, (size_t)(e - b))) {
			*out = (int64_t)i;
			return 0;
		}
	}
	for (i = 0; opt->enum_synonyms && opt->enum_synonyms[i]; i += 2) {
		if (strlen(opt->enum_synonyms[i]) != (size_t)(e - b) ||
		    !ci_equal(opt->enum_synonyms[i], b, (size_t)(e - b)))
			continue;
		for (j = 0; opt->enum_values[j]; j++) {
			if (!strcmp(opt->enum_values[j],
				    opt->enum_synonyms[i + 1])) {
				*out = (int64_t)j;
				return 0;
			}
		}
	}
	off = (size_t)snprintf(why, len, "expected one of ");
	for (i = 0; opt->enum_values && opt->enum_values[i] && off < len; i++)
		off += (size_t)snprintf(
			why + off, len - off, "%s%s", i ? ", " : "",
			opt->enum_values[i]);
	return SLUICE_EINVALID;
}

/* ';'-separated enum values, each as parse_enum; empty entries refused. */
static int parse_enum_list(
	const sluice_option *opt,
	const char *raw,
	sluice__cfg_value *out,
	char *why,
	size_t len)
{
	const char *p = raw, *end;
	char item[128];
	int64_t idx;
	size_t n;

	out->n = 0;
	for (;;) {
		end = strchr(p, ';');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n >= sizeof(item)) {
			why_set(why, len, "an entry is too long");
			return SLUICE_EINVALID;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (!item[strspn(item, " \t\r\n")]) {
			why_set(why, len,
				"expected a ';'-separated list without empty "
				"entries");
			return SLUICE_EINVALID;
		}
		if (out->n == SLUICE_CONFIG_LIST_MAX) {
			snprintf(
				why, len, "expected at most %d entries",
				SLUICE_CONFIG_LIST_MAX);
			return SLUICE_EINVALID;
		}
		if (parse_enum(opt, item, &idx, why, len) < 0) {
			why_set(why, len, "entry '%s' is not a known value",
				item);
			return SLUICE_EINVALID;
		}
		out->list[out->n++] = (uint8_t)idx;
		if (!end)
			return 0;
		p = end + 1;
	}
}

int sluice__cfg_parse(
	const sluice_option *opt,
	const char *raw,
	sluice__cfg_value *out,
	char *why,
	size_t whylen)
{
	memset(out, 0, sizeof(*out));
	switch (opt->type) {
	case SLUICE_OPT_BOOL:
		return parse_bool(raw, &out->i, why, whylen);
	case SLUICE_OPT_INT:
		return parse_integer(
			raw, INT32_MIN, INT32_MAX, "a 32-bit integer", &out->i,
			why, whylen);
	case SLUICE_OPT_LONG:
		return parse_integer(
			raw, INT64_MIN, INT64_MAX, "a 64-bit integer", &out->i,
			why, whylen);
	case SLUICE_OPT_DURATION:
		return sluice__parse_duration(raw, &out->i, why, whylen);
	case SLUICE_OPT_MEMORY:
		return sluice__parse_memory(raw, &out->u, why, whylen);
	case SLUICE_OPT_ENUM:
		return parse_enum(opt, raw, &out->i, why, whylen);
	case SLUICE_OPT_ENUM_LIST:
		return parse_enum_list(opt, raw, out, why, whylen);
	case SLUICE_OPT_DOUBLE:
		return parse_double(raw, &out->d, why, whylen);
	case SLUICE_OPT_URI:
		if (!raw[strspn(raw, " \t\r\n")]) {
			why_set(why, whylen,
				"expected a path or URI, got an "
				"empty string");
			return SLUICE_EINVALID;
		}
		out->s = raw;
		return 0;
	case SLUICE_OPT_STRING:
		out->s = raw;
		return 0;
	}
	why_set(why, whylen, "unknown option type");
	return SLUICE_EINVALID;
}

void sluice_option_expected(const sluice_option *opt, char *buf, size_t len)
{
	size_t i, off;

	switch (opt->type) {
	case SLUICE_OPT_BOOL:
		snprintf(buf, len, "true or false");
		return;
	case SLUICE_OPT_INT:
		snprintf(buf, len, "a 32-bit integer");
		return;
	case SLUICE_OPT_LONG:
		snprintf(buf, len, "a 64-bit integer");
		return;
	case SLUICE_OPT_DURATION:
		snprintf(
			buf, len,
			"a duration such as '10 min', '30 s' or '100 ms'; "
			"bare number = ms");
		return;
	case SLUICE_OPT_MEMORY:
		snprintf(
			buf, len,
			"a memory size such as '20kb', '4 mb' or '1g'; bare "
			"number = bytes");
		return;
	case SLUICE_OPT_ENUM:
	case SLUICE_OPT_ENUM_LIST:
		off = (size_t)snprintf(
			buf, len, "%s",
			opt->type == SLUICE_OPT_ENUM
				? "one of "
				: "a ';'-separated list of ");
		for (i = 0; opt->enum_values[i] && off < len; i++)
			off += (size_t)snprintf(
				buf + off, len - off, "%s%s", i ? ", " : "",
				opt->enum_values[i]);
		for (i = 0;
		     opt->enum_synonyms && opt->enum_synonyms[i] && off < len;
		     i += 2)
			off += (size_t)snprintf(
				buf + off, len - off, "%s%s = %s",
				i ? ", " : " (synonyms: ",
				opt->enum_synonyms[i],
				opt->enum_synonyms[i + 1]);
		if (i && off < len)
			snprintf(buf + off, len - off, ")");
		return;
	case SLUICE_OPT_STRING:
		snprintf(buf, len, "a string");
		return;
	case SLUICE_OPT_URI:
		snprintf(buf, len, "a path or URI such as file:///tmp/ckpt");
		return;
	case SLUICE_OPT_DOUBLE:
		snprintf(buf, len, "a decimal number");
		return;
	}
	snprintf(buf, len, "a value");
}
