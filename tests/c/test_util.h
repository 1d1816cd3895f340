/*
 * Helpers shared by the C and C++ tests in tests/c/: checks that report file and line,
 * a seeded RNG, random inputs with a CPU reference, NaN-poisoned outputs.
 *
 * Every test is one executable run by ctest; it prints "N passed, N failed" and exits
 * nonzero when a check failed.
 */
#ifndef GPU_EXECUTOR_TEST_UTIL_H
#define GPU_EXECUTOR_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_executor.h"

#ifdef __cplusplus
extern "C" {
#endif

static int tu_checks_passed = 0;
static int tu_checks_failed = 0;

/* Counts a check; prints the failure with its location. Evaluates to the condition. */
static inline int tu_check(int ok, const char *expr, const char *file, int line) {
  if (ok) {
    tu_checks_passed++;
  } else {
    tu_checks_failed++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
  }
  return ok;
}

#define CHECK(cond) tu_check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

/* Checks two integer values for equality, printing both when they differ. */
static inline int tu_check_eq(unsigned long long got, unsigned long long want, const char *expr,
                       const char *file, int line) {
  if (got == want) {
    tu_checks_passed++;
    return 1;
  }
  tu_checks_failed++;
  fprintf(stderr, "%s:%d: %s is %llu, expected %llu\n", file, line, expr, got, want);
  return 0;
}

#define CHECK_EQ(got, want) \
  tu_check_eq((unsigned long long)(got), (unsigned long long)(want), #got, __FILE__, __LINE__)

/* Checks a status; on mismatch prints both codes and the library's last error message. */
static inline int tu_check_status(gpu_executor_status_t got, gpu_executor_status_t want,
                           const char *expr, const char *file, int line) {
  if (got == want) {
    tu_checks_passed++;
    return 1;
  }
  tu_checks_failed++;
  fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s); last error: %s\n", file,
          line, expr, (int)got, gpu_executor_status_str((int32_t)got), (int)want,
          gpu_executor_status_str((int32_t)want), gpu_executor_last_error_message());
  return 0;
}

#define CHECK_STATUS(call, want) \
  tu_check_status((call), (want), #call, __FILE__, __LINE__)
#define CHECK_OK(call) CHECK_STATUS(call, GPU_EXECUTOR_OK)

/* Prints the closing summary line and returns the process exit code. */
static inline int tu_finish(const char *name) {
  printf("%s: %d passed, %d failed\n", name, tu_checks_passed, tu_checks_failed);
  return tu_checks_failed == 0 ? 0 : 1;
}

/* Aborts the test when a precondition for everything after it fails. */
static inline void tu_require(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fatal: %s (last error: %s)\n", what, gpu_executor_last_error_message());
    exit(1);
  }
}

/* xorshift64*: deterministic data, the same on every run. */
typedef struct tu_rng {
  uint64_t state;
} tu_rng;

static inline tu_rng tu_rng_new(uint64_t seed) {
  tu_rng rng;
  rng.state = seed ? seed : 1;
  return rng;
}

static inline uint64_t tu_rng_next(tu_rng *rng) {
  rng->state ^= rng->state >> 12;
  rng->state ^= rng->state << 25;
  rng->state ^= rng->state >> 27;
  return rng->state * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform in [-100, 100). */
static inline float tu_rng_float(tu_rng *rng) {
  return (float)(tu_rng_next(rng) >> 40) / (float)(1u << 24) * 200.0f - 100.0f;
}

/* Uniform in [lo, hi]. */
static inline size_t tu_rng_range(tu_rng *rng, size_t lo, size_t hi) {
  return lo + (size_t)(tu_rng_next(rng) % (uint64_t)(hi - lo + 1));
}

static inline void *tu_xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  tu_require(p != NULL, "out of host memory");
  return p;
}

/* One `a + b` task with its inputs, output (NaN-poisoned) and CPU reference. */
typedef struct tu_case {
  size_t n;
  float *a;
  float *b;
  float *out;
  float *expected;
} tu_case;

static inline void tu_poison(float *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) p[i] = NAN;
}

static inline tu_case tu_case_random(tu_rng *rng, size_t n) {
  tu_case c;
  size_t i;
  c.n = n;
  c.a = (float *)tu_xmalloc(n * sizeof(float));
  c.b = (float *)tu_xmalloc(n * sizeof(float));
  c.out = (float *)tu_xmalloc(n * sizeof(float));
  c.expected = (float *)tu_xmalloc(n * sizeof(float));
  for (i = 0; i < n; i++) {
    c.a[i] = tu_rng_float(rng);
    c.b[i] = tu_rng_float(rng);
    c.expected[i] = c.a[i] + c.b[i];
  }
  tu_poison(c.out, n);
  return c;
}

static inline void tu_case_free(tu_case *c) {
  free(c->a);
  free(c->b);
  free(c->out);
  free(c->expected);
  memset(c, 0, sizeof(*c));
}

static inline gpu_task_t tu_task(const float *a, const float *b, float *out, size_t n) {
  gpu_task_t t;
  memset(&t, 0, sizeof(t));
  t.op = GPU_OP_VECTOR_ADD;
  t.inputs[0] = a;
  t.inputs[1] = b;
  t.output = out;
  t.length = n;
  return t;
}

static inline gpu_task_t tu_case_task(const tu_case *c) { return tu_task(c->a, c->b, c->out, c->n); }

/* Exact comparison: a single IEEE addition gives the same float on GPU and CPU. Reports
 * the first mismatch. Returns 1 when every element matches. */
static inline int tu_case_matches(const tu_case *c, const char *what) {
  size_t i;
  for (i = 0; i < c->n; i++) {
    if (memcmp(&c->out[i], &c->expected[i], sizeof(float)) != 0) {
      fprintf(stderr, "%s: length %zu: out[%zu] = %.9g, expected %.9g\n", what, c->n, i,
              (double)c->out[i], (double)c->expected[i]);
      return 0;
    }
  }
  return 1;
}

/* 1 when every element of `p` is still NaN (the output was not touched). */
static inline int tu_all_nan(const float *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (!isnan(p[i])) return 0;
  }
  return 1;
}

static inline gpu_executor_t *tu_create(const gpu_executor_options_t *options) {
  gpu_executor_t *exec = NULL;
  gpu_executor_status_t status = gpu_executor_create(options, &exec);
  if (status != GPU_EXECUTOR_OK) {
    fprintf(stderr, "gpu_executor_create: %s: %s\n", gpu_executor_status_str((int32_t)status),
            gpu_executor_last_error_message());
    exit(1);
  }
  return exec;
}

static inline gpu_executor_stats_t tu_stats(gpu_executor_t *exec) {
  gpu_executor_stats_t stats;
  memset(&stats, 0, sizeof(stats));
  stats.struct_size = (uint32_t)sizeof(stats);
  tu_require(gpu_executor_stats(exec, &stats) == GPU_EXECUTOR_OK, "gpu_executor_stats");
  return stats;
}

#ifdef __cplusplus
}
#endif

#endif /* GPU_EXECUTOR_TEST_UTIL_H */
