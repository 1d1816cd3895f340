/*
 * Every bad input's status code, the last-error message, and that a failed call touches no
 * output: each failing batch below holds a valid task whose NaN-poisoned output must stay
 * NaN. The executor must keep working after every failure.
 */
#include "test_util.h"

#define N 1000

static gpu_executor_t *exec;
static tu_case good; /* task 0 of every failing batch */
static float buf_a[N], buf_b[N], buf_out[N], big[4 * N];

/* Submits {good, bad} and expects `want`; checks no output changed and the message names
 * task 1. */
static void expect_bad_task(gpu_task_t bad, gpu_executor_status_t want, const char *what) {
  gpu_task_t tasks[2];
  const char *message;
  tu_poison(good.out, good.n);
  tu_poison(buf_out, N);
  tasks[0] = tu_case_task(&good);
  tasks[1] = bad;
  if (!CHECK_STATUS(gpu_executor_submit_batch(exec, tasks, 2), want)) {
    fprintf(stderr, "  case: %s\n", what);
  }
  message = gpu_executor_last_error_message();
  if (!CHECK(message != NULL && strstr(message, "task 1") != NULL)) {
    fprintf(stderr, "  case: %s; message: \"%s\"\n", what, message ? message : "(null)");
  }
  if (!CHECK(tu_all_nan(good.out, good.n) && tu_all_nan(buf_out, N))) {
    fprintf(stderr, "  case: %s: an output was written by a failed batch\n", what);
  }
}

static gpu_task_t valid_task(void) { return tu_task(buf_a, buf_b, buf_out, N); }

static void test_task_errors(void) {
  gpu_task_t t;

  /* NULL task pointers with a nonzero length. */
  t = valid_task();
  t.inputs[0] = NULL;
  expect_bad_task(t, GPU_EXECUTOR_NULL_POINTER, "inputs[0] NULL");
  t = valid_task();
  t.inputs[1] = NULL;
  expect_bad_task(t, GPU_EXECUTOR_NULL_POINTER, "inputs[1] NULL");
  t = valid_task();
  t.output = NULL;
  expect_bad_task(t, GPU_EXECUTOR_NULL_POINTER, "output NULL");

  /* Unknown op codes: zero (a zeroed task) and a large one. */
  t = valid_task();
  t.op = 0;
  expect_bad_task(t, GPU_EXECUTOR_UNKNOWN_OP, "op 0");
  t = valid_task();
  t.op = 999;
  expect_bad_task(t, GPU_EXECUTOR_UNKNOWN_OP, "op 999");

  /* Reserved fields and unused inputs. */
  t = valid_task();
  t.flags = 0x20; /* a reserved bit (0x100 and up mark buffer operands now) */
  expect_bad_task(t, GPU_EXECUTOR_INVALID_ARGUMENT, "reserved flag bit");
  t = valid_task();
  t.flags = 7; /* not a gpu_dtype_t */
  expect_bad_task(t, GPU_EXECUTOR_INVALID_ARGUMENT, "element type 7");
  t = valid_task();
  t.params[3] = 7;
  expect_bad_task(t, GPU_EXECUTOR_INVALID_ARGUMENT, "params[3] 7");
  t = valid_task();
  t.inputs[2] = buf_a;
  expect_bad_task(t, GPU_EXECUTOR_INVALID_ARGUMENT, "inputs[2] set");

  /* Lengths whose byte size overflows; nothing is read, so the buffers may be small. */
  t = valid_task();
  t.length = SIZE_MAX / 2;
  expect_bad_task(t, GPU_EXECUTOR_SIZE_OVERFLOW, "length SIZE_MAX/2");
  t = valid_task();
  t.length = SIZE_MAX;
  expect_bad_task(t, GPU_EXECUTOR_SIZE_OVERFLOW, "length SIZE_MAX");

  /* Pointers not aligned to float (kept as void pointers: never a misaligned float *). */
  t = valid_task();
  t.inputs[0] = (const void *)((const char *)big + 1);
  expect_bad_task(t, GPU_EXECUTOR_MISALIGNED_POINTER, "inputs[0] misaligned");
  t = valid_task();
  t.inputs[1] = (const void *)((const char *)big + 2);
  expect_bad_task(t, GPU_EXECUTOR_MISALIGNED_POINTER, "inputs[1] misaligned");
  t = valid_task();
  t.output = (void *)((char *)big + 3);
  expect_bad_task(t, GPU_EXECUTOR_MISALIGNED_POINTER, "output misaligned");

  /* Outputs overlapping an input (in place, or partly) or another task's output. */
  t = tu_task(big, buf_b, big, N);
  expect_bad_task(t, GPU_EXECUTOR_ALIASING, "output == inputs[0]");
  t = tu_task(buf_a, big, big + N / 2, N);
  expect_bad_task(t, GPU_EXECUTOR_ALIASING, "output overlaps inputs[1] partly");
  t = tu_task(buf_a, buf_b, good.out + good.n - 1, N); /* last element of task 0's output */
  expect_bad_task(t, GPU_EXECUTOR_ALIASING, "output overlaps task 0's output");
  t = tu_task(buf_a, buf_b, good.a + 10, N);
  expect_bad_task(t, GPU_EXECUTOR_ALIASING, "output overlaps task 0's input");

  /* Adjacent but disjoint ranges are fine. */
  {
    gpu_task_t ok = tu_task(big, big + N, big + 2 * N, N);
    size_t i;
    for (i = 0; i < 2 * (size_t)N; i++) big[i] = (float)i;
    tu_poison(big + 2 * N, N);
    if (CHECK_OK(gpu_executor_submit_batch(exec, &ok, 1))) {
      int same = 1;
      for (i = 0; i < N; i++) same &= big[2 * N + i] == big[i] + big[N + i];
      CHECK(same);
    }
    CHECK(strcmp(gpu_executor_last_error_message(), "") == 0);
  }
}

static void test_call_errors(void) {
  gpu_task_t t = valid_task();
  const char *message;

  CHECK_STATUS(gpu_executor_submit_batch(NULL, &t, 1), GPU_EXECUTOR_NULL_POINTER);
  CHECK(strlen(gpu_executor_last_error_message()) > 0);
  CHECK_STATUS(gpu_executor_submit_batch(NULL, NULL, 0), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_submit_batch(exec, NULL, 2), GPU_EXECUTOR_NULL_POINTER);
  message = gpu_executor_last_error_message();
  CHECK(message != NULL && strlen(message) > 0);

  /* A message is replaced by "" once a call succeeds. */
  CHECK_OK(gpu_executor_submit_batch(exec, NULL, 0));
  CHECK(strcmp(gpu_executor_last_error_message(), "") == 0);

  /* The first bad task is reported, by index. */
  {
    gpu_task_t tasks[4];
    tasks[0] = tu_case_task(&good);
    tasks[1] = tu_task(NULL, NULL, NULL, 0);
    tasks[2] = valid_task();
    tasks[3] = valid_task();
    tasks[3].op = 42;
    tu_poison(good.out, good.n);
    CHECK_STATUS(gpu_executor_submit_batch(exec, tasks, 4), GPU_EXECUTOR_UNKNOWN_OP);
    CHECK(strstr(gpu_executor_last_error_message(), "task 3") != NULL);
    CHECK(tu_all_nan(good.out, good.n));
  }
}

static void test_options_errors(void) {
  gpu_executor_options_t options;
  int sentinel;
  gpu_executor_t *const untouched = (gpu_executor_t *)(void *)&sentinel;
  gpu_executor_t *out;

#define EXPECT_CREATE(opts, want)                                    \
  do {                                                               \
    out = untouched;                                                 \
    CHECK_STATUS(gpu_executor_create((opts), &out), (want));         \
    CHECK(out == untouched); /* the handle is written only on success */ \
    CHECK(strlen(gpu_executor_last_error_message()) > 0);            \
  } while (0)

  options = gpu_executor_options_default();
  options.struct_size = (uint32_t)sizeof(options) - 4;
  EXPECT_CREATE(&options, GPU_EXECUTOR_BAD_STRUCT_SIZE);
  options.struct_size = (uint32_t)sizeof(options) + 8;
  EXPECT_CREATE(&options, GPU_EXECUTOR_BAD_STRUCT_SIZE);
  options.struct_size = 0;
  EXPECT_CREATE(&options, GPU_EXECUTOR_BAD_STRUCT_SIZE);

  options = gpu_executor_options_default();
  options.strategy = 2;
  EXPECT_CREATE(&options, GPU_EXECUTOR_INVALID_OPTION);
  CHECK(strstr(gpu_executor_last_error_message(), "strategy") != NULL);
  options = gpu_executor_options_default();
  options.strategy = 0xFFFFFFFFu;
  EXPECT_CREATE(&options, GPU_EXECUTOR_INVALID_OPTION);
  options = gpu_executor_options_default();
  options.backend = 99;
  EXPECT_CREATE(&options, GPU_EXECUTOR_INVALID_OPTION);
  options = gpu_executor_options_default();
  options.power_preference = 3;
  EXPECT_CREATE(&options, GPU_EXECUTOR_INVALID_OPTION);
  options = gpu_executor_options_default();
  options.max_chunk_elements = 63; /* below the minimum of 64 */
  EXPECT_CREATE(&options, GPU_EXECUTOR_INVALID_OPTION);
#undef EXPECT_CREATE

  CHECK_STATUS(gpu_executor_create(NULL, NULL), GPU_EXECUTOR_NULL_POINTER);
  options = gpu_executor_options_default();
  CHECK_STATUS(gpu_executor_create(&options, NULL), GPU_EXECUTOR_NULL_POINTER);
}

static void test_out_struct_errors(void) {
  gpu_executor_stats_t stats;
  gpu_adapter_info_t info;
  size_t count;

  memset(&stats, 0xAB, sizeof stats);
  stats.struct_size = (uint32_t)sizeof stats - 4; /* no version of the struct has this size */
  CHECK_STATUS(gpu_executor_stats(exec, &stats), GPU_EXECUTOR_BAD_STRUCT_SIZE);
  CHECK(stats.batches == 0xABABABABABABABABull); /* untouched */
  stats.struct_size = 0;
  CHECK_STATUS(gpu_executor_stats(exec, &stats), GPU_EXECUTOR_BAD_STRUCT_SIZE);
  CHECK_STATUS(gpu_executor_stats(exec, NULL), GPU_EXECUTOR_NULL_POINTER);
  stats.struct_size = sizeof stats;
  CHECK_STATUS(gpu_executor_stats(NULL, &stats), GPU_EXECUTOR_NULL_POINTER);

  memset(&info, 0, sizeof info);
  info.struct_size = 4;
  CHECK_STATUS(gpu_executor_adapter_info(exec, &info), GPU_EXECUTOR_BAD_STRUCT_SIZE);
  CHECK(info.name[0] == '\0');
  CHECK_STATUS(gpu_executor_adapter_info(exec, NULL), GPU_EXECUTOR_NULL_POINTER);
  info.struct_size = sizeof info;
  CHECK_STATUS(gpu_executor_adapter_info(NULL, &info), GPU_EXECUTOR_NULL_POINTER);

  CHECK_STATUS(gpu_executor_bucket_sizes(NULL, NULL, 0, &count), GPU_EXECUTOR_NULL_POINTER);
  CHECK_STATUS(gpu_executor_print_stats(NULL), GPU_EXECUTOR_NULL_POINTER);
  gpu_executor_destroy(NULL); /* a no-op */
}

static void test_still_works(void) {
  tu_rng rng = tu_rng_new(77);
  tu_case c = tu_case_random(&rng, 20000);
  gpu_task_t tasks[2];
  gpu_executor_stats_t stats;
  tasks[0] = tu_case_task(&good);
  tasks[1] = tu_case_task(&c);
  tu_poison(good.out, good.n);
  if (CHECK_OK(gpu_executor_submit_batch(exec, tasks, 2))) {
    CHECK(tu_case_matches(&good, "after failures, task 0"));
    CHECK(tu_case_matches(&c, "after failures, task 1"));
  }
  /* Only successful batches count: the adjacent-ranges one, the empty one and this. */
  stats = tu_stats(exec);
  CHECK_EQ(stats.batches, 3);
  tu_case_free(&c);
}

int main(void) {
  tu_rng rng = tu_rng_new(42);
  size_t i;
  for (i = 0; i < N; i++) {
    buf_a[i] = (float)i;
    buf_b[i] = 1.0f;
  }
  good = tu_case_random(&rng, 3000);
  exec = tu_create(NULL); /* NULL options: the defaults */

  test_task_errors();
  test_call_errors();
  test_options_errors();
  test_out_struct_errors();
  test_still_works();

  gpu_executor_destroy(exec);
  tu_case_free(&good);
  return tu_finish("test_errors");
}
