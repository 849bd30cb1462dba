/*
 * sluice run: run a job file with checkpoints, failover and restore.
 *
 * Configuration layers: defaults < --config FILE < the job file's config:
 * section < -D key=value.  `--restore latest` restores the newest
 * completed checkpoint of this job that verifies (older retained ones when
 * the newest does not), or starts fresh when there is none, and says which;
 * `--restore PATH` restores a savepoint or checkpoint directory.
 * SIGINT stops with a savepoint and prints its path; SIGTERM cancels
 * (externalized-checkpoint-retention applies).  Exit 0 when the job
 * finished, 1 when it failed (the reason printed), 2 for bad input.
 *
 * At start it prints the job directory whose control channel
 * `sluice savepoint JOB-DIR` talks to (sluice_run_serve_control).  With
 * stderr on a terminal (TERM not "dumb") a status line (status.c) is
 * redrawn in place four times a second; log lines clear it first (one
 * lock around everything written to stderr while it is shown).  Not a
 * terminal: only the plain log lines.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cmd.h"
#include "sluice/clock.h"
#include "sluice/config.h"
#include "sluice/job.h"
#include "sluice/jobfile.h"
#include "sluice/log.h"
#include "sluice/monitor.h"
#include "sluice/sys/storage.h"
#include "status.h"

#define STATUS_MS     250 /* status line period */
#define STATUS_WINDOW 4   /* rates over the last STATUS_WINDOW periods */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

typedef struct run_args {
	const char *jobfile;
	const char *config_file;
	const char *restore;
	const char *stats_json;
	const char **dyn; /* -D values in order */
	int ndyn;
} run_args;

static int parse_args(run_args *a, int argc, char **argv)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->dyn = calloc((size_t)argc, sizeof(*a->dyn));
	if (!a->dyn)
		return -1;
	for (i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char **slot = NULL;

		if (!strcmp(s, "-D") || !strcmp(s, "--config") ||
		    !strcmp(s, "--restore") || !strcmp(s, "--stats-json")) {
			if (i + 1 >= argc) {
				cli_error("run: %s needs a value", s);
				return -1;
			}
			slot = s[1] == 'D'   ? &a->dyn[a->ndyn++]
			       : s[2] == 'c' ? &a->config_file
			       : s[2] == 'r' ? &a->restore
					     : &a->stats_json;
			*slot = argv[++i];
		} else if (!strncmp(s, "-D", 2)) {
			a->dyn[a->ndyn++] = s + 2;
		} else if (s[0] == '-') {
			cli_error("run: unknown option '%s'", s);
			return -1;
		} else if (!a->jobfile) {
			a->jobfile = s;
		} else {
			cli_error(
				"run: more than one job file ('%s', '%s')",
				a->jobfile, s);
			return -1;
		}
	}
	if (!a->jobfile) {
		cli_error("run: no job file given");
		return -1;
	}
	return 0;
}

/* Build the configuration in Flink's precedence and check it. */
static int
load_config(sluice_config *conf, const run_args *a, sluice_jobfile **jf)
{
	size_t i;
	int k;

	if (a->config_file &&
	    sluice_config_load_file(conf, a->config_file, SLUICE_CONFIG_FILE) <
		    0) {
		cli_error_last("run");
		return -1;
	}
	if (sluice_jobfile_load(jf, a->jobfile, conf) < 0) {
		cli_error_last("run");
		return -1;
	}
	for (k = 0; k < a->ndyn; k++)
		if (sluice_config_set_arg(conf, a->dyn[k]) < 0) {
			cli_error_last("run");
			return -1;
		}
	if (a->restore && strcmp(a->restore, "latest") &&
	    sluice_config_set(
		    conf, "execution.state-recovery.path", a->restore,
		    SLUICE_CONFIG_DYNAMIC) < 0) {
		cli_error_last("run");
		return -1;
	}
	if (sluice_config_validate(conf) < 0) {
		for (i = 0; i < sluice_config_problem_count(conf); i++)
			cli_error("run: %s", sluice_config_problem(conf, i));
		return -1;
	}
	for (i = 0; i < sluice_config_warning_count(conf); i++)
		fprintf(stderr, "warning: %s\n",
			sluice_config_warning(conf, i));
	return 0;
}

/* Register the storages of the checkpoint and savepoint dirs. */
static int storages(const sluice_config *conf)
{
	static const char *const keys[] = {
		"execution.checkpointing.dir",
		"execution.checkpointing.savepoint-dir",
		"execution.state-recovery.path"};
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (sluice_config_get_string(conf, keys[i], &v) == 0 && v &&
		    cli_storage_for(conf, "run", v) < 0)
			return -1;
	return 0;
}

/* ---- stderr with a status line ----------------------------------------- */

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static int line_shown; /* under err_lock */

static void clear_line_locked(void)
{
	if (line_shown) {
		fputs("\r\033[K", stderr);
		line_shown = 0;
	}
}

static void clear_line(void)
{
	pthread_mutex_lock(&err_lock);
	clear_line_locked();
	fflush(stderr);
	pthread_mutex_unlock(&err_lock);
}

static void log_clearing(sluice_log_level level, const char *msg, void *p)
{
	(void)p;
	pthread_mutex_lock(&err_lock);
	clear_line_locked();
	fprintf(stderr, "%s: %s\n", sluice_log_level_name(level), msg);
	pthread_mutex_unlock(&err_lock);
}

typedef struct status {
	int on;
	sluice_run_metrics ring[STATUS_WINDOW];
	int n; /* snapshots taken */
} status;

static void status_init(status *st)
{
	const char *term = getenv("TERM");
	const char *dbg = getenv("SLUICE_DEBUG");

	memset(st, 0, sizeof(*st));
	st->on = isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb"));
	if (st->on) /* as cli_log_init, but clearing the line first */
		sluice_log_set(
			log_clearing, NULL,
			dbg && *dbg && strcmp(dbg, "0") ? SLUICE_LOG_DEBUG
							: SLUICE_LOG_WARN);
}

static void status_draw(status *st, sluice_run *run)
{
	sluice_run_metrics *cur = &st->ring[st->n % STATUS_WINDOW];
	const sluice_run_metrics *prev = NULL;
	struct winsize ws;
	char line[512];
	int width = 80;

	if (!st->on || sluice_run_metrics_read(run, cur) < 0)
		return;
	if (st->n > 0) /* the oldest snapshot of the window */
		prev = &st
				->ring[st->n >= STATUS_WINDOW
					       ? (st->n + 1) % STATUS_WINDOW
					       : 0];
	st->n++;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		width = ws.ws_col;
	if (width > (int)sizeof(line) - 1)
		width = (int)sizeof(line) - 1;
	cli_status_format(
		line, sizeof(line), width - 1, prev, cur,
		sluice_clock_wall_ms(sluice_clock_system()));
	pthread_mutex_lock(&err_lock);
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	line_shown = 1;
	pthread_mutex_unlock(&err_lock);
}

/* ---- the run ---------------------------------------------------------- */

static void write_stats(sluice_run *run, const char *path)
{
	char tmp[4096], *json = NULL;
	FILE *f = NULL;
	size_t n;

	if (!path || sluice_run_stats_json(run, -1, &json) < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = strlen(json);
	while (n && json[n - 1] != '}') /* the object's closing brace */
		n--;
	if (n && (f = fopen(tmp, "w"))) {
		/* Flink's REST document (counts, summary, latest, history)
		 * with the run's restart count added */
		fprintf(f, "%.*s,\"restarts\":%d}\n", (int)(n - 1), json,
			(int)sluice_run_restarts(run));
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	sluice_free_bytes(json);
}

/* Wait for the end, acting on signals, refreshing the statistics every
 * second and the status line every STATUS_MS. */
static int supervise(sluice_run *run, const run_args *a, sluice_run_result *res)
{
	char *path = NULL;
	status st;
	int tick = 0;

	status_init(&st);
	status_draw(&st, run);
	while (sluice_run_wait(run, STATUS_MS, res) == SLUICE_ETIMEOUT) {
		if (++tick % (1000 / STATUS_MS) == 0)
			write_stats(run, a->stats_json);
		if (got_signal == SIGINT) {
			got_signal = 0;
			clear_line();
			fprintf(stderr, "sluice: stopping with a savepoint\n");
			if (sluice_job_stop_with_savepoint(run, NULL, &path) <
			    0) {
				cli_error_last(
					"run: stop-with-savepoint failed");
			} else {
				printf("savepoint: %s\n", path);
				fflush(stdout);
				sluice_free_bytes(path);
			}
		} else if (got_signal == SIGTERM) {
			got_signal = 0;
			sluice_run_cancel(run);
		}
		status_draw(&st, run);
	}
	clear_line();
	write_stats(run, a->stats_json);
	return 0;
}

/* Serve `sluice savepoint JOB-DIR` and say where. */
static void announce(sluice_run *r, sluice_jobfile *jf)
{
	char id[33], *dir = NULL, *abs = NULL;

	sluice_jobfile_job_id(jf, id);
	if (sluice_run_control_dir(r, &dir) < 0 ||
	    sluice_run_serve_control(r, dir) < 0) {
		cli_error_last("run: no savepoint requests");
		fprintf(stderr, "sluice: job '%s' (%s) running\n",
			sluice_jobfile_name(jf), id);
	} else {
		abs = realpath(dir, NULL); /* usable from any directory */
		fprintf(stderr,
			"sluice: job '%s' (%s) running; job dir %s\n"
			"sluice: a savepoint meanwhile: sluice savepoint %s\n",
			sluice_jobfile_name(jf), id, abs ? abs : dir,
			abs ? abs : dir);
	}
	free(abs);
	sluice_free_bytes(dir);
}

static int run(int argc, char **argv)
{
	sluice_run_options opts = {SLUICE_RUN_OPTIONS_VERSION, NULL, 0, 0};
	sluice_jobfile *jf = NULL;
	sluice_config *conf = NULL;
	sluice_run_result res;
	sluice_run *r = NULL;
	sluice_job *job = NULL;
	run_args a;
	int rc = EXIT_USAGE;

	memset(&res, 0, sizeof(res));
	if (parse_args(&a, argc, argv) < 0)
		goto done;
	if (sluice_config_new(&conf) < 0 || load_config(conf, &a, &jf) < 0 ||
	    storages(conf) < 0)
		goto done;
	if (sluice_jobfile_build(jf, conf, NULL, &job) < 0) {
		cli_error_last("run");
		goto done;
	}
	opts.restore_latest = a.restore && !strcmp(a.restore, "latest");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (sluice_run_start(&r, job, conf, &opts) < 0 &&
	    sluice_error_last()->code == SLUICE_EEXISTS) {
		/* --restore latest of a job that already finished */
		fprintf(stderr, "sluice: %s\n", sluice_error_last()->message);
		rc = 0;
		goto done;
	}
	if (!r) {
		cli_error_last("run");
		/* bad configuration or a restore path that is not there */
		rc = sluice_error_last()->code == SLUICE_EINVALID ||
				     sluice_error_last()->code ==
					     SLUICE_ENOTFOUND
			     ? EXIT_USAGE
			     : EXIT_FAIL;
		goto done;
	}
	announce(r, jf);
	if (sluice_run_restored_id(r) >= 0)
		fprintf(stderr, "sluice: restored checkpoint %lld\n",
			(long long)sluice_run_restored_id(r));
	else if (opts.restore_latest)
		fprintf(stderr, "sluice: no completed checkpoint to restore: "
				"started fresh\n");
	supervise(r, &a, &res);
	switch (res.state) {
	case SLUICE_JOB_STATE_FINISHED:
		fprintf(stderr, "sluice: job '%s' finished (%d restarts)\n",
			sluice_jobfile_name(jf), (int)res.restarts);
		rc = 0;
		break;
	case SLUICE_JOB_STATE_CANCELED:
		fprintf(stderr, "sluice: job '%s' canceled\n",
			sluice_jobfile_name(jf));
		rc = EXIT_FAIL;
		break;
	default:
		cli_error(
			"run: job '%s' failed: %s", sluice_jobfile_name(jf),
			res.message);
		rc = EXIT_FAIL;
	}
done:
	sluice_run_free(r);
	sluice_jobfile_free(jf);
	sluice_config_free(conf);
	free(a.dyn);
	return rc;
}

const cmd cmd_run_def = {
	"run", run, "run a job file with checkpoints and failover",
	"usage: sluice run JOB.yaml [-D key=value]... [--config FILE]\n"
	"                  [--restore latest|PATH] [--stats-json FILE]\n\n"
	"Runs the job described by JOB.yaml (docs/jobs.md) with checkpoints,\n"
	"automatic restarts and restore.  Configuration: defaults < --config\n"
	"FILE < the job file's config: section < -D.\n\n"
	"  --restore latest   restore the newest completed checkpoint of this\n"
	"                     job that verifies, or start fresh when none\n"
	"  --restore PATH     restore a savepoint or checkpoint directory\n"
	"  --stats-json FILE  checkpoint statistics (Flink's REST field "
	"names),\n"
	"                     rewritten every second and at exit\n\n"
	"SIGINT stops with a savepoint and prints its path; SIGTERM cancels.\n"
	"`sluice savepoint JOB-DIR` takes a savepoint meanwhile (the job dir\n"
	"is printed at start).  On a terminal a status line shows records\n"
	"in/out per second, backpressure, the last checkpoint and restarts.\n"
	"Exit: 0 the job finished, 1 it failed or was canceled, 2 bad "
	"input.\n"};
