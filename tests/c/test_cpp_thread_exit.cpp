// A C++ thread_local object whose destructor completes a gpu_executor::Ticket when its
// thread exits, after the library's own thread-local state on that thread may already be
// gone. The wait must not take the process down, and the outputs must hold the CPU's
// results. The object is constructed before the thread's first library call, so that its
// destructor runs after the library's thread-locals are destroyed.
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gpu_executor.hpp"
#include "test_util.h"

namespace ge = gpu_executor;

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

// What the destructor saw; read by main after join.
struct Outcome {
  bool waited = false;
  bool correct = false;
  std::string error;
};

struct CompleteAtExit {
  CompleteAtExit() {}  // user-provided: construction (and its destructor's registration) is dynamic
  ~CompleteAtExit() {
    if (!ticket) return;
    try {
      outcome->waited = ticket.wait();
      outcome->correct = std::memcmp(buffers->out.data(), buffers->expected.data(),
                                     buffers->out.size() * sizeof(float)) == 0;
    } catch (const ge::Error &e) {
      outcome->error = e.what();
    }
  }
  ge::Ticket ticket;
  Buffers *buffers = nullptr;
  Outcome *outcome = nullptr;
};

thread_local CompleteAtExit complete_at_exit;

void one_thread(ge::Executor &exec, std::size_t n, uint64_t seed) {
  tu_rng rng = tu_rng_new(seed);
  Buffers buffers = random_buffers(rng, n);
  Outcome outcome;
  std::thread thread([&] {
    CompleteAtExit &pending = complete_at_exit;  // constructed here, before any library call
    pending.buffers = &buffers;
    pending.outcome = &outcome;
    pending.ticket = exec.submit_async(buffers.a, buffers.b, buffers.out);
  });
  thread.join();
  if (!outcome.error.empty()) std::fprintf(stderr, "wait at thread exit: %s\n", outcome.error.c_str());
  CHECK(outcome.waited);
  CHECK(outcome.correct);
}

}  // namespace

int main() {
  ge::Executor exec;
  one_thread(exec, 20000, 41);
  one_thread(exec, 1, 42);
  return tu_finish("test_cpp_thread_exit");
}
