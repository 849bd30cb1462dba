/*
 * Internals shared by location.c (layout) and state_stream.c (streams and
 * commit).
 */
#ifndef SLUICE_STORAGE_LOCATION_H
#define SLUICE_STORAGE_LOCATION_H

#include "sluice/sys/storage.h"

/* "<dir>/<name>" (trailing slashes of dir dropped); NULL on OOM. */
char *sluice__path_join(const char *dir, const char *name);
/* A random UUID string (36 chars + NUL). */
int sluice__random_uuid(char out[37]);
/* A new state stream whose file (if it needs one) is `path`; `relname`
 * is its name relative to the location dir, for RELATIVE handles. */
int sluice__location_stream(
	sluice_ostream **out,
	sluice_storage *st,
	const char *path,
	const char *relname,
	int relative,
	uint64_t threshold,
	size_t buffer);
sluice_storage *sluice__location_storage(const sluice_location *loc);
/* Sync the directories whose entries the commit depends on. */
int sluice__location_sync_parents(const sluice_location *loc);

#endif
