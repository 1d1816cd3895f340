/*
 * transfer_bench.c: host->host throughput of `out = a + b` batches, blocking and with 2 and
 * 4 batches in flight through the asynchronous API, for the design's reference workloads
 * (1000 x 4096, 100 x 100K, 10 x 1M, 1 x 16M), over three rotating input sets so no batch
 * finds its data in the CPU's caches. Prints per workload and mode the median time per
 * batch, microseconds per task and effective GB/s (12 bytes moved per element), and the
 * executor's phase counters per batch (upload, encode + submit, GPU wait, download).
 * Every output is checked against the CPU.
 *
 * Usage: transfer_bench [seconds per cell]   (default 2)
 * GPU_EXECUTOR_STAGING=mapped runs it on wgpu's mapped staging buffers (the fallback).
 * GPU_BENCH_REGISTER=1 registers every workload's arrays with the executor first
 * (gpu_executor_register_host_memory: the GPU moves them in place, no staging copies) and
 * prints what registering and unregistering them cost.
 * Exit status: 0 when every output matched, 1 on a mismatch, 2 on an API error.
 */
#define _POSIX_C_SOURCE 199309L

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_executor.h"

#define SETS 3
#define MAX_FLIGHT 4

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int by_value(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

typedef struct {
  size_t count, n;
  float *a, *b, *out[MAX_FLIGHT];
  gpu_task_t *tasks[MAX_FLIGHT];
} workload_t;

/* Points slot `slot`'s tasks at input set `set`. */
static void aim(workload_t *w, int slot, size_t set) {
  size_t total = w->count * w->n, t;
  for (t = 0; t < w->count; t++) {
    gpu_task_t *task = &w->tasks[slot][t];
    task->op = GPU_OP_VECTOR_ADD;
    task->inputs[0] = w->a + set * total + t * w->n;
    task->inputs[1] = w->b + set * total + t * w->n;
    task->output = w->out[slot] + t * w->n;
    task->length = w->n;
  }
}

/* Mismatches of slot `slot`'s output against input set `set` (a sample of elements). */
static int check(const workload_t *w, int slot, size_t set) {
  size_t total = w->count * w->n, i, step = total / 4099 + 1;
  int bad = 0;
  for (i = 0; i < total; i += step) {
    bad += w->out[slot][i] != w->a[set * total + i] + w->b[set * total + i];
  }
  bad += w->out[slot][total - 1] != w->a[set * total + total - 1] + w->b[set * total + total - 1];
  return bad;
}

/* The counters, from a library built with this header or an earlier one (whose stats end
 * before the idle-memory counters): the phase counters are in both. */
/* Registers (or unregisters) the workload's arrays when GPU_BENCH_REGISTER=1; prints the
 * time it took. */
static int registration(gpu_executor_t *exec, workload_t *w, int on) {
  size_t total = w->count * w->n;
  int slot;
  double start = now_s();
  const char *env = getenv("GPU_BENCH_REGISTER");
  gpu_executor_status_t status = GPU_EXECUTOR_OK;
  if (!env || strcmp(env, "1") != 0) return 0;
  for (slot = -2; slot < MAX_FLIGHT && status == GPU_EXECUTOR_OK; slot++) {
    float *p = slot == -2 ? w->a : slot == -1 ? w->b : w->out[slot];
    size_t bytes = (slot < 0 ? SETS * total : total) * sizeof(float);
    status = on ? gpu_executor_register_host_memory(exec, p, bytes)
                : gpu_executor_unregister_host_memory(exec, p);
  }
  if (status != GPU_EXECUTOR_OK) {
    fprintf(stderr, "%s: %s\n", on ? "register" : "unregister", gpu_executor_last_error_message());
    return 2;
  }
  printf("# %s %zu MB: %.2f ms\n", on ? "registered" : "unregistered",
         (2 * SETS + MAX_FLIGHT) * total * sizeof(float) / 1000000, (now_s() - start) * 1e3);
  return 0;
}

static int stats_of(gpu_executor_t *exec, gpu_executor_stats_t *s) {
  memset(s, 0, sizeof *s);
  s->struct_size = sizeof *s;
  if (gpu_executor_stats(exec, s) == GPU_EXECUTOR_OK) return 0;
  s->struct_size = (uint32_t)offsetof(gpu_executor_stats_t, idle_bytes);
  return gpu_executor_stats(exec, s) == GPU_EXECUTOR_OK ? 0 : 2;
}

int main(int argc, char **argv) {
  static const size_t shapes[][2] = {{1000, 4096}, {100, 100000}, {10, 1000000}, {1, 16777216}};
  static const int flights[] = {1, 2, 4};
  double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  gpu_executor_t *exec = NULL;
  size_t s;
  int bad = 0;
  if (gpu_executor_create(NULL, &exec) != GPU_EXECUTOR_OK) {
    fprintf(stderr, "create: %s\n", gpu_executor_last_error_message());
    return 2;
  }
  printf("%-12s %8s %8s %10s %10s %7s %8s %8s %8s %8s\n", "batch", "flight", "batches",
         "median_us", "us_per_task", "GB/s", "up_us", "submit_us", "wait_us", "down_us");
  for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    workload_t w = {shapes[s][0], shapes[s][1], NULL, NULL, {NULL}, {NULL}};
    size_t total = w.count * w.n, i, f;
    int slot;
    w.a = malloc(SETS * total * sizeof *w.a);
    w.b = malloc(SETS * total * sizeof *w.b);
    if (!w.a || !w.b) return 2;
    for (i = 0; i < SETS * total; i++) {
      w.a[i] = (float)(i % 1000) * 0.5f;
      w.b[i] = (float)(i % 777) * 0.25f;
    }
    for (slot = 0; slot < MAX_FLIGHT; slot++) {
      w.out[slot] = malloc(total * sizeof *w.out[slot]);
      w.tasks[slot] = calloc(w.count, sizeof *w.tasks[slot]);
      if (!w.out[slot] || !w.tasks[slot]) return 2;
    }
    if (registration(exec, &w, 1)) return 2;
    for (f = 0; f < sizeof flights / sizeof flights[0]; f++) {
      int flight = flights[f];
      size_t capacity = 100000, done = 0, issued = 0;
      double *times = malloc(capacity * sizeof *times), start, elapsed;
      gpu_ticket_t tickets[MAX_FLIGHT];
      size_t sets[MAX_FLIGHT];
      double started[MAX_FLIGHT];
      gpu_executor_stats_t before, after;
      if (!times) return 2;
      /* Warm-up: one batch compiles and allocates what the cell needs. */
      aim(&w, 0, 0);
      if (gpu_executor_submit_batch(exec, w.tasks[0], w.count) != GPU_EXECUTOR_OK) return 2;
      if (stats_of(exec, &before)) return 2;
      start = now_s();
      while (done < capacity && (now_s() - start < seconds || done < 8)) {
        slot = (int)(issued % (size_t)flight);
        if (issued >= (size_t)flight || flight == 1) {
          /* Wait for the oldest batch in flight (it used this slot). */
          if (flight > 1) {
            if (gpu_executor_wait(exec, tickets[slot], UINT64_MAX) != GPU_EXECUTOR_OK) {
              fprintf(stderr, "wait: %s\n", gpu_executor_last_error_message());
              return 2;
            }
            times[done++] = (now_s() - started[slot]) * 1e6;
            bad += check(&w, slot, sets[slot]);
          }
        }
        sets[slot] = issued % SETS;
        aim(&w, slot, sets[slot]);
        started[slot] = now_s();
        if (flight == 1) {
          if (gpu_executor_submit_batch(exec, w.tasks[slot], w.count) != GPU_EXECUTOR_OK) {
            fprintf(stderr, "submit: %s\n", gpu_executor_last_error_message());
            return 2;
          }
          times[done++] = (now_s() - started[slot]) * 1e6;
          bad += check(&w, slot, sets[slot]);
        } else if (gpu_executor_submit_batch_async(exec, w.tasks[slot], w.count,
                                                   &tickets[slot]) != GPU_EXECUTOR_OK) {
          fprintf(stderr, "submit_async: %s\n", gpu_executor_last_error_message());
          return 2;
        }
        issued++;
      }
      /* Drain what is still in flight. */
      if (flight > 1) {
        size_t k;
        for (k = issued > (size_t)flight ? issued - (size_t)flight : 0; k < issued; k++) {
          slot = (int)(k % (size_t)flight);
          if (gpu_executor_wait(exec, tickets[slot], UINT64_MAX) != GPU_EXECUTOR_OK) return 2;
          bad += check(&w, slot, sets[slot]);
        }
      }
      elapsed = now_s() - start;
      if (stats_of(exec, &after)) return 2;
      qsort(times, done, sizeof *times, by_value);
      {
        double batches = (double)(after.batches - before.batches);
        double per_batch = flight == 1 ? times[done / 2] : elapsed * 1e6 / batches;
        printf("%4zu x %-7zu %8d %8.0f %10.1f %10.3f %7.2f %8.1f %8.1f %8.1f %8.1f\n",
               w.count, w.n, flight, batches, per_batch, per_batch / (double)w.count,
               (double)total * 12.0 / per_batch / 1e3,
               (double)(after.upload_ns - before.upload_ns) / batches / 1e3,
               (double)(after.submit_ns - before.submit_ns) / batches / 1e3,
               (double)(after.wait_ns - before.wait_ns) / batches / 1e3,
               (double)(after.download_ns - before.download_ns) / batches / 1e3);
        fflush(stdout);
      }
      free(times);
    }
    if (registration(exec, &w, 0)) return 2;
    free(w.a);
    free(w.b);
    for (slot = 0; slot < MAX_FLIGHT; slot++) {
      free(w.out[slot]);
      free(w.tasks[slot]);
    }
  }
  gpu_executor_destroy(exec);
  if (bad) fprintf(stderr, "%d mismatches\n", bad);
  return bad ? 1 : 0;
}
