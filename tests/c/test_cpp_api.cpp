// The C API from C++17: the header's types in C++ (typed enums, standard layout), random
// mixed batches in std::vector buffers for every strategy, checked against a CPU loop, a
// failing batch leaving outputs alone, and concurrent submissions from std::threads.
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "test_util.h"

static_assert(std::is_standard_layout<gpu_task_t>::value, "gpu_task_t is a C struct");
static_assert(std::is_trivially_copyable<gpu_executor_options_t>::value, "C struct");
static_assert(std::is_standard_layout<gpu_executor_stats_t>::value, "C struct");
static_assert(std::is_same<std::underlying_type<gpu_executor_status_t>::type, int32_t>::value,
              "status codes are int32_t");
static_assert(std::is_same<std::underlying_type<gpu_op_t>::type, uint32_t>::value,
              "op codes are uint32_t");

namespace {

struct Buffers {
  std::vector<float> a, b, out, expected;
};

Buffers random_buffers(tu_rng &rng, std::size_t n) {
  Buffers buf{std::vector<float>(n), std::vector<float>(n),
              std::vector<float>(n, std::nanf("")), std::vector<float>(n)};
  for (std::size_t i = 0; i < n; i++) {
    buf.a[i] = tu_rng_float(&rng);
    buf.b[i] = tu_rng_float(&rng);
    buf.expected[i] = buf.a[i] + buf.b[i];
  }
  return buf;
}

gpu_task_t task_for(Buffers &buf) {
  return tu_task(buf.a.data(), buf.b.data(), buf.out.data(), buf.out.size());
}

bool matches(const Buffers &buf) {
  // An empty vector's data() may be null, which memcmp must not get even for 0 bytes.
  return buf.out.size() == buf.expected.size() &&
         (buf.out.empty() ||
          std::memcmp(buf.out.data(), buf.expected.data(), buf.out.size() * sizeof(float)) == 0);
}

void mixed_batches(uint32_t strategy, uint32_t exact) {
  const std::vector<std::size_t> sizes{0, 1, 255, 16383, 16384, 16385, 100000, 99991, 1048577};
  gpu_executor_options_t options = gpu_executor_options_default();
  options.strategy = strategy;
  options.exact_size_cache = exact;
  gpu_executor_t *exec = tu_create(&options);
  tu_rng rng = tu_rng_new(strategy * 10 + exact + 1);

  for (int round = 0; round < 2; round++) {
    std::vector<Buffers> buffers;
    buffers.reserve(sizes.size());
    for (std::size_t n : sizes) buffers.push_back(random_buffers(rng, n));
    std::vector<gpu_task_t> tasks;
    for (Buffers &buf : buffers) tasks.push_back(task_for(buf));
    if (CHECK_OK(gpu_executor_submit_batch(exec, tasks.data(), tasks.size()))) {
      for (const Buffers &buf : buffers) {
        if (!CHECK(matches(buf))) std::fprintf(stderr, "  length %zu\n", buf.out.size());
      }
    }
  }

  // One bad task: nothing written, the index in the message.
  {
    Buffers good = random_buffers(rng, 4096);
    std::vector<gpu_task_t> tasks{task_for(good), task_for(good)};
    tasks[1].output = good.a.data();  // in place: not supported
    CHECK_STATUS(gpu_executor_submit_batch(exec, tasks.data(), tasks.size()),
                 GPU_EXECUTOR_ALIASING);
    CHECK(std::string(gpu_executor_last_error_message()).find("task 1") != std::string::npos);
    CHECK(tu_all_nan(good.out.data(), good.out.size()));
  }

  gpu_executor_stats_t stats = tu_stats(exec);
  CHECK_EQ(stats.batches, 2);
  CHECK_EQ(stats.tasks, 2 * sizes.size());
  CHECK_EQ(stats.strategy, strategy);
  gpu_executor_destroy(exec);
}

void threads_share_one_handle() {
  gpu_executor_t *exec = tu_create(nullptr);
  constexpr int kThreads = 3;
  constexpr int kBatches = 4;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([exec, t, &failures] {
      tu_rng rng = tu_rng_new(500 + static_cast<uint64_t>(t));
      for (int b = 0; b < kBatches; b++) {
        std::vector<Buffers> buffers;
        for (int i = 0; i < 3; i++) buffers.push_back(random_buffers(rng, tu_rng_range(&rng, 1, 30000)));
        std::vector<gpu_task_t> tasks;
        for (Buffers &buf : buffers) tasks.push_back(task_for(buf));
        if (gpu_executor_submit_batch(exec, tasks.data(), tasks.size()) != GPU_EXECUTOR_OK) {
          failures[static_cast<std::size_t>(t)]++;
          continue;
        }
        for (const Buffers &buf : buffers) {
          if (!matches(buf)) failures[static_cast<std::size_t>(t)]++;
        }
      }
    });
  }
  for (std::thread &thread : threads) thread.join();
  for (int f : failures) CHECK_EQ(f, 0);
  CHECK_EQ(tu_stats(exec).batches, kThreads * kBatches);
  gpu_executor_destroy(exec);
}

}  // namespace

int main() {
  // Typed enums: a status is a gpu_executor_status_t, comparable with its enumerators.
  gpu_executor_status_t status = gpu_executor_create(nullptr, nullptr);
  CHECK(status == GPU_EXECUTOR_NULL_POINTER);
  CHECK(std::string(gpu_executor_status_str(status)) == "null pointer");

  mixed_batches(GPU_STRATEGY_BASELINE, 0);
  mixed_batches(GPU_STRATEGY_BUCKETED, 1);
  mixed_batches(GPU_STRATEGY_BUCKETED, 0);
  threads_share_one_handle();
  return tu_finish("test_cpp_api");
}
