/*
 * The C snippets of README.md, in a program that runs them and checks what they did.
 * README.md shows the regions between the "begin/end README snippet: NAME" comments
 * verbatim (dedented; several regions of one name joined by a blank line), which
 * bindings/python/tests/test_readme.py checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gpu_executor.h"

enum { N = 1 << 20 };
static float a[N], b[N], out[N], expected[N];
static int other_work_done = 0;

static void do_other_work(void) { other_work_done++; }

static int async_example(gpu_executor_t *exec) {
  gpu_task_t tasks[1];
  memset(tasks, 0, sizeof tasks);
  tasks[0].op = GPU_OP_VECTOR_ADD;
  tasks[0].inputs[0] = a;
  tasks[0].inputs[1] = b;
  tasks[0].output = out;
  tasks[0].length = N;
  /* begin README snippet: async */
  gpu_ticket_t ticket;
  gpu_executor_status_t status = gpu_executor_submit_batch_async(exec, tasks, 1, &ticket);
  if (status != GPU_EXECUTOR_OK) { /* rejected: nothing runs, no ticket */
    fprintf(stderr, "submit: %s\n", gpu_executor_last_error_message());
    return 1;
  }
  memset(a, 0, sizeof a); /* the inputs were copied: reuse them at once */
  status = gpu_executor_wait(exec, ticket, 1000000); /* up to 1 ms; UINT64_MAX: no limit */
  while (status == GPU_EXECUTOR_NOT_READY) {
    do_other_work(); /* meanwhile, leave out alone: it is written on completion */
    status = gpu_executor_poll(exec, ticket);
  }
  if (status != GPU_EXECUTOR_OK) { /* the batch failed: no output written */
    fprintf(stderr, "wait: %s\n", gpu_executor_last_error_message());
    return 1;
  }
  /* out holds a + b; the ticket is spent (waiting again gives UNKNOWN_TICKET) */
  /* end README snippet: async */
  if (gpu_executor_wait(exec, ticket, 0) != GPU_EXECUTOR_UNKNOWN_TICKET) {
    fprintf(stderr, "a spent ticket is not UNKNOWN_TICKET\n");
    return 1;
  }
  return 0;
}

/* begin README snippet: log */
static void on_log(uint32_t level, const char *message, void *userdata) {
  static const char *const names[] = {"off", "error", "warn", "info", "debug"};
  fprintf((FILE *)userdata, "[%s] %s\n", level <= GPU_LOG_DEBUG ? names[level] : "?", message);
}
/* end README snippet: log */

static int log_example(FILE *log_file) {
  gpu_executor_t *exec = NULL;
  /* begin README snippet: log */
  gpu_executor_set_log_level(GPU_LOG_INFO);        /* overrides GPU_EXECUTOR_LOG */
  gpu_executor_set_log_callback(on_log, log_file); /* from any thread; must not call back */
  gpu_executor_create(NULL, &exec);                /* on_log: "[info] adapter ..." */
  gpu_executor_destroy(exec);
  gpu_executor_set_log_callback(NULL, NULL);       /* back to stderr */
  /* end README snippet: log */
  return exec != NULL ? 0 : 1;
}

int main(void) {
  int failed = 0;
  int bad = 0;
  char line[1024];
  int adapter_lines = 0;
  FILE *log_file;
  gpu_executor_t *exec = NULL;

  for (int i = 0; i < N; i++) {
    a[i] = (float)(i % 1000) * 0.25f;
    b[i] = (float)i;
    expected[i] = a[i] + b[i];
    out[i] = -1.0f;
  }
  if (gpu_executor_create(NULL, &exec) != GPU_EXECUTOR_OK) {
    fprintf(stderr, "create: %s\n", gpu_executor_last_error_message());
    return 1;
  }
  failed |= async_example(exec);
  for (int i = 0; i < N; i++) bad += out[i] != expected[i];
  printf("async: %d mismatches, %d rounds of other work\n", bad, other_work_done);
  failed |= bad != 0;
  gpu_executor_destroy(exec);

  log_file = tmpfile();
  if (log_file == NULL) {
    perror("tmpfile");
    return 1;
  }
  failed |= log_example(log_file);
  rewind(log_file);
  while (fgets(line, sizeof line, log_file) != NULL) {
    adapter_lines += strncmp(line, "[info] adapter ", 15) == 0;
    printf("log: %s", line);
  }
  fclose(log_file);
  gpu_executor_set_log_level(GPU_LOG_WARN);
  printf("log: %d adapter line(s)\n", adapter_lines);
  failed |= adapter_lines != 1;

  printf("%s\n", failed ? "FAILED" : "ok");
  return failed ? 1 : 0;
}
