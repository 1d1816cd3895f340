/*
 * user_kernel: your own WGSL kernel beside the built-in ops. Registers a polynomial
 * (out = a * a * s + b), runs it in one batch with a built-in ADD and SUM, checks every
 * result against the CPU, and prints a few results and the cache statistics.
 *
 * Build: cmake -S . -B build && cmake --build build
 * Run:   build/c_examples/user_kernel
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_executor.h"

/* The library binds params at 0 (the invocation count first, then our `s`), the inputs at
 * 1 and 2 and the output at 3. Large arrays spill the grid into y, hence the index. */
static const char POLY[] =
    "struct Params { count: u32, s: f32 }\n"
    "@group(0) @binding(0) var<uniform> params: Params;\n"
    "@group(0) @binding(1) var<storage, read> a: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read> b: array<f32>;\n"
    "@group(0) @binding(3) var<storage, read_write> out: array<f32>;\n"
    "\n"
    "@compute @workgroup_size(64)\n"
    "fn poly(@builtin(global_invocation_id) gid: vec3<u32>,\n"
    "        @builtin(num_workgroups) groups: vec3<u32>) {\n"
    "    let i = gid.x + gid.y * groups.x * 64u;\n"
    "    if (i < params.count) {\n"
    "        out[i] = a[i] * a[i] * params.s + b[i];\n"
    "    }\n"
    "}\n";

#define N 100000

static double magnitude(double x) { return x < 0 ? -x : x; }

static int fail(const char *what, gpu_executor_status_t status) {
  fprintf(stderr, "user_kernel: %s failed: %s: %s\n", what, gpu_executor_status_str(status),
          gpu_executor_last_error_message());
  return EXIT_FAILURE;
}

int main(void) {
  gpu_executor_t *exec = NULL;
  gpu_executor_status_t status = gpu_executor_create(NULL, &exec);
  if (status != GPU_EXECUTOR_OK) return fail("gpu_executor_create", status);

  gpu_kernel_desc_t desc = gpu_kernel_desc_default(); /* sets struct_size */
  desc.source = POLY;
  desc.entry_point = "poly";
  desc.num_inputs = 2;
  desc.params_size = 4; /* one f32 after the count */
  uint32_t poly = 0;
  status = gpu_executor_register_kernel(exec, &desc, &poly);
  if (status != GPU_EXECUTOR_OK) { /* the message has the compiler's line and column */
    gpu_executor_destroy(exec);
    return fail("gpu_executor_register_kernel", status);
  }

  const float s = 0.5f;
  float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  float *p = malloc(N * sizeof *p), *sum = malloc(N * sizeof *sum);
  float total = 0.0f;
  if (!a || !b || !p || !sum) {
    fprintf(stderr, "user_kernel: out of memory\n");
    free(a);
    free(b);
    free(p);
    free(sum);
    gpu_executor_destroy(exec);
    return EXIT_FAILURE;
  }
  for (size_t i = 0; i < N; i++) {
    a[i] = (float)i / N * 4.0f - 2.0f;
    b[i] = (float)(i % 10) - 5.0f;
  }

  /* Zeroed tasks: unused inputs NULL, unused params 0, as the library requires. */
  gpu_task_t tasks[3];
  memset(tasks, 0, sizeof tasks);
  tasks[0].op = poly;
  tasks[0].flags = GPU_DTYPE_F32; /* the kernel's dtype */
  tasks[0].inputs[0] = a;
  tasks[0].inputs[1] = b;
  tasks[0].output = p;
  tasks[0].length = N;
  tasks[0].params[0] = gpu_param_f32(s);
  tasks[1].op = GPU_OP_ADD;
  tasks[1].inputs[0] = a;
  tasks[1].inputs[1] = b;
  tasks[1].output = sum;
  tasks[1].length = N;
  tasks[2].op = GPU_OP_SUM;
  tasks[2].inputs[0] = a;
  tasks[2].output = &total; /* a reduction writes one float */
  tasks[2].length = N;

  int code = EXIT_SUCCESS;
  status = gpu_executor_submit_batch(exec, tasks, 3);
  if (status != GPU_EXECUTOR_OK) {
    code = fail("gpu_executor_submit_batch", status);
  } else {
    size_t mismatches = 0;
    double exact = 0.0, scale = 0.0;
    for (size_t i = 0; i < N; i++) {
      /* The GPU may fuse the multiply-add, so allow a rounding's worth of difference. */
      const float want = a[i] * a[i] * s + b[i];
      const double bound = 1e-6 * (magnitude((double)a[i] * a[i] * s) + magnitude(b[i]));
      if (magnitude((double)p[i] - want) > bound) mismatches++;
      if (sum[i] != a[i] + b[i]) mismatches++;
      exact += a[i];
      scale += magnitude(a[i]);
    }
    /* SUM adds in a tree on the GPU: close to the exact sum, not equal to a CPU loop. */
    if (magnitude(total - exact) > 1e-5 * scale) mismatches++;
    printf("poly(a[0]) = %g, poly(a[N-1]) = %g, sum(a) = %g (exact %g)\n", (double)p[0],
           (double)p[N - 1], (double)total, exact);
    printf("%zu mismatches vs CPU\n", mismatches);
    if (mismatches != 0) code = EXIT_FAILURE;
    /* The user kernel's pipelines are cached and counted like the built-ins'. */
    status = gpu_executor_print_stats(exec);
    if (status != GPU_EXECUTOR_OK) code = fail("gpu_executor_print_stats", status);
  }

  free(a);
  free(b);
  free(p);
  free(sum);
  gpu_executor_destroy(exec);
  if (code == EXIT_SUCCESS) printf("OK\n");
  return code;
}
