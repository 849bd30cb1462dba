/*
 * Small filesystem helpers of the rocksdb backend: instance and snapshot
 * directories are created, listed, digested and removed here, so the rest
 * of the backend talks about files, not syscalls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state/rocksdb/rdb_impl.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/hash.h"

char *sluice__rdb_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = sluice__malloc(a + b + 2);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

int sluice__rdb_mkdirs(const char *path)
{
	char *tmp = sluice__strdup(path);
	char *s;
	int error = 0;

	if (!tmp)
		return sluice__error_oom();
	for (s = tmp + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
			error = sluice__error_os(
				SLUICE_ERRCLS_ROCKSDB, "mkdir '%s'", tmp);
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	sluice__free(tmp);
	return error;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(p);
	return unlink(p);
}

int sluice__rdb_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_ROCKSDB, "remove '%s'", path);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void sluice__rdb_names_free(char **names, size_t count)
{
	size_t i;

	for (i = 0; names && i < count; i++)
		sluice__free(names[i]);
	sluice__free(names);
}

int sluice__rdb_list_files(char ***out, size_t *count, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int error = 0;

	*out = NULL;
	*count = 0;
	if (!d)
		return sluice__error_os(
			SLUICE_ERRCLS_ROCKSDB, "list '%s'", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = sluice__reallocarray(
				names, ncap, sizeof(*names));

			if (!nn) {
				error = sluice__error_oom();
				goto done;
			}
			names = nn;
			cap = ncap;
		}
		if (!(names[n] = sluice__strdup(e->d_name))) {
			error = sluice__error_oom();
			goto done;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
done:
	closedir(d);
	if (error < 0) {
		sluice__rdb_names_free(names, n);
		return error;
	}
	*out = names;
	*count = n;
	return 0;
}

/* Digest by read(): the fallback where a file cannot be mapped. */
static int digest_read(int fd, const char *what, uint64_t *size, uint64_t *sum)
{
	sluice_xxh3_state *h = sluice__xxh3_new();
	char buf[65536];
	uint64_t total = 0;
	int error = 0;
	ssize_t got;

	if (!h)
		return sluice__error_oom();
	while ((got = read(fd, buf, sizeof(buf))) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			error = sluice__error_os(
				SLUICE_ERRCLS_ROCKSDB, "%s: read", what);
			break;
		}
		sluice__xxh3_update(h, buf, (size_t)got);
		total += (uint64_t)got;
	}
	*size = total;
	*sum = sluice__xxh3_digest(h);
	sluice__xxh3_free(h);
	return error;
}

/*
 * Size and xxh3-64 of the open file `fd`, read from its start.  The file
 * is mapped (pages populated up front, hashed in place, no copy through a
 * buffer; on this 2-core VM about as fast as read() + hash of page-cached
 * files, which is what a restore verifies); a file that cannot be mapped
 * is read.
 */
int sluice__rdb_fd_digest(
	int fd, const char *what, uint64_t *size, uint64_t *checksum)
{
	struct stat sb;
	void *p;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    (p =
		     mmap(NULL, (size_t)sb.st_size, PROT_READ,
			  MAP_PRIVATE | MAP_POPULATE, fd, 0)) == MAP_FAILED)
		return digest_read(fd, what, size, checksum);
	(void)madvise(p, (size_t)sb.st_size, MADV_SEQUENTIAL);
	*size = (uint64_t)sb.st_size;
	*checksum = sluice__xxh3(p, (size_t)sb.st_size);
	munmap(p, (size_t)sb.st_size);
	return 0;
}

void sluice__rdb_random_id(char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	static atomic_uint_fast64_t seq;
	unsigned char raw[16];
	int i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		/* no entropy source: mix addresses and the pid instead */
		uint64_t a = sluice__fmix64(
			(uint64_t)(uintptr_t)hex ^ (uint64_t)getpid() ^
			(uint64_t)atomic_fetch_add(&seq, 1) << 32);
		uint64_t b = sluice__fmix64(a ^ (uint64_t)(uintptr_t)&a);

		memcpy(raw, &a, 8);
		memcpy(raw + 8, &b, 8);
	}
	for (i = 0; i < 16; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[32] = '\0';
}

/* ---- instance directories: claimed while alive, swept once dead ------- */

#define OWNER_FILE "OWNER"
#define DIR_PREFIX "sluice-rdb-"

/* A directory is hidden while being claimed: for microseconds. */
#define UNCLAIMED_GRACE_S 60

/*
 * Remove every instance directory under `base` whose OWNER file nobody
 * holds a lock on: what a process killed with SIGKILL (or a power cut)
 * left behind.  flock() locks belong to an open file, so an instance of
 * this very process still conflicts with the probe.  Directories without
 * an OWNER file (older versions, other programs) are left alone.  Hidden
 * ones (".sluice-rdb-*", being claimed) count only once a minute old:
 * their process died before publishing them, with or without an OWNER.
 */
static void sweep(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		int hidden = n[0] == '.', fd;
		char *dir, *owner;

		if (strncmp(n + hidden, DIR_PREFIX, strlen(DIR_PREFIX)))
			continue;
		if (!(dir = sluice__rdb_join(base, n)))
			break;
		if (hidden && (stat(dir, &st) < 0 ||
			       st.st_mtime + UNCLAIMED_GRACE_S >= time(NULL))) {
			sluice__free(dir); /* maybe being claimed right now */
			continue;
		}
		if ((owner = sluice__rdb_join(dir, OWNER_FILE)) != NULL &&
		    (fd = open(owner, O_RDWR | O_CLOEXEC)) >= 0) {
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				(void)sluice__rdb_rmtree(dir);
			close(fd);
		} else if (owner && errno == ENOENT && hidden) {
			(void)sluice__rdb_rmtree(dir);
		}
		sluice__free(owner);
		sluice__free(dir);
	}
	closedir(d);
}

/* Sweep each base directory once per process. */
static void sweep_once(const char *base)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char *done[16];
	static size_t ndone;
	size_t i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < ndone; i++)
		if (!strcmp(done[i], base))
			break;
	if (i == ndone) {
		sweep(base);
		if (ndone < sizeof(done) / sizeof(done[0]))
			done[ndone++] = strdup(base); /* kept for the process */
	}
	pthread_mutex_unlock(&mu);
}

int sluice__rdb_claim_dir(const char *base, const char *name, int *owner_fd)
{
	char hidden[300], *tmp = NULL, *dir = NULL, *owner = NULL;
	int fd = -1, error = 0;

	*owner_fd = -1;
	SLUICE_ERRCHECK(sluice__rdb_mkdirs(base));
	sweep_once(base);
	/* built under a hidden name, published with its lock held: a sweep
	 * never sees it unlocked */
	snprintf(hidden, sizeof(hidden), ".%s", name);
	if (!(tmp = sluice__rdb_join(base, hidden)) ||
	    !(dir = sluice__rdb_join(base, name)) ||
	    !(owner = sluice__rdb_join(tmp, OWNER_FILE))) {
		error = sluice__error_oom();
		goto done;
	}
	if ((error = sluice__rdb_mkdirs(tmp)) < 0)
		goto done;
	if ((fd = open(owner, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
	    flock(fd, LOCK_EX | LOCK_NB) < 0 || rename(tmp, dir) < 0) {
		error = sluice__error_os(
			SLUICE_ERRCLS_ROCKSDB,
			"rocksdb: claim instance dir '%s'", dir);
		if (fd >= 0)
			close(fd);
		fd = -1;
		(void)sluice__rdb_rmtree(tmp);
		goto done;
	}
	*owner_fd = fd;
done:
	sluice__free(tmp);
	sluice__free(dir);
	sluice__free(owner);
	return error;
}
