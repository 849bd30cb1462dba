/*
 * The control channel of a sluice_run (include/sluice/monitor.h): how
 * `sluice savepoint JOB-DIR`, another process, asks a running job for a
 * savepoint.  This file owns both ends: the server thread attached to a
 * run and the client request.
 *
 * Layout under JOB-DIR/.control/ (directory mode 0700):
 *   lock  held with flock(LOCK_EX) by the serving process for its whole
 *         life; the kernel drops it when the process dies, so "is a
 *         server alive" never depends on a pid that may have been reused.
 *         Never deleted (a new inode would let two servers lock).
 *   sock  the unix stream socket; a leftover of a dead server is replaced
 *         by the next server (which holds the lock, so it is stale).
 *   pid   the serving process id, for messages.
 *
 * Protocol: one request per connection, one line each way:
 *   "SAVEPOINT <target>\n" -> "OK <path>\n" | "ERR <code> <message>\n"
 * Requests are answered one at a time in arrival order (the listen
 * backlog queues concurrent clients), so two concurrent requests get two
 * savepoints.  A client that connects but sends nothing is dropped after
 * REQUEST_TIMEOUT_MS of real time; a client that goes away before the
 * answer does not hurt the server (MSG_NOSIGNAL).  Peers of another user
 * are refused (SO_PEERCRED), on top of the directory's mode.
 *
 * Paths: a relative local target is made absolute by the client (relative
 * to the client's directory), and a relative savepoint path by the server
 * before answering, since the two processes may have different working
 * directories.
 *
 * Socket paths are limited to about 107 bytes; a longer JOB-DIR is
 * reached through /proc/self/fd/<fd of .control>/sock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/run.h"
#include "sluice/monitor.h"
#include "sluice/sys/storage.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

#define REQUEST_TIMEOUT_MS 5000
#define LINE_MAX_          8192

struct sluice__run_control {
	sluice_run *run;
	char *dir; /* JOB-DIR/.control */
	int dirfd; /* of dir, for long socket paths */
	int lockfd;
	int lfd;     /* listening socket */
	int wake[2]; /* pipe: stop the thread */
	pthread_t thread;
	int thread_started;
};

/* ---- paths ------------------------------------------------------------- */

static char *ctl_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 12;
	char *p = sluice__malloc(n);

	if (p)
		snprintf(p, n, "%s/.control%s%s", dir, *name ? "/" : "", name);
	return p;
}

/* The socket address of `ctl` (JOB-DIR/.control), through `dirfd` when
 * the plain path is too long.  SLUICE_EINVALID when neither fits. */
static int sock_addr(struct sockaddr_un *sa, const char *ctl, int dirfd)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/sock", ctl);
	if (n > 0 && (size_t)n < sizeof(sa->sun_path))
		return 0;
	if (dirfd >= 0) {
		snprintf(
			sa->sun_path, sizeof(sa->sun_path),
			"/proc/self/fd/%d/sock", dirfd);
		return 0;
	}
	return sluice__error_set(
		SLUICE_EINVALID, SLUICE_ERRCLS_RUNTIME,
		"%s/sock: path too long for a unix socket", ctl);
}

static long read_pid(const char *ctl)
{
	char path[4096], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/pid", ctl);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* ---- server ------------------------------------------------------------ */

static int write_pid(const char *ctl)
{
	char tmp[4096], path[4096], buf[32];
	int fd, n, ok;

	snprintf(tmp, sizeof(tmp), "%s/pid.tmp", ctl);
	snprintf(path, sizeof(path), "%s/pid", ctl);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return sluice__error_os(SLUICE_ERRCLS_RUNTIME, "%s", tmp);
	ok = write(fd, buf, (size_t)n) == n;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		return sluice__error_os(SLUICE_ERRCLS_RUNTIME, "%s", path);
	return 0;
}

/* Take the lock (EBUSY: a live server), replace a stale socket, listen. */
static int bind_socket(sluice__run_control *c)
{
	struct sockaddr_un sa;
	char lock[4096];

	snprintf(lock, sizeof(lock), "%s/lock", c->dir);
	c->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lockfd < 0)
		return sluice__error_os(SLUICE_ERRCLS_RUNTIME, "%s", lock);
	if (flock(c->lockfd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK
			       ? sluice__error_set(
					 SLUICE_EBUSY, SLUICE_ERRCLS_RUNTIME,
					 "%s: already served by running "
					 "process %ld",
					 c->dir, read_pid(c->dir))
			       : sluice__error_os(
					 SLUICE_ERRCLS_RUNTIME, "%s", lock);
	SLUICE_ERRCHECK(sock_addr(&sa, c->dir, c->dirfd));
	if (unlink(sa.sun_path) < 0 && errno != ENOENT)
		return sluice__error_os(
			SLUICE_ERRCLS_RUNTIME, "%s/sock", c->dir);
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->lfd < 0 ||
	    bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->lfd, 16) < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_RUNTIME, "%s/sock", c->dir);
	return write_pid(c->dir);
}

static int same_user(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	       cr.uid == geteuid();
}

/* One line (without the newline) within REQUEST_TIMEOUT_MS; 0 or -1. */
static int read_request(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t got;

		if (poll(&p, 1, REQUEST_TIMEOUT_MS) <= 0)
			return -1;
		got = recv(fd, buf + n, cap - 1 - n, 0);
		if (got <= 0)
			return -1;
		n += (size_t)got;
		buf[n] = '\0';
		if (strchr(buf, '\n')) {
			*strchr(buf, '\n') = '\0';
			return 0;
		}
	}
	return -1;
}

static void reply(int fd, const char *fmt, ...) SLUICE_PRINTF(2, 3);

static void reply(int fd, const char *fmt, ...)
{
	char line[LINE_MAX_];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* the client may be gone: no SIGPIPE, nothing else to do */
	(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL);
}

static void serve_one(sluice__run_control *c, int fd)
{
	char req[LINE_MAX_], abs[PATH_MAX], *path = NULL;
	const char *target;

	if (!same_user(fd)) {
		reply(fd, "ERR %d peer is not the job's user", SLUICE_EINVALID);
		return;
	}
	if (read_request(fd, req, sizeof(req)) < 0)
		return;
	if (strncmp(req, "SAVEPOINT", 9) || (req[9] && req[9] != ' ')) {
		reply(fd, "ERR %d unknown request", SLUICE_EINVALID);
		return;
	}
	target = req[9] && req[10] ? req + 10 : NULL;
	sluice__info(
		"job %s: savepoint requested through %s", c->run->job_id,
		c->dir);
	if (sluice_job_trigger_savepoint(c->run, target, &path) < 0) {
		reply(fd, "ERR %d %s", sluice_error_last()->code,
		      sluice_error_last()->message);
		return;
	}
	/* the client may run elsewhere: a local path made absolute */
	if (path[0] != '/' && !strstr(path, "://") && realpath(path, abs))
		reply(fd, "OK %s", abs);
	else
		reply(fd, "OK %s", path);
	sluice_free_bytes(path);
}

static void *serve_main(void *arg)
{
	sluice__run_control *c = arg;

	for (;;) {
		struct pollfd p[2] = {
			{c->lfd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
		int fd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		if ((fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve_one(c, fd);
		close(fd);
	}
	return NULL;
}

void sluice__run_control_free(sluice__run_control *c)
{
	struct sockaddr_un sa;
	char pid[4096];

	if (!c)
		return;
	if (c->thread_started) {
		(void)!write(c->wake[1], "x", 1);
		pthread_join(c->thread, NULL);
	}
	if (c->lfd >= 0) {
		/* still holding the lock: the socket and pid file are ours */
		if (sock_addr(&sa, c->dir, c->dirfd) == 0)
			unlink(sa.sun_path);
		snprintf(pid, sizeof(pid), "%s/pid", c->dir);
		unlink(pid);
		close(c->lfd);
	}
	if (c->lockfd >= 0)
		close(c->lockfd); /* releases the lock */
	if (c->dirfd >= 0)
		close(c->dirfd);
	if (c->wake[0] >= 0)
		close(c->wake[0]);
	if (c->wake[1] >= 0)
		close(c->wake[1]);
	sluice__free(c->dir);
	sluice__free(c);
}

static int control_open(sluice__run_control *c, const char *dir)
{
	SLUICE_ERRCHECK(sluice_storage_mkdirs(sluice_storage_file_get(), dir));
	if (!(c->dir = ctl_path(dir, "")))
		return sluice__error_oom();
	if (mkdir(c->dir, 0700) < 0 && errno != EEXIST)
		return sluice__error_os(SLUICE_ERRCLS_RUNTIME, "%s", c->dir);
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return sluice__error_os(SLUICE_ERRCLS_RUNTIME, "%s", c->dir);
	if (pipe2(c->wake, O_CLOEXEC) < 0)
		return sluice__error_os(
			SLUICE_ERRCLS_RUNTIME, "%s: pipe", c->dir);
	SLUICE_ERRCHECK(bind_socket(c));
	if (pthread_create(&c->thread, NULL, serve_main, c) != 0)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"%s: could not start the control thread", c->dir);
	c->thread_started = 1;
	return 0;
}

int sluice_run_serve_control(sluice_run *run, const char *dir)
{
	sluice__run_control *c;
	char *def = NULL;
	int rc;

	if (run->control)
		return sluice__error_set(
			SLUICE_EBUSY, SLUICE_ERRCLS_RUNTIME,
			"job %s: the control channel is already served",
			run->job_id);
	if (!dir) {
		SLUICE_ERRCHECK(sluice_run_control_dir(run, &def));
		dir = def;
	}
	if (!(c = sluice__calloc(1, sizeof(*c)))) {
		sluice__free(def);
		return sluice__error_oom();
	}
	c->run = run;
	c->dirfd = c->lockfd = c->lfd = c->wake[0] = c->wake[1] = -1;
	if ((rc = control_open(c, dir)) < 0)
		sluice__run_control_free(c);
	else
		run->control = c;
	sluice__free(def);
	return rc;
}

int sluice_run_control_dir(sluice_run *run, char **out)
{
	sluice_storage *st = sluice_checkpoint_storage_backend(run->cs);
	const char *jd = sluice_checkpoint_storage_job_dir(run->cs);
	const char *tmp = getenv("TMPDIR");
	size_t n;

	if (st && !strcmp(st->scheme, "file") && jd) {
		*out = sluice__strdup(strncmp(jd, "file://", 7) ? jd : jd + 7);
	} else {
		n = (tmp && *tmp ? strlen(tmp) : 4) + 64;
		if ((*out = sluice__malloc(n)))
			snprintf(
				*out, n, "%s/sluice-%ld/%s",
				tmp && *tmp ? tmp : "/tmp", (long)geteuid(),
				run->job_id);
	}
	return *out ? 0 : sluice__error_oom();
}

/* ---- client ------------------------------------------------------------ */

static int not_served(const char *dir, const char *ctl)
{
	long pid = read_pid(ctl);

	if (pid > 0)
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_RUNTIME,
			"no running job serves %s (stale control files of "
			"process %ld, which is gone)",
			dir, pid);
	return sluice__error_set(
		SLUICE_ENOTFOUND, SLUICE_ERRCLS_RUNTIME,
		"no running job serves %s (no %s/sock)", dir, ctl);
}

static int client_connect(const char *dir, const char *ctl, int *fd)
{
	struct sockaddr_un sa;
	struct stat sb;
	int dirfd, rc;

	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return sluice__error_set(
			SLUICE_ENOTFOUND, SLUICE_ERRCLS_RUNTIME,
			"%s: no such job directory", dir);
	dirfd = open(ctl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return not_served(dir, ctl);
	if ((rc = sock_addr(&sa, ctl, dirfd)) == 0) {
		*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (*fd < 0)
			rc = sluice__error_os(
				SLUICE_ERRCLS_RUNTIME, "%s/sock", ctl);
		else if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			rc = errno == ENOENT || errno == ECONNREFUSED
				     ? not_served(dir, ctl)
				     : sluice__error_os(
					       SLUICE_ERRCLS_RUNTIME, "%s/sock",
					       ctl);
	}
	close(dirfd);
	return rc;
}

/* Read the answer line until EOF; parse OK / ERR. */
static int read_answer(int fd, const char *dir, char **path)
{
	char line[LINE_MAX_], *end;
	size_t n = 0;
	ssize_t got;
	long code;

	while (n + 1 < sizeof(line) &&
	       (got = recv(fd, line + n, sizeof(line) - 1 - n, 0)) > 0)
		n += (size_t)got;
	line[n] = '\0';
	if (!(end = strchr(line, '\n')))
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_RUNTIME,
			"%s: the job closed the control connection without "
			"an answer (it stopped?)",
			dir);
	*end = '\0';
	if (!strncmp(line, "OK ", 3))
		return (*path = sluice__strdup(line + 3)) ? 0
							  : sluice__error_oom();
	code = strncmp(line, "ERR ", 4) ? 0 : strtol(line + 4, &end, 10);
	if (code >= 0 || code < SLUICE_EUNSUPPORTED)
		return sluice__error_set(
			SLUICE_EIO, SLUICE_ERRCLS_RUNTIME,
			"%s: unexpected answer '%s'", dir, line);
	return sluice__error_set(
		(int)code, SLUICE_ERRCLS_CHECKPOINT, "%s",
		*end == ' ' ? end + 1 : end);
}

int sluice_savepoint_request(const char *dir, const char *target, char **path)
{
	char *ctl, req[LINE_MAX_], cwd[PATH_MAX];
	int fd = -1, rc, n;

	*path = NULL;
	if (target && (strchr(target, '\n') || strlen(target) > 4096))
		return sluice__error_set(
			SLUICE_EINVALID, SLUICE_ERRCLS_RUNTIME,
			"savepoint target '%s': newline or too long", target);
	if (!(ctl = ctl_path(dir, "")))
		return sluice__error_oom();
	rc = client_connect(dir, ctl, &fd);
	if (rc == 0) {
		/* a relative local target means relative to us, not the job */
		if (target && *target && target[0] != '/' &&
		    !strstr(target, "://") && getcwd(cwd, sizeof(cwd)))
			n = snprintf(
				req, sizeof(req), "SAVEPOINT %s/%s\n", cwd,
				target);
		else
			n = snprintf(
				req, sizeof(req), "SAVEPOINT%s%s\n",
				target ? " " : "", target ? target : "");
		if (n < 0 || (size_t)n >= sizeof(req))
			rc = sluice__error_set(
				SLUICE_EINVALID, SLUICE_ERRCLS_RUNTIME,
				"savepoint target '%s': too long", target);
		else if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
			rc = sluice__error_os(
				SLUICE_ERRCLS_RUNTIME, "%s/sock", ctl);
		else
			rc = read_answer(fd, dir, path);
	}
	if (fd >= 0)
		close(fd);
	sluice__free(ctl);
	return rc;
}
