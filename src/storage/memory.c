/*
 * The "memory" checkpoint storage: a flat map from path to bytes behind a
 * mutex, for tests and the jobmanager storage.  Directories are implicit
 * (the prefixes of stored paths) and exist once created with mkdirs or as
 * soon as a file lies below them.  Written bytes are visible at once, like
 * a file system's page cache; durability is what the fault wrapper models.
 */
#include <pthread.h>
#include <string.h>
#include <sys/types.h>

#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"

#define E SLUICE_ERRCLS_STORAGE

typedef struct node {
	char *path;
	uint8_t *data;
	size_t len, cap;
	int is_dir;
} node;

typedef struct memstore {
	sluice_storage base;
	pthread_mutex_t lock;
	node *nodes;
	size_t n, cap;
} memstore;

static ssize_t find(memstore *m, const char *path)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->nodes[i].path, path))
			return (ssize_t)i;
	return -1;
}

static void drop(memstore *m, size_t i)
{
	sluice__free(m->nodes[i].path);
	sluice__free(m->nodes[i].data);
	m->nodes[i] = m->nodes[--m->n];
}

static node *add(memstore *m, const char *path, int is_dir)
{
	node *nd;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		node *p = sluice__reallocarray(m->nodes, cap, sizeof(*p));
		if (!p)
			return NULL;
		m->nodes = p;
		m->cap = cap;
	}
	nd = &m->nodes[m->n];
	memset(nd, 0, sizeof(*nd));
	if (!(nd->path = sluice__strdup(path)))
		return NULL;
	nd->is_dir = is_dir;
	m->n++;
	return nd;
}

/* 1 when `path` lies strictly below directory `dir`. */
static int below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && path[n] == '/';
}

typedef struct mwfile {
	sluice_storage_file base;
	memstore *m;
	char *path;
} mwfile;

static int
mw_write(sluice_storage_file *f, const void *data, size_t len, size_t *written)
{
	mwfile *w = (mwfile *)f;
	memstore *m = w->m;
	int error = 0;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	if ((i = find(m, w->path)) < 0) {
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E, "write '%s': file was deleted",
			w->path);
	} else {
		node *nd = &m->nodes[i];
		if (nd->len + len > nd->cap) {
			size_t cap = (nd->len + len) * 2;
			uint8_t *p = sluice__realloc(nd->data, cap);
			if (!p)
				error = sluice__error_oom();
			else {
				nd->data = p;
				nd->cap = cap;
			}
		}
		if (!error) {
			if (len)
				memcpy(nd->data + nd->len, data, len);
			nd->len += len;
			*written = len;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return error;
}

static int mw_sync(sluice_storage_file *f)
{
	(void)f;
	return 0;
}

static int mw_close(sluice_storage_file *f)
{
	mwfile *w = (mwfile *)f;

	sluice__free(w->path);
	sluice__free(w);
	return 0;
}

static int
m_open_write(sluice_storage *st, const char *path, sluice_storage_file **out)
{
	memstore *m = (memstore *)st;
	mwfile *w = sluice__calloc(1, sizeof(*w));
	int error = 0;
	ssize_t i;

	if (!w || !(w->path = sluice__strdup(path))) {
		sluice__free(w);
		return sluice__error_oom();
	}
	pthread_mutex_lock(&m->lock);
	if ((i = find(m, path)) >= 0 && m->nodes[i].is_dir)
		error = sluice__error_set(
			SLUICE_EEXISTS, E, "create '%s': is a directory", path);
	else if (i >= 0)
		m->nodes[i].len = 0;
	else if (!add(m, path, 0))
		error = sluice__error_oom();
	pthread_mutex_unlock(&m->lock);
	if (error) {
		mw_close(&w->base);
		return error;
	}
	w->m = m;
	w->base.version = SLUICE_STORAGE_VERSION;
	w->base.write = mw_write;
	w->base.sync = mw_sync;
	w->base.close = mw_close;
	*out = &w->base;
	return 0;
}

static int
m_open_read(sluice_storage *st, const char *path, sluice_istream **out)
{
	memstore *m = (memstore *)st;
	int error;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	if ((i = find(m, path)) < 0 || m->nodes[i].is_dir)
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E, "open '%s': no such file", path);
	else
		error = sluice_mem_istream_new(
			out, m->nodes[i].data, m->nodes[i].len);
	pthread_mutex_unlock(&m->lock);
	return error;
}

static int m_remove(sluice_storage *st, const char *path)
{
	memstore *m = (memstore *)st;
	int error = 0;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	if ((i = find(m, path)) < 0 || m->nodes[i].is_dir)
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E, "delete '%s': no such file", path);
	else
		drop(m, (size_t)i);
	pthread_mutex_unlock(&m->lock);
	return error;
}

static int m_rmdir(sluice_storage *st, const char *path)
{
	memstore *m = (memstore *)st;
	int error = 0;
	size_t k;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	for (k = 0; k < m->n; k++)
		if (below(m->nodes[k].path, path))
			break;
	if (k < m->n)
		error = sluice__error_set(
			SLUICE_EEXISTS, E, "remove directory '%s': not empty",
			path);
	else if ((i = find(m, path)) >= 0 && m->nodes[i].is_dir)
		drop(m, (size_t)i);
	else
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E,
			"remove directory '%s': no such directory", path);
	pthread_mutex_unlock(&m->lock);
	return error;
}

static int m_rename(sluice_storage *st, const char *from, const char *to)
{
	memstore *m = (memstore *)st;
	int error = 0;
	ssize_t i, j;
	char *p;

	pthread_mutex_lock(&m->lock);
	if ((i = find(m, from)) < 0 || m->nodes[i].is_dir) {
		error = sluice__error_set(
			SLUICE_ENOTFOUND, E, "rename '%s': no such file", from);
	} else if (!(p = sluice__strdup(to))) {
		error = sluice__error_oom();
	} else {
		sluice__free(m->nodes[i].path);
		m->nodes[i].path = p;
		if ((j = find(m, to)) >= 0 && j != i)
			drop(m, (size_t)j);
	}
	pthread_mutex_unlock(&m->lock);
	return error;
}

static int
m_stat(sluice_storage *st, const char *path, uint64_t *size, int *is_dir)
{
	memstore *m = (memstore *)st;
	int error = 0, dir = 0;
	uint64_t sz = 0;
	size_t k;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	if ((i = find(m, path)) >= 0) {
		dir = m->nodes[i].is_dir;
		sz = dir ? 0 : m->nodes[i].len;
	} else {
		for (k = 0; k < m->n && !below(m->nodes[k].path, path); k++)
			;
		if (k < m->n)
			dir = 1;
		else
			error = sluice__error_set(
				SLUICE_ENOTFOUND, E, "stat '%s': not found",
				path);
	}
	pthread_mutex_unlock(&m->lock);
	if (size)
		*size = sz;
	if (is_dir)
		*is_dir = dir;
	return error;
}

typedef struct entry {
	char *path;
	uint64_t size;
} entry;

static int
m_list(sluice_storage *st,
       const char *dir,
       sluice_storage_list_cb cb,
       void *ctx)
{
	memstore *m = (memstore *)st;
	entry *ents = NULL;
	size_t k, n = 0;
	int error = 0;

	pthread_mutex_lock(&m->lock);
	ents = sluice__calloc(m->n ? m->n : 1, sizeof(*ents));
	for (k = 0; ents && k < m->n && !error; k++) {
		if (m->nodes[k].is_dir || !below(m->nodes[k].path, dir))
			continue;
		ents[n].size = m->nodes[k].len;
		if (!(ents[n++].path = sluice__strdup(m->nodes[k].path)))
			error = sluice__error_oom();
	}
	pthread_mutex_unlock(&m->lock);
	if (!ents)
		return sluice__error_oom();
	/* Call back without the lock so the callback may use the storage. */
	for (k = 0; k < n && !error; k++)
		if (ents[k].path)
			error = cb(ents[k].path, ents[k].size, ctx);
	for (k = 0; k < n; k++)
		sluice__free(ents[k].path);
	sluice__free(ents);
	return error;
}

static int m_mkdirs(sluice_storage *st, const char *dir)
{
	memstore *m = (memstore *)st;
	int error = 0;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	if ((i = find(m, dir)) >= 0 && !m->nodes[i].is_dir)
		error = sluice__error_set(
			SLUICE_EEXISTS, E, "create directory '%s': is a file",
			dir);
	else if (i < 0 && !add(m, dir, 1))
		error = sluice__error_oom();
	pthread_mutex_unlock(&m->lock);
	return error;
}

static void m_destroy(sluice_storage *st)
{
	memstore *m = (memstore *)st;

	while (m->n)
		drop(m, m->n - 1);
	sluice__free(m->nodes);
	pthread_mutex_destroy(&m->lock);
	sluice__free(m);
}

int sluice_storage_memory_new(sluice_storage **out)
{
	memstore *m = sluice__calloc(1, sizeof(*m));

	if (!m)
		return sluice__error_oom();
	pthread_mutex_init(&m->lock, NULL);
	m->base.version = SLUICE_STORAGE_VERSION;
	m->base.scheme = "memory";
	m->base.caps = SLUICE_STORAGE_ATOMIC_RENAME;
	m->base.open_write = m_open_write;
	m->base.open_read = m_open_read;
	m->base.remove = m_remove;
	m->base.rmdir = m_rmdir;
	m->base.rename = m_rename;
	m->base.stat = m_stat;
	m->base.list = m_list;
	m->base.mkdirs = m_mkdirs;
	m->base.sync_dir = NULL;
	m->base.destroy = m_destroy;
	*out = &m->base;
	return 0;
}
