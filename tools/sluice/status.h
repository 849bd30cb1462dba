/*
 * The live status line of `sluice run` on a terminal (cmd_run.c): one
 * line rewritten in place from two snapshots of sluice_run_metrics
 * (include/sluice/monitor.h).  Formatting only; cmd_run.c decides when to
 * draw it and keeps log lines from mixing with it.
 */
#ifndef SLUICE_TOOLS_STATUS_H
#define SLUICE_TOOLS_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/monitor.h"

/*
 * Format the status line for snapshot `cur` into `buf` (at most `width`
 * visible characters, NUL-terminated; `len` >= width + 1):
 *
 *   in 12.3k/s  out 12.1k/s  backpressure 35%  ckpt #12 84ms 1.2MiB 3s
 *   ago (2 failed)  restarts 0
 *
 * (the state first when not RUNNING; "(n failed)" only when checkpoints
 * failed).
 * Rates and backpressure (share of the source subtasks' time spent
 * waiting to hand buffers downstream) are the differences to `prev`
 * divided by the clock time between the two; `prev` NULL or no time
 * between them shows "-".  `now_wall_ms` dates the last checkpoint.
 */
void cli_status_format(
	char *buf,
	size_t len,
	int width,
	const sluice_run_metrics *prev,
	const sluice_run_metrics *cur,
	int64_t now_wall_ms);

#endif
