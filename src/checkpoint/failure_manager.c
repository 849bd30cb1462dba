/*
 * Tolerable-failure counting (spec §1.5).  Owns the consecutive-failure
 * counter and the set of checkpoint ids already counted; the rules are
 * listed in failure_manager.h.
 */
#include <stdio.h>

#include "checkpoint/failure_manager.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

int sluice__fm_init(sluice__failure_manager *fm, int32_t tolerable)
{
	if (tolerable < 0)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_CHECKPOINT,
			"The tolerable checkpoint failure number is illegal, "
			"it must be greater than or equal to 0 .");
	fm->tolerable = tolerable;
	fm->counter = 0;
	fm->last_succeeded_id = INT64_MIN;
	fm->counted = NULL;
	fm->n_counted = fm->cap_counted = 0;
	return 0;
}

void sluice__fm_release(sluice__failure_manager *fm)
{
	sluice__free(fm->counted);
	fm->counted = NULL;
	fm->n_counted = fm->cap_counted = 0;
}

static void reset(sluice__failure_manager *fm)
{
	fm->counter = 0;
	fm->n_counted = 0;
}

/* 1 when `id` was not counted yet (and is now remembered). */
static int first_time(sluice__failure_manager *fm, int64_t id)
{
	size_t i;

	for (i = 0; i < fm->n_counted; i++)
		if (fm->counted[i] == id)
			return 0;
	if (fm->n_counted == fm->cap_counted) {
		size_t cap = fm->cap_counted ? fm->cap_counted * 2 : 8;
		int64_t *p = sluice__reallocarray(fm->counted, cap, sizeof(*p));

		/* Out of memory: still count it, only forget the id. */
		if (!p)
			return 1;
		fm->counted = p;
		fm->cap_counted = cap;
	}
	fm->counted[fm->n_counted++] = id;
	return 1;
}

/* Returns 1 when the threshold is exceeded. */
static int
check_counter(sluice__failure_manager *fm, const sluice__fm_failure *f)
{
	const sluice_failure_info *fi = sluice_failure_info_get(f->reason);

	if (f->id != SLUICE_FM_UNKNOWN_ID && f->id <= fm->last_succeeded_id)
		return 0;
	if (fi && fi->counted && fm->tolerable != SLUICE_FM_UNLIMITED) {
		if (f->id == SLUICE_FM_UNKNOWN_ID || first_time(fm, f->id))
			fm->counter++;
	}
	if (fm->counter > fm->tolerable) {
		reset(fm);
		return 1;
	}
	return 0;
}

static void
log_failure(const sluice__failure_manager *fm, const sluice__fm_failure *f)
{
	char id[32];

	if (f->reason == SLUICE_CFR_NOT_ALL_REQUIRED_TASKS_RUNNING) {
		sluice__info(
			"Failed to trigger checkpoint for job %s since %s.",
			f->job, f->message);
		return;
	}
	if (f->id == SLUICE_FM_UNKNOWN_ID)
		snprintf(id, sizeof(id), "UNKNOWN_CHECKPOINT_ID");
	else
		snprintf(id, sizeof(id), "%lld", (long long)f->id);
	sluice__warn(
		"Failed to trigger or complete checkpoint %s for job %s. "
		"(%d consecutive failed attempts so far) %s",
		id, f->job, fm->counter, f->message);
}

sluice__fm_verdict sluice__fm_on_failure(
	sluice__failure_manager *fm,
	const sluice__fm_failure *f,
	const char **fail_message)
{
	const sluice_failure_info *fi = sluice_failure_info_get(f->reason);
	int pre_flight = fi ? fi->pre_flight : 0;

	*fail_message = NULL;
	log_failure(fm, f);
	if (pre_flight || !f->tm_side) {
		if (f->savepoint)
			return SLUICE_FM_CONTINUE;
		if (check_counter(fm, f)) {
			*fail_message = SLUICE_FM_EXCEEDED;
			return SLUICE_FM_FAIL_JOB;
		}
		return SLUICE_FM_CONTINUE;
	}
	if (f->savepoint && f->sync_savepoint) {
		/* the whole job fails, not "due to task failure" */
		*fail_message = f->message;
		return SLUICE_FM_FAIL_JOB;
	}
	if (check_counter(fm, f)) {
		*fail_message = SLUICE_FM_EXCEEDED;
		return SLUICE_FM_FAIL_JOB_TASK;
	}
	return SLUICE_FM_CONTINUE;
}

void sluice__fm_on_success(sluice__failure_manager *fm, int64_t id)
{
	if (id > fm->last_succeeded_id) {
		fm->last_succeeded_id = id;
		reset(fm);
	}
}
