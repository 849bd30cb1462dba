/*
 * Range work on a rocksdb instance: prefix iteration (exact per key and per
 * map thanks to the length-prefixed key layout), prefix and key-group range
 * deletes used to clear states and to clip a restored database to a
 * subtask's key groups, full compaction, and native checkpoints.
 */
#include <string.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"

struct sluice_rdb_iter {
	rocksdb_iterator_t *it;
	rocksdb_readoptions_t *ro;
	sluice_buf lower;
	sluice_buf upper;
	char *cf_name; /* borrowed from the cf */
};

/*
 * The smallest key greater than every key starting with `prefix`: the
 * prefix with its last non-0xFF byte incremented and what follows dropped.
 * 0 when there is none (empty or all 0xFF).
 */
static int prefix_successor(sluice_buf *out, sluice_slice prefix)
{
	const uint8_t *p = prefix.data;
	size_t n = prefix.len;

	while (n > 0 && p[n - 1] == 0xFF)
		n--;
	sluice_buf_clear(out);
	if (n == 0)
		return 0;
	SLUICE_ERRCHECK(sluice_buf_put(out, p, n));
	out->ptr[n - 1]++;
	return 1;
}

int sluice__rdb_iter_new(
	sluice_rdb_iter **out,
	sluice_rdb *db,
	sluice_rdb_cf *cf,
	sluice_slice prefix)
{
	sluice_rdb_iter *it = sluice__calloc(1, sizeof(*it));
	int has_upper, error;

	*out = NULL;
	if (!it || !(it->ro = rocksdb_readoptions_create())) {
		sluice__free(it);
		return sluice__error_oom();
	}
	it->cf_name = cf->name;
	if ((error = sluice_buf_put(&it->lower, prefix.data, prefix.len)) < 0 ||
	    (error = has_upper = prefix_successor(&it->upper, prefix)) < 0) {
		sluice__rdb_iter_free(it);
		return error;
	}
	if (prefix.len)
		rocksdb_readoptions_set_iterate_lower_bound(
			it->ro, (const char *)it->lower.ptr, it->lower.len);
	if (has_upper)
		rocksdb_readoptions_set_iterate_upper_bound(
			it->ro, (const char *)it->upper.ptr, it->upper.len);
	it->it = rocksdb_create_iterator_cf(db->db, it->ro, cf->h);
	if (prefix.len)
		rocksdb_iter_seek(it->it, prefix.data, prefix.len);
	else
		rocksdb_iter_seek_to_first(it->it);
	*out = it;
	return 0;
}

int sluice__rdb_iter_valid(sluice_rdb_iter *it)
{
	return rocksdb_iter_valid(it->it);
}

void sluice__rdb_iter_next(sluice_rdb_iter *it)
{
	rocksdb_iter_next(it->it);
}

sluice_slice sluice__rdb_iter_key(sluice_rdb_iter *it)
{
	size_t n;
	const char *p = rocksdb_iter_key(it->it, &n);

	return SLUICE_SLICE(p, n);
}

sluice_slice sluice__rdb_iter_value(sluice_rdb_iter *it)
{
	size_t n;
	const char *p = rocksdb_iter_value(it->it, &n);

	return SLUICE_SLICE(p, n);
}

int sluice__rdb_iter_status(sluice_rdb_iter *it)
{
	char *err = NULL;

	rocksdb_iter_get_error(it->it, &err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb: iterate '%s'", it->cf_name);
	return 0;
}

void sluice__rdb_iter_free(sluice_rdb_iter *it)
{
	if (!it)
		return;
	if (it->it)
		rocksdb_iter_destroy(it->it);
	if (it->ro)
		rocksdb_readoptions_destroy(it->ro);
	sluice_buf_release(&it->lower);
	sluice_buf_release(&it->upper);
	sluice__free(it);
}

/* Delete [begin, end) of one column family: files first, then tombstones */
static int delete_range(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice begin, sluice_slice end)
{
	char *err = NULL;

	rocksdb_delete_file_in_range_cf(
		db->db, cf->h, begin.data, begin.len, end.data, end.len, &err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb: delete files in range of '%s'",
			cf->name);
	rocksdb_delete_range_cf(
		db->db, db->wo, cf->h, begin.data, begin.len, end.data, end.len,
		&err);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb: delete range of '%s'", cf->name);
	return 0;
}

int sluice__rdb_delete_prefix(
	sluice_rdb *db, sluice_rdb_cf *cf, sluice_slice prefix)
{
	sluice_buf end = SLUICE_BUF_INIT;
	char *err = NULL;
	int error;

	if ((error = prefix_successor(&end, prefix)) == 1) {
		rocksdb_delete_range_cf(
			db->db, db->wo, cf->h, prefix.data, prefix.len,
			(const char *)end.ptr, end.len, &err);
		error = err ? sluice__rdb_err(
				      err, "rocksdb: delete range of '%s'",
				      cf->name)
			    : 0;
	} else if (error == 0) {
		/* no successor (all 0xFF): delete key by key */
		sluice_rdb_iter *it;

		if ((error = sluice__rdb_iter_new(&it, db, cf, prefix)) < 0)
			goto done;
		for (; error == 0 && sluice__rdb_iter_valid(it);
		     sluice__rdb_iter_next(it))
			error = sluice__rdb_delete(
				db, cf, sluice__rdb_iter_key(it));
		if (error == 0)
			error = sluice__rdb_iter_status(it);
		sluice__rdb_iter_free(it);
	}
done:
	sluice_buf_release(&end);
	return error;
}

int sluice__rdb_clip(sluice_rdb *db, int32_t kg_start, int32_t kg_end)
{
	sluice_buf lo = SLUICE_BUF_INIT, hi = SLUICE_BUF_INIT;
	/* key groups fit in 15 bits: 0xFF 0xFF 0xFF is above every key */
	static const uint8_t top[3] = {0xFF, 0xFF, 0xFF};
	size_t i;
	int error;

	if ((error = sluice__rdb_put_kg(&lo, db->kg_bytes, kg_start)) < 0 ||
	    (error = sluice__rdb_put_kg(&hi, db->kg_bytes, kg_end + 1)) < 0)
		goto done;
	if (db->kg_bytes == 1 && kg_end + 1 > 255)
		hi.ptr[0] = 0xFF;
	for (i = 0; i < db->ncf && error == 0; i++) {
		sluice_rdb_cf *cf = db->cfs[i];

		if (kg_start > 0)
			error = delete_range(
				db, cf, SLUICE_SLICE("", 0),
				SLUICE_SLICE(lo.ptr, lo.len));
		if (error == 0)
			error = delete_range(
				db, cf, SLUICE_SLICE(hi.ptr, hi.len),
				SLUICE_SLICE(top, sizeof(top)));
	}
done:
	sluice_buf_release(&lo);
	sluice_buf_release(&hi);
	return error;
}

int sluice__rdb_compact(sluice_rdb *db)
{
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	char *err = NULL;
	size_t i;
	int error = 0;

	if (!fo)
		return sluice__error_oom();
	rocksdb_flushoptions_set_wait(fo, 1);
	for (i = 0; i < db->ncf; i++) {
		rocksdb_flush_cf(db->db, fo, db->cfs[i]->h, &err);
		if (err) {
			error = sluice__rdb_err(
				err, "rocksdb: flush '%s'", db->cfs[i]->name);
			break;
		}
		rocksdb_compact_range_cf(
			db->db, db->cfs[i]->h, NULL, 0, NULL, 0);
	}
	rocksdb_flushoptions_destroy(fo);
	return error;
}

/* A property that is a count, 0 when RocksDB does not know it. */
static uint64_t count_of(sluice_rdb *db, sluice_rdb_cf *cf, const char *name)
{
	uint64_t v = 0;

	if ((cf ? rocksdb_property_int_cf(db->db, cf->h, name, &v)
		: rocksdb_property_int(db->db, name, &v)) != 0)
		return 0;
	return v;
}

int sluice__rdb_busy(sluice_rdb *db)
{
	size_t i;

	if (count_of(db, NULL, "rocksdb.num-running-flushes") ||
	    count_of(db, NULL, "rocksdb.num-running-compactions"))
		return 1;
	for (i = 0; i < db->ncf; i++)
		if (count_of(
			    db, db->cfs[i],
			    "rocksdb.mem-table-flush-pending") ||
		    count_of(db, db->cfs[i], "rocksdb.compaction-pending"))
			return 1;
	return 0;
}

int sluice__rdb_native_checkpoint(sluice_rdb *db, const char *dir)
{
	char *err = NULL;
	rocksdb_checkpoint_t *cp =
		rocksdb_checkpoint_object_create(db->db, &err);

	if (err)
		return sluice__rdb_err(
			err, "rocksdb: checkpoint of '%s'", db->db_path);
	/* log_size_for_flush = 0: always flush memtables first (no WAL) */
	rocksdb_checkpoint_create(cp, dir, 0, &err);
	rocksdb_checkpoint_object_destroy(cp);
	if (err)
		return sluice__rdb_err(
			err, "rocksdb: checkpoint into '%s'", dir);
	return 0;
}
