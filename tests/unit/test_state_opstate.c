/*
 * Operator state (spec §7.3): list and broadcast operations, snapshot and
 * restore, and redistribution: even split with round-robin balancing
 * across names, union to everyone, broadcast from old subtask i % oldP,
 * unchanged assignment at equal parallelism; damaged streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/state.h"

static sluice_slice S(const char *s)
{
	return SLUICE_SLICE(s, strlen(s));
}

static int eq(sluice_slice a, const char *s)
{
	return a.len == strlen(s) && !memcmp(a.data, s, a.len);
}

static size_t list_count(sluice_operator_state *os, const char *name)
{
	sluice_list_iter it;

	assert_int_equal(sluice_operator_list_get(os, name, &it), 0);
	return it.count;
}

static void test_opstate__list_and_broadcast_operations(void **state)
{
	sluice_operator_state *os;
	sluice_list_iter it;
	sluice_slice v, two[] = {{"x", 1}, {"y", 1}};

	(void)state;
	assert_int_equal(sluice_operator_state_new(&os), 0);
	assert_int_equal(list_count(os, "offsets"), 0);
	assert_int_equal(
		sluice_operator_list_add(
			os, "offsets", SLUICE_OPSTATE_SPLIT, S("a")),
		0);
	assert_int_equal(
		sluice_operator_list_add(
			os, "offsets", SLUICE_OPSTATE_SPLIT, S("b")),
		0);
	assert_int_equal(
		sluice_operator_list_add(
			os, "offsets", SLUICE_OPSTATE_UNION, S("c")),
		SLUICE_EINVALID);
	assert_int_equal(sluice_operator_list_get(os, "offsets", &it), 0);
	assert_int_equal(it.count, 2);
	assert_int_equal(sluice_list_next(&it, &v), 1);
	assert_true(eq(v, "a"));
	assert_int_equal(
		sluice_operator_list_update(
			os, "offsets", SLUICE_OPSTATE_SPLIT, two, 2),
		0);
	assert_int_equal(sluice_operator_list_get(os, "offsets", &it), 0);
	assert_int_equal(sluice_list_next(&it, &v), 1);
	assert_true(eq(v, "x"));
	assert_int_equal(
		sluice_broadcast_put(os, "rules", S("r1"), S("v1")), 0);
	assert_int_equal(
		sluice_broadcast_put(os, "rules", S("r2"), S("v2")), 0);
	assert_int_equal(
		sluice_broadcast_put(os, "rules", S("r1"), S("v1b")), 0);
	assert_int_equal(sluice_broadcast_get(os, "rules", S("r1"), &v), 0);
	assert_true(eq(v, "v1b"));
	assert_int_equal(sluice_broadcast_remove(os, "rules", S("r2")), 0);
	assert_int_equal(
		sluice_broadcast_get(os, "rules", S("r2"), &v),
		SLUICE_ENOTFOUND);
	assert_int_equal(
		sluice_broadcast_get(os, "nope", S("r2"), &v),
		SLUICE_ENOTFOUND);
	assert_int_equal(
		sluice_operator_list_add(
			os, "rules", SLUICE_OPSTATE_BROADCAST, S("x")),
		SLUICE_EINVALID);
	sluice_operator_state_free(os);
}

/* Old subtask i: split "s" with counts[i] elements "i:j", union "u" one
 * element "u<i>", broadcast "b" = {k: "copy<i>"}. */
static sluice_opstate_handle *old_subtask(int i, int nsplit, int with_union)
{
	sluice_operator_state *os;
	sluice_opstate_handle *h;
	sluice_ostream *out;
	char buf[32];
	int j;

	assert_int_equal(sluice_operator_state_new(&os), 0);
	for (j = 0; j < nsplit; j++) {
		snprintf(buf, sizeof(buf), "%d:%d", i, j);
		assert_int_equal(
			sluice_operator_list_add(
				os, "s", SLUICE_OPSTATE_SPLIT, S(buf)),
			0);
	}
	if (with_union) {
		snprintf(buf, sizeof(buf), "u%d", i);
		assert_int_equal(
			sluice_operator_list_add(
				os, "u", SLUICE_OPSTATE_UNION, S(buf)),
			0);
	}
	snprintf(buf, sizeof(buf), "copy%d", i);
	assert_int_equal(sluice_broadcast_put(os, "b", S("k"), S(buf)), 0);
	assert_int_equal(sluice_mem_ostream_new(&out, "op"), 0);
	assert_int_equal(sluice_operator_state_snapshot(os, out, &h), 0);
	sluice_operator_state_free(os);
	return h;
}

static sluice_operator_state *
restored(sluice_opstate_handle **old, size_t old_p, size_t new_p, size_t index)
{
	sluice_opstate_handle **hs;
	sluice_operator_state *os;
	size_t n;

	assert_int_equal(
		sluice_opstate_assign(
			&hs, &n, (const sluice_opstate_handle *const *)old,
			old_p, new_p, index),
		0);
	assert_int_equal(sluice_operator_state_new(&os), 0);
	assert_int_equal(
		sluice_operator_state_restore(
			os, (const sluice_opstate_handle *const *)hs, n, NULL,
			NULL),
		0);
	sluice_opstate_handles_free(hs, n);
	return os;
}

static void test_opstate__split_union_broadcast_on_rescale(void **state)
{
	sluice_opstate_handle *old[3];
	int counts[3] = {4, 3, 3}, seen[3][4];
	size_t i, total = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 3; i++)
		old[i] = old_subtask((int)i, counts[i], 1);
	for (i = 0; i < 4; i++) {
		sluice_operator_state *os = restored(old, 3, 4, i);
		sluice_list_iter it;
		sluice_slice v;
		char want[16];
		size_t n = list_count(os, "s");

		assert_true(n == 2 || n == 3); /* 10 over 4: 3,3,2,2 */
		total += n;
		assert_int_equal(sluice_operator_list_get(os, "s", &it), 0);
		while (sluice_list_next(&it, &v)) {
			int a, b;

			assert_int_equal(sscanf(v.data, "%d:%d", &a, &b), 2);
			assert_int_equal(seen[a][b], 0);
			seen[a][b] = 1;
		}
		assert_int_equal(list_count(os, "u"), 3); /* union: all */
		assert_int_equal(sluice_broadcast_get(os, "b", S("k"), &v), 0);
		snprintf(want, sizeof(want), "copy%zu", i % 3);
		assert_true(eq(v, want));
		sluice_operator_state_free(os);
	}
	assert_int_equal(total, 10);
	for (i = 0; i < 3; i++)
		sluice_opstate_handle_free(old[i]);
}

static void test_opstate__split_balances_across_names(void **state)
{
	sluice_operator_state *os;
	sluice_opstate_handle *old, **hs;
	sluice_ostream *out;
	size_t n, i;
	int j;

	(void)state;
	assert_int_equal(sluice_operator_state_new(&os), 0);
	for (j = 0; j < 5; j++) {
		assert_int_equal(
			sluice_operator_list_add(
				os, "A", SLUICE_OPSTATE_SPLIT, S("a")),
			0);
		assert_int_equal(
			sluice_operator_list_add(
				os, "B", SLUICE_OPSTATE_SPLIT, S("b")),
			0);
	}
	assert_int_equal(sluice_mem_ostream_new(&out, "op"), 0);
	assert_int_equal(sluice_operator_state_snapshot(os, out, &old), 0);
	sluice_operator_state_free(os);
	for (i = 0; i < 2; i++) {
		sluice_operator_state *r;

		assert_int_equal(
			sluice_opstate_assign(
				&hs, &n,
				(const sluice_opstate_handle *const *)&old, 1,
				2, i),
			0);
		assert_int_equal(sluice_operator_state_new(&r), 0);
		assert_int_equal(
			sluice_operator_state_restore(
				r, (const sluice_opstate_handle *const *)hs, n,
				NULL, NULL),
			0);
		/* A: 3 to subtask 0; then B starts at subtask 1: 3 to it */
		assert_int_equal(list_count(r, "A"), i == 0 ? 3 : 2);
		assert_int_equal(list_count(r, "B"), i == 0 ? 2 : 3);
		sluice_opstate_handles_free(hs, n);
		sluice_operator_state_free(r);
	}
	sluice_opstate_handle_free(old);
}

static void test_opstate__same_parallelism_keeps_assignment(void **state)
{
	sluice_opstate_handle *old[2];
	size_t i;

	(void)state;
	old[0] = old_subtask(0, 5, 0);
	old[1] = old_subtask(1, 1, 0);
	for (i = 0; i < 2; i++) {
		sluice_operator_state *os = restored(old, 2, 2, i);

		assert_int_equal(list_count(os, "s"), i == 0 ? 5 : 1);
		sluice_operator_state_free(os);
	}
	old[0] = (sluice_opstate_handle_free(old[0]), old_subtask(0, 5, 1));
	old[1] = (sluice_opstate_handle_free(old[1]), old_subtask(1, 1, 1));
	for (i = 0; i < 2; i++) {
		sluice_operator_state *os = restored(old, 2, 2, i);

		assert_int_equal(list_count(os, "s"), i == 0 ? 5 : 1);
		assert_int_equal(list_count(os, "u"), 2);
		sluice_operator_state_free(os);
	}
	sluice_opstate_handle_free(old[0]);
	sluice_opstate_handle_free(old[1]);
}

static int
open_raw(void *ctx, const sluice_stream_handle *h, sluice_istream **out)
{
	(void)ctx;
	return sluice_mem_istream_new(out, h->data, (size_t)h->size);
}

static void test_opstate__damaged_stream_is_reported(void **state)
{
	sluice_opstate_handle *h = old_subtask(0, 3, 1);
	const sluice_opstate_handle *hs[1] = {h};
	uint64_t i;

	(void)state;
	for (i = 0; i < h->stream->size; i++) {
		sluice_operator_state *os;

		assert_int_equal(sluice_operator_state_new(&os), 0);
		h->stream->data[i] ^= 0x10;
		assert_int_equal(
			sluice_operator_state_restore(
				os, hs, 1, open_raw, NULL),
			SLUICE_ECORRUPT);
		h->stream->data[i] ^= 0x10;
		sluice_operator_state_free(os);
	}
	sluice_opstate_handle_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opstate__list_and_broadcast_operations),
		cmocka_unit_test(
			test_opstate__split_union_broadcast_on_rescale),
		cmocka_unit_test(test_opstate__split_balances_across_names),
		cmocka_unit_test(
			test_opstate__same_parallelism_keeps_assignment),
		cmocka_unit_test(test_opstate__damaged_stream_is_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
