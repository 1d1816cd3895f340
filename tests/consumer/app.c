/* Minimal gpu_executor program: out = a + b on the GPU, checked on the CPU. */
#include <stdio.h>
#include <string.h>

#include "gpu_executor.h"

int main(void) {
  enum { N = 100000 };
  static float a[N], b[N], out[N];
  for (int i = 0; i < N; i++) {
    a[i] = (float)i;
    b[i] = 0.5f * (float)i;
  }

  gpu_executor_t *exec = NULL;
  gpu_executor_status_t status = gpu_executor_create(NULL, &exec); /* NULL: default options */
  if (status != GPU_EXECUTOR_OK) {
    fprintf(stderr, "create: %s: %s\n", gpu_executor_status_str(status),
            gpu_executor_last_error_message());
    return 1;
  }

  gpu_task_t tasks[2];
  memset(tasks, 0, sizeof tasks); /* unused inputs NULL, flags and params 0 */
  tasks[0].op = GPU_OP_VECTOR_ADD; /* first half */
  tasks[0].inputs[0] = a;
  tasks[0].inputs[1] = b;
  tasks[0].output = out;
  tasks[0].length = N / 2;
  tasks[1] = tasks[0]; /* second half, same batch: one GPU submission */
  tasks[1].inputs[0] = a + N / 2;
  tasks[1].inputs[1] = b + N / 2;
  tasks[1].output = out + N / 2;

  status = gpu_executor_submit_batch(exec, tasks, 2);
  if (status != GPU_EXECUTOR_OK) {
    fprintf(stderr, "submit: %s: %s\n", gpu_executor_status_str(status),
            gpu_executor_last_error_message());
    gpu_executor_destroy(exec);
    return 1;
  }

  int bad = 0;
  for (int i = 0; i < N; i++) bad += out[i] != a[i] + b[i];
  printf("gpu_executor %s: out[%d] = %g, %d mismatches\n", gpu_executor_version(), N - 1,
         (double)out[N - 1], bad);
  gpu_executor_destroy(exec);
  return bad == 0 ? 0 : 1;
}
