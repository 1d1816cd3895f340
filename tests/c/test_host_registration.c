/*
 * Registered host memory (gpu_executor_register_host_memory): batches whose arrays lie in
 * registered memory give the CPU's results, with the counters saying how many operands the
 * GPU moved in place; page-aligned (posix_memalign) and unaligned (malloc) ranges; an asynchronous
 * batch writing a registered output; threads that register, run and unregister their own
 * arrays on one executor while another thread unregisters and registers again the arrays a
 * third thread's batches use; every bad call's status.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>

#include "test_util.h"

/* Fills `n` floats at `a` and `b` with random values. */
static void fill(tu_rng *rng, float *a, float *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    a[i] = tu_rng_float(rng);
    b[i] = tu_rng_float(rng);
  }
}

/* 1 when out[i] == a[i] + b[i] for every i (one IEEE addition: exact on GPU and CPU). */
static int sums_match(const float *a, const float *b, const float *out, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    float want = a[i] + b[i];
    if (memcmp(&out[i], &want, sizeof want) != 0) {
      fprintf(stderr, "out[%zu] = %.9g, expected %.9g\n", i, (double)out[i], (double)want);
      return 0;
    }
  }
  return 1;
}

static void test_registered_batches(void) {
  gpu_executor_t *exec = tu_create(NULL);
  tu_rng rng = tu_rng_new(17);
  const size_t n = 100003, small = 4096;
  /* One page-aligned block (a, b, out) and one malloc'd block (an unaligned range). */
  size_t block_bytes = 3 * n * sizeof(float);
  void *aligned = NULL;
  float *block;
  float *heap = tu_xmalloc(3 * small * sizeof(float) + 12);
  float *ha = heap + 3, *hb = ha + small, *hout = hb + small;
  float host_out[4096];
  gpu_task_t tasks[3];
  gpu_executor_stats_t s;
  tu_require(posix_memalign(&aligned, 4096, block_bytes) == 0, "posix_memalign");
  block = aligned;
  fill(&rng, block, block + n, n);
  fill(&rng, ha, hb, small);
  tu_poison(block + 2 * n, n);
  tu_poison(hout, small);
  tu_poison(host_out, small);

  CHECK_OK(gpu_executor_register_host_memory(exec, block, block_bytes));
  CHECK_OK(gpu_executor_register_host_memory(exec, ha, 3 * small * sizeof(float)));
  s = tu_stats(exec);
  CHECK_EQ(s.registered_host_regions, 2);
  CHECK_EQ(s.registered_host_bytes, block_bytes + 3 * small * sizeof(float));
  CHECK_EQ(s.registered_host_operands, 0);

  tasks[0] = tu_task(block, block + n, block + 2 * n, n);  /* all in place */
  tasks[1] = tu_task(ha, hb, hout, small);                 /* all in place */
  tasks[2] = tu_task(ha, block, host_out, small);          /* inputs in place, output host */
  CHECK_OK(gpu_executor_submit_batch(exec, tasks, 3));
  CHECK(sums_match(block, block + n, block + 2 * n, n));
  CHECK(sums_match(ha, hb, hout, small));
  CHECK(sums_match(ha, block, host_out, small));
  s = tu_stats(exec);
  CHECK_EQ(s.registered_host_operands, 8);
  CHECK_EQ(s.bytes_uploaded, 0);
  CHECK_EQ(s.bytes_read_back, small * sizeof(float));

  /* Asynchronous: the registered output holds the results once the ticket completed. */
  {
    gpu_ticket_t ticket = 0;
    fill(&rng, block, block + n, n);
    tu_poison(block + 2 * n, n);
    CHECK_OK(gpu_executor_submit_batch_async(exec, tasks, 1, &ticket));
    CHECK_OK(gpu_executor_wait(exec, ticket, UINT64_MAX));
    CHECK(sums_match(block, block + n, block + 2 * n, n));
    CHECK_EQ(tu_stats(exec).registered_host_operands, 11);
  }

  CHECK_OK(gpu_executor_unregister_host_memory(exec, block));
  CHECK_OK(gpu_executor_unregister_host_memory(exec, ha));
  s = tu_stats(exec);
  CHECK_EQ(s.registered_host_regions, 0);
  CHECK_EQ(s.registered_host_bytes, 0);

  /* Unregistered, the same batch copies through staging and gives the same results. */
  tu_poison(block + 2 * n, n);
  tu_poison(hout, small);
  CHECK_OK(gpu_executor_submit_batch(exec, tasks, 2));
  CHECK(sums_match(block, block + n, block + 2 * n, n));
  CHECK(sums_match(ha, hb, hout, small));
  s = tu_stats(exec);
  CHECK_EQ(s.registered_host_operands, 11);
  CHECK_EQ(s.bytes_uploaded, 2 * (n + small) * sizeof(float));

  gpu_executor_destroy(exec);
  free(block);
  free(heap);
}

static void test_bad_calls(void) {
  gpu_executor_t *exec = tu_create(NULL);
  float data[1024];
  memset(data, 0, sizeof data);
  CHECK_STATUS(gpu_executor_register_host_memory(NULL, data, sizeof data), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_register_host_memory(exec, NULL, sizeof data), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_register_host_memory(exec, data, 0), GPU_EXECUTOR_INVALID_ARGUMENT);
  CHECK_STATUS(gpu_executor_register_host_memory(exec, data, UINT64_MAX), GPU_EXECUTOR_SIZE_OVERFLOW);
  CHECK_OK(gpu_executor_register_host_memory(exec, data, sizeof data));
  CHECK_STATUS(gpu_executor_register_host_memory(exec, data + 10, 16), GPU_EXECUTOR_INVALID_ARGUMENT);
  CHECK(strstr(gpu_executor_last_error_message(), "overlap") != NULL);
  CHECK_EQ(tu_stats(exec).registered_host_regions, 1);
  CHECK_STATUS(gpu_executor_unregister_host_memory(NULL, data), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_unregister_host_memory(exec, NULL), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_unregister_host_memory(exec, data + 1), GPU_EXECUTOR_INVALID_ARGUMENT);
  CHECK_OK(gpu_executor_unregister_host_memory(exec, data));
  CHECK_STATUS(gpu_executor_unregister_host_memory(exec, data), GPU_EXECUTOR_INVALID_ARGUMENT);
  CHECK(strcmp(gpu_executor_status_str(GPU_EXECUTOR_UNSUPPORTED), "unknown status code") != 0);
  gpu_executor_destroy(exec);
}

#define WORKERS 3
#define ROUNDS 20
#define N 20011

typedef struct {
  gpu_executor_t *exec;
  uint64_t seed;
  int failures;
} worker_t;

/* Registers its own arrays, runs batches on them, unregisters; every round. */
static void *own_arrays(void *arg) {
  worker_t *w = arg;
  tu_rng rng = tu_rng_new(w->seed);
  float *mem = tu_xmalloc(3 * N * sizeof(float));
  int round;
  for (round = 0; round < ROUNDS; round++) {
    gpu_task_t task = tu_task(mem, mem + N, mem + 2 * N, N);
    fill(&rng, mem, mem + N, N);
    tu_poison(mem + 2 * N, N);
    if (gpu_executor_register_host_memory(w->exec, mem, 3 * N * sizeof(float)) != GPU_EXECUTOR_OK ||
        gpu_executor_submit_batch(w->exec, &task, 1) != GPU_EXECUTOR_OK ||
        gpu_executor_unregister_host_memory(w->exec, mem) != GPU_EXECUTOR_OK ||
        !sums_match(mem, mem + N, mem + 2 * N, N)) {
      fprintf(stderr, "own arrays, round %d: %s\n", round, gpu_executor_last_error_message());
      w->failures++;
    }
  }
  free(mem);
  return NULL;
}

typedef struct {
  gpu_executor_t *exec;
  float *mem;
  atomic_int stop;
  int failures;
  int batches;
} shared_t;

/* Runs batches on `mem` while another thread registers and unregisters it. */
static void *shared_user(void *arg) {
  shared_t *s = arg;
  tu_rng rng = tu_rng_new(99);
  while (!atomic_load(&s->stop) || s->batches < 10) {
    gpu_task_t task = tu_task(s->mem, s->mem + N, s->mem + 2 * N, N);
    fill(&rng, s->mem, s->mem + N, N);
    tu_poison(s->mem + 2 * N, N);
    if (gpu_executor_submit_batch(s->exec, &task, 1) != GPU_EXECUTOR_OK ||
        !sums_match(s->mem, s->mem + N, s->mem + 2 * N, N)) {
      fprintf(stderr, "shared arrays: %s\n", gpu_executor_last_error_message());
      s->failures++;
    }
    s->batches++;
  }
  return NULL;
}

static void test_threads(void) {
  gpu_executor_t *exec = tu_create(NULL);
  pthread_t threads[WORKERS + 1];
  worker_t workers[WORKERS];
  shared_t shared;
  int i, registrar_failures = 0;
  shared.exec = exec;
  shared.mem = tu_xmalloc(3 * N * sizeof(float));
  atomic_init(&shared.stop, 0);
  shared.failures = 0;
  shared.batches = 0;
  for (i = 0; i < WORKERS; i++) {
    workers[i].exec = exec;
    workers[i].seed = (uint64_t)i + 1;
    workers[i].failures = 0;
    tu_require(pthread_create(&threads[i], NULL, own_arrays, &workers[i]) == 0, "thread");
  }
  tu_require(pthread_create(&threads[WORKERS], NULL, shared_user, &shared) == 0, "thread");
  /* This thread registers and unregisters the shared arrays under the user's batches. */
  for (i = 0; i < ROUNDS; i++) {
    registrar_failures +=
        gpu_executor_register_host_memory(exec, shared.mem, 3 * N * sizeof(float)) != GPU_EXECUTOR_OK;
    registrar_failures += gpu_executor_unregister_host_memory(exec, shared.mem) != GPU_EXECUTOR_OK;
  }
  atomic_store(&shared.stop, 1);
  for (i = 0; i <= WORKERS; i++) pthread_join(threads[i], NULL);
  CHECK_EQ(registrar_failures, 0);
  CHECK_EQ(shared.failures, 0);
  for (i = 0; i < WORKERS; i++) CHECK_EQ(workers[i].failures, 0);
  CHECK_EQ(tu_stats(exec).registered_host_regions, 0);
  /* At least the workers' own operands were moved in place: three per batch. */
  CHECK(tu_stats(exec).registered_host_operands >= (uint64_t)(WORKERS * ROUNDS * 3));
  gpu_executor_destroy(exec);
  free(shared.mem);
}

int main(void) {
  test_registered_batches();
  test_bad_calls();
  test_threads();
  return tu_finish("test_host_registration");
}
