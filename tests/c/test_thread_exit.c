/*
 * Calls made while a thread exits, from a pthread_key_create destructor (which runs after
 * the thread's other thread-local storage is gone): a rejected batch, its last-error
 * message, and a batch that must succeed. Each must return a status and, for the good
 * batch, the CPU's results; none may take the process down. Once on a thread that called
 * the library before, once on a thread whose first call is made there.
 */
#include <pthread.h>

#include "test_util.h"

typedef struct exit_calls {
  gpu_executor_t *exec;
  int call_before_exit; /* make one library call while the thread still runs */
  /* Filled by the destructor, read by main after pthread_join. */
  int ran;
  gpu_executor_status_t rejected;
  int message_ok;
  gpu_executor_status_t submitted;
  int results_ok;
} exit_calls;

static pthread_key_t key;

static void at_thread_exit(void *arg) {
  exit_calls *calls = (exit_calls *)arg;
  tu_rng rng = tu_rng_new(77);
  tu_case c = tu_case_random(&rng, 5000);
  gpu_task_t task = tu_case_task(&c);
  const char *message;

  calls->ran = 1;
  calls->rejected = gpu_executor_submit_batch(calls->exec, NULL, 3);
  message = gpu_executor_last_error_message();
  calls->message_ok = message != NULL;
  calls->submitted = gpu_executor_submit_batch(calls->exec, &task, 1);
  calls->results_ok = calls->submitted == GPU_EXECUTOR_OK && tu_case_matches(&c, "at thread exit");
  tu_case_free(&c);
}

static void *thread_main(void *arg) {
  exit_calls *calls = (exit_calls *)arg;
  if (calls->call_before_exit) {
    /* Sets up the library's thread-local state (the last-error slot) on this thread. */
    (void)gpu_executor_submit_batch(calls->exec, NULL, 1);
  }
  tu_require(pthread_setspecific(key, calls) == 0, "pthread_setspecific");
  return NULL;
}

static void run_thread(gpu_executor_t *exec, int call_before_exit) {
  exit_calls calls;
  pthread_t thread;
  memset(&calls, 0, sizeof calls);
  calls.exec = exec;
  calls.call_before_exit = call_before_exit;
  tu_require(pthread_create(&thread, NULL, thread_main, &calls) == 0, "pthread_create");
  tu_require(pthread_join(thread, NULL) == 0, "pthread_join");

  CHECK(calls.ran);
  CHECK_STATUS(calls.rejected, GPU_EXECUTOR_NULL_POINTER);
  CHECK(calls.message_ok);
  CHECK_OK(calls.submitted);
  CHECK(calls.results_ok);
}

int main(void) {
  gpu_executor_t *exec = tu_create(NULL);
  tu_require(pthread_key_create(&key, at_thread_exit) == 0, "pthread_key_create");
  run_thread(exec, 1);
  run_thread(exec, 0);
  gpu_executor_destroy(exec);
  return tu_finish("test_thread_exit");
}
