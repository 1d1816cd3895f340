/*
 * latency_bench.c: one blocking batch at a time, as a service answering requests sends
 * them: the median (and 90th percentile) time of `gpu_executor_submit_batch` for small
 * batches of `out = a + b`, over three rotating input sets so no batch finds its data in
 * the CPU's caches. Results are checked against the CPU.
 *
 * Usage: latency_bench [iterations]   (default 200)
 * GPU_BENCH_REGISTER=1 registers the arrays with the executor first
 * (gpu_executor_register_host_memory: the GPU moves them in place, no staging copies).
 * Exit status: 0 when every output matched, 1 on a mismatch, 2 on an API error.
 */
#define _POSIX_C_SOURCE 199309L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_executor.h"

#define SETS 3

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

int main(int argc, char **argv) {
  static const size_t shapes[][2] = {{1, 1024}, {1, 4096}, {1, 100000},
                                     {10, 4096}, {64, 4096}, {10, 100000}};
  int iterations = argc > 1 ? atoi(argv[1]) : 200;
  gpu_executor_t *exec = NULL;
  size_t s;
  int bad = 0;
  if (iterations < 1) iterations = 1;
  if (gpu_executor_create(NULL, &exec) != GPU_EXECUTOR_OK) {
    fprintf(stderr, "create: %s\n", gpu_executor_last_error_message());
    return 2;
  }
  printf("%-12s %10s %10s %12s\n", "batch", "median_us", "p90_us", "us_per_task");
  for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    size_t count = shapes[s][0], n = shapes[s][1], total = count * n, i, t;
    float *a = malloc(SETS * total * sizeof *a), *b = malloc(SETS * total * sizeof *b);
    float *out = malloc(total * sizeof *out);
    double *times = malloc((size_t)iterations * sizeof *times);
    gpu_task_t *tasks = calloc(count, sizeof *tasks);
    int it;
    const char *env = getenv("GPU_BENCH_REGISTER");
    int registered = env && strcmp(env, "1") == 0;
    if (!a || !b || !out || !times || !tasks) return 2;
    if (registered && (gpu_executor_register_host_memory(exec, a, SETS * total * sizeof *a) ||
                       gpu_executor_register_host_memory(exec, b, SETS * total * sizeof *b) ||
                       gpu_executor_register_host_memory(exec, out, total * sizeof *out))) {
      fprintf(stderr, "register: %s\n", gpu_executor_last_error_message());
      return 2;
    }
    for (i = 0; i < SETS * total; i++) {
      a[i] = (float)(i % 1000) * 0.5f;
      b[i] = (float)(i % 777) * 0.25f;
    }
    for (it = -3; it < iterations; it++) {
      size_t set = (size_t)(it + 3) % SETS;
      double start;
      gpu_executor_status_t status;
      for (t = 0; t < count; t++) {
        tasks[t].op = GPU_OP_VECTOR_ADD;
        tasks[t].inputs[0] = a + set * total + t * n;
        tasks[t].inputs[1] = b + set * total + t * n;
        tasks[t].output = out + t * n;
        tasks[t].length = n;
      }
      start = now_us();
      status = gpu_executor_submit_batch(exec, tasks, count);
      if (it >= 0) times[it] = now_us() - start;
      if (status != GPU_EXECUTOR_OK) {
        fprintf(stderr, "submit: %s\n", gpu_executor_last_error_message());
        return 2;
      }
      for (i = 0; i < total; i++) {
        bad += out[i] != a[set * total + i] + b[set * total + i];
      }
    }
    qsort(times, (size_t)iterations, sizeof *times, by_value);
    printf("%4zu x %-6zu %10.1f %10.1f %12.2f\n", count, n, times[iterations / 2],
           times[iterations * 9 / 10], times[iterations / 2] / (double)count);
    if (registered && (gpu_executor_unregister_host_memory(exec, a) ||
                       gpu_executor_unregister_host_memory(exec, b) ||
                       gpu_executor_unregister_host_memory(exec, out))) {
      fprintf(stderr, "unregister: %s\n", gpu_executor_last_error_message());
      return 2;
    }
    free(a);
    free(b);
    free(out);
    free(times);
    free(tasks);
  }
  gpu_executor_destroy(exec);
  if (bad) fprintf(stderr, "%d mismatches\n", bad);
  return bad ? 1 : 0;
}
