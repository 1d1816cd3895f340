/*
 * Random mixed batches through the shared library, compared with a CPU loop, for every
 * strategy (baseline; bucketed with and without the exact-size cache): edge sizes around
 * the smallest bucket, a non-power-of-two, one task over a million elements, empty tasks,
 * empty batches, resubmission, single-task batches, inputs that alias each other.
 */
#include "test_util.h"

static const size_t mixed_sizes[] = {0, 1, 255, 16383, 16384, 16385, 100000, 77777, 1100000};
#define MIXED (sizeof mixed_sizes / sizeof mixed_sizes[0])

typedef struct config {
  const char *name;
  uint32_t strategy;
  uint32_t exact_size_cache;
} config;

static const config configs[] = {
    {"baseline", GPU_STRATEGY_BASELINE, 0},
    {"bucketed+exact_size_cache", GPU_STRATEGY_BUCKETED, 1},
    {"bucketed", GPU_STRATEGY_BUCKETED, 0},
};

/* Submits `n` random cases of the given sizes as one batch and checks every output. */
static void run_batch(gpu_executor_t *exec, tu_rng *rng, const size_t *sizes, size_t n,
                      const char *what) {
  tu_case cases[16];
  gpu_task_t tasks[16];
  size_t i;
  tu_require(n <= 16, "at most 16 tasks per batch here");
  for (i = 0; i < n; i++) {
    cases[i] = tu_case_random(rng, sizes[i]);
    tasks[i] = tu_case_task(&cases[i]);
  }
  if (CHECK_OK(gpu_executor_submit_batch(exec, tasks, n))) {
    for (i = 0; i < n; i++) CHECK(tu_case_matches(&cases[i], what));
  }
  for (i = 0; i < n; i++) tu_case_free(&cases[i]);
}

static void shuffle(tu_rng *rng, size_t *v, size_t n) {
  size_t i;
  for (i = n; i > 1; i--) {
    size_t j = tu_rng_range(rng, 0, i - 1);
    size_t t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
  }
}

static void test_config(const config *cfg, uint64_t seed) {
  gpu_executor_options_t options = gpu_executor_options_default();
  gpu_executor_t *exec;
  tu_rng rng = tu_rng_new(seed);
  size_t sizes[MIXED];
  size_t round, i;
  char what[128];
  uint64_t expected_elements = 0;
  gpu_executor_stats_t stats;

  options.strategy = cfg->strategy;
  options.exact_size_cache = cfg->exact_size_cache;
  exec = tu_create(&options);

  /* The whole mixed batch, three times, in a different order each time. */
  memcpy(sizes, mixed_sizes, sizeof sizes);
  for (round = 0; round < 3; round++) {
    snprintf(what, sizeof what, "%s mixed batch round %zu", cfg->name, round);
    run_batch(exec, &rng, sizes, MIXED, what);
    for (i = 0; i < MIXED; i++) expected_elements += sizes[i];
    shuffle(&rng, sizes, MIXED);
  }

  /* Single-task batches (the exact-size cache's path), each length twice. */
  for (i = 0; i < MIXED; i++) {
    snprintf(what, sizeof what, "%s single task n=%zu", cfg->name, mixed_sizes[i]);
    run_batch(exec, &rng, &mixed_sizes[i], 1, what);
    run_batch(exec, &rng, &mixed_sizes[i], 1, what);
    expected_elements += 2 * mixed_sizes[i];
  }

  /* Random small batches of random lengths. */
  for (round = 0; round < 4; round++) {
    size_t n = tu_rng_range(&rng, 1, 8);
    size_t lens[8];
    for (i = 0; i < n; i++) {
      lens[i] = tu_rng_range(&rng, 0, 40000);
      expected_elements += lens[i];
    }
    snprintf(what, sizeof what, "%s random batch %zu", cfg->name, round);
    run_batch(exec, &rng, lens, n, what);
  }

  /* An empty batch is a successful no-op, with or without a task array. */
  CHECK_OK(gpu_executor_submit_batch(exec, NULL, 0));
  {
    gpu_task_t unused = tu_task(NULL, NULL, NULL, 0);
    CHECK_OK(gpu_executor_submit_batch(exec, &unused, 0));
    /* A zero-length task may have NULL pointers. */
    CHECK_OK(gpu_executor_submit_batch(exec, &unused, 1));
  }

  /* Inputs may alias each other: out = a + a. */
  {
    tu_case c = tu_case_random(&rng, 5000);
    gpu_task_t t = tu_task(c.a, c.a, c.out, c.n);
    for (i = 0; i < c.n; i++) c.expected[i] = c.a[i] + c.a[i];
    if (CHECK_OK(gpu_executor_submit_batch(exec, &t, 1))) CHECK(tu_case_matches(&c, "a + a"));
    expected_elements += c.n;
    tu_case_free(&c);
  }

  /* Tasks of one batch may share an input array. */
  {
    tu_case c1 = tu_case_random(&rng, 3000);
    tu_case c2 = tu_case_random(&rng, 3000);
    gpu_task_t t[2];
    for (i = 0; i < c2.n; i++) {
      c2.a[i] = c1.a[i];
      c2.expected[i] = c1.a[i] + c2.b[i];
    }
    t[0] = tu_task(c1.a, c1.b, c1.out, c1.n);
    t[1] = tu_task(c1.a, c2.b, c2.out, c2.n);
    if (CHECK_OK(gpu_executor_submit_batch(exec, t, 2))) {
      CHECK(tu_case_matches(&c1, "shared input, task 0"));
      CHECK(tu_case_matches(&c2, "shared input, task 1"));
    }
    expected_elements += c1.n + c2.n;
    tu_case_free(&c1);
    tu_case_free(&c2);
  }

  stats = tu_stats(exec);
  CHECK_EQ(stats.strategy, cfg->strategy);
  CHECK_EQ(stats.elements, expected_elements);
  CHECK_EQ(stats.bytes_uploaded, 8 * expected_elements);
  CHECK_EQ(stats.bytes_read_back, 4 * expected_elements);
  if (cfg->strategy == GPU_STRATEGY_BASELINE) {
    CHECK_EQ(stats.bucket_cache_hits, 0);
    CHECK_EQ(stats.cached_buckets, 0);
    CHECK_EQ(stats.exact_cache_hits + stats.exact_cache_misses, 0);
    CHECK_EQ(stats.pool_hits + stats.pool_misses, 0);
  } else {
    CHECK(stats.bucket_cache_hits > 0);
    CHECK(stats.pool_hits > 0);
    if (cfg->exact_size_cache) {
      CHECK(stats.exact_cache_hits > 0);
    } else {
      CHECK_EQ(stats.exact_cache_hits + stats.exact_cache_misses, 0);
      CHECK_EQ(stats.exact_cache_entries, 0);
    }
  }
  printf("%s: %llu batches, %llu tasks, %llu elements, %llu pipelines, %llu submits\n",
         cfg->name, (unsigned long long)stats.batches, (unsigned long long)stats.tasks,
         (unsigned long long)stats.elements, (unsigned long long)stats.pipelines_created,
         (unsigned long long)stats.submits);
  gpu_executor_destroy(exec);
}

int main(void) {
  size_t c;
  for (c = 0; c < sizeof configs / sizeof configs[0]; c++) {
    test_config(&configs[c], 0x1234567u + c);
  }
  return tu_finish("test_batches");
}
