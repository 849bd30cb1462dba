/*
 * Entry point of the sluice command: global flags, then dispatch to the
 * subcommand table.  Each subcommand lives in its own cmd_<name>.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "sluice/sluice.h"

static const cmd *const commands[] = {
	&cmd_run_def,
	&cmd_savepoint_def,
	&cmd_stats_def,
	&cmd_doctor_def,
	&cmd_checkpoint_def,
	&cmd_config_def,
	&cmd_bench_def,
	NULL, /* keeps one entry per line under clang-format */
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]) - 1)

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_error_last(const char *context)
{
	const sluice_error *e = sluice_error_last();

	if (context)
		fprintf(stderr, "sluice: %s: %s\n", context, e->message);
	else
		fprintf(stderr, "sluice: %s\n", e->message);
}

static void log_to_stderr(sluice_log_level level, const char *msg, void *p)
{
	(void)p;
	fprintf(stderr, "%s: %s\n", sluice_log_level_name(level), msg);
}

void cli_log_init(void)
{
	const char *dbg = getenv("SLUICE_DEBUG");
	sluice_log_level min = SLUICE_LOG_WARN;

	if (dbg && *dbg && strcmp(dbg, "0"))
		min = SLUICE_LOG_DEBUG;
	sluice_log_set(log_to_stderr, NULL, min);
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: sluice [--version] <command> [<args>]\n\n"
		     "Fault-tolerant state for stream processing.\n\n"
		     "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i]->name,
			commands[i]->summary);
	fprintf(out, "  %-12s %s\n", "help", "show help for a command");
	fprintf(out, "\nRun 'sluice help <command>' for details.\n");
}

static const cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static int help(int argc, char **argv)
{
	const cmd *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		cli_error("no such command '%s'", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	fputs(c->usage, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const cmd *c;

	cli_log_init();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("sluice %s\n", sluice_version());
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help(1, argv);
	if (!strcmp(argv[1], "help"))
		return help(argc - 1, argv + 1);
	c = find_cmd(argv[1]);
	if (!c) {
		cli_error("no such command '%s'", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc > 2 &&
	    (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
		fputs(c->usage, stdout);
		return 0;
	}
	return c->run(argc - 1, argv + 1);
}
