/*
 * Key groups (spec §7.1): the unit of keyed state redistribution.  A key
 * belongs to key group hash32(key) % maxParallelism; subtask i of p owns a
 * contiguous inclusive range of groups.  The formulas and bounds follow
 * Flink's KeyGroupRangeAssignment so rescaling splits state the same way.
 */
#include "sluice/state.h"
#include "util/error.h"
#include "util/hash.h"

static int32_t round_up_pow2(int32_t x)
{
	uint32_t v = (uint32_t)x - 1;

	v |= v >> 1;
	v |= v >> 2;
	v |= v >> 4;
	v |= v >> 8;
	v |= v >> 16;
	return (int32_t)(v + 1);
}

int32_t sluice_keygroup_default_max_parallelism(int32_t p)
{
	int32_t m;

	if (p <= 0)
		p = 1;
	if (p > SLUICE_KEYGROUP_UPPER_BOUND)
		return SLUICE_KEYGROUP_UPPER_BOUND;
	m = round_up_pow2(p + p / 2);
	if (m < SLUICE_KEYGROUP_LOWER_BOUND)
		m = SLUICE_KEYGROUP_LOWER_BOUND;
	if (m > SLUICE_KEYGROUP_UPPER_BOUND)
		m = SLUICE_KEYGROUP_UPPER_BOUND;
	return m;
}

int sluice_keygroup_check(int32_t max_parallelism, int32_t p)
{
	if (p <= 0 || p > SLUICE_KEYGROUP_UPPER_BOUND)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"Operator parallelism not within bounds: %d", (int)p);
	if (max_parallelism <= 0 ||
	    max_parallelism > SLUICE_KEYGROUP_UPPER_BOUND)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"Maximum parallelism must be between 1 and %d: %d",
			SLUICE_KEYGROUP_UPPER_BOUND, (int)max_parallelism);
	if (max_parallelism < p)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"Maximum parallelism must not be smaller than "
			"parallelism.");
	return 0;
}

int32_t sluice_keygroup_of(sluice_slice key, int32_t max_parallelism)
{
	uint32_t h = sluice__hash32(key.data, key.len) & 0x7fffffffu;

	return (int32_t)(h % (uint32_t)max_parallelism);
}

int32_t
sluice_keygroup_operator_index(int32_t kg, int32_t max_parallelism, int32_t p)
{
	return (int32_t)((int64_t)kg * p / max_parallelism);
}

int sluice_keygroup_range(
	int32_t *start,
	int32_t *end,
	int32_t max_parallelism,
	int32_t p,
	int32_t index)
{
	int64_t m = max_parallelism;

	SLUICE_ERRCHECK(sluice_keygroup_check(max_parallelism, p));
	if (index < 0 || index >= p)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"subtask index %d not within [0, %d)", (int)index,
			(int)p);
	*start = (int32_t)(((int64_t)index * m + p - 1) / p);
	*end = (int32_t)((((int64_t)index + 1) * m - 1) / p);
	return 0;
}
