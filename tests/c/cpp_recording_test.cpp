// The C++ wrapper's recorded batches: gpu_executor::Recording from Executor::record (a
// Batch, a vector or initializer list of Tasks, one Task), submitted blocking and
// asynchronously, several times with the buffers' contents changed in between, from
// several threads; move semantics and lifetime against its Executor; and every error
// (host operands, reductions, matmul, the baseline strategy, destroyed buffers, another
// executor's recording, an empty or orphaned Recording) surfacing as gpu_executor::Error.
//
// Every result is compared bitwise with a CPU computation on random data: the recorded ops
// (add, sub, mul, max, scale, clamp, copy) round once each, as IEEE float does on the CPU.
#include "gpu_executor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace ge = gpu_executor;

namespace {

// y_k = y_0 + x + x + ... (k additions, each rounded, as k submissions of `y = y + x` do).
std::vector<float> added(std::vector<float> y, const std::vector<float> &x, int times) {
    for (int k = 0; k < times; ++k) {
        for (std::size_t i = 0; i < y.size(); ++i) y[i] = y[i] + x[i];
    }
    return y;
}

static_assert(!std::is_copy_constructible<ge::Recording>::value, "");
static_assert(!std::is_copy_assignable<ge::Recording>::value, "");
static_assert(std::is_nothrow_move_constructible<ge::Recording>::value, "");
static_assert(std::is_nothrow_default_constructible<ge::Recording>::value, "");
// Recording from every collection Executor::submit takes; submitting returns void / Ticket.
static_assert(std::is_same<decltype(std::declval<ge::Executor &>().record(
                               std::declval<const ge::Batch &>())),
                           ge::Recording>::value, "");
static_assert(std::is_same<decltype(std::declval<ge::Executor &>().record(
                               std::declval<const std::vector<ge::Task> &>())),
                           ge::Recording>::value, "");
static_assert(std::is_same<decltype(std::declval<ge::Executor &>().record(
                               std::declval<const ge::Task &>())),
                           ge::Recording>::value, "");
static_assert(std::is_same<decltype(std::declval<const ge::Recording &>().submit_async()),
                           ge::Ticket>::value, "");
static_assert(std::is_same<decltype(std::declval<ge::Executor &>().submit_async(
                               std::declval<const ge::Recording &>())),
                           ge::Ticket>::value, "");

// --------------------------------------------------------------------------------------
// Results
// --------------------------------------------------------------------------------------

// The tasks of one step, built in a helper: the Tasks (and the region blocks they point
// into) are a temporary vector that lives only through the record call.
//   t = x * y; u = t - x; out = max(u, y); s = scale(x, 0.5); c = clamp(s, -25, 25);
//   and, on int32_t: q = p + p.
std::vector<ge::Task> step_tasks(ge::Buffer<float> &x, ge::Buffer<float> &y, ge::Buffer<float> &t,
                                 ge::Buffer<float> &out, ge::Buffer<float> &s, ge::Buffer<float> &c,
                                 ge::Buffer<int32_t> &p, ge::Buffer<int32_t> &q) {
    const std::size_t n = x.size();
    return {ge::Task::mul(x, y, t),
            ge::Task::sub(t.region(), x.region(), s.region(n, n)),       // u in s's second half
            ge::Task::max(s.region(n, n), y, out),
            ge::Task::scale(x, 0.5f, s.region(0, n)),
            ge::Task::clamp(s.region(0, n), -25.0f, 25.0f, c),
            ge::Task::add(p, p, q)};
}

struct StepReference {
    std::vector<float> t, out, s_low, c;
    std::vector<int32_t> q;
};

StepReference step_reference(const std::vector<float> &x, const std::vector<float> &y,
                             const std::vector<int32_t> &p) {
    StepReference r{std::vector<float>(x.size()), std::vector<float>(x.size()),
                    std::vector<float>(x.size()), std::vector<float>(x.size()),
                    std::vector<int32_t>(p.size())};
    for (std::size_t i = 0; i < x.size(); ++i) {
        r.t[i] = x[i] * y[i];
        const float u = r.t[i] - x[i];
        r.out[i] = std::fmax(u, y[i]);
        r.s_low[i] = x[i] * 0.5f;
        r.c[i] = std::fmin(std::fmax(r.s_low[i], -25.0f), 25.0f);
    }
    for (std::size_t i = 0; i < p.size(); ++i) {
        // Wrapping, as the GPU's i32 does (no signed overflow on the CPU side).
        r.q[i] = static_cast<int32_t>(static_cast<uint32_t>(p[i]) * 2u);
    }
    return r;
}

void test_submissions_see_new_contents(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(31);
    const std::size_t n = 40009;  // not a multiple of anything the library blocks by
    ge::Buffer<float> x(exec, n), y(exec, n), t(exec, n), out(exec, n), s(exec, 2 * n), c(exec, n);
    ge::Buffer<int32_t> p(exec, n), q(exec, n);

    ge::Recording rec = exec.record(step_tasks(x, y, t, out, s, c, p, q));
    CHECK(rec && rec.get() != nullptr && rec.size() == 6 && rec.executor() == exec.get());

    for (int round = 0; round < 4; ++round) {
        const std::vector<float> xv = random_floats(rng, n), yv = random_floats(rng, n);
        const std::vector<int32_t> pv = random_ints(rng, n);
        x.write(0, xv);
        y.write(0, yv);
        p.write(0, pv);

        const gpu_executor_stats_t before = exec.stats();
        if (round % 2 == 0) {
            rec.submit();
        } else {
            exec.submit(rec);  // the same, through the Executor
        }
        const gpu_executor_stats_t after = exec.stats();
        CHECK_EQ(after.submits - before.submits, 1);  // one submit for the six tasks
        CHECK_EQ(after.bytes_uploaded - before.bytes_uploaded, 0);
        CHECK_EQ(after.bytes_read_back - before.bytes_read_back, 0);

        const StepReference want = step_reference(xv, yv, pv);
        CHECK(same_bits(t.read(), want.t, "t = x * y"));
        CHECK(same_bits(out.read(), want.out, "out = max(t - x, y)"));
        CHECK(same_bits(s.read(0, n), want.s_low, "s = 0.5 x"));
        CHECK(same_bits(c.read(), want.c, "c = clamp(s)"));
        CHECK(q.read() == want.q);
    }
    // The clamp must bite, or the test would not test it.
    std::size_t clamped = 0;
    for (float v : c.read()) clamped += std::fabs(v) == 25.0f;
    CHECK(clamped > n / 10);
}

// Recordings from a Batch, an initializer list and one Task give the same results as the
// plain submission of the same tasks.
void test_every_collection(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(32);
    const std::size_t n = 3001;
    const std::vector<float> av = random_floats(rng, n), bv = random_floats(rng, n);
    ge::Buffer<float> a(exec, av), b(exec, bv), c(exec, n), d(exec, n), e(exec, n);
    std::vector<float> sum(n), diff(n), prod(n);
    for (std::size_t i = 0; i < n; ++i) {
        sum[i] = av[i] + bv[i];
        diff[i] = av[i] - bv[i];
        prod[i] = (av[i] + bv[i]) * av[i];
    }

    ge::Recording from_batch;
    {
        ge::Batch batch;  // gone before the submission: the recording needs nothing of it
        batch.add(ge::Task::add(a, b, c)).add(ge::Task::mul(c, a, e));
        from_batch = exec.record(batch);
    }
    ge::Recording from_list = exec.record({ge::Task::sub(a, b, d)});
    ge::Recording from_task = exec.record(ge::Task::copy(a, e.region()));
    CHECK(from_batch.size() == 2 && from_list.size() == 1 && from_task.size() == 1);

    from_task.submit();
    CHECK(same_bits(e.read(), av, "copy"));
    from_batch.submit();
    CHECK(same_bits(c.read(), sum, "batch: a + b"));
    CHECK(same_bits(e.read(), prod, "batch: (a + b) * a"));
    ge::Ticket ticket = from_list.submit_async();
    CHECK(ticket.wait());
    CHECK(same_bits(d.read(), diff, "list: a - b"));

    // An empty recording is allowed and does nothing.
    ge::Recording nothing = exec.record(ge::Batch{});
    CHECK(nothing && nothing.size() == 0);
    nothing.submit();
}

// `y = y + x` recorded once, submitted four times without waiting: the submissions run in
// order (y_0 + 4x, each addition rounded in turn), and a buffer write between submissions
// takes its place in that order too.
void test_async_in_order(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(33);
    const std::size_t n = 65537;
    const std::vector<float> xv = random_floats(rng, n), y0 = random_floats(rng, n);
    ge::Buffer<float> x(exec, xv), y(exec, y0);
    ge::Recording step = exec.record({ge::Task::add(y, x, y)});

    std::vector<ge::Ticket> tickets;
    for (int k = 0; k < 4; ++k) {
        tickets.push_back(k % 2 == 0 ? step.submit_async() : exec.submit_async(step));
    }
    CHECK(tickets.back().wait());  // the last one done means all of them ran
    for (ge::Ticket &t : tickets) CHECK(t.wait());
    CHECK(same_bits(y.read(), added(y0, xv, 4), "y0 + 4x"));

    // Two in flight, a write of new contents, two more: y1 + 2x.
    const std::vector<float> y1 = random_floats(rng, n);
    ge::Ticket first = step.submit_async();
    ge::Ticket second = step.submit_async();
    y.write(0, y1);
    ge::Ticket third = step.submit_async();
    ge::Ticket fourth = step.submit_async();
    CHECK(fourth.wait() && third.wait() && second.wait() && first.wait());
    CHECK(same_bits(y.read(), added(y1, xv, 2), "write between submissions: y1 + 2x"));

    // Tickets left to their destructors wait too: the read after them sees every addition.
    const std::vector<float> y2 = random_floats(rng, n);
    y.write(0, y2);
    {
        ge::Ticket a = step.submit_async();
        ge::Ticket b = step.submit_async();
        ge::Ticket c = step.submit_async();
    }
    CHECK(same_bits(y.read(), added(y2, xv, 3), "three left to their destructors"));
}

// One Recording submitted from two threads at once (the C handle allows it): every
// submission adds x once, in some order, so y ends as y_0 + 2 * per_thread * x.
void test_threads(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(34);
    const std::size_t n = 4099;
    const int per_thread = 6;
    const std::vector<float> xv = random_floats(rng, n), y0 = random_floats(rng, n);
    ge::Buffer<float> x(exec, xv), y(exec, y0);
    const ge::Recording step = exec.record({ge::Task::add(y, x, y)});

    int failures = 0;
    std::mutex failures_lock;
    auto work = [&](bool async) {
        try {
            for (int k = 0; k < per_thread; ++k) {
                if (async) {
                    ge::Ticket ticket = step.submit_async();
                    ticket.wait();
                } else {
                    step.submit();
                }
            }
        } catch (const std::exception &e) {
            std::lock_guard<std::mutex> lock(failures_lock);
            std::fprintf(stderr, "  thread: %s\n", e.what());
            ++failures;
        }
    };
    std::thread one(work, false), two(work, true);
    one.join();
    two.join();
    CHECK_EQ(failures, 0);
    CHECK(same_bits(y.read(), added(y0, xv, 2 * per_thread), "two threads"));
}

// --------------------------------------------------------------------------------------
// Errors
// --------------------------------------------------------------------------------------

void test_errors(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(35);
    const std::size_t n = 256;
    const std::vector<float> xv = random_floats(rng, n);
    std::vector<float> host(n, 1.0f);
    ge::Buffer<float> x(exec, xv), y(exec, n), one(exec, 1);

    // What cannot be recorded: a host input or output (the library names the task), a
    // reduction (into a buffer even), matmul.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "task 0",
                 [&] { (void)exec.record({ge::Task::add(x, host, y)}); }, "host input");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "task 1",
                 [&] { (void)exec.record({ge::Task::copy(x, y), ge::Task::scale(y, 2.0f, host)}); },
                 "host output");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "task 0",
                 [&] { (void)exec.record(ge::Task::sum(x, one)); }, "reduction into a buffer");
    ge::Buffer<float> square(exec, 16 * 16);
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "task 0",
                 [&] { (void)exec.record(ge::Task::matmul(square, square, y.region(0, 256), 16, 16, 16)); },
                 "matmul");
    // The checks of a submission apply: a region past the buffer's end (made unchecked, as
    // from C handles), a task reading what a later one writes.
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "",
                 [&] { (void)exec.record({ge::Task::add(ge::Region<float>(x.handle(), 1, n), x, y)}); },
                 "region past the end");
    expect_error(GPU_EXECUTOR_DEPENDENCY, "",
                 [&] { (void)exec.record({ge::Task::add(y, x, square.region(0, n)), ge::Task::copy(x, y)}); },
                 "a later write read earlier");

    // Not on the baseline strategy.
    {
        ge::Executor baseline{ge::Options{}.strategy(GPU_STRATEGY_BASELINE)};
        ge::Buffer<float> bx(baseline, xv), by(baseline, n);
        expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "bucketed",
                     [&] { (void)baseline.record({ge::Task::add(bx, bx, by)}); }, "baseline");
    }

    ge::Recording rec = exec.record({ge::Task::add(x, x, y)});
    rec.submit();
    std::vector<float> twice(n);
    for (std::size_t i = 0; i < n; ++i) twice[i] = xv[i] + xv[i];
    CHECK(same_bits(y.read(), twice, "before the errors"));

    // Another executor's recording; buffers of another executor.
    {
        ge::Executor other;
        expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "another executor",
                     [&] { other.submit(rec); }, "foreign executor, blocking");
        expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "another executor",
                     [&] { (void)other.submit_async(rec); }, "foreign executor, async");
        expect_error(GPU_EXECUTOR_FOREIGN_BUFFER, "",
                     [&] { (void)other.record({ge::Task::add(x, x, y)}); }, "foreign buffers");
    }

    // A moved-from (or default-constructed) Recording.
    ge::Recording moved = std::move(rec);
    expect_error(GPU_EXECUTOR_NULL_POINTER, "empty", [&] { rec.submit(); }, "moved-from submit");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "empty", [&] { (void)rec.submit_async(); },
                 "moved-from submit_async");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "empty", [&] { exec.submit(rec); },
                 "moved-from through the Executor");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "empty", [&] { ge::Recording().submit(); },
                 "default-constructed");
    moved.submit();  // the moved-to one works

    // A destroyed buffer: every later submission says so, and nothing is written.
    y.write(0, xv);
    x.reset();
    expect_error(GPU_EXECUTOR_INVALID_BUFFER, "destroyed", [&] { moved.submit(); },
                 "destroyed buffer, blocking");
    expect_error(GPU_EXECUTOR_INVALID_BUFFER, "destroyed", [&] { (void)moved.submit_async(); },
                 "destroyed buffer, async");
    expect_error(GPU_EXECUTOR_INVALID_BUFFER, "destroyed", [&] { exec.submit(moved); },
                 "destroyed buffer, through the Executor");
    CHECK(same_bits(y.read(), xv, "untouched by the failed submissions"));

    // Recordings of the other buffers still work.
    ge::Recording again = exec.record({ge::Task::add(y, y, y)});
    again.submit();
    CHECK(same_bits(y.read(), twice, "after the errors"));
}

// --------------------------------------------------------------------------------------
// Moves and lifetime
// --------------------------------------------------------------------------------------

void test_moves_and_lifetime() {
    tu_rng rng = tu_rng_new(36);
    const std::size_t n = 1000;
    const std::vector<float> xv = random_floats(rng, n), y0 = random_floats(rng, n);
    ge::Executor exec;
    ge::Buffer<float> x(exec, xv), y(exec, y0);

    ge::Recording a = exec.record({ge::Task::add(y, x, y)});
    gpu_recording_t *const handle = a.get();
    ge::Recording b(std::move(a));
    CHECK(!a && a.get() == nullptr && a.size() == 0 && a.executor() == nullptr);
    CHECK(b && b.get() == handle && b.size() == 1 && b.executor() == exec.get());

    // Move assignment destroys the target's own recording first (ASan would see a leak
    // otherwise); recordings in a growing vector keep working.
    ge::Recording c = exec.record({ge::Task::copy(x, y)});
    c = std::move(b);
    CHECK(!b && c.get() == handle);
    std::vector<ge::Recording> many;
    for (int i = 0; i < 9; ++i) many.push_back(exec.record({ge::Task::add(y, x, y)}));
    for (const ge::Recording &r : many) r.submit();
    c.submit();
    CHECK(same_bits(y.read(), added(y0, xv, 10), "ten submissions of moved recordings"));

    // reset() and release().
    many.front().reset();
    CHECK(!many.front());
    gpu_recording_t *raw = many.back().release();
    CHECK(raw != nullptr && !many.back());
    CHECK_OK(gpu_recording_submit(exec.get(), raw));  // still alive: released, not destroyed
    gpu_recording_destroy(raw);
    CHECK(same_bits(y.read(), added(y0, xv, 11), "a released recording"));

    // Moving the Executor keeps its recordings working.
    ge::Executor moved(std::move(exec));
    CHECK(c.executor() == moved.get());
    c.submit();
    CHECK(same_bits(y.read(), added(y0, xv, 12), "after moving the Executor"));

    // An Executor destroyed first: the Recordings say so, and their destructors still free
    // the recordings (this must not crash, or trip a sanitizer).
    ge::Ticket pending = c.submit_async();
    moved.reset();
    CHECK(c && c.executor() == nullptr);
    expect_error(GPU_EXECUTOR_NULL_POINTER, "Executor was destroyed", [&] { c.submit(); },
                 "submit after the Executor");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "Executor was destroyed",
                 [&] { (void)c.submit_async(); }, "submit_async after the Executor");
    ge::Executor fresh;
    expect_error(GPU_EXECUTOR_NULL_POINTER, "Executor was destroyed", [&] { fresh.submit(c); },
                 "an orphan through another Executor");
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, "", [&] { pending.wait(); },
                 "a ticket of the destroyed Executor");
    c.reset();
    CHECK(!c);
    // The rest of `many`, and x and y, go after their Executor.
}

} // namespace

int main() {
    const struct {
        const char *name;
        void (*run)(ge::Executor &);
    } tests[] = {
        {"submissions see the buffers' new contents", test_submissions_see_new_contents},
        {"a Batch, a list, one Task", test_every_collection},
        {"asynchronous submissions run in order", test_async_in_order},
        {"two threads, one recording", test_threads},
        {"errors", test_errors},
    };
    try {
        ge::Executor exec;
        for (const auto &test : tests) {
            run_named(test.name, [&] { test.run(exec); });
        }
        run_named("moves and lifetime", test_moves_and_lifetime);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        CHECK(false);
    }
    return tu_finish("cpp_recording_test");
}
