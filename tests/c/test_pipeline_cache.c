/*
 * The persistent pipeline cache from C (gpu_executor_options_t.pipeline_cache_dir): the
 * first executor starts empty and writes the file on destroy, the next one starts from it;
 * a truncated file is ignored (GPU_PIPELINE_CACHE_REJECTED) and replaced. Asynchronous
 * warm-up (gpu_executor_warmup_async, gpu_executor_warmup_wait): the first batch after it
 * compiles nothing; bad arguments are refused at once.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <unistd.h>

#include "test_util.h"

static char cache_dir[256];

static gpu_executor_t *create_cached(void) {
  gpu_executor_options_t options = gpu_executor_options_default();
  options.pipeline_cache_dir = cache_dir;
  return tu_create(&options);
}

/* Runs ADD over two buckets; checks the results. */
static void batch(gpu_executor_t *exec, uint64_t seed) {
  static const size_t sizes[2] = {1000, 40000};
  tu_rng rng = tu_rng_new(seed);
  tu_case cases[2];
  gpu_task_t tasks[2];
  size_t i;
  for (i = 0; i < 2; i++) {
    cases[i] = tu_case_random(&rng, sizes[i]);
    tasks[i] = tu_case_task(&cases[i]);
  }
  if (CHECK_OK(gpu_executor_submit_batch(exec, tasks, 2))) {
    for (i = 0; i < 2; i++) CHECK(tu_case_matches(&cases[i], "batch with a pipeline cache"));
  }
  for (i = 0; i < 2; i++) tu_case_free(&cases[i]);
}

/* The one cache file in cache_dir, into path; returns how many there are. */
static int cache_file(char *path, size_t capacity) {
  DIR *dir = opendir(cache_dir);
  struct dirent *entry;
  int found = 0;
  if (dir == NULL) return 0;
  while ((entry = readdir(dir)) != NULL) {
    size_t len = strlen(entry->d_name);
    const char *suffix = ".pipelinecache";
    size_t slen = strlen(suffix);
    if (len > slen && strcmp(entry->d_name + len - slen, suffix) == 0) {
      snprintf(path, capacity, "%s/%s", cache_dir, entry->d_name);
      found++;
    }
  }
  closedir(dir);
  return found;
}

static void test_pipeline_cache(void) {
  char path[512];
  gpu_executor_t *exec = create_cached();
  gpu_executor_stats_t s = tu_stats(exec);
  long size;
  FILE *f;
  CHECK_EQ(s.pipeline_cache_state, GPU_PIPELINE_CACHE_EMPTY);
  batch(exec, 1);
  gpu_executor_destroy(exec);
  if (!CHECK_EQ(cache_file(path, sizeof path), 1)) return;

  exec = create_cached();
  s = tu_stats(exec);
  CHECK_EQ(s.pipeline_cache_state, GPU_PIPELINE_CACHE_LOADED);
  CHECK(s.pipeline_cache_loaded_bytes > 0);
  batch(exec, 2);
  gpu_executor_destroy(exec);

  /* Truncate the file: ignored, results still right, and replaced on destroy. */
  f = fopen(path, "rb");
  if (!CHECK(f != NULL)) return;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fclose(f);
  CHECK(truncate(path, size / 2) == 0);
  exec = create_cached();
  s = tu_stats(exec);
  CHECK_EQ(s.pipeline_cache_state, GPU_PIPELINE_CACHE_REJECTED);
  CHECK_EQ(s.pipeline_cache_loaded_bytes, 0);
  batch(exec, 3);
  gpu_executor_destroy(exec);
  exec = create_cached();
  CHECK_EQ(tu_stats(exec).pipeline_cache_state, GPU_PIPELINE_CACHE_LOADED);
  gpu_executor_destroy(exec);
  remove(path);
  rmdir(cache_dir);
}

static void test_async_warmup(void) {
  gpu_executor_t *exec = tu_create(NULL);
  gpu_task_t plan[2];
  gpu_executor_stats_t before, after;
  uint64_t compiled = 99;
  memset(plan, 0, sizeof plan);
  plan[0].op = GPU_OP_VECTOR_ADD;
  plan[0].length = 1000;
  plan[1].op = GPU_OP_VECTOR_ADD;
  plan[1].length = 40000;

  CHECK_STATUS(gpu_executor_warmup_async(NULL, plan, 2), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_warmup_async(exec, NULL, 2), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_warmup_wait(NULL, 0, NULL), GPU_EXECUTOR_NULL_POINTER);

  CHECK_OK(gpu_executor_warmup_async(exec, plan, 2));
  CHECK_OK(gpu_executor_warmup_wait(exec, UINT64_MAX, &compiled));
  CHECK_EQ(compiled, 2);
  before = tu_stats(exec);
  CHECK_EQ(before.pending_warmups, 0);
  CHECK_EQ(before.async_warmups_completed, 1);
  CHECK_EQ(before.pipeline_cache_state, GPU_PIPELINE_CACHE_OFF);
  batch(exec, 4);
  after = tu_stats(exec);
  CHECK_EQ(after.pipelines_created, before.pipelines_created);
  CHECK_EQ(after.bucket_cache_misses, before.bucket_cache_misses);
  gpu_executor_destroy(exec);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(cache_dir, sizeof cache_dir, "%s/gpu_executor_c_pcache_%ld",
           tmp != NULL ? tmp : "/tmp", (long)getpid());
  test_pipeline_cache();
  test_async_warmup();
  return tu_finish("test_pipeline_cache");
}
