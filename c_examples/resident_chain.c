/*
 * resident_chain: data that stays on the GPU between dependent steps. Uploads x and y once
 * into resident buffers (gpu_buffer_create_from), runs a five-step element-wise chain as
 * five tasks of ONE batch, each reading what the step before wrote,
 *
 *   w0 = x * y;  w1 = w0 + x;  w2 = clamp(w1, -5000, 5000);  w3 = w2 - y;  w4 = w3 * 0.5
 *
 * reads back only w4 (gpu_buffer_read), checks it against the same chain on the CPU (every
 * op rounds once, as on the CPU, so the results must match bit for bit) and prints what
 * moved between host and GPU. Exits nonzero on any mismatch or error.
 *
 * Step k writes region k of one work buffer: within a batch, a task may read a region an
 * earlier task writes (the executor orders them, still one submission), and every region is
 * written once.
 *
 * Build: cmake -S . -B build && cmake --build build
 * Run:   build/c_examples/resident_chain
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_executor.h"

#define N 1000000
#define STEPS 5

static int fail(const char *what, gpu_executor_status_t status) {
  fprintf(stderr, "resident_chain: %s failed: %s: %s\n", what, gpu_executor_status_str(status),
          gpu_executor_last_error_message());
  return EXIT_FAILURE;
}

/* xorshift64*: the same data on every run, uniform in [-100, 100). */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static float next_float(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (float)((rng_state * UINT64_C(0x2545F4914F6CDD1D)) >> 40) / (float)(1u << 24) * 200.0f -
         100.0f;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static gpu_executor_stats_t stats_of(gpu_executor_t *exec) {
  gpu_executor_stats_t stats;
  memset(&stats, 0, sizeof stats);
  stats.struct_size = (uint32_t)sizeof stats; /* required before the call */
  if (gpu_executor_stats(exec, &stats) != GPU_EXECUTOR_OK) {
    fprintf(stderr, "resident_chain: gpu_executor_stats: %s\n", gpu_executor_last_error_message());
    exit(EXIT_FAILURE);
  }
  return stats;
}

/* One task of the chain: `flags` says which operands are regions (here: all of them). */
static gpu_task_t task(uint32_t op, const gpu_region_t *a, const gpu_region_t *b,
                       gpu_region_t *out, uint64_t param0, uint64_t param1) {
  gpu_task_t t;
  memset(&t, 0, sizeof t); /* unused inputs NULL, unused params 0 */
  t.op = op;
  t.flags = GPU_DTYPE_F32 | GPU_TASK_INPUT0_BUFFER | GPU_TASK_OUTPUT_BUFFER;
  t.inputs[0] = a;
  if (b != NULL) {
    t.flags |= GPU_TASK_INPUT1_BUFFER;
    t.inputs[1] = b;
  }
  t.output = out;
  t.length = N;
  t.params[0] = param0;
  t.params[1] = param1;
  return t;
}

int main(void) {
  float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
  float *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
  if (x == NULL || y == NULL || want == NULL || got == NULL) {
    fprintf(stderr, "resident_chain: out of host memory\n");
    return EXIT_FAILURE;
  }
  for (size_t i = 0; i < N; i++) {
    x[i] = next_float();
    y[i] = next_float();
    got[i] = -12345.0f; /* so that a read that wrote nothing cannot pass */
  }

  gpu_executor_t *exec = NULL;
  gpu_buffer_t bx = 0, by = 0, bw = 0;
  int exit_code = EXIT_SUCCESS;
  gpu_executor_status_t status = gpu_executor_create(NULL, &exec);
  if (status != GPU_EXECUTOR_OK) {
    exit_code = fail("gpu_executor_create", status);
    goto done;
  }

  /* Upload once. The work buffer holds the five steps' results side by side. */
  if ((status = gpu_buffer_create_from(exec, GPU_DTYPE_F32, x, N, &bx)) != GPU_EXECUTOR_OK ||
      (status = gpu_buffer_create_from(exec, GPU_DTYPE_F32, y, N, &by)) != GPU_EXECUTOR_OK ||
      (status = gpu_buffer_create(exec, GPU_DTYPE_F32, (uint64_t)STEPS * N, &bw)) !=
          GPU_EXECUTOR_OK) {
    exit_code = fail("creating the buffers", status);
    goto done;
  }

  /* The regions: x, y, and w_k = elements [k * N, (k + 1) * N) of the work buffer. The
   * tasks point to these structs, which need only live until the submit call returns. */
  gpu_region_t rx = {bx, 0}, ry = {by, 0}, w[STEPS];
  for (int k = 0; k < STEPS; k++) {
    w[k].buffer = bw;
    w[k].offset = (uint64_t)k * N;
  }
  const gpu_task_t chain[STEPS] = {
      task(GPU_OP_MUL, &rx, &ry, &w[0], 0, 0),   /* w0 = x * y */
      task(GPU_OP_ADD, &w[0], &rx, &w[1], 0, 0), /* w1 = w0 + x */
      task(GPU_OP_CLAMP, &w[1], NULL, &w[2], gpu_param_f32(-5000.0f),
           gpu_param_f32(5000.0f)),               /* w2 = clamp(w1, -5000, 5000) */
      task(GPU_OP_SUB, &w[2], &ry, &w[3], 0, 0), /* w3 = w2 - y */
      task(GPU_OP_SCALE, &w[3], NULL, &w[4], gpu_param_f32(0.5f), 0), /* w4 = w3 * 0.5 */
  };

  const gpu_executor_stats_t before = stats_of(exec);
  status = gpu_executor_submit_batch(exec, chain, STEPS);
  if (status != GPU_EXECUTOR_OK) {
    exit_code = fail("gpu_executor_submit_batch", status);
    goto done;
  }
  const gpu_executor_stats_t after_chain = stats_of(exec);
  status = gpu_buffer_read(exec, bw, (uint64_t)(STEPS - 1) * N, got, N); /* w4 only */
  if (status != GPU_EXECUTOR_OK) {
    exit_code = fail("gpu_buffer_read", status);
    goto done;
  }
  const gpu_executor_stats_t after_read = stats_of(exec);

  /* The same chain on the CPU, in float, in the same order. */
  size_t mismatches = 0, clamped = 0;
  for (size_t i = 0; i < N; i++) {
    const float w0 = x[i] * y[i];
    const float w1 = w0 + x[i];
    const float w2 = clampf(w1, -5000.0f, 5000.0f);
    const float w3 = w2 - y[i];
    want[i] = w3 * 0.5f;
    clamped += w2 != w1;
    if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      if (mismatches < 5) {
        fprintf(stderr, "resident_chain: w4[%zu] = %.9g, expected %.9g\n", i, (double)got[i],
                (double)want[i]);
      }
      mismatches++;
    }
  }

  printf("resident_chain: %d steps over %d floats in one batch (%zu elements clamped)\n", STEPS,
         N, clamped);
  printf("  chain: %llu submit(s), %llu bytes uploaded, %llu bytes read back, %llu direct "
         "dispatch(es)\n",
         (unsigned long long)(after_chain.submits - before.submits),
         (unsigned long long)(after_chain.bytes_uploaded - before.bytes_uploaded),
         (unsigned long long)(after_chain.bytes_read_back - before.bytes_read_back),
         (unsigned long long)(after_chain.direct_dispatches - before.direct_dispatches));
  printf("  read of w4: %llu bytes read back\n",
         (unsigned long long)(after_read.bytes_read_back - after_chain.bytes_read_back));
  printf("  executor totals: submits %llu, bytes_read_back %llu, direct_dispatches %llu, "
         "resident_buffers %llu (%llu bytes)\n",
         (unsigned long long)after_read.submits, (unsigned long long)after_read.bytes_read_back,
         (unsigned long long)after_read.direct_dispatches,
         (unsigned long long)after_read.resident_buffers,
         (unsigned long long)after_read.resident_bytes);
  printf("  w4[0] = %g, w4[%d] = %g: %zu mismatches\n", (double)got[0], N - 1,
         (double)got[N - 1], mismatches);
  if (mismatches != 0) exit_code = EXIT_FAILURE;
  /* The point of the chain: one submission, and none of its intermediates came back. */
  if (after_chain.submits - before.submits != 1 ||
      after_chain.bytes_read_back != before.bytes_read_back) {
    fprintf(stderr, "resident_chain: the chain took more than one submit or read data back\n");
    exit_code = EXIT_FAILURE;
  }
  if (exit_code == EXIT_SUCCESS) printf("OK\n");

done:
  /* Destroying the executor frees its buffers too; destroying them first is tidier. */
  if (exec != NULL) {
    gpu_buffer_t buffers[3] = {bx, by, bw};
    for (int i = 0; i < 3; i++) {
      if (buffers[i] != 0 && (status = gpu_buffer_destroy(exec, buffers[i])) != GPU_EXECUTOR_OK) {
        exit_code = fail("gpu_buffer_destroy", status);
      }
    }
  }
  gpu_executor_destroy(exec);
  free(x);
  free(y);
  free(want);
  free(got);
  return exit_code;
}
