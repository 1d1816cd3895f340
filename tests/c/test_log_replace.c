/*
 * Replacing or clearing the log callback waits for the calls in progress: once
 * gpu_executor_set_log_callback returns, the old callback is not running and never runs
 * again, so its userdata may be freed. One thread keeps the library logging (debug level,
 * one batch after another on a BASELINE executor, which logs for every slab it creates)
 * through a callback that takes a few milliseconds per message; the main thread waits
 * until a call is in progress, then clears or replaces the callback and retires the old
 * userdata.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "test_util.h"

#define ROUNDS 8

typedef struct sink {
  atomic_int in_call;    /* calls running now */
  atomic_int retired;    /* set once the callback using this sink was replaced */
  atomic_int calls;
  atomic_int violations; /* calls that were running, or started, after retirement */
} sink;

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = 0;
  t.tv_nsec = ms * 1000000L;
  nanosleep(&t, NULL);
}

static void on_log(uint32_t level, const char *message, void *userdata) {
  sink *s = (sink *)userdata;
  (void)level;
  (void)message;
  if (atomic_load(&s->retired)) atomic_fetch_add(&s->violations, 1);
  atomic_fetch_add(&s->in_call, 1);
  sleep_ms(3);
  atomic_fetch_add(&s->calls, 1);
  atomic_fetch_sub(&s->in_call, 1);
  /* Replaced while this call ran: the replacement returned too early. */
  if (atomic_load(&s->retired)) atomic_fetch_add(&s->violations, 1);
}

typedef struct logger {
  gpu_executor_t *exec;
  atomic_int stop;
  int batches;
  int failures;
} logger;

static void *keep_logging(void *arg) {
  logger *l = (logger *)arg;
  tu_rng rng = tu_rng_new(99);
  while (!atomic_load(&l->stop)) {
    tu_case c = tu_case_random(&rng, tu_rng_range(&rng, 1, 2000));
    gpu_task_t task = tu_case_task(&c);
    if (gpu_executor_submit_batch(l->exec, &task, 1) != GPU_EXECUTOR_OK ||
        !tu_case_matches(&c, "batch while the callback changes")) {
      l->failures++;
    }
    l->batches++;
    tu_case_free(&c);
  }
  return NULL;
}

/* Waits (up to 10 s) until a call of `s` is in progress. */
static int wait_for_call(sink *s) {
  int i;
  for (i = 0; i < 10000; i++) {
    if (atomic_load(&s->in_call) > 0) return 1;
    sleep_ms(1);
  }
  return 0;
}

int main(void) {
  static sink sinks[ROUNDS + 1];
  gpu_executor_options_t options = gpu_executor_options_default();
  logger l;
  pthread_t thread;
  int round, i;

  options.strategy = GPU_STRATEGY_BASELINE;
  memset(&l, 0, sizeof l);
  l.exec = tu_create(&options);
  for (i = 0; i <= ROUNDS; i++) {
    atomic_init(&sinks[i].in_call, 0);
    atomic_init(&sinks[i].retired, 0);
    atomic_init(&sinks[i].calls, 0);
    atomic_init(&sinks[i].violations, 0);
  }
  atomic_init(&l.stop, 0);

  CHECK_OK(gpu_executor_set_log_level(GPU_LOG_DEBUG));
  CHECK_OK(gpu_executor_set_log_callback(on_log, &sinks[0]));
  tu_require(pthread_create(&thread, NULL, keep_logging, &l) == 0, "pthread_create");

  for (round = 0; round < ROUNDS; round++) {
    sink *old = &sinks[round];
    if (!CHECK(wait_for_call(old))) break;
    if (round % 2 == 0) {
      CHECK_OK(gpu_executor_set_log_callback(NULL, NULL)); /* clear */
    } else {
      CHECK_OK(gpu_executor_set_log_callback(on_log, &sinks[round + 1])); /* replace */
    }
    atomic_store(&old->retired, 1); /* "freed" from here on */
    if (!CHECK_EQ(atomic_load(&old->in_call), 0)) {
      fprintf(stderr, "round %d: set_log_callback returned while the old callback ran\n", round);
    }
    if (round % 2 == 0) CHECK_OK(gpu_executor_set_log_callback(on_log, &sinks[round + 1]));
  }

  atomic_store(&l.stop, 1);
  tu_require(pthread_join(thread, NULL) == 0, "pthread_join");
  CHECK_OK(gpu_executor_set_log_callback(NULL, NULL));
  atomic_store(&sinks[ROUNDS].retired, 1);
  CHECK_OK(gpu_executor_set_log_level(GPU_LOG_WARN));

  for (i = 0; i <= ROUNDS; i++) {
    if (!CHECK_EQ(atomic_load(&sinks[i].violations), 0)) {
      fprintf(stderr, "callback %d ran after it was replaced\n", i);
    }
  }
  CHECK(atomic_load(&sinks[0].calls) > 0);
  CHECK_EQ(l.failures, 0);
  CHECK(l.batches > 0);
  printf("%d batches, %d rounds of clearing or replacing the callback\n", l.batches, ROUNDS);
  gpu_executor_destroy(l.exec);
  return tu_finish("test_log_replace");
}
