/*
 * The sluice command: one file per subcommand (cmd_<name>.c), each with an
 * entry point here.  Only tools/ prints or exits.
 *
 * Exit codes: 0 success, 1 the operation failed (I/O, corrupt data, job
 * failure), 2 bad usage or invalid input (configuration, arguments).
 */
#ifndef SLUICE_TOOLS_CMD_H
#define SLUICE_TOOLS_CMD_H

#include <stdio.h>

#define EXIT_FAIL  1
#define EXIT_USAGE 2

typedef struct cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
	const char *summary;               /* one line for `sluice help` */
	const char *usage;                 /* full help text */
} cmd;

/* Print "sluice: <fmt>" to stderr, with a newline. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the last sluice error as "sluice: <context>: <message>". */
void cli_error_last(const char *context);
/* Install the stderr log callback (WARN and up, DEBUG with SLUICE_DEBUG=1). */
void cli_log_init(void);

struct sluice_config;
/*
 * If argv[*i] is `--config FILE`, `--config=FILE`, `-D key=value` or
 * `-Dkey=value`, apply it to `conf` (advancing *i past a separate value) and
 * return 1; return 0 for any other argument; -1 after printing an error.
 */
int cli_config_opt(
	struct sluice_config *conf,
	const char *cmdname,
	int argc,
	char **argv,
	int *i);

/*
 * Make the storage of `uri` available: for s3:// and obs:// URIs create the
 * object storage from `conf` (s3.* keys, AWS_* variables), for hdfs:// and
 * webhdfs:// the WebHDFS storage (hadoop.user.name), and register it.
 * 0, or -1 after printing the error (e.g. the missing key).
 */
int cli_storage_for(
	const struct sluice_config *conf, const char *cmdname, const char *uri);

struct cJSON;
/* Parse the JSON file at `path`; NULL when unreadable or not JSON.  Free
 * with cJSON_Delete. */
struct cJSON *cli_read_json(const char *path);

extern const cmd cmd_config_def;
extern const cmd cmd_checkpoint_def;
extern const cmd cmd_doctor_def;
extern const cmd cmd_run_def;
extern const cmd cmd_savepoint_def;
extern const cmd cmd_stats_def;
extern const cmd cmd_bench_def;

#endif
