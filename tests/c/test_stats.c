/*
 * Exact counters of gpu_executor_stats for known batches: bucket-cache misses and hits,
 * pipelines compiled, pool hits, exact-size cache hits and evictions, buffers, submits,
 * plus gpu_executor_bucket_sizes, gpu_executor_adapter_info and the text of
 * gpu_executor_print_stats; the idle-memory cap and the in-flight budget.
 */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "test_util.h"

/* Runs one batch of random tasks of the given lengths; checks the results. */
static void batch(gpu_executor_t *exec, uint64_t seed, const size_t *sizes, size_t n) {
  tu_rng rng = tu_rng_new(seed);
  tu_case cases[8];
  gpu_task_t tasks[8];
  size_t i;
  for (i = 0; i < n; i++) {
    cases[i] = tu_case_random(&rng, sizes[i]);
    tasks[i] = tu_case_task(&cases[i]);
  }
  if (CHECK_OK(gpu_executor_submit_batch(exec, tasks, n))) {
    for (i = 0; i < n; i++) CHECK(tu_case_matches(&cases[i], "stats batch"));
  }
  for (i = 0; i < n; i++) tu_case_free(&cases[i]);
}

static gpu_executor_t *create(uint32_t strategy, uint32_t exact, uint32_t capacity) {
  gpu_executor_options_t options = gpu_executor_options_default();
  options.strategy = strategy;
  options.exact_size_cache = exact;
  options.exact_size_cache_capacity = capacity;
  return tu_create(&options);
}

/* Three tasks in three buckets (16384, 32768, 131072). */
static const size_t three_buckets[3] = {1000, 20000, 100000};

static void test_bucket_cache(void) {
  gpu_executor_t *exec = create(GPU_STRATEGY_BUCKETED, 1, 16);
  gpu_executor_stats_t s = tu_stats(exec);
  uint64_t sizes[4] = {0, 0, 0, 0};
  size_t count = 99;

  /* A fresh executor has done nothing. */
  CHECK_EQ(s.batches, 0);
  CHECK_EQ(s.pipelines_created, 0);
  CHECK_EQ(s.cached_buckets, 0);
  CHECK(s.pool_hit_rate == 0.0);
  CHECK_EQ(s.strategy, GPU_STRATEGY_BUCKETED);

  batch(exec, 1, three_buckets, 3);
  s = tu_stats(exec);
  CHECK_EQ(s.batches, 1);
  CHECK_EQ(s.tasks, 3);
  CHECK_EQ(s.elements, 121000);
  CHECK_EQ(s.pipelines_created, 3);
  CHECK_EQ(s.bucket_cache_misses, 3);
  CHECK_EQ(s.bucket_cache_hits, 0);
  CHECK_EQ(s.cached_buckets, 3);
  CHECK_EQ(s.pool_misses, 3);
  CHECK_EQ(s.pool_hits, 0);
  CHECK_EQ(s.bind_groups_created, 3);
  CHECK_EQ(s.submits, 1);
  CHECK_EQ(s.dispatches, 3);
  CHECK_EQ(s.bytes_uploaded, 8 * 121000);
  CHECK_EQ(s.bytes_read_back, 4 * 121000);
  /* Multi-task batches never use the exact-size cache. */
  CHECK_EQ(s.exact_cache_hits + s.exact_cache_misses + s.exact_cache_entries, 0);
  {
    uint64_t buffers_after_first = s.buffers_created;
    CHECK(buffers_after_first > 0);

    /* The same batch again: no new pipeline, every bucket and slab reused. */
    batch(exec, 2, three_buckets, 3);
    s = tu_stats(exec);
    CHECK_EQ(s.batches, 2);
    CHECK_EQ(s.pipelines_created, 3);
    CHECK_EQ(s.bucket_cache_hits, 3);
    CHECK_EQ(s.bucket_cache_misses, 3);
    CHECK_EQ(s.cached_buckets, 3);
    CHECK_EQ(s.pool_hits, 3);
    CHECK_EQ(s.pool_misses, 3);
    CHECK_EQ(s.buffers_created, buffers_after_first);
    CHECK_EQ(s.bind_groups_created, 3);
    CHECK_EQ(s.submits, 2);
    CHECK(s.pool_hit_rate == 0.5);
  }

  /* Tasks of one bucket share its pipeline: one more bucket-cache hit, nothing compiled. */
  {
    const size_t one_bucket[3] = {100, 200, 16384};
    batch(exec, 3, one_bucket, 3);
    s = tu_stats(exec);
    CHECK_EQ(s.pipelines_created, 3);
    CHECK_EQ(s.bucket_cache_hits, 4);
    CHECK_EQ(s.submits, 3);
  }

  /* A batch of empty tasks succeeds and compiles nothing. */
  {
    const size_t empty[2] = {0, 0};
    batch(exec, 4, empty, 2);
    s = tu_stats(exec);
    CHECK_EQ(s.batches, 4);
    CHECK_EQ(s.tasks, 11);
    CHECK_EQ(s.pipelines_created, 3);
  }

  /* Bucket sizes: capacity 0 sizes the array; a short array gets the smallest ones. */
  CHECK_OK(gpu_executor_bucket_sizes(exec, NULL, 0, &count));
  CHECK_EQ(count, 3);
  count = 0;
  CHECK_OK(gpu_executor_bucket_sizes(exec, sizes, 2, &count));
  CHECK_EQ(count, 3);
  CHECK_EQ(sizes[0], 16384);
  CHECK_EQ(sizes[1], 32768);
  CHECK_EQ(sizes[2], 0); /* beyond capacity: untouched */
  CHECK_OK(gpu_executor_bucket_sizes(exec, sizes, 4, &count));
  CHECK_EQ(count, 3);
  CHECK_EQ(sizes[2], 131072);
  CHECK_EQ(sizes[3], 0);
  CHECK_STATUS(gpu_executor_bucket_sizes(exec, sizes, 4, NULL), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_bucket_sizes(exec, NULL, 4, &count), GPU_EXECUTOR_NULL_POINTER);

  gpu_executor_destroy(exec);
}

static void test_exact_size_cache(void) {
  const size_t n[1] = {5000};
  gpu_executor_t *exec = create(GPU_STRATEGY_BUCKETED, 1, 2);
  gpu_executor_stats_t s;

  batch(exec, 5, n, 1);
  s = tu_stats(exec);
  CHECK_EQ(s.exact_cache_misses, 1);
  CHECK_EQ(s.exact_cache_hits, 0);
  CHECK_EQ(s.exact_cache_entries, 1);
  CHECK_EQ(s.pipelines_created, 1);
  {
    uint64_t buffers = s.buffers_created;
    batch(exec, 6, n, 1);
    s = tu_stats(exec);
    CHECK_EQ(s.exact_cache_hits, 1);
    CHECK_EQ(s.exact_cache_misses, 1);
    CHECK_EQ(s.exact_cache_entries, 1);
    CHECK_EQ(s.pipelines_created, 1);
    CHECK_EQ(s.bucket_cache_hits, 1);
    CHECK_EQ(s.buffers_created, buffers);
    CHECK_EQ(s.pool_hits + s.pool_misses, 0);
  }

  /* Capacity 2: a third length evicts the least recently used one (5000). */
  {
    const size_t n2[1] = {6000}, n3[1] = {7000};
    batch(exec, 7, n2, 1);
    batch(exec, 8, n3, 1);
    s = tu_stats(exec);
    CHECK_EQ(s.exact_cache_entries, 2);
    CHECK_EQ(s.exact_cache_evictions, 1);
    CHECK_EQ(s.exact_cache_misses, 3);
    batch(exec, 9, n, 1); /* 5000 was evicted: a miss, and 6000 goes */
    s = tu_stats(exec);
    CHECK_EQ(s.exact_cache_misses, 4);
    CHECK_EQ(s.exact_cache_hits, 1);
    CHECK_EQ(s.exact_cache_evictions, 2);
    batch(exec, 10, n3, 1); /* 7000 is still there */
    s = tu_stats(exec);
    CHECK_EQ(s.exact_cache_hits, 2);
    CHECK_EQ(s.pipelines_created, 1); /* every length above is in bucket 16384 */
  }
  gpu_executor_destroy(exec);

  /* Without the exact-size cache a single-task batch goes through the pool. */
  exec = create(GPU_STRATEGY_BUCKETED, 0, 16);
  batch(exec, 11, n, 1);
  batch(exec, 12, n, 1);
  s = tu_stats(exec);
  CHECK_EQ(s.exact_cache_hits + s.exact_cache_misses + s.exact_cache_entries, 0);
  CHECK_EQ(s.pool_misses, 1);
  CHECK_EQ(s.pool_hits, 1);
  CHECK_EQ(s.pipelines_created, 1);
  gpu_executor_destroy(exec);
}

static void test_baseline(void) {
  const size_t sizes[4] = {1000, 0, 20000, 100000};
  gpu_executor_t *exec = create(GPU_STRATEGY_BASELINE, 1, 16);
  gpu_executor_stats_t s;
  size_t count = 99;

  batch(exec, 13, sizes, 4);
  s = tu_stats(exec);
  CHECK_EQ(s.strategy, GPU_STRATEGY_BASELINE);
  CHECK_EQ(s.pipelines_created, 3); /* one per nonempty task */
  CHECK_EQ(s.bind_groups_created, 3);
  batch(exec, 14, sizes, 4);
  s = tu_stats(exec);
  CHECK_EQ(s.pipelines_created, 6); /* nothing cached */
  CHECK_EQ(s.bind_groups_created, 6);
  CHECK_EQ(s.bucket_cache_hits + s.bucket_cache_misses + s.cached_buckets, 0);
  CHECK_EQ(s.pool_hits + s.pool_misses, 0);
  CHECK_EQ(s.exact_cache_hits + s.exact_cache_misses + s.exact_cache_entries, 0);
  CHECK_EQ(s.submits, 2); /* still one submission per batch */
  CHECK_EQ(s.batches, 2);
  CHECK_EQ(s.tasks, 8);
  CHECK_OK(gpu_executor_bucket_sizes(exec, NULL, 0, &count));
  CHECK_EQ(count, 0);
  gpu_executor_destroy(exec);
}

static void test_adapter_info(void) {
  gpu_executor_t *exec = create(GPU_STRATEGY_BUCKETED, 1, 16);
  gpu_adapter_info_t info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  if (CHECK_OK(gpu_executor_adapter_info(exec, &info))) {
    CHECK(info.name[0] != '\0');
    CHECK(memchr(info.name, '\0', sizeof info.name) != NULL);
    CHECK(memchr(info.driver, '\0', sizeof info.driver) != NULL);
    CHECK(info.backend != GPU_BACKEND_ANY);
    CHECK(info.device_type <= GPU_DEVICE_CPU);
    printf("adapter: %s, backend %u, device type %u, %llu bytes device-local\n", info.name,
           (unsigned)info.backend, (unsigned)info.device_type,
           (unsigned long long)info.device_local_bytes);
    /* Vulkan reports its memory heaps (lavapipe too); other backends say 0. */
    if (info.backend == GPU_BACKEND_VULKAN) {
      CHECK(info.device_local_bytes > 0);
    }
  }
  gpu_executor_destroy(exec);
}

/* Lists every adapter with its memory, as a program choosing one would. */
static void test_enumerate_adapters(void) {
  size_t count = 0;
  gpu_adapter_info_t list[8];
  size_t i;
  CHECK_OK(gpu_executor_enumerate_adapters(GPU_BACKEND_ANY, NULL, 0, &count));
  CHECK(count > 0);
  if (count > 8) {
    count = 8;
  }
  memset(list, 0, sizeof list);
  for (i = 0; i < count; i++) {
    list[i].struct_size = sizeof list[i];
  }
  CHECK_OK(gpu_executor_enumerate_adapters(GPU_BACKEND_ANY, list, count, &count));
  for (i = 0; i < count && i < 8; i++) {
    printf("adapter %zu: %s, backend %u, %llu MiB device-local\n", i, list[i].name,
           (unsigned)list[i].backend, (unsigned long long)(list[i].device_local_bytes >> 20));
    if (list[i].backend == GPU_BACKEND_VULKAN) {
      CHECK(list[i].device_local_bytes > 0);
    }
  }
}

/* Captures what gpu_executor_print_stats writes to file descriptor 2 (standard error, as
 * the seed), and checks gpu_executor_format_stats gives the same text. */
static void test_print_stats(void) {
  gpu_executor_t *exec = create(GPU_STRATEGY_BUCKETED, 1, 16);
  const size_t one[1] = {300};
  char text[1024];
  size_t len = 0;
  FILE *capture = tmpfile();
  int saved;

  batch(exec, 15, three_buckets, 3);
  batch(exec, 16, three_buckets, 3);
  batch(exec, 17, one, 1);

  tu_require(capture != NULL, "tmpfile");
  fflush(stderr);
  saved = dup(2);
  tu_require(saved >= 0 && dup2(fileno(capture), 2) >= 0, "redirecting stderr");
  CHECK_OK(gpu_executor_print_stats(exec));
  fflush(stderr);
  tu_require(dup2(saved, 2) >= 0, "restoring stderr");
  close(saved);
  rewind(capture);
  len = fread(text, 1, sizeof text - 1, capture);
  text[len] = '\0';
  fclose(capture);

  printf("print_stats wrote:\n%s", text);
  CHECK(strstr(text, "[gpu] Bucket cache: 3 buckets cached: [16384, 32768, 131072]\n") != NULL);
  CHECK(strstr(text, "[gpu] va_cache: 1 exact-size entries\n") != NULL);
  CHECK(strstr(text, "[gpu] Buffer pool hit rate: 50.00%\n") != NULL);
  CHECK_STATUS(gpu_executor_print_stats(NULL), GPU_EXECUTOR_NULL_POINTER);

  {
    /* snprintf-style: size with capacity 0, then the same text; a short buffer is cut
     * and NUL-terminated. */
    size_t needed = 0, again = 0;
    char small[8];
    char *full;
    CHECK_OK(gpu_executor_format_stats(exec, NULL, 0, &needed));
    CHECK(needed == len);
    full = malloc(needed + 1);
    tu_require(full != NULL, "malloc");
    CHECK_OK(gpu_executor_format_stats(exec, full, needed + 1, &again));
    CHECK(again == needed);
    CHECK(strcmp(full, text) == 0);
    memset(small, 'x', sizeof small);
    CHECK_OK(gpu_executor_format_stats(exec, small, sizeof small, &again));
    CHECK(again == needed && small[7] == '\0' && strncmp(small, text, 7) == 0);
    CHECK_STATUS(gpu_executor_format_stats(exec, NULL, 4, &again), GPU_EXECUTOR_NULL_POINTER);
    CHECK_STATUS(gpu_executor_format_stats(exec, full, needed + 1, NULL), GPU_EXECUTOR_NULL_POINTER);
    CHECK_STATUS(gpu_executor_format_stats(NULL, full, needed + 1, &again), GPU_EXECUTOR_NULL_POINTER);
    free(full);
  }
  gpu_executor_destroy(exec);
}

/* max_idle_bytes 0 keeps nothing idle; max_in_flight_bytes 1 admits one async batch. */
static void test_memory_limits(void) {
  gpu_executor_options_t options = gpu_executor_options_default();
  gpu_executor_t *exec;
  gpu_executor_stats_t stats;
  tu_rng rng = tu_rng_new(41);
  tu_case first = tu_case_random(&rng, 3000), second = tu_case_random(&rng, 3000);
  gpu_task_t t1 = tu_case_task(&first), t2 = tu_case_task(&second);
  gpu_ticket_t ticket = 0, refused = 7;
  options.max_idle_bytes = 0;
  options.max_in_flight_bytes = 1;
  exec = tu_create(&options);
  if (exec == NULL) return;
  CHECK_OK(gpu_executor_submit_batch_async(exec, &t1, 1, &ticket));
  CHECK_STATUS(gpu_executor_submit_batch_async(exec, &t2, 1, &refused), GPU_EXECUTOR_OVER_BUDGET);
  CHECK(refused == 7);
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_OK(gpu_executor_stats(exec, &stats));
  CHECK(stats.in_flight_bytes > 3 * 4 * 3000);
  CHECK_EQ(stats.backpressure_refusals, 1);
  CHECK_OK(gpu_executor_wait(exec, ticket, UINT64_MAX));
  CHECK(tu_case_matches(&first, "first async batch"));
  CHECK_OK(gpu_executor_submit_batch(exec, &t2, 1));
  CHECK(tu_case_matches(&second, "blocking batch"));
  CHECK_OK(gpu_executor_stats(exec, &stats));
  CHECK_EQ(stats.in_flight_bytes, 0);
  CHECK_EQ(stats.idle_bytes, 0);
  /* Each single-task batch's slabs, the refused one's included, freed as they came back. */
  CHECK_EQ(stats.exact_cache_evictions, 3);
  CHECK_EQ(stats.evicted_bytes > 0, 1);
  tu_case_free(&first);
  tu_case_free(&second);
  gpu_executor_destroy(exec);
}

int main(void) {
  test_bucket_cache();
  test_exact_size_cache();
  test_baseline();
  test_adapter_info();
  test_enumerate_adapters();
  test_print_stats();
  test_memory_limits();
  return tu_finish("test_stats");
}
