/*
 * Checkpoint statistics (spec §12) as the coordinator records them, and
 * their JSON documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "test_coordinator_fakes.h"

static cJSON *doc(fake *f, int64_t id)
{
	char *text = NULL;
	cJSON *j;

	assert_int_equal(
		sluice__stats_json(sluice__coord_stats(f->c), id, &text), 0);
	j = cJSON_Parse(text);
	assert_non_null(j);
	sluice__free(text);
	return j;
}

static double num(const cJSON *o, const char *path)
{
	char buf[128], *save = NULL, *tok;
	const cJSON *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur;
	     tok = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
	assert_non_null(cur);
	return cJSON_GetNumberValue(cur);
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_non_null(x);
	return cJSON_GetStringValue(x);
}

static void test_coordinator_stats__completed_checkpoint_numbers(void **st)
{
	fake *f = fake_new();
	sluice__ckpt_stats *cs;

	(void)st;
	fake_start(f, 1);
	trigger_ckpt(f);
	advance(f, 20);
	ack(f, 0, 0, 1);
	ack(f, 0, 1, 1);
	advance(f, 30);
	ack(f, 1, 0, 1);
	assert_int_equal(
		sluice__stats_get(sluice__coord_stats(f->c), 1, &cs), 0);
	assert_int_equal(cs->status, SLUICE_CKPT_IN_PROGRESS);
	assert_int_equal(cs->num_acked, 3);
	assert_int_equal(cs->num_subtasks, 4);
	sluice__ckpt_stats_free(cs);
	advance(f, 50);
	ack(f, 1, 1, 1);
	assert_int_equal(
		sluice__stats_get(sluice__coord_stats(f->c), 1, &cs), 0);
	assert_int_equal(cs->status, SLUICE_CKPT_COMPLETED);
	assert_int_equal(cs->kind, SLUICE_CKPT_CHECKPOINT);
	assert_int_equal(cs->trigger_ts_ms, T0);
	assert_int_equal(cs->latest_ack_ts_ms, T0 + 100);
	assert_int_equal(cs->state_size, 400);
	assert_int_equal(cs->checkpointed_size, 200);
	assert_int_equal(cs->processed, 40);
	assert_string_equal(cs->external_path, "mem://chk-1");
	assert_int_equal(cs->subtasks[0].ack_ts_ms, T0 + 20);
	assert_int_equal(
		cs->subtasks[0].alignment_ms, 7); /* 7.5 ms truncated */
	assert_int_equal(cs->subtasks[0].start_delay_ms, 2);
	assert_int_equal(cs->subtasks[0].sync_ms, 3);
	assert_int_equal(cs->subtasks[0].async_ms, 40);
	sluice__ckpt_stats_free(cs);
	assert_int_equal(
		sluice__stats_get(sluice__coord_stats(f->c), 9, &cs),
		SLUICE_ENOTFOUND);
	fake_free(f);
}

static void test_coordinator_stats__overview_document(void **st)
{
	fake *f = fake_new();
	const cJSON *hist, *h0;
	cJSON *j;

	(void)st;
	f->s.tolerable_failures = 9;
	fake_start(f, 1);
	sluice__coord_restored(f->c, 3, 1, "/sp/savepoint-3");
	trigger_ckpt(f); /* 4: completed, e2e 100 */
	advance(f, 100);
	ack_all(f, 4);
	trigger_ckpt(f); /* 5: declined */
	decline(f, 1, 0, 5, SLUICE_CFR_CHECKPOINT_DECLINED);
	f->st[1][1] = SLUICE_TASK_NO_ATTEMPT;
	trigger_ckpt(f); /* failed without a pending checkpoint */
	f->st[1][1] = SLUICE_TASK_RUNNING;
	trigger_ckpt(f); /* 6: in progress */
	j = doc(f, -1);
	assert_int_equal(num(j, "counts.restored"), 1);
	assert_int_equal(num(j, "counts.total"), 4);
	assert_int_equal(num(j, "counts.in_progress"), 1);
	assert_int_equal(num(j, "counts.completed"), 1);
	assert_int_equal(num(j, "counts.failed"), 2);
	assert_int_equal(num(j, "summary.end_to_end_duration.max"), 100);
	assert_int_equal(num(j, "summary.state_size.avg"), 400);
	assert_int_equal(num(j, "summary.checkpointed_size.p99"), 200);
	assert_int_equal(num(j, "latest.completed.id"), 4);
	assert_string_equal(
		str(cJSON_GetObjectItem(
			    cJSON_GetObjectItem(j, "latest"), "completed"),
		    "external_path"),
		"mem://chk-4");
	assert_int_equal(num(j, "latest.failed.id"), 5);
	assert_string_equal(
		str(cJSON_GetObjectItem(
			    cJSON_GetObjectItem(j, "latest"), "failed"),
		    "failure_message"),
		"Checkpoint was declined.");
	assert_string_equal(
		str(cJSON_GetObjectItem(
			    cJSON_GetObjectItem(j, "latest"), "failed"),
		    "failure_reason"),
		"CHECKPOINT_DECLINED");
	assert_int_equal(num(j, "latest.restored.id"), 3);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(
		cJSON_GetObjectItem(j, "latest"), "savepoint")));
	hist = cJSON_GetObjectItem(j, "history");
	assert_int_equal(cJSON_GetArraySize(hist), 3);
	h0 = cJSON_GetArrayItem(hist, 0); /* newest first */
	assert_int_equal(num(h0, "id"), 6);
	assert_string_equal(str(h0, "status"), "IN_PROGRESS");
	assert_string_equal(str(h0, "clazz"), "in_progress");
	assert_string_equal(str(h0, "checkpoint_type"), "CHECKPOINT");
	cJSON_Delete(j);
	fake_free(f);
}

static void
test_coordinator_stats__details_document_has_tasks_and_subtasks(void **st)
{
	fake *f = fake_new();
	const cJSON *map, *subs, *s0, *s1;
	cJSON *j;

	(void)st;
	fake_start(f, 1);
	trigger_sp(f, 0);
	advance(f, 10);
	ack(f, 0, 0, 1);
	ack(f, 0, 1, 1);
	ack(f, 1, 0, 1);
	j = doc(f, 1);
	assert_string_equal(str(j, "checkpoint_type"), "SAVEPOINT");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "is_savepoint")));
	map = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tasks"), "map");
	assert_non_null(map);
	assert_int_equal(num(map, "num_subtasks"), 2);
	assert_int_equal(num(map, "num_acknowledged_subtasks"), 1);
	assert_int_equal(num(map, "end_to_end_duration"), 10);
	subs = cJSON_GetObjectItem(map, "subtasks");
	s0 = cJSON_GetArrayItem(subs, 0);
	s1 = cJSON_GetArrayItem(subs, 1);
	assert_string_equal(str(s0, "clazz"), "completed");
	assert_int_equal(num(s0, "alignment.duration"), 7);
	assert_int_equal(num(s0, "checkpoint.async"), 40);
	assert_int_equal(num(s0, "start_delay"), 2);
	assert_string_equal(str(s1, "clazz"), "pending_or_failed");
	assert_int_equal(num(s1, "index"), 1);
	cJSON_Delete(j);
	fake_free(f);
}

static void test_coordinator_stats__history_keeps_the_newest(void **st)
{
	fake *f = fake_new();
	cJSON *j;
	int i;

	(void)st;
	fake_start(f, 1);
	for (i = 1; i <= 15; i++) {
		trigger_ckpt(f);
		ack_all(f, i);
	}
	j = doc(f, -1);
	assert_int_equal(
		cJSON_GetArraySize(cJSON_GetObjectItem(j, "history")),
		SLUICE_STATS_DEFAULT_HISTORY);
	assert_int_equal(
		num(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "history"), 0),
		    "id"),
		15);
	assert_int_equal(num(j, "counts.completed"), 15);
	cJSON_Delete(j);
	assert_int_equal(
		sluice__stats_json(
			sluice__coord_stats(f->c), 2, &(char *){NULL}),
		SLUICE_ENOTFOUND);
	fake_free(f);
}

static void test_coordinator_stats__percentiles_over_completed(void **st)
{
	fake *f = fake_new();
	cJSON *j;
	int i;

	(void)st;
	fake_start(f, 1);
	for (i = 1; i <= 10; i++) { /* e2e durations 10, 20, ..., 100 */
		trigger_ckpt(f);
		advance(f, 10 * i);
		ack_all(f, i);
	}
	j = doc(f, -1);
	assert_int_equal(num(j, "summary.end_to_end_duration.min"), 10);
	assert_int_equal(num(j, "summary.end_to_end_duration.max"), 100);
	assert_int_equal(num(j, "summary.end_to_end_duration.avg"), 55);
	/* p50 of 10..100 with pos = 0.5 * 11 = 5.5 -> 55 */
	assert_true(num(j, "summary.end_to_end_duration.p50") == 55.0);
	/* p90: pos 9.9 -> 90 + 0.9 * 10 */
	assert_true(num(j, "summary.end_to_end_duration.p90") == 99.0);
	assert_true(num(j, "summary.end_to_end_duration.p999") == 100.0);
	cJSON_Delete(j);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_coordinator_stats__completed_checkpoint_numbers),
		cmocka_unit_test(test_coordinator_stats__overview_document),
		cmocka_unit_test(
			test_coordinator_stats__details_document_has_tasks_and_subtasks),
		cmocka_unit_test(
			test_coordinator_stats__history_keeps_the_newest),
		cmocka_unit_test(
			test_coordinator_stats__percentiles_over_completed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
