/*
 * sluice config: check a configuration (effective values with their
 * sources, warnings, problems), explain one key, list every key, and print
 * the registry as Markdown (committed as docs/configuration.md).  All text
 * comes from the option registry in src/config/options.c.  Secret values
 * are shown as "******".
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "sluice/config.h"
#include "sluice/sluice.h"

#define REDACTED "******"

static const char *shown(const char *key, const char *raw)
{
	return sluice_config_is_sensitive(key) ? REDACTED : raw;
}

static void bounds_text(const sluice_option *opt, char *buf, size_t len)
{
	const char *unit = opt->type == SLUICE_OPT_DURATION ? " ms"
			   : opt->type == SLUICE_OPT_MEMORY ? " bytes"
							    : "";
	int open_top = opt->max == INT64_MAX ||
		       (opt->type == SLUICE_OPT_INT && opt->max == INT32_MAX);

	buf[0] = '\0';
	if (opt->min > opt->max)
		return;
	if (open_top)
		snprintf(buf, len, ">= %lld%s", (long long)opt->min, unit);
	else
		snprintf(
			buf, len, "%lld to %lld%s", (long long)opt->min,
			(long long)opt->max, unit);
}

static void aliases_text(const sluice_option *opt, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; opt->aliases && opt->aliases[i] && off < len; i++)
		off += (size_t)snprintf(
			buf + off, len - off, "%s%s", i ? ", " : "",
			opt->aliases[i]);
}

static void print_source(const sluice_config *conf, const sluice_option *opt)
{
	sluice_config_source src;
	const char *raw, *alias;

	if (sluice_config_lookup(conf, opt->key, &raw, &src, &alias) < 0 ||
	    !raw)
		return;
	printf("%s: %s  # %s", opt->key, shown(opt->key, raw),
	       sluice_config_source_name(src));
	if (alias)
		printf(", via deprecated alias %s", alias);
	putchar('\n');
}

static void print_effective(const sluice_config *conf)
{
	sluice_config_source src;
	const char *key, *raw;
	size_t i;

	for (i = 0; i < sluice_option_count(); i++)
		print_source(conf, sluice_option_at(i));
	for (i = 0; i < sluice_config_entry_count(conf); i++) {
		if (sluice_config_entry_at(conf, i, &key, &raw, &src) < 0 ||
		    sluice_option_find(key, NULL))
			continue;
		printf("%s: %s  # %s, unknown key\n", key, shown(key, raw),
		       sluice_config_source_name(src));
	}
}

/* The -D value at argv[*i] ("-D k=v" or "-Dk=v"), or NULL for FILE. */
static const char *dynamic_arg(int argc, char **argv, int *i, int *bad)
{
	const char *arg = argv[*i];

	*bad = 0;
	if (!strcmp(arg, "-D")) {
		if (++*i < argc)
			return argv[*i];
		cli_error("config check: -D needs key=value");
	} else if (!strncmp(arg, "-D", 2)) {
		return arg + 2;
	} else if (arg[0] != '-') {
		return NULL;
	} else {
		cli_error("config check: unexpected argument '%s'", arg);
	}
	*bad = 1;
	return NULL;
}

/* Load FILE, then apply every -D; 0 or EXIT_USAGE. */
static int check_load(sluice_config *conf, int argc, char **argv)
{
	const char *file = NULL, *d;
	int i, bad;

	for (i = 1; i < argc; i++) {
		if (dynamic_arg(argc, argv, &i, &bad) || bad) {
			if (bad)
				return EXIT_USAGE;
		} else if (!file) {
			file = argv[i];
		} else {
			cli_error(
				"config check: more than one FILE ('%s', "
				"'%s')",
				file, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (file &&
	    sluice_config_load_file(conf, file, SLUICE_CONFIG_FILE) < 0) {
		cli_error_last("config check");
		return EXIT_USAGE;
	}
	for (i = 1; i < argc; i++) {
		d = dynamic_arg(argc, argv, &i, &bad);
		if (d && sluice_config_set_arg(conf, d) < 0) {
			cli_error_last("config check");
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int check(int argc, char **argv)
{
	sluice_config *conf = NULL;
	size_t k, np;
	int rc;

	if (sluice_config_new(&conf) < 0) {
		cli_error_last("config check");
		return EXIT_FAIL;
	}
	rc = check_load(conf, argc, argv);
	if (rc)
		goto out;
	rc = sluice_config_validate(conf) < 0 ? EXIT_USAGE : 0;
	print_effective(conf);
	for (k = 0; k < sluice_config_warning_count(conf); k++)
		printf("warning: %s\n", sluice_config_warning(conf, k));
	np = sluice_config_problem_count(conf);
	for (k = 0; k < np; k++)
		fprintf(stderr, "sluice: config check: %s\n",
			sluice_config_problem(conf, k));
	if (rc == 0)
		printf("configuration is valid\n");
	else
		fprintf(stderr,
			"sluice: config check: configuration is invalid (%zu "
			"problem%s)\n",
			np, np == 1 ? "" : "s");
out:
	sluice_config_free(conf);
	return rc;
}

static void explain_option(const sluice_option *opt)
{
	char buf[512];

	printf("%s\n", opt->key);
	sluice_option_expected(opt, buf, sizeof(buf));
	printf("  type:     %s (%s)\n", sluice_option_type_name(opt->type),
	       buf);
	printf("  default:  %s\n",
	       opt->default_value ? opt->default_value : "(none)");
	aliases_text(opt, buf, sizeof(buf));
	if (buf[0])
		printf("  aliases:  %s (deprecated, in fallback order)\n", buf);
	bounds_text(opt, buf, sizeof(buf));
	if (buf[0])
		printf("  bounds:   %s\n", buf);
	if (opt->flags & SLUICE_OPTF_SECRET)
		printf("  secret:   yes (shown as " REDACTED ")\n");
	if (opt->flags & SLUICE_OPTF_NOOP)
		printf("  status:   deprecated, no effect\n");
	else if (opt->flags & SLUICE_OPTF_DEPRECATED)
		printf("  status:   deprecated\n");
	else if (opt->flags & SLUICE_OPTF_NO_EFFECT)
		printf("  status:   not implemented in sluice, no effect\n");
	printf("  meaning:  %s\n", opt->description);
	if (opt->advice)
		printf("  advice:   %s\n", opt->advice);
}

static int explain(int argc, char **argv)
{
	const sluice_option *opt;
	const char *near;
	int via_alias;

	if (argc != 2) {
		cli_error("config explain: expected one KEY");
		return EXIT_USAGE;
	}
	opt = sluice_option_find(argv[1], &via_alias);
	if (!opt) {
		near = sluice_option_closest(argv[1]);
		if (near)
			cli_error(
				"config explain: unknown key '%s' (did you "
				"mean '%s'?)",
				argv[1], near);
		else
			cli_error("config explain: unknown key '%s'", argv[1]);
		return EXIT_USAGE;
	}
	if (via_alias)
		printf("%s is a deprecated alias of %s\n\n", argv[1], opt->key);
	explain_option(opt);
	return 0;
}

static int list(int argc, char **argv)
{
	const sluice_option *opt;
	size_t i;

	(void)argv;
	if (argc != 1) {
		cli_error("config list: takes no arguments");
		return EXIT_USAGE;
	}
	for (i = 0; i < sluice_option_count(); i++) {
		opt = sluice_option_at(i);
		printf("%-68s %-8s %s\n", opt->key,
		       sluice_option_type_name(opt->type),
		       opt->default_value ? opt->default_value : "-");
	}
	return 0;
}

static void docs_option(const sluice_option *opt)
{
	char buf[512];

	printf("### `%s`\n\n", opt->key);
	printf("%s\n\n", opt->description);
	printf("| | |\n|---|---|\n");
	sluice_option_expected(opt, buf, sizeof(buf));
	printf("| type | %s: %s |\n", sluice_option_type_name(opt->type), buf);
	printf("| default | %s |\n",
	       opt->default_value ? opt->default_value : "(none)");
	aliases_text(opt, buf, sizeof(buf));
	if (buf[0])
		printf("| deprecated aliases | %s |\n", buf);
	bounds_text(opt, buf, sizeof(buf));
	if (buf[0])
		printf("| bounds | %s |\n", buf);
	if (opt->flags & SLUICE_OPTF_SECRET)
		printf("| secret | shown as `" REDACTED "` |\n");
	if (opt->flags & SLUICE_OPTF_NOOP)
		printf("| status | deprecated, no effect |\n");
	else if (opt->flags & SLUICE_OPTF_DEPRECATED)
		printf("| status | deprecated |\n");
	else if (opt->flags & SLUICE_OPTF_NO_EFFECT)
		printf("| status | not implemented in sluice, no effect |\n");
	if (opt->advice)
		printf("| advice | %s |\n", opt->advice);
	putchar('\n');
}

static const char docs_intro[] =
	"# Configuration\n\n"
	"<!-- Generated by `sluice config docs` from src/config/options.c; "
	"do not edit. -->\n\n"
	"sluice reads Flink's configuration keys: a YAML file (flat "
	"`a.b.c: v` keys and nested maps, both accepted), then `-D "
	"key=value` overrides. Precedence: default < file < job < `-D`. "
	"Every key below is listed under its Flink 2.x name; its deprecated "
	"aliases are read in the order shown when the key itself is not "
	"set, with a deprecation warning. When both a key and an alias are "
	"set, the key wins and the alias is reported as ignored. Unknown "
	"keys produce a warning with the closest known key. Check a "
	"configuration with `sluice config check [FILE] [-D key=value]...`; "
	"explain one key with `sluice config explain KEY`.\n\n"
	"## Value syntax\n\n"
	"- **duration**: a whole number and an optional unit, whitespace "
	"allowed between them (`10min`, `30 s`, `100ms`); no unit = "
	"milliseconds; no fractions (`1.5s` is rejected). Units: "
	"`d`/`day`/`days`, `h`/`hour`/`hours`, `min`/`m`/`minute`/`minutes`, "
	"`s`/`sec`/`secs`/`second`/`seconds`, "
	"`ms`/`milli`/`millis`/`millisecond`/`milliseconds`, "
	"`µs`/`micro`/`micros`/`microsecond`/`microseconds`, "
	"`ns`/`nano`/`nanos`/`nanosecond`/`nanoseconds`. Sub-millisecond "
	"parts are truncated.\n"
	"- **memory**: a whole number and an optional unit of 1024, "
	"case-insensitive (`20kb` = 20480, `4 mb`); no unit = bytes. Units: "
	"`b`/`bytes`, `k`/`kb`/`kibibytes`, `m`/`mb`/`mebibytes`, "
	"`g`/`gb`/`gibibytes`, `t`/`tb`/`tebibytes`.\n"
	"- **bool**: `true` or `false`, case-insensitive.\n"
	"- **int**, **long**: plain decimal digits with an optional sign. "
	"No arithmetic: `4 * 1024` is an error.\n"
	"- **enum**: one of the listed names, case-insensitive.\n"
	"- **uri**: a path or `scheme://...` URI.\n\n"
	"An unparseable value is reported as `Could not parse value '<raw>' "
	"for key '<key>'.` followed by the reason.\n\n"
	"## Cross-key rules\n\n"
	"- `execution.checkpointing.interval` unset or 0 disables periodic "
	"checkpoints; otherwise it and `execution.checkpointing.timeout` "
	"must be at least 10 ms.\n"
	"- `execution.checkpointing.min-pause` is capped at one year and "
	"raises the interval when larger (warning).\n"
	"- Unaligned checkpoints need EXACTLY_ONCE (\"Cannot use unaligned "
	"checkpoints with AT_LEAST_ONCE checkpointing mode\") and "
	"`max-concurrent-checkpoints` 1 (\"maxConcurrentCheckpoints can't "
	"be > 1 if UnalignedCheckpoints enabled\").\n"
	"- `execution.checkpointing.interval-during-backlog` must be 0 or at "
	"least the interval.\n"
	"- `execution.checkpointing.data-inline-threshold` above 1 MiB: "
	"warning \"Ignoring invalid file size threshold value ...\" and the "
	"default 20 kb is used. The effective write buffer is max("
	"`write-buffer-size`, inline threshold).\n"
	"- `execution.checkpointing.num-retained` <= 0: warning, 1 is "
	"used.\n"
	"- `state.latency-track.sample-interval` must be >= 1 when latency "
	"tracking is enabled.\n"
	"- `parallelism.default` must not exceed a set "
	"`pipeline.max-parallelism`; `taskmanager.memory.segment-size` must "
	"be a power of two; exponential-delay: multiplier >= 1, jitter in "
	"[0, 1], max-backoff >= initial-backoff.\n"
	"- `state.backend.async` and `execution.checkpointing.force` are "
	"deprecated (warning); incremental checkpoints with the hashmap "
	"backend have no effect (warning).\n\n"
	"## Options\n\n";

static int docs(int argc, char **argv)
{
	size_t i;

	(void)argv;
	if (argc != 1) {
		cli_error("config docs: takes no arguments");
		return EXIT_USAGE;
	}
	fputs(docs_intro, stdout);
	for (i = 0; i < sluice_option_count(); i++)
		docs_option(sluice_option_at(i));
	return 0;
}

static int run(int argc, char **argv)
{
	if (argc < 2) {
		cli_error("config: expected check, explain, list or docs");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "check"))
		return check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "explain"))
		return explain(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "docs"))
		return docs(argc - 1, argv + 1);
	cli_error(
		"config: unknown subcommand '%s' (expected check, explain, "
		"list or docs)",
		argv[1]);
	return EXIT_USAGE;
}

const cmd cmd_config_def = {
	"config", run, "check, explain and list configuration",
	"usage: sluice config check [FILE] [-D key=value]...\n"
	"       sluice config explain KEY\n"
	"       sluice config list\n"
	"       sluice config docs\n\n"
	"check    print the effective configuration (each key with a value, "
	"its\n"
	"         source: default, file, -D, or the deprecated alias it came\n"
	"         from), then warnings; exit 0 when valid, 2 when not, with "
	"one\n"
	"         line per problem. FILE is YAML, flat or nested keys.\n"
	"explain  type, default, aliases, bounds, meaning and advice of a "
	"key\n"
	"         (an alias works too)\n"
	"list     every key with its type and default\n"
	"docs     the whole registry as Markdown (docs/configuration.md)\n"};
