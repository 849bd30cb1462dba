/*
 * Formatting of `sluice run`'s live status line (status.h): rates from two
 * metric snapshots, human units, truncation to the terminal width so the
 * line never wraps (a wrapped line could not be rewritten with \r).
 */
#include <stdio.h>
#include <string.h>

#include "status.h"

static const char *state_name(sluice_job_state s)
{
	switch (s) {
	case SLUICE_JOB_STATE_RUNNING:
		return "RUNNING";
	case SLUICE_JOB_STATE_FINISHED:
		return "FINISHED";
	case SLUICE_JOB_STATE_FAILED:
		return "FAILED";
	case SLUICE_JOB_STATE_CANCELED:
		return "CANCELED";
	default:
		return "CREATED";
	}
}

/* Three significant digits: 12, 1.23k, 12.3k, 123k, 1.23M ... */
static void fmt_count(char *b, size_t n, double v)
{
	static const char unit[] = " kMGT";
	int u = 0;

	while (v >= 999.5 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(b, n, "%.0f", v);
	else
		snprintf(
			b, n,
			v < 9.995   ? "%.2f%c"
			: v < 99.95 ? "%.1f%c"
				    : "%.0f%c",
			v, unit[u]);
}

static void fmt_bytes(char *b, size_t n, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(b, n, u ? "%.1f%s" : "%.0f%s", d, unit[u]);
}

static void fmt_ms(char *b, size_t n, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 10000)
		snprintf(b, n, "%lldms", (long long)ms);
	else if (ms < 120000)
		snprintf(b, n, "%llds", (long long)(ms / 1000));
	else if (ms < 7200000)
		snprintf(b, n, "%lldmin", (long long)(ms / 60000));
	else
		snprintf(b, n, "%lldh", (long long)(ms / 3600000));
}

/* An age to the second (finer would flicker): <1s, 42s, 3min, 2h. */
static void fmt_ago(char *b, size_t n, int64_t ms)
{
	if (ms < 1000)
		snprintf(b, n, "<1s");
	else if (ms < 120000)
		snprintf(b, n, "%llds", (long long)(ms / 1000));
	else
		fmt_ms(b, n, ms);
}

static void
rates(char *in,
      char *out,
      char *bp,
      size_t n,
      const sluice_run_metrics *prev,
      const sluice_run_metrics *cur)
{
	int64_t dt = prev ? cur->mono_ms - prev->mono_ms : 0;
	double share;

	if (dt <= 0) {
		snprintf(in, n, "-");
		snprintf(out, n, "-");
		snprintf(bp, n, "-");
		return;
	}
	fmt_count(
		in, n,
		(double)(cur->job.records_in - prev->job.records_in) * 1000.0 /
			(double)dt);
	fmt_count(
		out, n,
		(double)(cur->job.records_out - prev->job.records_out) *
			1000.0 / (double)dt);
	share = cur->job.source_subtasks > 0
			? (double)(cur->job.source_backpressured_ns - prev->job.source_backpressured_ns) /
				  ((double)dt * 1e6 * cur->job.source_subtasks)
			: 0;
	share = share < 0 ? 0 : share > 1 ? 1 : share;
	snprintf(bp, n, "%.0f%%", share * 100);
}

void cli_status_format(
	char *buf,
	size_t len,
	int width,
	const sluice_run_metrics *prev,
	const sluice_run_metrics *cur,
	int64_t now_wall_ms)
{
	char in[32], out[32], bp[32], ck[128], dur[32], size[32], ago[32];
	char state[32] = "", failed[48] = "";

	if (len == 0)
		return;
	rates(in, out, bp, sizeof(in), prev, cur);
	if (cur->last_id >= 0) {
		fmt_ms(dur, sizeof(dur), cur->last_duration_ms);
		fmt_bytes(size, sizeof(size), cur->last_checkpointed_size);
		fmt_ago(ago, sizeof(ago),
			now_wall_ms - cur->last_completed_wall_ms);
		snprintf(
			ck, sizeof(ck), "ckpt #%lld %s %s %s ago",
			(long long)cur->last_id, dur, size, ago);
	} else {
		snprintf(
			ck, sizeof(ck), "ckpt none%s",
			cur->checkpoints_in_progress ? " yet" : "");
	}
	if (cur->state != SLUICE_JOB_STATE_RUNNING)
		snprintf(state, sizeof(state), "%s  ", state_name(cur->state));
	if (cur->checkpoints_failed > 0)
		snprintf(
			failed, sizeof(failed), " (%lld failed)",
			(long long)cur->checkpoints_failed);
	snprintf(
		buf, len,
		"%sin %s/s  out %s/s  backpressure %s  %s%s  restarts %d",
		state, in, out, bp, ck, failed, (int)cur->restarts);
	if (width > 0 && strlen(buf) > (size_t)width)
		buf[width] = '\0';
}
