/*
 * The snapshot thread pool: runs the asynchronous phase of task
 * checkpoints (writing frozen state to streams) off the task threads, so
 * processing resumes right after the short synchronous phase.  Owns its
 * threads and the FIFO of pending work.  At shutdown queued work is
 * discarded (each item's discard hook frees it) and the threads joined.
 */
#include <string.h>

#include "runtime/runtime.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/thread.h"

static void *pool_main(void *arg)
{
	sluice__pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		sluice__work *w = pool->head;
		int stopping;

		if (!w) {
			if (pool->stop)
				break;
			sluice__cond_wait_ms(&pool->cond, &pool->lock, -1);
			continue;
		}
		stopping = pool->stop;
		pool->head = w->next;
		if (!pool->head)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);
		if (stopping)
			w->discard(w);
		else
			w->run(w);
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

int sluice__pool_init(sluice__pool *pool, int threads)
{
	int i;

	memset(pool, 0, sizeof(*pool));
	if (pthread_mutex_init(&pool->lock, NULL) != 0)
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"snapshot pool: could not create a mutex");
	if (sluice__cond_init(&pool->cond) != 0) {
		pthread_mutex_destroy(&pool->lock);
		return sluice__error_set(
			SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
			"snapshot pool: could not create a condition variable");
	}
	pool->inited = 1;
	if (!(pool->threads =
		      sluice__calloc((size_t)threads, sizeof(pthread_t)))) {
		sluice__pool_shutdown(pool);
		return sluice__error_oom();
	}
	for (i = 0; i < threads; i++) {
		if (pthread_create(&pool->threads[i], NULL, pool_main, pool) !=
		    0) {
			sluice__pool_shutdown(pool);
			return sluice__error_set(
				SLUICE_ERROR, SLUICE_ERRCLS_RUNTIME,
				"snapshot pool: could not start thread %d", i);
		}
		pool->num_threads++;
	}
	return 0;
}

int sluice__pool_submit(sluice__pool *pool, sluice__work *w)
{
	w->next = NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->stop) {
		pthread_mutex_unlock(&pool->lock);
		return sluice__error_set(
			SLUICE_ECANCELED, SLUICE_ERRCLS_RUNTIME,
			"snapshot pool is shut down");
	}
	if (pool->tail)
		pool->tail->next = w;
	else
		pool->head = w;
	pool->tail = w;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

void sluice__pool_shutdown(sluice__pool *pool)
{
	sluice__work *w;
	int i;

	if (!pool->inited)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stop = 1;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->num_threads; i++)
		pthread_join(pool->threads[i], NULL);
	while ((w = pool->head) != NULL) {
		pool->head = w->next;
		w->discard(w);
	}
	sluice__free(pool->threads);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	memset(pool, 0, sizeof(*pool));
}
