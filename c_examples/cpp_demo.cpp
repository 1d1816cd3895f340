// cpp_demo: the C API from C++17 with std::vector. Three tasks of different sizes in one
// batch, checked against a CPU loop.
//
// Build: cmake -S . -B build && cmake --build build
// Run:   build/c_examples/cpp_demo
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "gpu_executor.h"

namespace {

int fail(const char *what, gpu_executor_status_t status) {
  std::fprintf(stderr, "cpp_demo: %s failed: %s: %s\n", what, gpu_executor_status_str(status),
               gpu_executor_last_error_message());
  return EXIT_FAILURE;
}

struct Job {
  std::vector<float> a, b, out;
};

}  // namespace

int main() {
  gpu_executor_options_t options = gpu_executor_options_default();
  gpu_executor_t *exec = nullptr;
  if (gpu_executor_status_t s = gpu_executor_create(&options, &exec); s != GPU_EXECUTOR_OK) {
    return fail("gpu_executor_create", s);
  }

  std::vector<Job> jobs;
  for (std::size_t n : {std::size_t{10}, std::size_t{50000}, std::size_t{300000}}) {
    Job job{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n)};
    for (std::size_t i = 0; i < n; i++) {
      job.a[i] = static_cast<float>(i) * 0.5f;
      job.b[i] = static_cast<float>(n - i);
    }
    jobs.push_back(std::move(job));
  }

  std::vector<gpu_task_t> tasks;
  for (Job &job : jobs) {
    gpu_task_t task{};  // value-initialised: unused inputs NULL, flags and params 0
    task.op = GPU_OP_VECTOR_ADD;
    task.inputs[0] = job.a.data();
    task.inputs[1] = job.b.data();
    task.output = job.out.data();
    task.length = job.out.size();
    tasks.push_back(task);
  }

  int code = EXIT_SUCCESS;
  if (gpu_executor_status_t s = gpu_executor_submit_batch(exec, tasks.data(), tasks.size());
      s != GPU_EXECUTOR_OK) {
    code = fail("gpu_executor_submit_batch", s);
  } else {
    std::size_t mismatches = 0;
    for (const Job &job : jobs) {
      for (std::size_t i = 0; i < job.out.size(); i++) {
        if (job.out[i] != job.a[i] + job.b[i]) mismatches++;
      }
      std::printf("n=%zu: out[0]=%g out[n-1]=%g\n", job.out.size(),
                  static_cast<double>(job.out.front()), static_cast<double>(job.out.back()));
    }
    std::printf("%zu mismatches vs CPU\n", mismatches);
    if (mismatches != 0) code = EXIT_FAILURE;
  }

  gpu_executor_stats_t stats{};
  stats.struct_size = sizeof stats;
  if (code == EXIT_SUCCESS) {
    if (gpu_executor_status_t s = gpu_executor_stats(exec, &stats); s != GPU_EXECUTOR_OK) {
      code = fail("gpu_executor_stats", s);
    } else {
      std::printf("batches=%llu tasks=%llu pipelines_created=%llu submits=%llu\n",
                  static_cast<unsigned long long>(stats.batches),
                  static_cast<unsigned long long>(stats.tasks),
                  static_cast<unsigned long long>(stats.pipelines_created),
                  static_cast<unsigned long long>(stats.submits));
    }
  }

  gpu_executor_destroy(exec);
  if (code == EXIT_SUCCESS) std::printf("OK\n");
  return code;
}
