/*
 * resident_bench.c: data that stays on the GPU.
 *
 *  1. 1,000 x 4,096 `out = a + b` on resident buffers: one blocking batch at a time
 *     (median), and 8 batches in flight through the async API (mean per batch); then the
 *     same tasks recorded once (gpu_executor_record) and submitted the same two ways.
 *  2. A 10-step chain x[k+1] = s * x[k] + y over N resident elements (N = 16M by
 *     default) in one batch: median time, and TB/s counting 12 bytes per element per step.
 *  3. The same chain host to host: one upload, the chain, one readback; against 10 host
 *     round trips (one blocking batch per step, host arrays in and out).
 * Results are checked against the CPU.
 *
 * Usage: resident_bench [iterations] [chain_elements]   (defaults 50 and 16777216)
 * Exit status: 0 when every result matched, 1 on a mismatch, 2 on an API error.
 */
#define _POSIX_C_SOURCE 199309L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_executor.h"

#define TASKS 1000
#define TASK_LEN 4096
#define STEPS 10
#define IN_FLIGHT 8

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int by_value(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, by_value);
  return v[n / 2];
}

#define CHECK(call)                                                              \
  do {                                                                           \
    gpu_executor_status_t status_ = (call);                                      \
    if (status_ != GPU_EXECUTOR_OK) {                                            \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__,                     \
              gpu_executor_status_str(status_), gpu_executor_last_error_message()); \
      exit(2);                                                                   \
    }                                                                            \
  } while (0)

static gpu_task_t task_of(uint32_t op, uint32_t flags, const void *a, const void *b,
                          void *out, size_t length, uint64_t s0) {
  gpu_task_t t;
  memset(&t, 0, sizeof t);
  t.op = op;
  t.flags = flags;
  t.inputs[0] = a;
  t.inputs[1] = b;
  t.output = out;
  t.length = length;
  t.params[0] = s0;
  return t;
}

/* 1,000 x 4,096 ADD on resident buffers. */
static int many_small(gpu_executor_t *exec, int iterations) {
  static gpu_buffer_t a[TASKS], b[TASKS], out[TASKS];
  static gpu_region_t ra[TASKS], rb[TASKS], ro[TASKS];
  static gpu_task_t tasks[TASKS];
  float *host = malloc(TASK_LEN * sizeof *host), *host_b = malloc(TASK_LEN * sizeof *host_b);
  float *check = malloc(TASK_LEN * sizeof *check);
  double *times = malloc((size_t)iterations * sizeof *times);
  gpu_ticket_t tickets[IN_FLIGHT];
  gpu_executor_stats_t before, after;
  int i, it, bad = 0;
  double start, pipelined;
  if (!host || !host_b || !check || !times) return 2;
  for (i = 0; i < TASKS; i++) {
    size_t j;
    for (j = 0; j < TASK_LEN; j++) {
      host[j] = (float)((i * 31 + (int)j) % 1000) * 0.5f;
      host_b[j] = (float)((i * 17 + (int)j) % 777) * 0.25f;
    }
    CHECK(gpu_buffer_create_from(exec, GPU_DTYPE_F32, host, TASK_LEN, &a[i]));
    CHECK(gpu_buffer_create_from(exec, GPU_DTYPE_F32, host_b, TASK_LEN, &b[i]));
    CHECK(gpu_buffer_create(exec, GPU_DTYPE_F32, TASK_LEN, &out[i]));
    ra[i].buffer = a[i]; ra[i].offset = 0;
    rb[i].buffer = b[i]; rb[i].offset = 0;
    ro[i].buffer = out[i]; ro[i].offset = 0;
    tasks[i] = task_of(GPU_OP_ADD,
                       GPU_TASK_INPUT0_BUFFER | GPU_TASK_INPUT1_BUFFER | GPU_TASK_OUTPUT_BUFFER,
                       &ra[i], &rb[i], &ro[i], TASK_LEN, 0);
  }
  before.struct_size = sizeof before;
  after.struct_size = sizeof after;
  for (it = -3; it < iterations; it++) {
    if (it == 0) CHECK(gpu_executor_stats(exec, &before));
    start = now_us();
    CHECK(gpu_executor_submit_batch(exec, tasks, TASKS));
    if (it >= 0) times[it] = now_us() - start;
  }
  CHECK(gpu_executor_stats(exec, &after));
  /* Pipelined: IN_FLIGHT batches submitted back to back, then waited for. */
  start = now_us();
  for (it = 0; it < iterations; it++) {
    int slot = it % IN_FLIGHT;
    if (it >= IN_FLIGHT) CHECK(gpu_executor_wait(exec, tickets[slot], UINT64_MAX));
    CHECK(gpu_executor_submit_batch_async(exec, tasks, TASKS, &tickets[slot]));
  }
  for (it = iterations > IN_FLIGHT ? iterations - IN_FLIGHT : 0; it < iterations; it++)
    CHECK(gpu_executor_wait(exec, tickets[it % IN_FLIGHT], UINT64_MAX));
  pipelined = (now_us() - start) / iterations;
  for (i = 0; i < TASKS; i += 97) {
    size_t j;
    CHECK(gpu_buffer_read(exec, out[i], 0, check, TASK_LEN));
    for (j = 0; j < TASK_LEN; j++) {
      float want = (float)((i * 31 + (int)j) % 1000) * 0.5f + (float)((i * 17 + (int)j) % 777) * 0.25f;
      if (check[j] != want) bad = 1;
    }
  }
  {
    double m = median(times, iterations);
    printf("resident 1000 x 4096 ADD, blocking: median %.1f us per batch, %.3f us per task\n", m,
           m / TASKS);
    printf("resident 1000 x 4096 ADD, %d in flight: %.1f us per batch, %.3f us per task\n",
           IN_FLIGHT, pipelined, pipelined / TASKS);
    printf("  per batch: %.1f dispatches (%.1f direct), %.0f bytes uploaded, %.0f read back; "
           "upload %.1f us, submit %.1f us, wait %.1f us, download %.1f us\n",
           (double)(after.dispatches - before.dispatches) / iterations,
           (double)(after.direct_dispatches - before.direct_dispatches) / iterations,
           (double)(after.bytes_uploaded - before.bytes_uploaded) / iterations,
           (double)(after.bytes_read_back - before.bytes_read_back) / iterations,
           (double)(after.upload_ns - before.upload_ns) / iterations / 1e3,
           (double)(after.submit_ns - before.submit_ns) / iterations / 1e3,
           (double)(after.wait_ns - before.wait_ns) / iterations / 1e3,
           (double)(after.download_ns - before.download_ns) / iterations / 1e3);
  }
  /* The same tasks recorded once and submitted many times. */
  {
    gpu_recording_t *recording = NULL;
    double recorded, recorded_pipelined;
    CHECK(gpu_executor_record(exec, tasks, TASKS, &recording));
    for (it = -3; it < iterations; it++) {
      start = now_us();
      CHECK(gpu_recording_submit(exec, recording));
      if (it >= 0) times[it] = now_us() - start;
    }
    recorded = median(times, iterations);
    start = now_us();
    for (it = 0; it < iterations; it++) {
      int slot = it % IN_FLIGHT;
      if (it >= IN_FLIGHT) CHECK(gpu_executor_wait(exec, tickets[slot], UINT64_MAX));
      CHECK(gpu_recording_submit_async(exec, recording, &tickets[slot]));
    }
    for (it = iterations > IN_FLIGHT ? iterations - IN_FLIGHT : 0; it < iterations; it++)
      CHECK(gpu_executor_wait(exec, tickets[it % IN_FLIGHT], UINT64_MAX));
    recorded_pipelined = (now_us() - start) / iterations;
    printf("recorded 1000 x 4096 ADD, blocking: median %.1f us per batch, %.3f us per task\n",
           recorded, recorded / TASKS);
    printf("recorded 1000 x 4096 ADD, %d in flight: %.1f us per batch, %.3f us per task\n",
           IN_FLIGHT, recorded_pipelined, recorded_pipelined / TASKS);
    gpu_recording_destroy(recording);
  }
  for (i = 0; i < TASKS; i++) {
    CHECK(gpu_buffer_destroy(exec, a[i]));
    CHECK(gpu_buffer_destroy(exec, b[i]));
    CHECK(gpu_buffer_destroy(exec, out[i]));
  }
  free(host);
  free(host_b);
  free(check);
  free(times);
  return bad;
}

/* The CPU's chain: s * x + y with one rounding per step, as a fused multiply-add gives
 * (a float product is exact in double; the tolerance below covers GPUs that do not fuse). */
static void cpu_chain(const float *x0, const float *y, float *out, size_t n, float s) {
  size_t i;
  int k;
  for (i = 0; i < n; i++) {
    float x = x0[i];
    for (k = 0; k < STEPS; k++) x = (float)((double)s * (double)x + (double)y[i]);
    out[i] = x;
  }
}

static float magnitude(float v) { return v < 0 ? -v : v; }

static int close_enough(const float *got, const float *want, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    float tolerance = 1e-5f * (magnitude(want[i]) > 1.0f ? magnitude(want[i]) : 1.0f);
    if (!(magnitude(got[i] - want[i]) <= tolerance)) {
      fprintf(stderr, "element %zu: %g, want %g\n", i, (double)got[i], (double)want[i]);
      return 0;
    }
  }
  return 1;
}

static int chain(gpu_executor_t *exec, int iterations, size_t n) {
  const float s = 0.5f;
  float *x0 = malloc(n * sizeof *x0), *y = malloc(n * sizeof *y);
  float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
  float *steps_host = malloc(n * sizeof *steps_host);
  double *times = malloc((size_t)iterations * sizeof *times);
  gpu_buffer_t x[STEPS + 1], by;
  gpu_region_t rx[STEPS + 1], ry;
  gpu_task_t tasks[STEPS];
  gpu_executor_stats_t before, after;
  int k, it, bad = 0;
  size_t i;
  double resident, one_trip, round_trips, start;
  if (!x0 || !y || !got || !want || !steps_host || !times) return 2;
  for (i = 0; i < n; i++) {
    x0[i] = (float)(i % 1013) * 0.01f - 5.0f;
    y[i] = (float)(i % 331) * 0.003f;
  }
  cpu_chain(x0, y, want, n, s);
  CHECK(gpu_buffer_create_from(exec, GPU_DTYPE_F32, y, n, &by));
  ry.buffer = by;
  ry.offset = 0;
  for (k = 0; k <= STEPS; k++) {
    CHECK(gpu_buffer_create(exec, GPU_DTYPE_F32, n, &x[k]));
    rx[k].buffer = x[k];
    rx[k].offset = 0;
  }
  for (k = 0; k < STEPS; k++)
    tasks[k] = task_of(GPU_OP_AXPY,
                       GPU_TASK_INPUT0_BUFFER | GPU_TASK_INPUT1_BUFFER | GPU_TASK_OUTPUT_BUFFER,
                       &rx[k], &ry, &rx[k + 1], n, gpu_param_f32(s));
  CHECK(gpu_buffer_write(exec, x[0], 0, x0, n));

  /* 2. Resident: the chain alone. */
  before.struct_size = sizeof before;
  after.struct_size = sizeof after;
  for (it = -2; it < iterations; it++) {
    if (it == 0) CHECK(gpu_executor_stats(exec, &before));
    start = now_us();
    CHECK(gpu_executor_submit_batch(exec, tasks, STEPS));
    if (it >= 0) times[it] = now_us() - start;
  }
  CHECK(gpu_executor_stats(exec, &after));
  resident = median(times, iterations);
  CHECK(gpu_buffer_read(exec, x[STEPS], 0, got, n));
  if (!close_enough(got, want, n)) bad = 1;

  /* 3a. Host to host, one trip: upload x0, the chain, read the last step. */
  for (it = -1; it < iterations; it++) {
    start = now_us();
    CHECK(gpu_buffer_write(exec, x[0], 0, x0, n));
    CHECK(gpu_executor_submit_batch(exec, tasks, STEPS));
    CHECK(gpu_buffer_read(exec, x[STEPS], 0, got, n));
    if (it >= 0) times[it] = now_us() - start;
  }
  one_trip = median(times, iterations);
  if (!close_enough(got, want, n)) bad = 1;

  /* 3b. Host to host, ten trips: each step a blocking batch of host arrays. */
  for (it = -1; it < iterations; it++) {
    start = now_us();
    for (k = 0; k < STEPS; k++) {
      gpu_task_t t = task_of(GPU_OP_AXPY, 0, k == 0 ? x0 : (k % 2 ? got : steps_host), y,
                             k % 2 ? steps_host : got, n, gpu_param_f32(s));
      CHECK(gpu_executor_submit_batch(exec, &t, 1));
    }
    if (it >= 0) times[it] = now_us() - start;
  }
  round_trips = median(times, iterations);
  /* STEPS is even: the last step (k = 9, odd) wrote steps_host. */
  if (!close_enough(steps_host, want, n)) bad = 1;

  printf("chain of %d AXPY over %zu elements, resident, one batch: median %.3f ms, %.2f TB/s "
         "(12 bytes per element per step)\n",
         STEPS, n, resident / 1e3, 12.0 * STEPS * (double)n / (resident * 1e-6) / 1e12);
  printf("  per chain batch: %.1f dispatches (%.1f direct); submit %.1f us, wait %.1f us (mean)\n",
         (double)(after.dispatches - before.dispatches) / iterations,
         (double)(after.direct_dispatches - before.direct_dispatches) / iterations,
         (double)(after.submit_ns - before.submit_ns) / iterations / 1e3,
         (double)(after.wait_ns - before.wait_ns) / iterations / 1e3);
  printf("chain host to host, one upload + one batch + one readback: median %.3f ms\n",
         one_trip / 1e3);
  printf("chain host to host, %d round trips (one batch per step): median %.3f ms (%.2fx the "
         "one-trip time)\n",
         STEPS, round_trips / 1e3, round_trips / one_trip);
  for (k = 0; k <= STEPS; k++) CHECK(gpu_buffer_destroy(exec, x[k]));
  CHECK(gpu_buffer_destroy(exec, by));
  free(x0);
  free(y);
  free(got);
  free(want);
  free(steps_host);
  free(times);
  return bad;
}

int main(int argc, char **argv) {
  int iterations = argc > 1 ? atoi(argv[1]) : 50;
  size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : (size_t)1 << 24;
  gpu_executor_t *exec = NULL;
  int bad;
  if (iterations < 1) iterations = 1;
  if (n < 1) n = 1;
  CHECK(gpu_executor_create(NULL, &exec));
  bad = many_small(exec, iterations);
  bad |= chain(exec, iterations, n);
  gpu_executor_destroy(exec);
  if (bad) {
    fprintf(stderr, "resident_bench: a result did not match the CPU\n");
    return 1;
  }
  printf("resident_bench: all results match the CPU\n");
  return 0;
}
