/*
 * Operator list state of items a subtask owns by a rule of the
 * parallelism (the file source's files, the window operator's keys with
 * an open window): written as a union list, so a restore at any
 * parallelism hands every subtask every item and each keeps its own.
 * Where the state provider has no union lists (the in-memory one of bare
 * sluice_job runs) the items go to a split list under the legacy name,
 * as earlier versions wrote them; such a list restores at its own
 * parallelism only (its items were dealt out evenly, not by owner), so
 * an item found at a subtask that does not own it fails the restore.
 * A restored legacy list is emptied at the next snapshot, once its items
 * are in the union list.
 */
#include "jobs/builtins.h"
#include "util/error.h"

static int restore_one(
	sluice_ctx *ctx,
	sluice__owned_list *l,
	const char *name,
	int legacy,
	const sluice__owned_ops *ops,
	void *arg)
{
	const sluice_slice *el;
	size_t n, i;
	int rc;

	if ((rc = sluice_ctx_opstate_get(ctx, name, &el, &n)) < 0)
		return rc;
	if (legacy && n > 0)
		l->legacy_held = 1;
	for (i = 0; i < n; i++) {
		if ((rc = ops->owns(ctx, el[i], arg)) < 0)
			return rc;
		if (rc == 0 && !legacy)
			continue; /* another subtask's at this parallelism */
		if (rc == 0)
			return sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_JOB,
				"%s '%s' subtask %d: entry %zu of '%s' (%s) "
				"belongs to another subtask: state kept as a "
				"split list restores at its own parallelism "
				"only; restore at that parallelism, take a "
				"savepoint and rescale from it",
				ops->what, sluice_ctx_uid(ctx),
				(int)sluice_ctx_subtask(ctx), i, name,
				ops->item);
		if ((rc = ops->take(ctx, el[i], arg)) < 0)
			return rc;
	}
	return 0;
}

int sluice__owned_list_restore(
	sluice_ctx *ctx,
	sluice__owned_list *l,
	const sluice__owned_ops *ops,
	void *arg)
{
	SLUICE_ERRCHECK(restore_one(ctx, l, l->name, 0, ops, arg));
	return restore_one(ctx, l, l->legacy, 1, ops, arg);
}

int sluice__owned_list_save(
	sluice_ctx *ctx,
	sluice__owned_list *l,
	const sluice_slice *items,
	size_t n)
{
	int rc = sluice_ctx_union_state_set(ctx, l->name, items, n);

	if (rc == SLUICE_EUNSUPPORTED) {
		sluice_error_clear();
		return sluice_ctx_opstate_set(ctx, l->legacy, items, n);
	}
	if (rc == 0 && l->legacy_held) {
		rc = sluice_ctx_opstate_set(ctx, l->legacy, NULL, 0);
		l->legacy_held = rc < 0;
	}
	return rc;
}
