/*
 * batch_demo: one mixed-size batch of `a + b` tasks, submitted twice with fresh random
 * data, checked against a CPU loop. Prints the adapter, a few results and the executor's
 * cache statistics.
 *
 * Build: cmake -S . -B build && cmake --build build   (or just run scripts/demo)
 * Run:   build/c_examples/batch_demo
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_executor.h"

#define TASKS 5
#define ROUNDS 2

static const size_t sizes[TASKS] = {1000, 20000, 100000, 1500000, 0};

static int fail(const char *what, gpu_executor_status_t status) {
  fprintf(stderr, "batch_demo: %s failed: %s: %s\n", what,
          gpu_executor_status_str(status), gpu_executor_last_error_message());
  return 1;
}

/* Deterministic pseudo-random floats in [-100, 100) (xorshift64*). */
static float next_float(uint64_t *state) {
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (float)((*state * UINT64_C(0x2545F4914F6CDD1D)) >> 40) / 16777216.0f * 200.0f - 100.0f;
}

int main(void) {
  printf("gpu_executor %s\n", gpu_executor_version());

  gpu_executor_options_t options = gpu_executor_options_default();
  gpu_executor_t *exec = NULL;
  gpu_executor_status_t status = gpu_executor_create(&options, &exec);
  if (status != GPU_EXECUTOR_OK) return fail("gpu_executor_create", status);

  gpu_adapter_info_t info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  status = gpu_executor_adapter_info(exec, &info);
  if (status != GPU_EXECUTOR_OK) {
    gpu_executor_destroy(exec);
    return fail("gpu_executor_adapter_info", status);
  }
  printf("Adapter: %s (driver: %s %s)\n", info.name, info.driver, info.driver_info);

  float *a[TASKS], *b[TASKS], *out[TASKS];
  gpu_task_t tasks[TASKS];
  int exit_code = 0;
  for (int t = 0; t < TASKS; t++) {
    size_t n = sizes[t] ? sizes[t] : 1; /* malloc(0) may return NULL */
    a[t] = malloc(n * sizeof(float));
    b[t] = malloc(n * sizeof(float));
    out[t] = malloc(n * sizeof(float));
    if (!a[t] || !b[t] || !out[t]) {
      fprintf(stderr, "batch_demo: out of memory\n");
      return 1;
    }
    memset(&tasks[t], 0, sizeof tasks[t]); /* unused inputs, flags, params must be 0 */
    tasks[t].op = GPU_OP_VECTOR_ADD;
    tasks[t].inputs[0] = a[t];
    tasks[t].inputs[1] = b[t];
    tasks[t].output = out[t];
    tasks[t].length = sizes[t];
  }

  uint64_t seed = 0x9E3779B97F4A7C15u;
  for (int round = 1; round <= ROUNDS && exit_code == 0; round++) {
    for (int t = 0; t < TASKS; t++) {
      for (size_t i = 0; i < sizes[t]; i++) {
        a[t][i] = next_float(&seed);
        b[t][i] = next_float(&seed);
      }
    }
    status = gpu_executor_submit_batch(exec, tasks, TASKS);
    if (status != GPU_EXECUTOR_OK) {
      exit_code = fail("gpu_executor_submit_batch", status);
      break;
    }
    size_t mismatches = 0, total = 0;
    for (int t = 0; t < TASKS; t++) {
      for (size_t i = 0; i < sizes[t]; i++) {
        if (out[t][i] != a[t][i] + b[t][i]) mismatches++;
      }
      total += sizes[t];
    }
    printf("Round %d: %d tasks, %zu elements, %zu mismatches vs CPU\n", round, TASKS, total,
           mismatches);
    for (int t = 0; t < TASKS; t++) {
      if (sizes[t] == 0) {
        printf("  task %d (n=0): nothing to do\n", t);
        continue;
      }
      size_t last = sizes[t] - 1;
      printf("  task %d (n=%zu): %.3f + %.3f = %.3f ... [%zu] %.3f + %.3f = %.3f\n", t,
             sizes[t], a[t][0], b[t][0], out[t][0], last, a[t][last], b[t][last],
             out[t][last]);
    }
    if (mismatches != 0) {
      fprintf(stderr, "batch_demo: GPU results differ from the CPU reference\n");
      exit_code = 1;
    }
  }

  if (exit_code == 0) {
    fflush(stdout); /* the library writes its lines through its own stdout buffer */
    status = gpu_executor_print_stats(exec);
    if (status != GPU_EXECUTOR_OK) exit_code = fail("gpu_executor_print_stats", status);
  }
  if (exit_code == 0) printf("OK\n");

  for (int t = 0; t < TASKS; t++) {
    free(a[t]);
    free(b[t]);
    free(out[t]);
  }
  gpu_executor_destroy(exec);
  return exit_code;
}
