/*
 * Redistribution of operator state when a job restores (spec §7.3), as
 * Flink's RoundRobinOperatorStateRepartitioner:
 *  - same parallelism: a subtask keeps its old SPLIT and BROADCAST state
 *    and receives every UNION element of every old subtask;
 *  - changed parallelism: per SPLIT state name (in order of first
 *    appearance), the elements of all old subtasks in order are dealt out
 *    in consecutive runs of total/newP (+1 for the first total%newP
 *    subtasks in round-robin order from a start index that moves on to
 *    the first subtask without an extra element, balancing across names);
 *    UNION: everything to everyone; BROADCAST: subtask i gets old subtask
 *    i % oldP's copy.
 * Elements a new subtask receives from one old stream are merged into one
 * handle per stream.
 */
#include <string.h>

#include "sluice/state.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct split_range {
	const char *name;
	uint64_t from, to; /* global element range of the new subtask */
	uint64_t seen;     /* elements of this name in earlier handles */
} split_range;

static split_range *find_range(split_range *r, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(r[i].name, name))
			return &r[i];
	return NULL;
}

/* Collect SPLIT names in order of first appearance with their totals. */
static int split_ranges(
	split_range **out,
	size_t *n,
	const sluice_opstate_handle *const *old,
	size_t old_p,
	size_t new_p,
	size_t index)
{
	split_range *r = NULL;
	uint64_t *total = NULL;
	size_t cap = 0, i, j, start = 0;

	*n = 0;
	for (i = 0; i < old_p; i++)
		for (j = 0; old[i] && j < old[i]->num_states; j++) {
			const sluice_opstate_entry *e = &old[i]->states[j];
			split_range *x;

			if (e->mode != SLUICE_OPSTATE_SPLIT)
				continue;
			if (!(x = find_range(r, *n, e->name))) {
				if (*n == cap) {
					void *p1 = sluice__reallocarray(
						r, cap * 2 + 4, sizeof(*r));
					void *p2 =
						p1 ? sluice__reallocarray(
							     total, cap * 2 + 4,
							     sizeof(*total))
						   : NULL;

					if (p1)
						r = p1;
					if (!p2) {
						sluice__free(r);
						sluice__free(total);
						return sluice__error_oom();
					}
					total = p2;
					cap = cap * 2 + 4;
				}
				x = &r[*n];
				memset(x, 0, sizeof(*x));
				x->name = e->name;
				total[(*n)++] = 0;
			}
			total[x - r] += e->count;
		}
	for (i = 0; i < *n; i++) {
		uint64_t base = total[i] / new_p, rem = total[i] % new_p,
			 pos = 0;

		for (j = 0; j < new_p; j++) {
			size_t sub = (start + j) % new_p;
			uint64_t cnt = base + (j < rem ? 1 : 0);

			if (sub == index) {
				r[i].from = pos;
				r[i].to = pos + cnt;
			}
			pos += cnt;
		}
		start = (size_t)((start + rem) % new_p);
	}
	sluice__free(total);
	*out = r;
	return 0;
}

/* Elements [lo, hi) of entry e into handle d (appending an entry). */
static int
take(sluice_opstate_handle *d,
     const sluice_opstate_entry *e,
     uint32_t lo,
     uint32_t hi)
{
	sluice_opstate_entry *x = &d->states[d->num_states];

	if (lo >= hi)
		return 0;
	memset(x, 0, sizeof(*x));
	x->mode = e->mode;
	x->count = hi - lo;
	if (!(x->name = sluice__strdup(e->name)) ||
	    !(x->offsets = sluice__memdup(
		      e->offsets + lo, x->count * sizeof(uint64_t)))) {
		sluice__free(x->name);
		return sluice__error_oom();
	}
	d->num_states++;
	return 0;
}

static int assign_from(
	sluice_opstate_handle **out,
	const sluice_opstate_handle *h,
	size_t j,
	split_range *r,
	size_t nr,
	size_t old_p,
	size_t new_p,
	size_t index)
{
	sluice_opstate_handle *d = sluice__calloc(1, sizeof(*d));
	uint32_t i;
	int rc = 0;

	*out = NULL;
	if (!d ||
	    !(d->states = sluice__calloc(
		      h->num_states ? h->num_states : 1, sizeof(*d->states))))
		goto oom;
	for (i = 0; i < h->num_states && rc == 0; i++) {
		const sluice_opstate_entry *e = &h->states[i];

		if (e->mode == SLUICE_OPSTATE_UNION) {
			rc = take(d, e, 0, e->count);
		} else if (e->mode == SLUICE_OPSTATE_BROADCAST) {
			if (j == index % old_p)
				rc = take(d, e, 0, e->count);
		} else if (old_p == new_p) {
			if (j == index)
				rc = take(d, e, 0, e->count);
		} else {
			split_range *x = find_range(r, nr, e->name);
			uint64_t lo = x->from > x->seen ? x->from - x->seen : 0;
			uint64_t hi = x->to > x->seen ? x->to - x->seen : 0;

			if (hi > e->count)
				hi = e->count;
			rc =
				take(d, e, (uint32_t)lo,
				     (uint32_t)(hi > lo ? hi : lo));
			x->seen += e->count;
		}
	}
	if (rc < 0)
		goto fail;
	if (d->num_states && !(d->stream = sluice_stream_handle_dup(h->stream)))
		goto oom;
	if (!d->num_states) {
		sluice_opstate_handle_free(d);
		return 0;
	}
	*out = d;
	return 0;
oom:
	rc = sluice__error_oom();
fail:
	sluice_opstate_handle_free(d);
	return rc;
}

void sluice_opstate_handles_free(sluice_opstate_handle **hs, size_t n)
{
	size_t i;

	for (i = 0; hs && i < n; i++)
		sluice_opstate_handle_free(hs[i]);
	sluice__free(hs);
}

int sluice_opstate_assign(
	sluice_opstate_handle ***out,
	size_t *n,
	const sluice_opstate_handle *const *old,
	size_t old_p,
	size_t new_p,
	size_t index)
{
	sluice_opstate_handle **hs = NULL;
	split_range *r = NULL;
	size_t nr = 0, j;
	int rc;

	*out = NULL;
	*n = 0;
	if (!old_p || !new_p || index >= new_p)
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_STATE,
			"operator state assignment: subtask %zu "
			"of %zu from %zu old subtasks",
			index, new_p, old_p);
	SLUICE_ERRCHECK(split_ranges(&r, &nr, old, old_p, new_p, index));
	if (!(hs = sluice__calloc(old_p, sizeof(*hs)))) {
		sluice__free(r);
		return sluice__error_oom();
	}
	for (j = 0; j < old_p; j++) {
		sluice_opstate_handle *d = NULL;

		if (!old[j])
			continue;
		if ((rc = assign_from(
			     &d, old[j], j, r, nr, old_p, new_p, index)) < 0) {
			sluice_opstate_handles_free(hs, *n);
			sluice__free(r);
			*n = 0;
			return rc;
		}
		if (d)
			hs[(*n)++] = d;
	}
	sluice__free(r);
	*out = hs;
	return 0;
}
