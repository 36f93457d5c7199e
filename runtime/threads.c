/* A small fork-join thread pool: qc_pool_for splits a range across the workers and the
 * calling thread and returns when every chunk is done. Nested calls run serially. */
#include "runtime/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct qc_pool {
  int32_t n;               /* threads including the caller */
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t work_cv, done_cv;
  uint64_t generation;
  bool stop;
  /* The current job. */
  void (*fn)(void *, int64_t, int64_t);
  void *ctx;
  int64_t total, chunk;
  int64_t next;            /* next chunk start, taken under mu */
  int32_t busy;            /* workers still on this job */
};

static _Thread_local bool in_worker;

int32_t qc_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int32_t)n : 1;
}

static bool take(qc_pool *p, int64_t *b, int64_t *e) {
  if (p->next >= p->total) return false;
  *b = p->next;
  *e = p->next + p->chunk < p->total ? p->next + p->chunk : p->total;
  p->next = *e;
  return true;
}

static void *worker(void *arg) {
  qc_pool *p = arg;
  in_worker = true;
  uint64_t seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->stop && p->generation == seen) pthread_cond_wait(&p->work_cv, &p->mu);
    if (p->stop) break;
    seen = p->generation;
    int64_t b, e;
    while (take(p, &b, &e)) {
      pthread_mutex_unlock(&p->mu);
      p->fn(p->ctx, b, e);
      pthread_mutex_lock(&p->mu);
    }
    if (--p->busy == 0) pthread_cond_signal(&p->done_cv);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

qc_status qc_pool_create(int32_t n, qc_pool **out) {
  *out = NULL;
  if (n <= 0) n = qc_cpu_count();
  qc_pool *p = calloc(1, sizeof *p);
  if (!p) return QC_OOM();
  p->n = n;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->work_cv, NULL);
  pthread_cond_init(&p->done_cv, NULL);
  if (n > 1) {
    p->threads = calloc((size_t)n - 1, sizeof(pthread_t));
    if (!p->threads) {
      free(p);
      return QC_OOM();
    }
    for (int32_t i = 0; i < n - 1; i++)
      if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
        p->n = i + 1;
        break;
      }
  }
  *out = p;
  return QC_OK;
}

void qc_pool_destroy(qc_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->work_cv);
  pthread_mutex_unlock(&p->mu);
  for (int32_t i = 0; i < p->n - 1; i++) pthread_join(p->threads[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->work_cv);
  pthread_cond_destroy(&p->done_cv);
  free(p->threads);
  free(p);
}

int32_t qc_pool_size(const qc_pool *p) { return p ? p->n : 1; }

void qc_pool_for(qc_pool *p, int64_t n, int64_t grain,
                 void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (!p || p->n <= 1 || in_worker || n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  int64_t chunks = p->n * 4;
  int64_t chunk = (n + chunks - 1) / chunks;
  if (chunk < grain) chunk = grain;
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->total = n;
  p->chunk = chunk;
  p->next = 0;
  p->busy = p->n - 1;
  p->generation++;
  pthread_cond_broadcast(&p->work_cv);
  in_worker = true; /* kernels called from here must not re-enter the pool */
  int64_t b, e;
  while (take(p, &b, &e)) {
    pthread_mutex_unlock(&p->mu);
    fn(ctx, b, e);
    pthread_mutex_lock(&p->mu);
  }
  while (p->busy > 0) pthread_cond_wait(&p->done_cv, &p->mu);
  in_worker = false;
  pthread_mutex_unlock(&p->mu);
}
