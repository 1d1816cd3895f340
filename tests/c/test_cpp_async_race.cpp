// Several threads make their first submit_async on one shared gpu_executor::Executor at
// the same moment. Every ticket must complete with the CPU's results, and once the
// Executor is destroyed every ticket must know it (executor() == nullptr) rather than keep
// a handle that is gone. Under ThreadSanitizer this also checks that the wrapper's own
// bookkeeping for tickets is free of data races.
#include <atomic>
#include <thread>
#include <vector>

#include "gpu_executor.hpp"
#include "test_util.hpp"

namespace ge = gpu_executor;

namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 3;

// What one thread hands back: its completed ticket and whether its results were right.
struct Outcome {
  ge::Ticket ticket;
  bool submitted = false;
  bool correct = false;
};

void round_on_fresh_executor(int round) {
  ge::Executor exec;
  std::vector<tu_buffers> buffers;
  tu_rng rng = tu_rng_new(9000 + static_cast<uint64_t>(round));
  for (int t = 0; t < kThreads; t++) {
    buffers.push_back(tu_buffers_random(rng, tu_rng_range(&rng, 1, 40000)));
  }
  std::vector<Outcome> outcomes(kThreads);
  std::atomic<int> arrived{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      tu_buffers &buf = buffers[static_cast<std::size_t>(t)];
      Outcome &outcome = outcomes[static_cast<std::size_t>(t)];
      // Start together, so that the first submit_async calls overlap.
      arrived.fetch_add(1);
      while (arrived.load() < kThreads) std::this_thread::yield();
      try {
        outcome.ticket = exec.submit_async(buf.a, buf.b, buf.out);
        outcome.submitted = true;
        outcome.correct = outcome.ticket.wait() && tu_buffers_match(buf);
      } catch (const ge::Error &e) {
        std::fprintf(stderr, "round %d thread %d: %s\n", round, t, e.what());
      }
    });
  }
  for (std::thread &thread : threads) thread.join();

  for (int t = 0; t < kThreads; t++) {
    const Outcome &outcome = outcomes[static_cast<std::size_t>(t)];
    CHECK(outcome.submitted);
    if (!CHECK(outcome.correct)) std::fprintf(stderr, "  round %d thread %d\n", round, t);
    CHECK(outcome.ticket.executor() == exec.get());
  }

  exec.reset();
  for (int t = 0; t < kThreads; t++) {
    Outcome &outcome = outcomes[static_cast<std::size_t>(t)];
    // A ticket still naming the destroyed handle would pass it to the library later.
    if (!CHECK(outcome.ticket.executor() == nullptr)) {
      std::fprintf(stderr, "  round %d thread %d: ticket outlived its executor's handle\n",
                   round, t);
      (void)outcome.ticket.release();
    }
  }
}

}  // namespace

int main() {
  for (int round = 0; round < kRounds; round++) round_on_fresh_executor(round);
  return tu_finish("test_cpp_async_race");
}
