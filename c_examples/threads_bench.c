/*
 * threads_bench.c: threads sharing one executor, each looping blocking batches of
 * 10 x 100,000 `out = a + b` for a fixed time; prints the total effective GB/s (12 bytes
 * moved per element) for 1, 2, 4 and 8 threads. Every output is checked.
 *
 * Usage: threads_bench [seconds per thread count]   (default 3)
 * GPU_BENCH_REGISTER=1: each thread registers its arrays with the executor first
 * (gpu_executor_register_host_memory: the GPU moves them in place, no staging copies).
 * Exit status: 0 when every output matched, 1 on a mismatch, 2 on an API error.
 */
#define _POSIX_C_SOURCE 199309L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_executor.h"

#define TASKS 10
#define N 100000

typedef struct {
  gpu_executor_t *exec;
  double seconds;
  long batches;
  int bad;
  int error;
} worker_t;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *run(void *arg) {
  worker_t *w = (worker_t *)arg;
  float *a = malloc(TASKS * N * sizeof *a), *b = malloc(TASKS * N * sizeof *b);
  float *out = malloc(TASKS * N * sizeof *out);
  gpu_task_t tasks[TASKS] = {{0}};
  const char *env = getenv("GPU_BENCH_REGISTER");
  int registered = env && strcmp(env, "1") == 0;
  double end;
  size_t i;
  if (!a || !b || !out) {
    w->error = 1;
    return NULL;
  }
  if (registered && (gpu_executor_register_host_memory(w->exec, a, TASKS * N * sizeof *a) ||
                     gpu_executor_register_host_memory(w->exec, b, TASKS * N * sizeof *b) ||
                     gpu_executor_register_host_memory(w->exec, out, TASKS * N * sizeof *out))) {
    fprintf(stderr, "register: %s\n", gpu_executor_last_error_message());
    w->error = 1;
    return NULL;
  }
  for (i = 0; i < TASKS * N; i++) {
    a[i] = (float)(i % 1013);
    b[i] = (float)(i % 977) * 0.5f;
  }
  for (i = 0; i < TASKS; i++) {
    tasks[i].op = GPU_OP_VECTOR_ADD;
    tasks[i].inputs[0] = a + i * N;
    tasks[i].inputs[1] = b + i * N;
    tasks[i].output = out + i * N;
    tasks[i].length = N;
  }
  end = now_s() + w->seconds;
  while (now_s() < end) {
    if (gpu_executor_submit_batch(w->exec, tasks, TASKS) != GPU_EXECUTOR_OK) {
      fprintf(stderr, "submit: %s\n", gpu_executor_last_error_message());
      w->error = 1;
      break;
    }
    w->batches++;
    w->bad += out[w->batches % (TASKS * N)] != a[w->batches % (TASKS * N)] + b[w->batches % (TASKS * N)];
  }
  if (registered && (gpu_executor_unregister_host_memory(w->exec, a) ||
                     gpu_executor_unregister_host_memory(w->exec, b) ||
                     gpu_executor_unregister_host_memory(w->exec, out))) {
    fprintf(stderr, "unregister: %s\n", gpu_executor_last_error_message());
    w->error = 1;
  }
  free(a);
  free(b);
  free(out);
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  static const int counts[] = {1, 2, 4, 8};
  gpu_executor_t *exec = NULL;
  size_t c;
  int bad = 0, error = 0;
  if (gpu_executor_create(NULL, &exec) != GPU_EXECUTOR_OK) {
    fprintf(stderr, "create: %s\n", gpu_executor_last_error_message());
    return 2;
  }
  printf("threads  batches  GB/s (10 x 100K per batch, 12 bytes per element)\n");
  for (c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    pthread_t th[8];
    worker_t w[8] = {{0}};
    long batches = 0;
    double start = now_s(), elapsed;
    int t;
    for (t = 0; t < counts[c]; t++) {
      w[t].exec = exec;
      w[t].seconds = seconds;
      pthread_create(&th[t], NULL, run, &w[t]);
    }
    for (t = 0; t < counts[c]; t++) {
      pthread_join(th[t], NULL);
      batches += w[t].batches;
      bad += w[t].bad;
      error |= w[t].error;
    }
    elapsed = now_s() - start;
    printf("%7d %8ld %6.2f\n", counts[c], batches,
           (double)batches * TASKS * N * 12.0 / elapsed / 1e9);
  }
  gpu_executor_destroy(exec);
  if (bad) fprintf(stderr, "%d mismatches\n", bad);
  return error ? 2 : bad ? 1 : 0;
}
