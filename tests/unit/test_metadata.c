/*
 * The `_metadata` codec: full round trips, and precise rejection of wrong
 * magic, unknown versions, truncation at every length, a flipped bit at
 * every position, trailing bytes, and allocation failure at every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/sys/metadata.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/hash.h"

#define JOB "fedcba9876543210fedcba9876543210"

static sluice_keyed_handle *
keyed(int32_t start, int32_t n, sluice_stream_handle *s)
{
	sluice_keyed_handle *k = calloc(1, sizeof(*k));
	int32_t i;

	assert_non_null(k);
	k->start_key_group = start;
	k->num_key_groups = n;
	k->offsets = calloc((size_t)n + 1, sizeof(uint64_t));
	for (i = 0; i < n; i++)
		k->offsets[i] = (uint64_t)i * 100;
	k->stream = s;
	/* handles built here are freed by the library: copy to its heap */
	{
		sluice_keyed_handle *d = sluice_keyed_handle_dup(k);
		free(k->offsets);
		free(k);
		k = d;
		assert_non_null(k);
		sluice_stream_handle_free(s);
	}
	return k;
}

static sluice_opstate_handle *opstate(sluice_stream_handle *s)
{
	sluice_opstate_entry e[2];
	uint64_t off1[3] = {0, 10, 20}, off2[1] = {30};
	sluice_opstate_handle h = {2, e, s}, *d;

	e[0].name = (char *)"offsets";
	e[0].mode = SLUICE_OPSTATE_SPLIT;
	e[0].count = 3;
	e[0].offsets = off1;
	e[1].name = (char *)"bcast";
	e[1].mode = SLUICE_OPSTATE_BROADCAST;
	e[1].count = 1;
	e[1].offsets = off2;
	d = sluice_opstate_handle_dup(&h);
	assert_non_null(d);
	sluice_stream_handle_free(s);
	return d;
}

static sluice_incremental_handle *incremental(void);

static sluice_checkpoint_meta *sample(void)
{
	sluice_checkpoint_meta *m;
	sluice_operator_state *op;

	assert_int_equal(sluice_checkpoint_meta_new(&m, 77), 0);
	m->trigger_ms = 1700000000123;
	m->complete_ms = 1700000000456;
	strcpy(m->job_id, JOB);
	m->props.kind = SLUICE_SNAPSHOT_SAVEPOINT;
	m->props.format = SLUICE_FORMAT_NATIVE;
	m->props.retention = SLUICE_RETAIN_ON_CANCELLATION;
	assert_int_equal(
		sluice_checkpoint_meta_add_operator(
			&op, m, "source-uid", "Source: events", 2, 128),
		0);
	assert_int_equal(
		sluice_subtask_add_opstate(
			&op->subtasks[0],
			opstate(sluice_stream_handle_new(
				SLUICE_HANDLE_INLINE, "memory://x/chk-77/a", 5,
				sluice__xxh3("hello", 5), "hello"))),
		0);
	op->subtasks[1].finished = 1;
	assert_int_equal(
		sluice_checkpoint_meta_add_operator(
			&op, m, "count-uid", "", 3, 128),
		0);
	assert_int_equal(
		sluice_subtask_add_keyed(
			&op->subtasks[0],
			keyed(0, 43,
			      sluice_stream_handle_new(
				      SLUICE_HANDLE_FILE, "/ck/job/chk-77/0f0f",
				      123456, 0x1122334455667788ull, NULL))),
		0);
	assert_int_equal(
		sluice_subtask_add_keyed(
			&op->subtasks[1],
			keyed(43, 43,
			      sluice_stream_handle_new(
				      SLUICE_HANDLE_RELATIVE, "abcd-ef", 99, 42,
				      NULL))),
		0);
	assert_int_equal(
		sluice_subtask_add_keyed(&op->subtasks[2], keyed(86, 42, NULL)),
		0);
	assert_int_equal(
		sluice_subtask_add_shared(
			&op->subtasks[2], "backend-1/000012.sst",
			sluice_stream_handle_new(
				SLUICE_HANDLE_FILE, "/ck/job/shared/u1", 4096,
				7, NULL)),
		0);
	assert_int_equal(
		sluice_subtask_add_shared(
			&op->subtasks[2], "backend-1/000009.sst",
			sluice_stream_handle_new(
				SLUICE_HANDLE_PLACEHOLDER,
				"backend-1/000009.sst", 2048, 0, NULL)),
		0);
	assert_int_equal(
		sluice_subtask_add_ext(
			&op->subtasks[2], SLUICE_META_EXT_CHANNEL_STATE, "chan",
			4),
		0);
	assert_int_equal(
		sluice_subtask_add_ext(&op->subtasks[2], 999, "", 0), 0);
	assert_int_equal(
		sluice_subtask_add_incremental(&op->subtasks[1], incremental()),
		0);
	return m;
}

/* An incremental handle with shared, private files and meta data. */
static sluice_incremental_handle *incremental(void)
{
	sluice_incremental_handle *h =
		sluice_incremental_handle_new("0a1b2c", 76, 43, 43);

	assert_non_null(h);
	h->checkpointed_size = 4321;
	h->metadata = sluice_stream_handle_new(
		SLUICE_HANDLE_INLINE, "memory://x/chk-77/m", 4,
		sluice__xxh3("meta", 4), "meta");
	assert_int_equal(
		sluice_incremental_handle_add(
			h, 1, "000012.sst",
			sluice_stream_handle_new(
				SLUICE_HANDLE_FILE, "/ck/job/shared/u1", 4096,
				7, NULL)),
		0);
	assert_int_equal(
		sluice_incremental_handle_add(
			h, 0, "MANIFEST-000005",
			sluice_stream_handle_new(
				SLUICE_HANDLE_RELATIVE, "m5", 300, 8, NULL)),
		0);
	return h;
}

static void
same_handle(const sluice_stream_handle *a, const sluice_stream_handle *b)
{
	if (!a || !b) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_int_equal(a->kind, b->kind);
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->size, b->size);
	assert_true(a->checksum == b->checksum);
	if (a->kind == SLUICE_HANDLE_INLINE)
		assert_memory_equal(a->data, b->data, (size_t)a->size);
}

static void same_incremental(
	const sluice_incremental_handle *a, const sluice_incremental_handle *b)
{
	uint32_t i;

	assert_string_equal(a->backend_id, b->backend_id);
	assert_int_equal(a->checkpoint_id, b->checkpoint_id);
	assert_int_equal(a->start_key_group, b->start_key_group);
	assert_int_equal(a->num_key_groups, b->num_key_groups);
	assert_int_equal(a->checkpointed_size, b->checkpointed_size);
	same_handle(a->metadata, b->metadata);
	assert_int_equal(a->num_shared, b->num_shared);
	for (i = 0; i < a->num_shared; i++) {
		assert_string_equal(
			a->shared_files[i].name, b->shared_files[i].name);
		same_handle(
			a->shared_files[i].handle, b->shared_files[i].handle);
	}
	assert_int_equal(a->num_private, b->num_private);
	for (i = 0; i < a->num_private; i++) {
		assert_string_equal(
			a->private_files[i].name, b->private_files[i].name);
		same_handle(
			a->private_files[i].handle, b->private_files[i].handle);
	}
}

static void
same_subtask(const sluice_subtask_state *a, const sluice_subtask_state *b)
{
	uint32_t i, j;

	assert_int_equal(a->index, b->index);
	assert_int_equal(a->finished, b->finished);
	assert_int_equal(a->num_keyed, b->num_keyed);
	for (i = 0; i < a->num_keyed; i++) {
		assert_int_equal(
			a->keyed[i]->start_key_group,
			b->keyed[i]->start_key_group);
		assert_int_equal(
			a->keyed[i]->num_key_groups,
			b->keyed[i]->num_key_groups);
		assert_memory_equal(
			a->keyed[i]->offsets, b->keyed[i]->offsets,
			(size_t)a->keyed[i]->num_key_groups * 8);
		same_handle(a->keyed[i]->stream, b->keyed[i]->stream);
	}
	assert_int_equal(a->num_opstate, b->num_opstate);
	for (i = 0; i < a->num_opstate; i++) {
		assert_int_equal(
			a->opstate[i]->num_states, b->opstate[i]->num_states);
		for (j = 0; j < a->opstate[i]->num_states; j++) {
			const sluice_opstate_entry
				*x = &a->opstate[i]->states[j],
				*y = &b->opstate[i]->states[j];
			assert_string_equal(x->name, y->name);
			assert_int_equal(x->mode, y->mode);
			assert_int_equal(x->count, y->count);
			assert_memory_equal(
				x->offsets, y->offsets, x->count * 8);
		}
		same_handle(a->opstate[i]->stream, b->opstate[i]->stream);
	}
	assert_int_equal(a->num_shared, b->num_shared);
	for (i = 0; i < a->num_shared; i++) {
		assert_string_equal(a->shared[i].key, b->shared[i].key);
		same_handle(a->shared[i].handle, b->shared[i].handle);
	}
	assert_int_equal(a->num_incremental, b->num_incremental);
	for (i = 0; i < a->num_incremental; i++)
		same_incremental(a->incremental[i], b->incremental[i]);
	assert_int_equal(a->num_ext, b->num_ext);
	for (i = 0; i < a->num_ext; i++) {
		assert_int_equal(a->ext[i].tag, b->ext[i].tag);
		assert_int_equal(a->ext[i].len, b->ext[i].len);
		assert_memory_equal(
			a->ext[i].data, b->ext[i].data, a->ext[i].len);
	}
}

static void
same_meta(const sluice_checkpoint_meta *a, const sluice_checkpoint_meta *b)
{
	uint32_t i, j;

	assert_int_equal(a->checkpoint_id, b->checkpoint_id);
	assert_int_equal(a->trigger_ms, b->trigger_ms);
	assert_int_equal(a->complete_ms, b->complete_ms);
	assert_string_equal(a->job_id, b->job_id);
	assert_int_equal(a->props.kind, b->props.kind);
	assert_int_equal(a->props.format, b->props.format);
	assert_int_equal(a->props.retention, b->props.retention);
	assert_int_equal(a->num_operators, b->num_operators);
	for (i = 0; i < a->num_operators; i++) {
		const sluice_operator_state *x = &a->operators[i],
					    *y = &b->operators[i];
		assert_string_equal(x->uid, y->uid);
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->parallelism, y->parallelism);
		assert_int_equal(x->max_parallelism, y->max_parallelism);
		assert_int_equal(x->num_subtasks, y->num_subtasks);
		for (j = 0; j < x->num_subtasks; j++)
			same_subtask(&x->subtasks[j], &y->subtasks[j]);
	}
}

static void encode(const sluice_checkpoint_meta *m, uint8_t **data, size_t *len)
{
	assert_int_equal(sluice_metadata_encode(data, len, m), 0);
	assert_non_null(*data);
}

static void test_metadata__round_trip_keeps_every_field(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	uint8_t *data;
	size_t len;

	(void)state;
	encode(m, &data, &len);
	assert_int_equal(sluice__rd32(data), SLUICE_METADATA_MAGIC);
	assert_int_equal(sluice__rd32(data + 4), SLUICE_METADATA_VERSION);
	assert_int_equal(
		sluice_metadata_decode(&back, data, len, "x/_metadata"), 0);
	same_meta(m, back);
	sluice_checkpoint_meta_free(back);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

/* Without incremental handles and channel state the file stays version 1
 * (older builds read it; unknown optional sections are fine); a
 * version-1 file decodes with no incremental handles. */
static void test_metadata__without_incremental_handles_version_1(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	sluice_subtask_state *st = &m->operators[1].subtasks[1];
	sluice_subtask_state *cs = &m->operators[1].subtasks[2];
	uint8_t *data;
	size_t len;

	(void)state;
	sluice_incremental_handle_free(st->incremental[0]);
	st->num_incremental = 0;
	assert_int_equal(cs->ext[0].tag, SLUICE_META_EXT_CHANNEL_STATE);
	cs->ext[0].tag = 998;
	encode(m, &data, &len);
	assert_int_equal(sluice__rd32(data + 4), 1);
	sluice_free_bytes(data);

	/* channel state alone needs version 2: a version-1 reader would
	 * restore without replaying the in-flight data */
	cs->ext[0].tag = SLUICE_META_EXT_CHANNEL_STATE;
	encode(m, &data, &len);
	assert_int_equal(sluice__rd32(data + 4), 2);
	sluice_free_bytes(data);
	cs->ext[0].tag = 998;
	encode(m, &data, &len);
	assert_int_equal(
		sluice_metadata_decode(&back, data, len, "x/_metadata"), 0);
	same_meta(m, back);
	sluice_checkpoint_meta_free(back);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

static void test_metadata__empty_checkpoint_round_trips(void **state)
{
	sluice_checkpoint_meta *m, *back;
	uint8_t *data;
	size_t len;

	(void)state;
	assert_int_equal(sluice_checkpoint_meta_new(&m, 0), 0);
	encode(m, &data, &len);
	assert_int_equal(sluice_metadata_decode(&back, data, len, NULL), 0);
	same_meta(m, back);
	sluice_checkpoint_meta_free(back);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

static void test_metadata__wrong_magic_is_named(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	uint8_t *data;
	size_t len;

	(void)state;
	encode(m, &data, &len);
	data[0] = 0x49;
	assert_int_equal(
		sluice_metadata_decode(&back, data, len, "/ck/chk-1/_metadata"),
		SLUICE_ECORRUPT);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "/ck/chk-1/_metadata: not a sluice _metadata file "
		       "(magic 0x49"));
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

static void test_metadata__unknown_version_is_unsupported(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	uint8_t *data;
	size_t len;

	(void)state;
	encode(m, &data, &len);
	sluice__be32(data + 4, 3);
	assert_int_equal(
		sluice_metadata_decode(&back, data, len, "f"),
		SLUICE_EUNSUPPORTED);
	assert_string_equal(
		sluice_error_last()->message,
		"f: unsupported _metadata version 3 (this build reads 1 to 2)");
	sluice__be32(data + 4, 0);
	assert_int_equal(
		sluice_metadata_decode(&back, data, len, "f"),
		SLUICE_EUNSUPPORTED);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

static void test_metadata__every_truncation_is_rejected(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	uint8_t *data;
	size_t len, cut;
	char want[64];

	(void)state;
	encode(m, &data, &len);
	for (cut = 0; cut < len; cut++) {
		back = NULL;
		assert_int_equal(
			sluice_metadata_decode(&back, data, cut, "f"),
			SLUICE_ECORRUPT);
		assert_null(back);
		if (cut >= 24) {
			snprintf(
				want, sizeof(want),
				"f: truncated: %zu bytes, header says %zu", cut,
				len);
			assert_string_equal(sluice_error_last()->message, want);
		}
	}
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

static void test_metadata__every_flipped_bit_is_rejected(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	uint8_t *data;
	size_t len, i;
	int bit, rc;

	(void)state;
	encode(m, &data, &len);
	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit += 3) {
			data[i] ^= (uint8_t)(1u << bit);
			back = NULL;
			rc = sluice_metadata_decode(&back, data, len, "f");
			assert_true(
				rc == SLUICE_ECORRUPT ||
				rc == SLUICE_EUNSUPPORTED);
			assert_null(back);
			data[i] ^= (uint8_t)(1u << bit);
		}
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

static void test_metadata__trailing_bytes_are_rejected(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	uint8_t *data, *longer;
	size_t len;

	(void)state;
	encode(m, &data, &len);
	longer = calloc(1, len + 3);
	memcpy(longer, data, len);
	assert_int_equal(
		sluice_metadata_decode(&back, longer, len + 3, "f"),
		SLUICE_ECORRUPT);
	assert_non_null(strstr(sluice_error_last()->message, "trailing bytes"));
	free(longer);
	sluice_checkpoint_meta_free(m);
	sluice_free_bytes(data);
}

/* Re-seal a body so the trailer and length match (a "valid" corrupt file). */
static void reseal(uint8_t *data, size_t len)
{
	sluice__be64(data + 8, len);
	sluice__be64(data + len - 8, sluice__xxh3(data, len - 8));
}

static void test_metadata__sealed_garbage_is_rejected_with_offset(void **state)
{
	sluice_checkpoint_meta *m, *back;
	sluice_operator_state *op;
	uint8_t *data;
	size_t len;

	(void)state;
	assert_int_equal(sluice_checkpoint_meta_new(&m, 5), 0);
	assert_int_equal(
		sluice_checkpoint_meta_add_operator(&op, m, "u", "n", 1, 1), 0);
	encode(m, &data, &len);
	/* operator count lives right after the header: make it huge */
	sluice__be32(data + 16 + 24 + 2 + 4, 0x7fffffff);
	reseal(data, len);
	assert_int_equal(
		sluice_metadata_decode(&back, data, len, "f"), SLUICE_ECORRUPT);
	assert_non_null(
		strstr(sluice_error_last()->message,
		       "f: operator count 2147483647 at byte"));
	sluice_free_bytes(data);
	/* a negative checkpoint id, as Flink: "invalid checkpoint ID" */
	m->checkpoint_id = -3;
	encode(m, &data, &len);
	assert_int_equal(
		sluice_metadata_decode(&back, data, len, "f"), SLUICE_ECORRUPT);
	assert_string_equal(
		sluice_error_last()->message, "f: invalid checkpoint ID: -3");
	sluice_free_bytes(data);
	sluice_checkpoint_meta_free(m);
}

static void
test_metadata__allocation_failures_are_reported_not_crashes(void **state)
{
	sluice_checkpoint_meta *m = sample(), *back;
	uint8_t *data, *again;
	size_t len, len2;
	long k;
	int rc;

	(void)state;
	encode(m, &data, &len);
	for (k = 0;; k++) {
		back = NULL;
		sluice__alloc_fail_after(k);
		rc = sluice_metadata_decode(&back, data, len, "f");
		sluice__alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_int_equal(rc, SLUICE_ENOMEM);
		assert_null(back);
	}
	assert_true(k > 10);
	same_meta(m, back);
	sluice_checkpoint_meta_free(back);
	for (k = 0;; k++) {
		sluice__alloc_fail_after(k);
		rc = sluice_metadata_encode(&again, &len2, m);
		sluice__alloc_fail_after(-1);
		if (rc == 0)
			break;
		assert_int_equal(rc, SLUICE_ENOMEM);
	}
	assert_int_equal(len2, len);
	assert_memory_equal(again, data, len);
	sluice_free_bytes(again);
	sluice_free_bytes(data);
	sluice_checkpoint_meta_free(m);
}

static void test_metadata__writer_refuses_invalid_handles(void **state)
{
	sluice_checkpoint_meta *m;
	sluice_operator_state *op;
	uint8_t *data;
	size_t len;

	(void)state;
	assert_int_equal(sluice_checkpoint_meta_new(&m, 1), 0);
	assert_int_equal(
		sluice_checkpoint_meta_add_operator(&op, m, "u", "", 1, 8), 0);
	assert_int_equal(
		sluice_subtask_add_keyed(
			&op->subtasks[0],
			keyed(0, 2,
			      sluice_stream_handle_new(
				      SLUICE_HANDLE_FILE, "/f", 1, 1, NULL))),
		0);
	op->subtasks[0].keyed[0]->num_key_groups = -1;
	assert_int_equal(
		sluice_metadata_encode(&data, &len, m), SLUICE_EINVALID);
	assert_null(data);
	op->subtasks[0].keyed[0]->num_key_groups = 2;
	op->subtasks[0].keyed[0]->stream->kind = (sluice_handle_kind)9;
	assert_int_equal(
		sluice_metadata_encode(&data, &len, m), SLUICE_EINVALID);
	assert_non_null(strstr(sluice_error_last()->message, "'/f'"));
	op->subtasks[0].keyed[0]->stream->kind = SLUICE_HANDLE_FILE;
	assert_int_equal(sluice_metadata_encode(&data, &len, m), 0);
	sluice_free_bytes(data);
	sluice_checkpoint_meta_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metadata__round_trip_keeps_every_field),
		cmocka_unit_test(test_metadata__empty_checkpoint_round_trips),
		cmocka_unit_test(
			test_metadata__without_incremental_handles_version_1),
		cmocka_unit_test(test_metadata__wrong_magic_is_named),
		cmocka_unit_test(test_metadata__unknown_version_is_unsupported),
		cmocka_unit_test(test_metadata__every_truncation_is_rejected),
		cmocka_unit_test(test_metadata__every_flipped_bit_is_rejected),
		cmocka_unit_test(test_metadata__trailing_bytes_are_rejected),
		cmocka_unit_test(
			test_metadata__sealed_garbage_is_rejected_with_offset),
		cmocka_unit_test(
			test_metadata__allocation_failures_are_reported_not_crashes),
		cmocka_unit_test(test_metadata__writer_refuses_invalid_handles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
