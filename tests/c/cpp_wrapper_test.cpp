// Tests of the C++17 wrapper include/gpu_executor.hpp against the shared library.
// Exits 0 when every check passes, 1 otherwise.

#include "gpu_executor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace ge = gpu_executor;

namespace {

int g_failures = 0;
int g_checks = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        ++g_checks;                                                                  \
        if (!(cond)) {                                                               \
            ++g_failures;                                                            \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_EQ(got, want)                                                          \
    do {                                                                             \
        ++g_checks;                                                                  \
        const auto got_ = (got);                                                     \
        const auto want_ = (want);                                                   \
        if (!(got_ == want_)) {                                                      \
            ++g_failures;                                                            \
            std::fprintf(stderr, "%s:%d: check failed: %s == %s (got %s, want %s)\n", \
                         __FILE__, __LINE__, #got, #want, to_text(got_).c_str(),     \
                         to_text(want_).c_str());                                    \
        }                                                                            \
    } while (0)

template <typename T>
std::string to_text(const T &value) {
    if constexpr (std::is_enum<T>::value) {
        return std::to_string(static_cast<long long>(value));
    } else if constexpr (std::is_arithmetic<T>::value) {
        return std::to_string(value);
    } else {
        return std::string(value);
    }
}

// Runs `f`, expecting gpu_executor::Error with `status`.
template <typename F>
void expect_error(ge::Status status, F &&f, const char *what) {
    ++g_checks;
    try {
        f();
        ++g_failures;
        std::fprintf(stderr, "%s: no exception, expected %s\n", what, ge::status_name(status));
    } catch (const ge::Error &e) {
        if (e.status() != status) {
            ++g_failures;
            std::fprintf(stderr, "%s: got %s, expected %s (%s)\n", what, e.name(),
                         ge::status_name(status), e.what());
        } else if (e.message().empty() || std::string(e.what()).find(e.message()) == std::string::npos ||
                   e.code() != static_cast<int32_t>(status)) {
            ++g_failures;
            std::fprintf(stderr, "%s: error lacks its message: what()=\"%s\"\n", what, e.what());
        }
    } catch (const std::exception &e) {
        ++g_failures;
        std::fprintf(stderr, "%s: unexpected exception type: %s\n", what, e.what());
    }
}

struct Case {
    std::vector<float> a, b, out, expected;
};

Case random_case(std::mt19937 &rng, std::size_t n) {
    std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
    Case c;
    c.a.resize(n);
    c.b.resize(n);
    c.expected.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        c.a[i] = dist(rng);
        c.b[i] = dist(rng);
        c.expected[i] = c.a[i] + c.b[i];
    }
    // NaN: an element the library never wrote can never compare equal.
    c.out.assign(n, std::numeric_limits<float>::quiet_NaN());
    return c;
}

bool bitwise_equal(const std::vector<float> &got, const std::vector<float> &want) {
    return got.size() == want.size() &&
           (got.empty() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
}

bool all_nan(const std::vector<float> &values) {
    for (float v : values) {
        if (!std::isnan(v)) {
            return false;
        }
    }
    return true;
}

void test_version() {
    CHECK_EQ(ge::version(), ge::header_version());
    CHECK_EQ(std::string(ge::status_name(GPU_EXECUTOR_ALIASING)), std::string("GPU_EXECUTOR_ALIASING"));
    CHECK(!ge::status_string(GPU_EXECUTOR_OK).empty());
}

void test_options() {
    ge::Options options;
    const gpu_executor_options_t &raw = options.raw();
    CHECK_EQ(raw.struct_size, static_cast<uint32_t>(sizeof(gpu_executor_options_t)));
    CHECK_EQ(raw.strategy, static_cast<uint32_t>(GPU_STRATEGY_BUCKETED));
    CHECK_EQ(raw.exact_size_cache, 1u);
    CHECK_EQ(raw.max_chunk_elements, uint64_t{0});
    CHECK_EQ(raw.copy_threads, 0u);
    options.strategy(GPU_STRATEGY_BASELINE).exact_size_cache(false).max_chunk_elements(4096).copy_threads(3);
    CHECK_EQ(options.raw().copy_threads, 3u);
    CHECK_EQ(options.raw().strategy, static_cast<uint32_t>(GPU_STRATEGY_BASELINE));
    CHECK_EQ(options.raw().exact_size_cache, 0u);
    CHECK_EQ(options.raw().max_chunk_elements, uint64_t{4096});
}

// A random mixed-size batch through every submit form, checked bit for bit.
void test_random_batch(gpu_strategy_t strategy, uint64_t max_chunk, uint32_t copy_threads = 0) {
    ge::Executor exec{ge::Options{}.strategy(strategy).max_chunk_elements(max_chunk).copy_threads(copy_threads)};
    std::mt19937 rng(strategy * 1000u + static_cast<unsigned>(max_chunk));
    const std::size_t fixed[] = {0, 1, 3, 4, 5, 63, 64, 1000, 4096, 4097, 16384, 16385, 100000};
    std::vector<Case> cases;
    for (std::size_t n : fixed) {
        cases.push_back(random_case(rng, n));
    }
    std::uniform_int_distribution<std::size_t> len(0, 40000);
    for (int i = 0; i < 20; ++i) {
        cases.push_back(random_case(rng, len(rng)));
    }

    // Batch builder, mixing pointer+length, vector and Task forms.
    ge::Batch batch;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        Case &c = cases[i];
        switch (i % 3) {
        case 0: batch.add(c.a.data(), c.b.data(), c.out.data(), c.out.size()); break;
        case 1: batch.add(c.a, c.b, c.out); break;
        default: batch.add(ge::Task::vector_add(c.a, c.b, c.out)); break;
        }
    }
    CHECK_EQ(batch.size(), cases.size());
    exec.submit(batch);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        if (!bitwise_equal(cases[i].out, cases[i].expected)) {
            ++g_failures;
            std::fprintf(stderr, "strategy %u chunk %llu: task %zu (length %zu) differs from the CPU\n",
                         static_cast<unsigned>(strategy), static_cast<unsigned long long>(max_chunk), i,
                         cases[i].out.size());
        }
        ++g_checks;
    }

    // std::vector<Task> and initializer_list forms.
    Case c1 = random_case(rng, 777), c2 = random_case(rng, 20000);
    std::vector<ge::Task> tasks{ge::Task::vector_add(c1.a, c1.b, c1.out),
                                ge::Task::vector_add(c2.a.data(), c2.b.data(), c2.out.data(), c2.out.size())};
    exec.submit(tasks);
    CHECK(bitwise_equal(c1.out, c1.expected));
    CHECK(bitwise_equal(c2.out, c2.expected));

    Case c3 = random_case(rng, 50), c4 = random_case(rng, 5000);
    exec.submit({ge::Task::vector_add(c3.a, c3.b, c3.out), ge::Task::vector_add(c4.a, c4.b, c4.out)});
    CHECK(bitwise_equal(c3.out, c3.expected));
    CHECK(bitwise_equal(c4.out, c4.expected));

    // Single-task overloads.
    Case c5 = random_case(rng, 12345);
    exec.submit(c5.a, c5.b, c5.out);
    CHECK(bitwise_equal(c5.out, c5.expected));
    Case c6 = random_case(rng, 333);
    exec.submit(c6.a.data(), c6.b.data(), c6.out.data(), c6.out.size());
    CHECK(bitwise_equal(c6.out, c6.expected));
    Case c7 = random_case(rng, 4099);
    CHECK(bitwise_equal(exec.add(c7.a, c7.b), c7.expected));

#if defined(__cpp_lib_span)
    Case c8 = random_case(rng, 2048);
    exec.submit(std::span<const float>(c8.a), std::span<const float>(c8.b), std::span<float>(c8.out));
    CHECK(bitwise_equal(c8.out, c8.expected));
#endif

    // An empty batch is a valid no-op.
    exec.submit(ge::Batch{});
}

void test_move_semantics() {
    static_assert(!std::is_copy_constructible<ge::Executor>::value, "move-only");
    static_assert(!std::is_copy_assignable<ge::Executor>::value, "move-only");
    static_assert(std::is_nothrow_move_constructible<ge::Executor>::value, "noexcept move");
    static_assert(std::is_nothrow_move_assignable<ge::Executor>::value, "noexcept move");

    std::mt19937 rng(7);
    ge::Executor first;
    CHECK(static_cast<bool>(first));
    gpu_executor_t *handle = first.get();
    CHECK(handle != nullptr);

    ge::Executor second(std::move(first));
    CHECK(!first);  // NOLINT(bugprone-use-after-move): a moved-from executor is empty
    CHECK(second.get() == handle);
    Case c = random_case(rng, 1000);
    second.submit(c.a, c.b, c.out);
    CHECK(bitwise_equal(c.out, c.expected));

    // Calls on the empty object fail cleanly with NULL_POINTER.
    expect_error(GPU_EXECUTOR_NULL_POINTER, [&] { (void)first.stats(); }, "stats on moved-from");
    Case d = random_case(rng, 10);
    expect_error(GPU_EXECUTOR_NULL_POINTER, [&] { first.submit(d.a, d.b, d.out); }, "submit on moved-from");
    CHECK(all_nan(d.out));

    // Move assignment destroys the target's old handle and takes the source's.
    ge::Executor third{ge::Options{}.strategy(GPU_STRATEGY_BASELINE)};
    third = std::move(second);
    CHECK(!second);  // NOLINT(bugprone-use-after-move)
    CHECK(third.get() == handle);
    CHECK_EQ(third.stats().strategy, static_cast<uint32_t>(GPU_STRATEGY_BUCKETED));
    CHECK_EQ(third.stats().batches, uint64_t{1});

    // Assigning into a moved-from object revives it.
    first = std::move(third);
    CHECK(first.get() == handle);
    Case e = random_case(rng, 64);
    first.submit(e.a, e.b, e.out);
    CHECK(bitwise_equal(e.out, e.expected));

    // release() hands the handle over; reset() adopts and destroys.
    gpu_executor_t *raw = first.release();
    CHECK(!first);
    ge::Executor adopted(raw);
    CHECK(adopted.get() == raw);
    adopted.reset();
    CHECK(!adopted);

    // Executors live happily in containers (moved on reallocation).
    std::vector<ge::Executor> executors;
    executors.emplace_back();
    executors.emplace_back(ge::Options{}.strategy(GPU_STRATEGY_BASELINE));
    executors.emplace_back();
    for (ge::Executor &x : executors) {
        Case f = random_case(rng, 300);
        x.submit(f.a, f.b, f.out);
        CHECK(bitwise_equal(f.out, f.expected));
    }
}

void test_errors() {
    ge::Executor exec;
    std::mt19937 rng(11);

    // Size mismatches are caught by the wrapper itself; nothing is written.
    Case c = random_case(rng, 100);
    std::vector<float> short_b(c.b.begin(), c.b.begin() + 50);
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, [&] { exec.submit(c.a, short_b, c.out); }, "vector size mismatch");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, [&] { (void)ge::Task::vector_add(c.a, c.b, short_b); },
                 "Task size mismatch");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, [&] { ge::Batch{}.add(short_b, c.b, c.out); },
                 "Batch size mismatch");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, [&] { (void)exec.add(c.a, short_b); }, "add size mismatch");
    CHECK(all_nan(c.out));

    // Caught as std::runtime_error too, with a what() naming the status.
    try {
        exec.submit(c.a, short_b, c.out);
        CHECK(false);
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()).find("GPU_EXECUTOR_INVALID_ARGUMENT") != std::string::npos);
    }

    // Unknown op, from a raw task.
    gpu_task_t raw{};
    raw.op = 0;
    raw.inputs[0] = c.a.data();
    raw.inputs[1] = c.b.data();
    raw.output = c.out.data();
    raw.length = c.out.size();
    expect_error(GPU_EXECUTOR_UNKNOWN_OP, [&] { exec.submit(ge::Task(raw)); }, "unknown op");
    raw.op = 999;
    try {
        exec.submit(&raw, 1);
        CHECK(false);
    } catch (const ge::Error &e) {
        CHECK_EQ(e.status(), GPU_EXECUTOR_UNKNOWN_OP);
        CHECK(e.message().find("999") != std::string::npos);
    }

    // Nonzero reserved fields.
    raw.op = GPU_OP_VECTOR_ADD;
    raw.params[0] = 1;
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, [&] { exec.submit(&raw, 1); }, "nonzero params");

    // Aliasing: the output is an input, or two outputs overlap.
    expect_error(GPU_EXECUTOR_ALIASING, [&] { exec.submit(c.a.data(), c.b.data(), c.a.data(), c.a.size()); },
                 "output is input");
    Case d = random_case(rng, 100);
    expect_error(GPU_EXECUTOR_ALIASING,
                 [&] {
                     exec.submit(ge::Batch{}
                                     .add(c.a.data(), c.b.data(), c.out.data(), 60)
                                     .add(d.a.data(), d.b.data(), c.out.data() + 50, 50));
                 },
                 "overlapping outputs");
    CHECK(all_nan(c.out));
    CHECK(all_nan(d.out));

    // NULL pointers and misalignment.
    expect_error(GPU_EXECUTOR_NULL_POINTER, [&] { exec.submit(nullptr, c.b.data(), c.out.data(), 4); },
                 "null input");
    expect_error(GPU_EXECUTOR_NULL_POINTER, [&] { exec.submit(static_cast<const gpu_task_t *>(nullptr), 3); },
                 "null task array");
    const float *misaligned = reinterpret_cast<const float *>(reinterpret_cast<const char *>(c.a.data()) + 1);
    expect_error(GPU_EXECUTOR_MISALIGNED_POINTER, [&] { exec.submit(misaligned, c.b.data(), d.out.data(), 8); },
                 "misaligned input");

    // Bad options fail in the constructor.
    expect_error(GPU_EXECUTOR_INVALID_OPTION,
                 [] { ge::Executor bad{ge::Options{}.strategy(static_cast<gpu_strategy_t>(7))}; }, "bad strategy");
    expect_error(GPU_EXECUTOR_INVALID_OPTION, [] { ge::Executor bad{ge::Options{}.max_chunk_elements(10)}; },
                 "chunk below minimum");
    gpu_executor_options_t bad_size = gpu_executor_options_default();
    bad_size.struct_size -= 4;
    expect_error(GPU_EXECUTOR_BAD_STRUCT_SIZE, [&] { ge::Executor bad{ge::Options(bad_size)}; },
                 "options struct_size");

    // After all of that the executor still works.
    exec.submit(c.a, c.b, c.out);
    CHECK(bitwise_equal(c.out, c.expected));
    CHECK_EQ(exec.stats().batches, uint64_t{1});
}

void test_stats_bucketed() {
    ge::Executor exec;  // bucketed, exact-size cache on
    std::mt19937 rng(3);

    gpu_executor_stats_t s = exec.stats();
    CHECK_EQ(s.struct_size, static_cast<uint32_t>(sizeof(gpu_executor_stats_t)));
    CHECK_EQ(s.strategy, static_cast<uint32_t>(GPU_STRATEGY_BUCKETED));
    CHECK_EQ(s.batches, uint64_t{0});
    CHECK_EQ(s.pipelines_created, uint64_t{0});
    CHECK_EQ(s.pool_hit_rate, 0.0);
    CHECK(exec.bucket_sizes().empty());

    // Three tasks in two buckets (16384 and 32768): two slabs, one submit.
    Case c1 = random_case(rng, 100), c2 = random_case(rng, 200), c3 = random_case(rng, 20000);
    const uint64_t elements = 100 + 200 + 20000;
    ge::Batch batch{ge::Task::vector_add(c1.a, c1.b, c1.out), ge::Task::vector_add(c2.a, c2.b, c2.out),
                    ge::Task::vector_add(c3.a, c3.b, c3.out)};
    exec.submit(batch);
    CHECK(bitwise_equal(c1.out, c1.expected) && bitwise_equal(c2.out, c2.expected) &&
          bitwise_equal(c3.out, c3.expected));
    s = exec.stats();
    CHECK_EQ(s.batches, uint64_t{1});
    CHECK_EQ(s.tasks, uint64_t{3});
    CHECK_EQ(s.elements, elements);
    CHECK_EQ(s.bytes_uploaded, elements * 8);
    CHECK_EQ(s.bytes_read_back, elements * 4);
    CHECK_EQ(s.submits, uint64_t{1});
    CHECK_EQ(s.dispatches, uint64_t{2});
    CHECK_EQ(s.pipelines_created, uint64_t{2});
    CHECK_EQ(s.bucket_cache_misses, uint64_t{2});
    CHECK_EQ(s.bucket_cache_hits, uint64_t{0});
    CHECK_EQ(s.cached_buckets, uint64_t{2});
    CHECK_EQ(s.pool_misses, uint64_t{2});
    CHECK_EQ(s.pool_hits, uint64_t{0});
    CHECK(s.buffers_created > 0);
    CHECK_EQ(s.bind_groups_created, uint64_t{2});
    CHECK(s.upload_ns + s.submit_ns + s.wait_ns + s.download_ns > 0);
    CHECK((exec.bucket_sizes() == std::vector<uint64_t>{16384, 32768}));

    // The same shapes again: everything comes from the caches.
    const uint64_t buffers = s.buffers_created;
    exec.submit(batch);
    s = exec.stats();
    CHECK_EQ(s.batches, uint64_t{2});
    CHECK_EQ(s.tasks, uint64_t{6});
    CHECK_EQ(s.elements, 2 * elements);
    CHECK_EQ(s.pipelines_created, uint64_t{2});
    CHECK_EQ(s.bucket_cache_hits, uint64_t{2});
    CHECK_EQ(s.pool_hits, uint64_t{2});
    CHECK_EQ(s.pool_misses, uint64_t{2});
    CHECK_EQ(s.buffers_created, buffers);
    CHECK_EQ(s.pool_hit_rate, 0.5);

    // Single-task batches use the exact-size cache.
    Case c4 = random_case(rng, 5000);
    exec.submit(c4.a, c4.b, c4.out);
    exec.submit(c4.a, c4.b, c4.out);
    CHECK(bitwise_equal(c4.out, c4.expected));
    s = exec.stats();
    CHECK_EQ(s.exact_cache_misses, uint64_t{1});
    CHECK_EQ(s.exact_cache_hits, uint64_t{1});
    CHECK_EQ(s.exact_cache_entries, uint64_t{1});
    CHECK_EQ(s.exact_cache_evictions, uint64_t{0});
    CHECK_EQ(s.batches, uint64_t{4});

    // A failed batch counts nothing.
    std::vector<float> wrong(3);
    try {
        exec.submit(c4.a, wrong, c4.out);
    } catch (const ge::Error &) {
    }
    CHECK_EQ(exec.stats().batches, uint64_t{4});

    ge::AdapterInfo info = exec.adapter_info();
    CHECK(!info.name.empty());
    CHECK(info.backend != GPU_BACKEND_ANY);
    std::printf("adapter: %s (backend %u, device type %u, driver %s, %llu bytes device-local)\n",
                info.name.c_str(), static_cast<unsigned>(info.backend),
                static_cast<unsigned>(info.device_type), info.driver.c_str(),
                static_cast<unsigned long long>(info.device_local_bytes));
    if (info.backend == GPU_BACKEND_VULKAN) {
        CHECK(info.device_local_bytes > 0);
    }
    exec.print_stats();
}

void test_stats_baseline() {
    ge::Executor exec{ge::Options{}.strategy(GPU_STRATEGY_BASELINE)};
    std::mt19937 rng(5);
    CHECK_EQ(exec.stats().strategy, static_cast<uint32_t>(GPU_STRATEGY_BASELINE));
    Case c1 = random_case(rng, 10), c2 = random_case(rng, 10), c3 = random_case(rng, 0);
    exec.submit({ge::Task::vector_add(c1.a, c1.b, c1.out), ge::Task::vector_add(c2.a, c2.b, c2.out),
                 ge::Task::vector_add(c3.a, c3.b, c3.out)});
    CHECK(bitwise_equal(c1.out, c1.expected) && bitwise_equal(c2.out, c2.expected));
    gpu_executor_stats_t s = exec.stats();
    // One pipeline, slab and dispatch per non-empty task; nothing cached.
    CHECK_EQ(s.tasks, uint64_t{3});
    CHECK_EQ(s.elements, uint64_t{20});
    CHECK_EQ(s.pipelines_created, uint64_t{2});
    CHECK_EQ(s.dispatches, uint64_t{2});
    CHECK_EQ(s.cached_buckets, uint64_t{0});
    CHECK_EQ(s.pool_hits + s.pool_misses, uint64_t{0});
    CHECK(exec.bucket_sizes().empty());
}

void test_chunking() {
    ge::Executor exec{ge::Options{}.max_chunk_elements(4096)};
    std::mt19937 rng(9);
    Case big = random_case(rng, 10000), small = random_case(rng, 10);
    exec.submit(ge::Batch{}.add(big.a, big.b, big.out).add(small.a, small.b, small.out));
    CHECK(bitwise_equal(big.out, big.expected));
    CHECK(bitwise_equal(small.out, small.expected));
    // 10000 = 4096 + 4096 + 1808 elements; the 10 share the last slab of its bucket.
    CHECK(exec.stats().dispatches >= 3);
}

// --- asynchronous batches ---------------------------------------------------------------

// Overwrites a case's inputs (the expected result stays): a batch submitted asynchronously
// must already hold its own copy.
void scribble_inputs(Case &c) {
    std::fill(c.a.begin(), c.a.end(), -1.0e30f);
    std::fill(c.b.begin(), c.b.end(), 7.0f);
}

void test_async_random_out_of_order() {
    static_assert(!std::is_copy_constructible<ge::Ticket>::value, "move-only");
    static_assert(std::is_nothrow_move_constructible<ge::Ticket>::value, "noexcept move");
    ge::Executor exec;
    std::mt19937 rng(21);
    std::uniform_int_distribution<std::size_t> len(0, 70000);

    // Four batches in flight at once, built with different submit_async forms.
    constexpr int kBatches = 4;
    std::vector<std::vector<Case>> batches(kBatches);
    std::vector<ge::Ticket> tickets;
    for (int t = 0; t < kBatches; ++t) {
        std::vector<Case> &cases = batches[static_cast<std::size_t>(t)];
        for (int i = 0; i < 6 + t; ++i) {
            cases.push_back(random_case(rng, len(rng)));
        }
        cases.push_back(random_case(rng, 0));
        cases.push_back(random_case(rng, 16385));
        ge::Batch batch;
        for (Case &c : cases) {
            batch.add(c.a, c.b, c.out);
        }
        if (t % 2 == 0) {
            tickets.push_back(exec.submit_async(batch));
        } else {
            std::vector<ge::Task> tasks;
            for (Case &c : cases) {
                tasks.push_back(ge::Task::vector_add(c.a, c.b, c.out));
            }
            tickets.push_back(exec.submit_async(tasks));
        }
        CHECK(static_cast<bool>(tickets.back()));
        CHECK(tickets.back().id() != 0);
        CHECK(tickets.back().executor() == exec.get());
        CHECK(!tickets.back().done());
        for (Case &c : cases) {
            scribble_inputs(c);
        }
    }
    // Distinct ids.
    for (std::size_t i = 0; i < tickets.size(); ++i) {
        for (std::size_t j = i + 1; j < tickets.size(); ++j) {
            CHECK(tickets[i].id() != tickets[j].id());
        }
    }

    // Complete them out of order: the third, the first, the fourth, the second; each with
    // another way of waiting. Outputs of a pending ticket are never written early.
    const int order[kBatches] = {2, 0, 3, 1};
    for (int k = 0; k < kBatches; ++k) {
        const std::size_t t = static_cast<std::size_t>(order[k]);
        ge::Ticket &ticket = tickets[t];
        switch (k) {
        case 0:
            CHECK(ticket.wait());
            break;
        case 1: {
            int not_ready = 0;
            while (!ticket.wait(std::chrono::microseconds(200))) {
                ++not_ready;
            }
            std::printf("  wait(200us) was NOT_READY %d times\n", not_ready);
            break;
        }
        case 2: {
            int not_ready = 0;
            while (!ticket.poll()) {
                ++not_ready;
                // Not complete: nothing may have been written yet.
                CHECK(all_nan(batches[t].back().out));
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
            std::printf("  poll() was NOT_READY %d times\n", not_ready);
            break;
        }
        default:
            CHECK(ticket.wait(std::chrono::hours(24 * 365 * 1000)));  // saturates: no limit
            break;
        }
        CHECK(ticket.done());
        for (std::size_t i = 0; i < batches[t].size(); ++i) {
            if (!bitwise_equal(batches[t][i].out, batches[t][i].expected)) {
                ++g_failures;
                std::fprintf(stderr, "async batch %zu task %zu differs from the CPU\n", t, i);
            }
            ++g_checks;
        }
        // A completed ticket stays complete: no second call into the library.
        CHECK(ticket.wait());
        CHECK(ticket.poll());
        CHECK(ticket.wait(std::chrono::seconds(0)));
    }
    // Batches still pending are not affected by the ones completed before them.
    for (int t = 0; t < kBatches; ++t) {
        CHECK(tickets[static_cast<std::size_t>(t)].done());
    }
    CHECK_EQ(exec.stats().batches, uint64_t{kBatches});

    // Other single-batch forms.
    Case c1 = random_case(rng, 3000), c2 = random_case(rng, 10), c3 = random_case(rng, 40000);
    ge::Ticket t1 = exec.submit_async(c1.a, c1.b, c1.out);
    ge::Ticket t2 = exec.submit_async(c2.a.data(), c2.b.data(), c2.out.data(), c2.out.size());
    ge::Ticket t3 = exec.submit_async({ge::Task::vector_add(c3.a, c3.b, c3.out)});
    scribble_inputs(c1);
    scribble_inputs(c2);
    scribble_inputs(c3);
    CHECK(t3.wait() && t1.wait() && t2.wait());
    CHECK(bitwise_equal(c1.out, c1.expected));
    CHECK(bitwise_equal(c2.out, c2.expected));
    CHECK(bitwise_equal(c3.out, c3.expected));
#if defined(__cpp_lib_span)
    Case c4 = random_case(rng, 999);
    ge::Ticket t4 = exec.submit_async(std::span<const float>(c4.a), std::span<const float>(c4.b),
                                      std::span<float>(c4.out));
    scribble_inputs(c4);
    CHECK(t4.wait());
    CHECK(bitwise_equal(c4.out, c4.expected));
#endif
    // An empty batch gets a ticket too.
    ge::Ticket empty = exec.submit_async(ge::Batch{});
    CHECK(empty.wait());
}

void test_async_lifetimes() {
    ge::Executor exec;
    std::mt19937 rng(23);

    // The destructor completes a pending ticket: outputs are written when it goes.
    Case c = random_case(rng, 20000);
    {
        ge::Ticket ticket = exec.submit_async(c.a, c.b, c.out);
        scribble_inputs(c);
    }
    CHECK(bitwise_equal(c.out, c.expected));

    // Moving a ticket moves the batch; the moved-from ticket is empty.
    Case d = random_case(rng, 5000);
    ge::Ticket first = exec.submit_async(d.a, d.b, d.out);
    const gpu_ticket_t id = first.id();
    ge::Ticket second(std::move(first));
    CHECK(!first);  // NOLINT(bugprone-use-after-move)
    CHECK_EQ(second.id(), id);
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, [&] { (void)first.wait(); }, "wait on moved-from ticket");
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, [&] { (void)ge::Ticket{}.poll(); }, "poll on empty ticket");

    // Move assignment completes the target's own batch first.
    Case e = random_case(rng, 7000);
    ge::Ticket third = exec.submit_async(e.a, e.b, e.out);
    third = std::move(second);
    CHECK(bitwise_equal(e.out, e.expected));  // third's old batch was completed
    CHECK_EQ(third.id(), id);
    CHECK(third.wait());
    CHECK(bitwise_equal(d.out, d.expected));

    // Tickets survive a move of their Executor.
    Case f = random_case(rng, 1234);
    ge::Ticket moved_exec_ticket = exec.submit_async(f.a, f.b, f.out);
    ge::Executor other(std::move(exec));
    CHECK(moved_exec_ticket.wait());
    CHECK(bitwise_equal(f.out, f.expected));

    // Destroying the Executor first abandons pending tickets: nothing is written, waiting
    // reports UNKNOWN_TICKET, and the Ticket's destructor is harmless.
    Case g = random_case(rng, 30000);
    ge::Ticket orphan = other.submit_async(g.a, g.b, g.out);
    other.reset();
    CHECK(orphan.executor() == nullptr);
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, [&] { (void)orphan.wait(); }, "wait after executor destroyed");
    CHECK(all_nan(g.out));

    // submit_async on an empty Executor fails like submit.
    Case h = random_case(rng, 10);
    expect_error(GPU_EXECUTOR_NULL_POINTER, [&] { (void)exec.submit_async(h.a, h.b, h.out); },
                 "submit_async on moved-from executor");
}

void test_async_errors() {
    ge::Executor exec;
    std::mt19937 rng(29);
    Case c = random_case(rng, 100), d = random_case(rng, 100);

    // Rejected at submission, like submit: nothing written, no ticket.
    expect_error(GPU_EXECUTOR_ALIASING, [&] { (void)exec.submit_async(c.a.data(), c.b.data(), c.a.data(), 100); },
                 "async output is input");
    expect_error(GPU_EXECUTOR_ALIASING,
                 [&] {
                     (void)exec.submit_async(ge::Batch{}
                                                 .add(c.a.data(), c.b.data(), c.out.data(), 60)
                                                 .add(d.a.data(), d.b.data(), c.out.data() + 50, 50));
                 },
                 "async overlapping outputs");
    std::vector<float> short_b(c.b.begin(), c.b.begin() + 10);
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, [&] { (void)exec.submit_async(c.a, short_b, c.out); },
                 "async size mismatch");
    expect_error(GPU_EXECUTOR_NULL_POINTER, [&] { (void)exec.submit_async(nullptr, c.b.data(), c.out.data(), 4); },
                 "async null input");
    CHECK(all_nan(c.out));

    // Tickets this executor never issued.
    ge::Ticket bogus(exec.get(), 987654321);
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, [&] { (void)bogus.wait(); }, "bogus ticket");
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, [&] { (void)bogus.poll(); }, "bogus ticket, poll");
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, [&] { (void)bogus.wait(std::chrono::milliseconds(5)); },
                 "bogus ticket, timed wait");
    CHECK(!bogus.done());
    CHECK_EQ(bogus.release(), gpu_ticket_t{987654321});

    // A spent ticket: completed through the C API, then adopted again.
    ge::Ticket ticket = exec.submit_async(c.a, c.b, c.out);
    const gpu_ticket_t id = ticket.release();
    CHECK(!ticket);
    CHECK_EQ(gpu_executor_wait(exec.get(), id, UINT64_MAX), GPU_EXECUTOR_OK);
    CHECK(bitwise_equal(c.out, c.expected));
    CHECK_EQ(gpu_executor_poll(exec.get(), id), GPU_EXECUTOR_UNKNOWN_TICKET);
    ge::Ticket spent(exec.get(), id);
    try {
        (void)spent.wait();
        CHECK(false);
    } catch (const ge::Error &e) {
        CHECK_EQ(e.status(), GPU_EXECUTOR_UNKNOWN_TICKET);
        CHECK(std::string(e.name()) == "GPU_EXECUTOR_UNKNOWN_TICKET");
        CHECK(e.message().find(std::to_string(id)) != std::string::npos);
    }

    // Another executor's ticket is unknown here.
    ge::Executor second;
    ge::Ticket foreign = second.submit_async(d.a, d.b, d.out);
    ge::Ticket misdirected(exec.get(), foreign.id() + 1000);
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, [&] { (void)misdirected.wait(); }, "foreign ticket");
    CHECK(foreign.wait());
    CHECK(bitwise_equal(d.out, d.expected));

    CHECK_EQ(std::string(ge::status_name(GPU_EXECUTOR_NOT_READY)), std::string("GPU_EXECUTOR_NOT_READY"));
    CHECK_EQ(std::string(ge::status_name(GPU_EXECUTOR_UNKNOWN_TICKET)), std::string("GPU_EXECUTOR_UNKNOWN_TICKET"));

    // The timeout conversion saturates and clamps.
    CHECK_EQ(ge::detail::timeout_ns(std::chrono::nanoseconds(-5)), uint64_t{0});
    CHECK_EQ(ge::detail::timeout_ns(std::chrono::milliseconds(3)), uint64_t{3000000});
    CHECK_EQ(ge::detail::timeout_ns(std::chrono::duration<double>(0.25)), uint64_t{250000000});
    CHECK_EQ(ge::detail::timeout_ns(std::chrono::hours::max()), UINT64_MAX);
}

// --- logging ------------------------------------------------------------------------------

struct LogSink {
    std::mutex mutex;
    std::vector<std::pair<ge::LogLevel, std::string>> messages;

    void add(ge::LogLevel level, std::string_view text) {
        std::lock_guard<std::mutex> lock(mutex);
        messages.emplace_back(level, std::string(text));
    }
    std::vector<std::pair<ge::LogLevel, std::string>> take() {
        std::lock_guard<std::mutex> lock(mutex);
        return std::exchange(messages, {});
    }
};

std::size_t count_adapter_lines(const std::vector<std::pair<ge::LogLevel, std::string>> &messages) {
    return static_cast<std::size_t>(std::count_if(messages.begin(), messages.end(), [](const auto &m) {
        return m.first == GPU_LOG_INFO && m.second.rfind("adapter ", 0) == 0;
    }));
}

void test_logging() {
    LogSink sink;
    ge::set_log_level(GPU_LOG_INFO);
    ge::set_log_callback([&sink](ge::LogLevel level, std::string_view text) { sink.add(level, text); });
    { ge::Executor exec; }
    std::vector<std::pair<ge::LogLevel, std::string>> messages = sink.take();
    CHECK_EQ(count_adapter_lines(messages), std::size_t{1});
    for (const auto &m : messages) {
        CHECK(m.first >= GPU_LOG_ERROR && m.first <= GPU_LOG_INFO);
        CHECK(!m.second.empty());
    }
    if (!messages.empty()) {
        std::printf("  log: [%u] %s\n", static_cast<unsigned>(messages.front().first), messages.front().second.c_str());
    }

    // Executors created on several threads at once: every adapter line arrives.
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([] { ge::Executor exec; });
    }
    for (std::thread &t : threads) {
        t.join();
    }
    CHECK_EQ(count_adapter_lines(sink.take()), std::size_t{4});

    // Below the threshold nothing arrives.
    ge::set_log_level(GPU_LOG_ERROR);
    { ge::Executor exec; }
    CHECK(sink.take().empty());
    ge::set_log_level(GPU_LOG_INFO);

    // Replacing the callback: the old one hears nothing more, and its std::function (with
    // its captures) is released by the wrapper.
    auto token = std::make_shared<int>(0);
    std::atomic<int> second_calls{0};
    ge::set_log_callback([token, &second_calls](ge::LogLevel, std::string_view) { ++second_calls; });
    CHECK_EQ(token.use_count(), long{2});
    { ge::Executor exec; }
    CHECK(sink.take().empty());
    CHECK(second_calls.load() >= 1);

    // A callback that throws cannot break the library.
    std::atomic<int> throwing_calls{0};
    ge::set_log_callback([&throwing_calls](ge::LogLevel, std::string_view) {
        ++throwing_calls;
        throw std::runtime_error("from the log callback");
    });
    CHECK_EQ(token.use_count(), long{1});
    {
        ge::Executor exec;
        std::mt19937 rng(31);
        Case c = random_case(rng, 100);
        exec.submit(c.a, c.b, c.out);
        CHECK(bitwise_equal(c.out, c.expected));
    }
    CHECK(throwing_calls.load() >= 1);

    // nullptr (or an empty function) restores stderr: no callback hears anything.
    ge::set_log_callback(nullptr);
    const int before = throwing_calls.load();
    { ge::Executor exec; }  // its adapter line goes to stderr
    CHECK_EQ(throwing_calls.load(), before);
    ge::set_log_callback([&sink](ge::LogLevel level, std::string_view text) { sink.add(level, text); });
    ge::set_log_callback(ge::LogCallback{});
    { ge::Executor exec; }
    CHECK(sink.take().empty());

    // Levels outside gpu_log_level_t are rejected.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, [] { ge::set_log_level(static_cast<ge::LogLevel>(5)); },
                 "log level 5");
    ge::set_log_level(GPU_LOG_WARN);  // the default without GPU_EXECUTOR_LOG
}

}  // namespace

int main() {
    const struct {
        const char *name;
        void (*run)();
    } tests[] = {
        {"version", test_version},
        {"options", test_options},
        {"random batch, bucketed", [] { test_random_batch(GPU_STRATEGY_BUCKETED, 0); }},
        {"random batch, baseline", [] { test_random_batch(GPU_STRATEGY_BASELINE, 0); }},
        {"random batch, bucketed, chunked", [] { test_random_batch(GPU_STRATEGY_BUCKETED, 4096); }},
        {"random batch, one copy thread", [] { test_random_batch(GPU_STRATEGY_BUCKETED, 0, 1); }},
        {"random batch, four copy threads", [] { test_random_batch(GPU_STRATEGY_BASELINE, 0, 4); }},
        {"move semantics", test_move_semantics},
        {"errors", test_errors},
        {"stats, bucketed", test_stats_bucketed},
        {"stats, baseline", test_stats_baseline},
        {"chunking", test_chunking},
        {"async, random batches completed out of order", test_async_random_out_of_order},
        {"async, ticket lifetimes", test_async_lifetimes},
        {"async, errors and unknown tickets", test_async_errors},
        {"logging", test_logging},
    };
    for (const auto &test : tests) {
        const int before = g_failures;
        try {
            test.run();
        } catch (const std::exception &e) {
            ++g_failures;
            std::fprintf(stderr, "%s: unexpected exception: %s\n", test.name, e.what());
        }
        std::printf("%s %s\n", g_failures == before ? "ok  " : "FAIL", test.name);
    }
    std::printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
