// A C++ thread_local object whose destructor completes a gpu_executor::Ticket when its
// thread exits, after the library's own thread-local state on that thread may already be
// gone. The wait must not take the process down, and the outputs must hold the CPU's
// results. The object is constructed before the thread's first library call, so that its
// destructor runs after the library's thread-locals are destroyed.
#include <string>
#include <thread>
#include <vector>

#include "gpu_executor.hpp"
#include "test_util.hpp"

namespace ge = gpu_executor;

namespace {

// What the destructor saw; read by main after join.
struct Outcome {
  bool waited = false;
  bool correct = false;
  std::string error;
};

struct CompleteAtExit {
  CompleteAtExit() {}  // not trivial: built, and its destructor registered, on first use
  ~CompleteAtExit() {
    if (!ticket) return;
    try {
      outcome->waited = ticket.wait();
      outcome->correct = tu_buffers_match(*buffers);
    } catch (const ge::Error &e) {
      outcome->error = e.what();
    }
  }
  ge::Ticket ticket;
  tu_buffers *buffers = nullptr;
  Outcome *outcome = nullptr;
};

thread_local CompleteAtExit complete_at_exit;

void one_thread(ge::Executor &exec, std::size_t n, uint64_t seed) {
  tu_rng rng = tu_rng_new(seed);
  tu_buffers buffers = tu_buffers_random(rng, n);
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
