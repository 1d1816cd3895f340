/*
 * Chunking: with options.max_chunk_elements = 4096 every task of 10,000..100,000 elements
 * is split over several slabs (dispatches); results must still equal the CPU loop, for
 * every strategy, in multi-task and single-task batches.
 */
#include "test_util.h"

#define CHUNK 4096

static void test_strategy(uint32_t strategy, uint32_t exact, uint64_t seed, const char *name) {
  gpu_executor_options_t options = gpu_executor_options_default();
  gpu_executor_t *exec;
  tu_rng rng = tu_rng_new(seed);
  tu_case cases[6];
  gpu_task_t tasks[6];
  size_t i, round;
  uint64_t min_dispatches = 0;
  gpu_executor_stats_t stats;
  char what[128];

  options.strategy = strategy;
  options.exact_size_cache = exact;
  options.max_chunk_elements = CHUNK;
  exec = tu_create(&options);

  for (round = 0; round < 2; round++) {
    uint64_t total = 0;
    for (i = 0; i < 6; i++) {
      /* Round 0: both ends of the range; then random lengths. */
      size_t n = round == 0 && i == 0   ? 10000
                 : round == 0 && i == 1 ? 100000
                                        : tu_rng_range(&rng, 10000, 100000);
      cases[i] = tu_case_random(&rng, n);
      tasks[i] = tu_case_task(&cases[i]);
      total += n;
    }
    snprintf(what, sizeof what, "%s chunked batch %zu", name, round);
    if (CHECK_OK(gpu_executor_submit_batch(exec, tasks, 6))) {
      for (i = 0; i < 6; i++) CHECK(tu_case_matches(&cases[i], what));
    }
    min_dispatches += (total + CHUNK - 1) / CHUNK;
    for (i = 0; i < 6; i++) tu_case_free(&cases[i]);
  }

  /* Single-task batches, twice per length (exact-size cache hit on the second). */
  for (round = 0; round < 3; round++) {
    size_t n = tu_rng_range(&rng, 10000, 100000);
    int k;
    for (k = 0; k < 2; k++) {
      tu_case c = tu_case_random(&rng, n);
      gpu_task_t t = tu_case_task(&c);
      snprintf(what, sizeof what, "%s chunked single task n=%zu", name, n);
      if (CHECK_OK(gpu_executor_submit_batch(exec, &t, 1))) CHECK(tu_case_matches(&c, what));
      min_dispatches += (n + CHUNK - 1) / CHUNK;
      tu_case_free(&c);
    }
  }

  /* No slab holds more than CHUNK elements, so there were at least this many dispatches. */
  stats = tu_stats(exec);
  CHECK(stats.dispatches >= min_dispatches);
  CHECK_EQ(stats.batches, 8);
  printf("%s: %llu dispatches for 8 batches (at least %llu needed at %d elements)\n", name,
         (unsigned long long)stats.dispatches, (unsigned long long)min_dispatches, CHUNK);
  gpu_executor_destroy(exec);
}

int main(void) {
  test_strategy(GPU_STRATEGY_BASELINE, 0, 11, "baseline");
  test_strategy(GPU_STRATEGY_BUCKETED, 1, 12, "bucketed+exact_size_cache");
  test_strategy(GPU_STRATEGY_BUCKETED, 0, 13, "bucketed");
  return tu_finish("test_chunking");
}
