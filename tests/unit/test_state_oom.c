/*
 * Allocation failure at every point of a keyed-state scenario (create,
 * states of every kind, writes past table growth, a snapshot with writes
 * while it is held, restore, operator state): each failing call returns
 * SLUICE_ENOMEM and everything is still freed (ASan checks for leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"
#include "util/alloc.h"

static sluice_slice S(const char *s)
{
	return SLUICE_SLICE(s, strlen(s));
}

#define TRY(expr)                                             \
	do {                                                  \
		int rc_ = (expr);                             \
		if (rc_ < 0) {                                \
			assert_int_equal(rc_, SLUICE_ENOMEM); \
			goto out;                             \
		}                                             \
	} while (0)

static int
cat_reduce(void *ctx, sluice_slice a, sluice_slice b, sluice_slice *out)
{
	(void)ctx;
	(void)a;
	*out = b;
	return 0;
}

/* 0 when the whole scenario succeeded. */
static int scenario(void)
{
	sluice_keyed_options o;
	sluice_keyed_backend *kb = NULL, *kb2 = NULL;
	sluice_keyed_snapshot *snap = NULL;
	sluice_keyed_handle *h = NULL;
	sluice_ostream *os = NULL;
	sluice_operator_state *ops = NULL, *ops2 = NULL;
	sluice_opstate_handle *oh = NULL;
	sluice_state *v, *l, *m, *r;
	sluice_state_desc dv = {
		.name = "v",
		.kind = SLUICE_STATE_VALUE,
		.ttl = {.ttl_ms = 100000}};
	sluice_state_desc dl = {.name = "l", .kind = SLUICE_STATE_LIST};
	sluice_state_desc dm = {.name = "m", .kind = SLUICE_STATE_MAP};
	sluice_state_desc dr = {
		.name = "r",
		.kind = SLUICE_STATE_REDUCING,
		.reduce = cat_reduce};
	const sluice_keyed_handle *hs[1];
	char key[16];
	int i, ok = -1;

	sluice_keyed_options_init(&o);
	o.compression = SLUICE_CODEC_ZSTD;
	o.latency_enabled = 1;
	o.latency_interval = 1;
	TRY(sluice_keyed_backend_new(&kb, &o));
	TRY(sluice_keyed_backend_state(&v, kb, &dv));
	TRY(sluice_keyed_backend_state(&l, kb, &dl));
	TRY(sluice_keyed_backend_state(&m, kb, &dm));
	TRY(sluice_keyed_backend_state(&r, kb, &dr));
	for (i = 0; i < 900; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		TRY(sluice_keyed_backend_set_key(kb, S(key)));
		TRY(sluice_value_update(v, S(key)));
		if (i % 10 == 0) {
			TRY(sluice_list_add(l, S(key)));
			TRY(sluice_map_put(m, S("a"), S(key)));
			TRY(sluice_reducing_add(r, S(key)));
		}
	}
	TRY(sluice_keyed_snapshot_sync(&snap, kb));
	for (i = 0; i < 900; i += 3) { /* copy-on-write while held */
		snprintf(key, sizeof(key), "k%d", i);
		TRY(sluice_keyed_backend_set_key(kb, S(key)));
		TRY(sluice_value_update(v, S("changed")));
		TRY(sluice_map_put(m, S("b"), S("x")));
		TRY(sluice_state_clear(l));
	}
	TRY(sluice_mem_ostream_new(&os, "chk"));
	TRY(sluice_keyed_snapshot_write(snap, os, &h));
	sluice_keyed_snapshot_free(snap);
	snap = NULL;
	TRY(sluice_keyed_backend_new(&kb2, &o));
	hs[0] = h;
	TRY(sluice_keyed_backend_restore(kb2, hs, 1, NULL, NULL));
	TRY(sluice_operator_state_new(&ops));
	TRY(sluice_operator_list_add(ops, "s", SLUICE_OPSTATE_SPLIT, S("e")));
	TRY(sluice_broadcast_put(ops, "b", S("k"), S("v")));
	TRY(sluice_mem_ostream_new(&os, "op"));
	TRY(sluice_operator_state_snapshot(ops, os, &oh));
	TRY(sluice_operator_state_new(&ops2));
	TRY(sluice_operator_state_restore(
		ops2, (const sluice_opstate_handle *const *)&oh, 1, NULL,
		NULL));
	ok = 0;
out:
	sluice_keyed_snapshot_free(snap);
	sluice_keyed_handle_free(h);
	sluice_keyed_backend_free(kb);
	sluice_keyed_backend_free(kb2);
	sluice_opstate_handle_free(oh);
	sluice_operator_state_free(ops);
	sluice_operator_state_free(ops2);
	return ok;
}

static void test_state_oom__every_allocation_failure_is_clean(void **state)
{
	long n;

	(void)state;
	for (n = 0;; n += n < 400 ? 1 : 37) {
		int rc;

		sluice__alloc_fail_after(n);
		rc = scenario();
		sluice__alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_true(n < 100000);
	}
	assert_int_equal(scenario(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_state_oom__every_allocation_failure_is_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
