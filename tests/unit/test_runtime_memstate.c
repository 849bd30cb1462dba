/*
 * The in-memory state provider on its own: keyed value and operator list
 * access, snapshots that are independent of later changes, restore into a
 * different key-group range (rescale), and precise corruption reports
 * (checksum, key in the wrong group, offsets out of range, non-inline
 * handles).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/sys/runtime.h"
#include "util/hash.h"

#define MAXP 128

static sluice_state_provider *provider(int32_t subtask, int32_t p)
{
	sluice_state_provider_info info;
	sluice_state_provider *sp;

	memset(&info, 0, sizeof(info));
	info.uid = "op";
	info.subtask = subtask;
	info.parallelism = p;
	info.max_parallelism = MAXP;
	sluice_key_group_range(
		subtask, p, MAXP, &info.key_group_start, &info.key_group_end);
	info.clock = sluice_clock_system();
	assert_int_equal(sluice_mem_state_provider_new(&sp, &info, NULL), 0);
	return sp;
}

static sluice_slice key(char *buf, int i)
{
	snprintf(buf, 16, "key-%d", i);
	return SLUICE_SLICE(buf, strlen(buf));
}

static void put_i(sluice_state_provider *p, const char *st, int k, int v)
{
	char kb[16], vb[16];

	snprintf(vb, sizeof(vb), "%d", v);
	assert_int_equal(
		p->value_put(p, st, key(kb, k), SLUICE_SLICE(vb, strlen(vb))),
		0);
}

/* Value of key k in state st, -1 when absent. */
static int get_i(sluice_state_provider *p, const char *st, int k)
{
	char kb[16], vb[16];
	sluice_slice v;
	int rc = p->value_get(p, st, key(kb, k), &v);

	if (rc == SLUICE_ENOTFOUND)
		return -1;
	assert_int_equal(rc, 0);
	assert_true(v.len < sizeof(vb));
	memcpy(vb, v.data, v.len);
	vb[v.len] = '\0';
	return atoi(vb);
}

static void snapshot(
	sluice_state_provider *p,
	int64_t id,
	sluice_keyed_handle **keyed,
	sluice_opstate_handle **ops)
{
	void *snap;

	assert_int_equal(p->snapshot_sync(p, id, NULL, &snap), 0);
	assert_int_equal(p->snapshot_async(p, snap, keyed, ops), 0);
}

static void test_runtime_memstate__values_and_lists_round_trip(void **state)
{
	sluice_state_provider *p = provider(0, 1), *q = provider(0, 1);
	sluice_keyed_handle *keyed;
	sluice_opstate_handle *ops;
	sluice_slice elems[2] = {{"a", 1}, {"bc", 2}};
	const sluice_slice *got;
	size_t n;
	int i;

	(void)state;
	for (i = 0; i < 500; i++) {
		put_i(p, "count", i, i * 2);
		put_i(p, "other", i, i + 1);
	}
	for (i = 0; i < 500; i += 2)
		assert_int_equal(
			p->value_remove(p, "other", key((char[16]){0}, i)), 0);
	assert_int_equal(p->opstate_set(p, "offsets", elems, 2), 0);
	snapshot(p, 1, &keyed, &ops);
	/* the snapshot does not see later changes */
	put_i(p, "count", 1, 999);
	assert_non_null(keyed);
	assert_non_null(ops);
	assert_int_equal(keyed->start_key_group, 0);
	assert_int_equal(keyed->num_key_groups, MAXP);
	assert_int_equal(keyed->stream->kind, SLUICE_HANDLE_INLINE);
	assert_int_equal(
		keyed->stream->checksum,
		sluice__xxh3(keyed->stream->data, (size_t)keyed->stream->size));
	{
		const sluice_keyed_handle *kl[1] = {keyed};
		const sluice_opstate_handle *ol[1] = {ops};
		sluice_subtask_restore r = {kl, 1, ol, 1, NULL, NULL, NULL, 0};

		assert_int_equal(q->restore(q, &r), 0);
	}
	for (i = 0; i < 500; i++) {
		assert_int_equal(get_i(q, "count", i), i * 2);
		assert_int_equal(get_i(q, "other", i), i % 2 ? i + 1 : -1);
	}
	assert_int_equal(q->opstate_get(q, "offsets", &got, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(got[1].data, "bc", 2);
	assert_int_equal(q->opstate_get(q, "missing", &got, &n), 0);
	assert_int_equal(n, 0);
	sluice_keyed_handle_free(keyed);
	sluice_opstate_handle_free(ops);
	p->free(p);
	q->free(q);
}

static void
test_runtime_memstate__rescaled_restore_keeps_own_key_groups(void **state)
{
	sluice_state_provider *old[2] = {provider(0, 2), provider(1, 2)};
	sluice_state_provider *neu[3];
	sluice_keyed_handle *keyed[2];
	sluice_opstate_handle *ops[2];
	int i, s, found;

	(void)state;
	for (i = 0; i < 300; i++) {
		char kb[16];
		int32_t g = sluice_key_group(key(kb, i), MAXP);

		put_i(old[sluice_key_group_subtask(g, 2, MAXP)], "v", i, i);
	}
	for (s = 0; s < 2; s++)
		snapshot(old[s], 4, &keyed[s], &ops[s]);
	assert_null(ops[0]);
	for (s = 0; s < 3; s++) {
		const sluice_keyed_handle *kl[2] = {keyed[0], keyed[1]};
		sluice_subtask_restore r = {kl,   2,    NULL, 0,
					    NULL, NULL, NULL, 0};

		neu[s] = provider(s, 3);
		assert_int_equal(neu[s]->restore(neu[s], &r), 0);
	}
	for (i = 0; i < 300; i++) {
		char kb[16];
		int32_t g = sluice_key_group(key(kb, i), MAXP);
		int owner = sluice_key_group_subtask(g, 3, MAXP);

		for (s = 0, found = 0; s < 3; s++) {
			int v = get_i(neu[s], "v", i);

			if (s == owner)
				assert_int_equal(v, i);
			else
				assert_int_equal(v, -1);
			found += v == i;
		}
		assert_int_equal(found, 1);
	}
	for (s = 0; s < 2; s++) {
		sluice_keyed_handle_free(keyed[s]);
		old[s]->free(old[s]);
	}
	for (s = 0; s < 3; s++)
		neu[s]->free(neu[s]);
}

static void
expect_restore_error(sluice_keyed_handle *keyed, int code, const char *needle)
{
	sluice_state_provider *q = provider(0, 1);
	const sluice_keyed_handle *kl[1] = {keyed};
	sluice_subtask_restore r = {kl, 1, NULL, 0, NULL, NULL, NULL, 0};

	assert_int_equal(q->restore(q, &r), code);
	if (!strstr(sluice_error_last()->message, needle))
		fail_msg("message: %s", sluice_error_last()->message);
	q->free(q);
}

static void
test_runtime_memstate__corruption_is_reported_precisely(void **state)
{
	sluice_state_provider *p = provider(0, 1);
	sluice_keyed_handle *keyed;
	sluice_opstate_handle *ops;
	char kb[16];
	int32_t g = sluice_key_group(key(kb, 7), MAXP);
	uint64_t off, saved;
	uint8_t *d;

	(void)state;
	put_i(p, "v", 7, 70);
	snapshot(p, 1, &keyed, &ops);
	d = keyed->stream->data;
	/* a flipped byte fails the checksum */
	d[keyed->stream->size - 1] ^= 1;
	expect_restore_error(
		keyed, SLUICE_ECORRUPT,
		"keyed state of 'op' subtask 0: checksum mismatch");
	d[keyed->stream->size - 1] ^= 1;
	/* a key stored under the wrong group (checksum made to match) */
	off = keyed->offsets[g - keyed->start_key_group];
	saved = keyed->offsets[(g + 1) % MAXP];
	keyed->offsets[(g + 1) % MAXP] = off;
	expect_restore_error(keyed, SLUICE_ECORRUPT, "holds a key of group");
	keyed->offsets[(g + 1) % MAXP] = saved;
	/* an offset beyond the stream */
	saved = keyed->offsets[3];
	keyed->offsets[3] = keyed->stream->size + 10;
	expect_restore_error(keyed, SLUICE_ECORRUPT, "key group 3 offset");
	keyed->offsets[3] = saved;
	/* only inline handles are readable here */
	keyed->stream->kind = SLUICE_HANDLE_FILE;
	expect_restore_error(keyed, SLUICE_EUNSUPPORTED, "no storage to read");
	keyed->stream->kind = SLUICE_HANDLE_INLINE;
	sluice_keyed_handle_free(keyed);
	sluice_opstate_handle_free(ops);
	p->free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_runtime_memstate__values_and_lists_round_trip),
		cmocka_unit_test(
			test_runtime_memstate__rescaled_restore_keeps_own_key_groups),
		cmocka_unit_test(
			test_runtime_memstate__corruption_is_reported_precisely),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
