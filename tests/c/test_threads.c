/*
 * Four threads share one executor handle. Each submits random mixed batches and checks
 * its own results, and provokes one failure whose last-error message (thread-local) must
 * name its own bad task. Totals in the stats must add up afterwards.
 */
#include <pthread.h>

#include "test_util.h"

#define THREADS 4
#define BATCHES 6
#define MAX_TASKS 6

typedef struct worker {
  gpu_executor_t *exec;
  int index;
  int failures; /* checks that failed in this thread */
  uint64_t tasks;
  uint64_t elements;
} worker;

static void *run_worker(void *arg) {
  worker *w = (worker *)arg;
  tu_rng rng = tu_rng_new(1000 + (uint64_t)w->index);
  int b;
  for (b = 0; b < BATCHES; b++) {
    tu_case cases[MAX_TASKS];
    gpu_task_t tasks[MAX_TASKS];
    size_t n = tu_rng_range(&rng, 1, MAX_TASKS), i;
    gpu_executor_status_t status;
    for (i = 0; i < n; i++) {
      /* Mostly small, sometimes past the smallest bucket. */
      size_t len = tu_rng_range(&rng, 0, (i % 2) ? 60000 : 5000);
      cases[i] = tu_case_random(&rng, len);
      tasks[i] = tu_case_task(&cases[i]);
      w->elements += len;
    }
    status = gpu_executor_submit_batch(w->exec, tasks, n);
    if (status != GPU_EXECUTOR_OK) {
      fprintf(stderr, "thread %d batch %d: %s: %s\n", w->index, b,
              gpu_executor_status_str(status), gpu_executor_last_error_message());
      w->failures++;
    } else {
      for (i = 0; i < n; i++) {
        if (!tu_case_matches(&cases[i], "threaded batch")) w->failures++;
      }
      w->tasks += n;
    }
    for (i = 0; i < n; i++) tu_case_free(&cases[i]);

    /* Halfway through: a batch whose task `index` is bad. The message is this thread's. */
    if (b == BATCHES / 2) {
      gpu_task_t bad[THREADS + 1];
      char want[32];
      const char *message;
      memset(bad, 0, sizeof bad);
      for (i = 0; i <= THREADS; i++) bad[i] = tu_task(NULL, NULL, NULL, 0);
      bad[w->index].op = 1000 + (uint32_t)w->index;
      status = gpu_executor_submit_batch(w->exec, bad, THREADS + 1);
      message = gpu_executor_last_error_message();
      snprintf(want, sizeof want, "task %d:", w->index);
      if (status != GPU_EXECUTOR_UNKNOWN_OP || strstr(message, want) == NULL) {
        fprintf(stderr, "thread %d: expected UNKNOWN_OP naming \"%s\", got %d: \"%s\"\n",
                w->index, want, (int)status, message);
        w->failures++;
      }
    }
  }
  return NULL;
}

int main(void) {
  gpu_executor_t *exec = tu_create(NULL);
  pthread_t threads[THREADS];
  worker workers[THREADS];
  uint64_t tasks = 0, elements = 0;
  gpu_executor_stats_t stats;
  int i;

  for (i = 0; i < THREADS; i++) {
    memset(&workers[i], 0, sizeof workers[i]);
    workers[i].exec = exec;
    workers[i].index = i;
    tu_require(pthread_create(&threads[i], NULL, run_worker, &workers[i]) == 0,
               "pthread_create");
  }
  for (i = 0; i < THREADS; i++) {
    tu_require(pthread_join(threads[i], NULL) == 0, "pthread_join");
    CHECK_EQ(workers[i].failures, 0);
    tasks += workers[i].tasks;
    elements += workers[i].elements;
  }

  stats = tu_stats(exec);
  CHECK_EQ(stats.batches, THREADS * BATCHES);
  CHECK_EQ(stats.tasks, tasks);
  CHECK_EQ(stats.elements, elements);
  CHECK(stats.submits <= stats.batches); /* at most one submission per batch */
  printf("%d threads x %d batches: %llu tasks, %llu elements, %llu pipelines\n", THREADS,
         BATCHES, (unsigned long long)stats.tasks, (unsigned long long)stats.elements,
         (unsigned long long)stats.pipelines_created);
  gpu_executor_destroy(exec);
  return tu_finish("test_threads");
}
