// The C++ wrapper's registered host memory: Executor::register_host_memory and
// unregister_host_memory (pointer and bytes, or a lasting writable range), and
// HostRegistration, which registers for its lifetime (move-only, unregistering in its
// destructor, never throwing there; reset(), unregister(), release(); against an Executor
// moved or destroyed first).
//
// Batches over registered arrays are compared with a CPU computation on random data, and
// bit for bit with the same batch run over arrays that are not registered; the stats say
// exactly which operands the GPU moved in place (registered_host_operands) and that none of
// them went through staging. Every bad call surfaces as gpu_executor::Error with its status.
// The UNSUPPORTED path runs in a child process of this test with GPU_EXECUTOR_HOST_IMPORT=0
// (read when a device is opened, so never changed in a process that has executors).
#include "gpu_executor.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_util.hpp"

extern char **environ;

namespace ge = gpu_executor;

namespace {

// --------------------------------------------------------------------------------------
// What compiles: a range is registered only when it lasts and may be written.
// --------------------------------------------------------------------------------------

template <typename R, typename = void>
struct can_register : std::false_type {};
template <typename R>
struct can_register<R, std::void_t<decltype(std::declval<ge::Executor &>().register_host_memory(
                           std::declval<R>()))>> : std::true_type {};

template <typename R, typename = void>
struct can_unregister : std::false_type {};
template <typename R>
struct can_unregister<R, std::void_t<decltype(std::declval<ge::Executor &>().unregister_host_memory(
                             std::declval<R>()))>> : std::true_type {};

static_assert(can_register<std::vector<float> &>::value, "");
static_assert(can_register<std::vector<int32_t> &>::value, "");
static_assert(can_register<std::array<uint32_t, 8> &>::value, "");
static_assert(can_register<double (&)[16]>::value, "");  // any element type: it is bytes
// A temporary would be freed while registered; const memory may not be written by the GPU.
static_assert(!can_register<std::vector<float>>::value, "");
static_assert(!can_register<std::vector<float> &&>::value, "");
static_assert(!can_register<const std::vector<float> &>::value, "");
static_assert(!can_register<const std::array<float, 4> &>::value, "");
#if defined(__cpp_lib_span)
static_assert(can_register<std::span<float>>::value, "");
static_assert(!can_register<std::span<const float>>::value, "");
#endif
// Unregistering only compares the start: any range, const or not.
static_assert(can_unregister<const std::vector<float> &>::value, "");
static_assert(can_unregister<std::vector<float> &>::value, "");
static_assert(can_unregister<const void *>::value, "");
static_assert(can_unregister<float *>::value, "");
// The RAII type takes what register_host_memory takes.
static_assert(std::is_constructible<ge::HostRegistration, ge::Executor &, std::vector<float> &>::value, "");
static_assert(std::is_constructible<ge::HostRegistration, ge::Executor &, const void *, std::size_t>::value,
              "");
static_assert(!std::is_constructible<ge::HostRegistration, ge::Executor &, std::vector<float>>::value, "");
static_assert(!std::is_constructible<ge::HostRegistration, ge::Executor &, const std::vector<float> &>::value,
              "");
// Move-only, moving never throws; the destructor never throws.
static_assert(!std::is_copy_constructible<ge::HostRegistration>::value, "");
static_assert(!std::is_copy_assignable<ge::HostRegistration>::value, "");
static_assert(std::is_nothrow_move_constructible<ge::HostRegistration>::value, "");
static_assert(std::is_nothrow_move_assignable<ge::HostRegistration>::value, "");
static_assert(std::is_nothrow_destructible<ge::HostRegistration>::value, "");

// --------------------------------------------------------------------------------------
// Helpers
// --------------------------------------------------------------------------------------

struct Counters {
    uint64_t regions, bytes, operands;
};

Counters counters(const ge::Executor &exec) {
    const gpu_executor_stats_t s = exec.stats();
    return Counters{s.registered_host_regions, s.registered_host_bytes, s.registered_host_operands};
}

// A raw task: `op` over `inputs`, into `out`.
gpu_task_t raw_task(gpu_op_t op, std::initializer_list<const void *> inputs, void *out, std::size_t length) {
    gpu_task_t task{};
    task.op = op;
    std::size_t k = 0;
    for (const void *input : inputs) task.inputs[k++] = input;
    task.output = out;
    task.length = length;
    return task;
}

// `out[i] == a[i] + b[i]` bit for bit (one IEEE addition: exact on the GPU and the CPU).
bool sums_match(const float *a, const float *b, const float *out, std::size_t n, const char *what) {
    for (std::size_t i = 0; i < n; ++i) {
        const float want = a[i] + b[i];
        if (bits_of(out[i]) != bits_of(want)) {
            std::fprintf(stderr, "  %s: element %zu: %.9g, want %.9g\n", what, i, double(out[i]), double(want));
            return false;
        }
    }
    return true;
}

bool near(float got, double want, double scale, double relative) {
    const bool ok = std::fabs(double(got) - want) <= relative * scale + 1e-30;
    if (!ok) std::fprintf(stderr, "  %.9g, want %.9g (scale %.9g)\n", double(got), want, scale);
    return ok;
}

std::vector<float> nans(std::size_t n) { return std::vector<float>(n, std::nanf("")); }

// --------------------------------------------------------------------------------------
// One block holding the arrays of a mixed batch, registered or not
// --------------------------------------------------------------------------------------

constexpr std::size_t M = 33, K = 17, N = 29;

struct MixedResult {
    std::vector<float> add_out, host_out, product;
    float sum;
};

// Runs one batch over arrays in one block of memory (filled from `seed`): a + b wholly in
// the block, a + host_b into a host output, a sum over an array in the block (its one
// result on the host), and a matmul wholly in the block. With `registered`, the block is
// registered first (through a HostRegistration) and unregistered after. Checks every
// result against the CPU and returns them.
MixedResult mixed_batch(ge::Executor &exec, uint64_t seed, std::size_t n_add, std::size_t n_sum, bool registered) {
    tu_rng rng = tu_rng_new(seed);
    const std::size_t lengths[7] = {n_add, n_add, n_add, n_sum, M * K, K * N, M * N};
    std::size_t offsets[7];
    std::size_t at = 3;  // not page-aligned: registration widens the range to whole pages
    for (std::size_t i = 0; i < 7; ++i) {
        offsets[i] = at;
        at += lengths[i] + 5;
    }
    std::vector<float> block = random_floats(rng, at);
    float *a = &block[offsets[0]], *b = &block[offsets[1]], *add_out = &block[offsets[2]];
    float *sum_in = &block[offsets[3]], *ma = &block[offsets[4]], *mb = &block[offsets[5]];
    float *mc = &block[offsets[6]];
    tu_poison(add_out, n_add);
    tu_poison(mc, M * N);
    const std::vector<float> host_b = random_floats(rng, n_add);
    std::vector<float> host_out = nans(n_add);
    float sum = std::nanf("");

    gpu_task_t matmul = raw_task(GPU_OP_MATMUL, {ma, mb}, mc, M * N);
    matmul.params[0] = M;
    matmul.params[1] = K;
    matmul.params[2] = N;
    const gpu_task_t tasks[4] = {
        raw_task(GPU_OP_VECTOR_ADD, {a, b}, add_out, n_add),
        raw_task(GPU_OP_VECTOR_ADD, {a, host_b.data()}, host_out.data(), n_add),
        raw_task(GPU_OP_SUM, {sum_in}, &sum, n_sum),
        matmul,
    };
    {
        ge::HostRegistration pinned;
        if (registered) {
            pinned = ge::HostRegistration(exec, block);
            CHECK(pinned && pinned.data() == block.data() && pinned.size() == block.size() * sizeof(float));
            const Counters c = counters(exec);
            CHECK_EQ(c.regions, 1);
            CHECK_EQ(c.bytes, block.size() * sizeof(float));
        }
        exec.submit(tasks, 4);
    }  // unregistered here
    CHECK_EQ(counters(exec).regions, 0);

    CHECK(sums_match(a, b, add_out, n_add, "a + b in the block"));
    CHECK(sums_match(a, host_b.data(), host_out.data(), n_add, "a + host b"));
    double exact = 0.0, magnitude = 0.0;
    for (std::size_t i = 0; i < n_sum; ++i) {
        exact += sum_in[i];
        magnitude += std::fabs(double(sum_in[i]));
    }
    CHECK(near(sum, exact, magnitude, 1e-5));
    bool product_ok = true;
    for (std::size_t i = 0; i < M && product_ok; ++i) {
        for (std::size_t j = 0; j < N && product_ok; ++j) {
            double want = 0.0, scale = 0.0;
            for (std::size_t k = 0; k < K; ++k) {
                want += double(ma[i * K + k]) * mb[k * N + j];
                scale += std::fabs(double(ma[i * K + k]) * mb[k * N + j]);
            }
            product_ok = near(mc[i * N + j], want, scale, 4.0 * K * 1.2e-7);
        }
    }
    CHECK(product_ok);
    return MixedResult{std::vector<float>(add_out, add_out + n_add), host_out, std::vector<float>(mc, mc + M * N),
                       sum};
}

void test_registered_and_copied_agree(ge::Executor &exec) {
    const std::size_t sizes[][2] = {{1, 7}, {4096, 100003}, {250001, 3}};
    for (const auto &size : sizes) {
        const std::size_t n_add = size[0], n_sum = size[1];
        const gpu_executor_stats_t before = exec.stats();
        const MixedResult copied = mixed_batch(exec, 7, n_add, n_sum, false);
        const gpu_executor_stats_t middle = exec.stats();
        CHECK_EQ(middle.registered_host_operands, before.registered_host_operands);
        const MixedResult in_place = mixed_batch(exec, 7, n_add, n_sum, true);
        const gpu_executor_stats_t after = exec.stats();
        CHECK(same_bits(in_place.add_out, copied.add_out, "add, registered vs copied"));
        CHECK(same_bits(in_place.host_out, copied.host_out, "host add, registered vs copied"));
        CHECK(same_bits(in_place.product, copied.product, "matmul, registered vs copied"));
        CHECK_EQ(bits_of(in_place.sum), bits_of(copied.sum));
        // In place: the first add's three arrays, the second add's first input, the sum's
        // input (its result is a host output), the product's three arrays.
        CHECK_EQ(after.registered_host_operands - middle.registered_host_operands, 8);
        CHECK_EQ(after.registered_host_regions, 0);
        CHECK_EQ(after.registered_host_bytes, 0);
        // Nothing of the registered arrays went through staging: only host_b.
        CHECK_EQ(after.bytes_uploaded - middle.bytes_uploaded, 4 * n_add);
    }
}

// --------------------------------------------------------------------------------------
// Typed tasks on registered vectors; pointer and bytes; the counters exactly
// --------------------------------------------------------------------------------------

void test_typed_tasks_in_place() {
    ge::Executor exec;  // its own: the counters from zero
    tu_rng rng = tu_rng_new(21);
    const std::size_t n = 50001;
    std::vector<float> a = random_floats(rng, n), b = random_floats(rng, n), out = nans(n);
    std::vector<int32_t> ia = random_ints(rng, n), ib = random_ints(rng, n), iout(n, 0);

    exec.register_host_memory(a);
    exec.register_host_memory(b.data(), b.size() * sizeof(float));  // pointer and bytes
    ge::HostRegistration r_out(exec, out);
    ge::HostRegistration r_ints[] = {ge::HostRegistration(exec, ia), ge::HostRegistration(exec, ib),
                                     ge::HostRegistration(exec, iout)};
    Counters c = counters(exec);
    CHECK_EQ(c.regions, 6);
    CHECK_EQ(c.bytes, 6 * 4 * n);
    CHECK_EQ(c.operands, 0);

    // Element-wise tasks wholly in registered memory run straight on it: nothing staged.
    exec.submit({ge::Task::add(a, b, out), ge::Task::mul(ia, ib, iout)});
    CHECK(sums_match(a.data(), b.data(), out.data(), n, "typed add"));
    bool ints_ok = true;
    for (std::size_t i = 0; i < n; ++i) {
        const uint32_t want = static_cast<uint32_t>(ia[i]) * static_cast<uint32_t>(ib[i]);  // wraps
        ints_ok = ints_ok && static_cast<uint32_t>(iout[i]) == want;
    }
    CHECK(ints_ok);
    gpu_executor_stats_t s = exec.stats();
    CHECK_EQ(s.registered_host_operands, 6);
    CHECK_EQ(s.bytes_uploaded, 0);
    CHECK_EQ(s.bytes_read_back, 0);
    CHECK_EQ(s.direct_dispatches, 2);

    // The memory is reused: new data (copied in: assigning a new vector would free the
    // registered memory), the same arrays, in place again.
    const std::vector<float> fresh = random_floats(rng, n);
    std::copy(fresh.begin(), fresh.end(), a.begin());
    tu_poison(out.data(), n);
    exec.submit(ge::Task::scale(a, 0.5f, out));
    bool scaled = true;
    for (std::size_t i = 0; i < n; ++i) scaled = scaled && bits_of(out[i]) == bits_of(a[i] * 0.5f);
    CHECK(scaled);
    s = exec.stats();
    CHECK_EQ(s.registered_host_operands, 8);
    CHECK_EQ(s.bytes_uploaded, 0);

    // A host array with registered ones: only it is staged.
    const std::vector<float> host = random_floats(rng, n);
    exec.submit(ge::Task::sub(host, b, out));
    bool diff = true;
    for (std::size_t i = 0; i < n; ++i) diff = diff && bits_of(out[i]) == bits_of(host[i] - b[i]);
    CHECK(diff);
    s = exec.stats();
    CHECK_EQ(s.registered_host_operands, 10);
    CHECK_EQ(s.bytes_uploaded, 4 * n);
    CHECK_EQ(s.bytes_read_back, 0);

    exec.unregister_host_memory(a);
    exec.unregister_host_memory(b.data());
    c = counters(exec);
    CHECK_EQ(c.regions, 4);
    CHECK_EQ(c.bytes, 4 * 4 * n);
    r_out.reset();
    for (ge::HostRegistration &r : r_ints) r.unregister();
    CHECK(!r_out && !r_ints[0] && !r_ints[2]);
    c = counters(exec);
    CHECK_EQ(c.regions, 0);
    CHECK_EQ(c.bytes, 0);
    CHECK_EQ(c.operands, 10);
}

// --------------------------------------------------------------------------------------
// Asynchronous batches
// --------------------------------------------------------------------------------------

void test_asynchronous(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(31);
    const std::size_t n = 70001;
    const std::vector<float> a = random_floats(rng, n), b = random_floats(rng, n);
    std::vector<std::vector<float>> outs(4, nans(n));
    const uint64_t operands0 = counters(exec).operands;
    {
        std::vector<ge::HostRegistration> pinned;  // moved on every reallocation
        for (std::vector<float> &out : outs) pinned.emplace_back(exec, out);
        CHECK_EQ(counters(exec).regions, 4);
        std::vector<ge::Ticket> tickets;
        for (std::vector<float> &out : outs) tickets.push_back(exec.submit_async(a, b, out));
        for (auto t = tickets.rbegin(); t != tickets.rend(); ++t) CHECK(t->wait());
        for (const std::vector<float> &out : outs) CHECK(sums_match(a.data(), b.data(), out.data(), n, "async"));
    }
    const Counters c = counters(exec);
    CHECK_EQ(c.regions, 0);
    CHECK_EQ(c.operands - operands0, 4);

    // Unregistering waits for the batches in flight: the output is there once it returns.
    std::vector<float> out = nans(300000);
    const std::vector<float> x = random_floats(rng, out.size()), y = random_floats(rng, out.size());
    ge::HostRegistration pinned(exec, out);
    ge::Ticket ticket = exec.submit_async(x, y, out);
    pinned.unregister();
    CHECK(!pinned);
    CHECK(sums_match(x.data(), y.data(), out.data(), out.size(), "written before unregister returned"));
    CHECK(ticket.wait());
    CHECK(sums_match(x.data(), y.data(), out.data(), out.size(), "and after the wait"));
    // Unregistered: the next batch copies through staging.
    const gpu_executor_stats_t before = exec.stats();
    std::vector<float> again = nans(out.size());
    exec.submit(x, y, again);
    const gpu_executor_stats_t after = exec.stats();
    CHECK_EQ(after.registered_host_operands, before.registered_host_operands);
    CHECK_EQ(after.bytes_uploaded - before.bytes_uploaded, 8 * out.size());
    CHECK(sums_match(x.data(), y.data(), again.data(), again.size(), "after unregistering"));
}

// --------------------------------------------------------------------------------------
// HostRegistration: moves and lifetime
// --------------------------------------------------------------------------------------

void test_moves_and_lifetime() {
    tu_rng rng = tu_rng_new(41);
    ge::Executor exec;
    std::vector<float> v = random_floats(rng, 1000), w = random_floats(rng, 64);

    ge::HostRegistration empty;
    CHECK(!empty && empty.data() == nullptr && empty.size() == 0 && empty.executor() == nullptr);
    {
        ge::HostRegistration r(exec, v);
        CHECK(r && r.data() == v.data() && r.size() == 4000 && r.executor() == exec.get());
        CHECK_EQ(counters(exec).regions, 1);
    }
    CHECK_EQ(counters(exec).regions, 0);  // the destructor unregistered it

    // Moving hands the registration over, it is not registered twice.
    ge::HostRegistration a(exec, v);
    ge::HostRegistration b(std::move(a));
    CHECK(!a && a.data() == nullptr && a.size() == 0 && a.executor() == nullptr);
    CHECK(b && b.data() == v.data() && b.size() == 4000);
    CHECK_EQ(counters(exec).regions, 1);
    // Move assignment unregisters the target's own memory first.
    ge::HostRegistration c(exec, w);
    CHECK_EQ(counters(exec).regions, 2);
    c = std::move(b);
    CHECK(!b && c.data() == v.data());
    Counters n = counters(exec);
    CHECK_EQ(n.regions, 1);
    CHECK_EQ(n.bytes, 4000);
    exec.register_host_memory(w);  // w was unregistered: it can be registered again
    exec.unregister_host_memory(w);

    // Many registrations in a growing vector (moved on every reallocation).
    std::vector<std::vector<float>> arrays;
    for (std::size_t i = 0; i < 20; ++i) arrays.push_back(random_floats(rng, 100 + i));
    {
        std::vector<ge::HostRegistration> many;
        for (std::vector<float> &array : arrays) many.emplace_back(exec, array);
        CHECK_EQ(counters(exec).regions, 21);
    }
    CHECK_EQ(counters(exec).regions, 1);

    // unregister() reports errors and leaves the object as it was; reset() ignores them.
    exec.unregister_host_memory(v);  // behind c's back
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "", [&] { c.unregister(); }, "unregister what is gone");
    CHECK(c && c.data() == v.data());
    c.reset();
    CHECK(!c);
    expect_error(GPU_EXECUTOR_NULL_POINTER, "empty", [&] { c.unregister(); }, "unregister an empty one");

    // release() gives the registration up without unregistering it.
    ge::HostRegistration r(exec, v);
    const void *released = r.release();
    CHECK(!r && released == v.data());
    CHECK_EQ(counters(exec).regions, 1);
    exec.unregister_host_memory(released);
    CHECK_EQ(counters(exec).regions, 0);

    // Moving the Executor keeps the registration working, with its batches in place.
    std::vector<float> out = nans(v.size());
    ge::HostRegistration kept(exec, out);
    ge::Executor moved(std::move(exec));
    CHECK(kept.executor() == moved.get());
    moved.submit(v, v, out);
    CHECK(sums_match(v.data(), v.data(), out.data(), out.size(), "after moving the Executor"));
    CHECK_EQ(counters(moved).operands, 1);

    // An Executor destroyed first releases every registration, after the GPU finished:
    // a batch in flight has written its registered output by then, ticket or not. The
    // HostRegistrations then have nothing left to do (this must not crash or trip a
    // sanitizer).
    std::vector<float> late = nans(v.size());
    ge::HostRegistration orphan(moved, late);
    ge::Ticket ticket = moved.submit_async(v, v, late);
    moved.reset();
    CHECK(sums_match(v.data(), v.data(), late.data(), late.size(), "written before the Executor was gone"));
    CHECK(orphan && orphan.executor() == nullptr && kept.executor() == nullptr);
    expect_error(GPU_EXECUTOR_UNKNOWN_TICKET, "destroyed", [&] { (void)ticket.wait(); }, "ticket after the Executor");
    orphan.unregister();  // nothing to unregister: just empties it
    CHECK(!orphan);
    kept = ge::HostRegistration();
}

// --------------------------------------------------------------------------------------
// Errors
// --------------------------------------------------------------------------------------

void test_errors(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(51);
    std::vector<float> memory = random_floats(rng, 8192);
    const std::vector<float> copy = memory;
    float *p = memory.data();
    const Counters start = counters(exec);

    exec.register_host_memory(p + 1024, 4096 * sizeof(float));
    Counters c = counters(exec);
    CHECK_EQ(c.regions, start.regions + 1);
    CHECK_EQ(c.bytes, start.bytes + 4096 * sizeof(float));
    // Overlaps: the same range, inside it, straddling either end, around it; a
    // HostRegistration of overlapping memory is not made.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "overlap",
                 [&] { exec.register_host_memory(p + 1024, 4096 * sizeof(float)); }, "the same range");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "overlap",
                 [&] { exec.register_host_memory(p + 2000, 40); }, "inside");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "overlap",
                 [&] { exec.register_host_memory(p + 1000, 100 * sizeof(float)); }, "straddling the start");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "overlap",
                 [&] { exec.register_host_memory(p + 5119, 64); }, "straddling the end");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "overlap", [&] { exec.register_host_memory(memory); }, "around it");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "overlap", [&] { ge::HostRegistration r(exec, memory); },
                 "a HostRegistration of overlapping memory");
    c = counters(exec);
    CHECK_EQ(c.regions, start.regions + 1);
    CHECK_EQ(c.bytes, start.bytes + 4096 * sizeof(float));
    // Side by side is no overlap.
    {
        ge::HostRegistration before(exec, p, 1024 * sizeof(float));
        ge::HostRegistration after(exec, p + 5120, 3072 * sizeof(float));
        CHECK_EQ(counters(exec).regions, start.regions + 3);
        CHECK_EQ(counters(exec).bytes, start.bytes + 8192 * sizeof(float));
    }

    // Unregistering: only the start of a registered range, once.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "", [&] { exec.unregister_host_memory(p); }, "never registered");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "", [&] { exec.unregister_host_memory(p + 1025); },
                 "inside a registered range");
    exec.unregister_host_memory(p + 1024);
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "", [&] { exec.unregister_host_memory(p + 1024); }, "twice");
    CHECK_EQ(counters(exec).regions, start.regions);

    // Bad arguments.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "", [&] { exec.register_host_memory(p, 0); }, "0 bytes");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { exec.register_host_memory(nullptr, 64); }, "NULL");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { exec.unregister_host_memory(nullptr); }, "unregister NULL");
    expect_error(GPU_EXECUTOR_SIZE_OVERFLOW, "", [&] { exec.register_host_memory(p, SIZE_MAX); }, "wraps");
    const void *near_end = reinterpret_cast<const void *>(UINTPTR_MAX - 15);
    expect_error(GPU_EXECUTOR_SIZE_OVERFLOW, "", [&] { exec.register_host_memory(near_end, 64); },
                 "wraps from near the end");
    // An empty range is refused by the wrapper (its data() may be NULL).
    std::vector<float> none;
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "empty", [&] { exec.register_host_memory(none); }, "empty vector");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "empty", [&] { ge::HostRegistration r(exec, none); },
                 "empty HostRegistration");
    // An empty Executor.
    ge::Executor nothing(static_cast<gpu_executor_t *>(nullptr));
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { nothing.register_host_memory(memory); }, "empty Executor");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { nothing.unregister_host_memory(memory); },
                 "unregister on an empty Executor");
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { ge::HostRegistration r(nothing, memory); },
                 "HostRegistration on an empty Executor");
    CHECK_EQ(counters(exec).regions, start.regions);
    CHECK_EQ(counters(exec).bytes, start.bytes);
    CHECK(memory == copy);  // nothing wrote it

    // After all that, registering still works.
    ge::HostRegistration r(exec, memory);
    std::vector<float> out = nans(4096);
    exec.submit(p, p + 4096, out.data(), 4096);
    CHECK(sums_match(p, p + 4096, out.data(), 4096, "after the errors"));
    CHECK_EQ(counters(exec).regions, start.regions + 1);
}

void test_status_names() {
    CHECK(std::string(ge::status_name(GPU_EXECUTOR_UNSUPPORTED)) == "GPU_EXECUTOR_UNSUPPORTED");
    CHECK(std::string(ge::status_name(static_cast<ge::Status>(GPU_EXECUTOR_UNSUPPORTED + 1))) ==
          "GPU_EXECUTOR_UNKNOWN_STATUS");
    const ge::Error error(GPU_EXECUTOR_UNSUPPORTED, "no VK_EXT_external_memory_host");
    CHECK(error.code() == 26 && std::string(error.name()) == "GPU_EXECUTOR_UNSUPPORTED");
    CHECK(std::string(error.what()).find("GPU_EXECUTOR_UNSUPPORTED") != std::string::npos);
}

// --------------------------------------------------------------------------------------
// UNSUPPORTED: in a child process whose devices open without the extension
// --------------------------------------------------------------------------------------

// Runs in the child (GPU_EXECUTOR_HOST_IMPORT=0): registering is UNSUPPORTED, nothing is
// registered, and batches over the same arrays still run, copying.
void unsupported_child() {
    tu_rng rng = tu_rng_new(61);
    ge::Executor exec;
    const std::size_t n = 10000;
    std::vector<float> a = random_floats(rng, n), b = random_floats(rng, n), out = nans(n);
    expect_error(GPU_EXECUTOR_UNSUPPORTED, "VK_EXT_external_memory_host", [&] { exec.register_host_memory(a); },
                 "register without the extension");
    expect_error(GPU_EXECUTOR_UNSUPPORTED, "", [&] { ge::HostRegistration r(exec, out); },
                 "HostRegistration without the extension");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "", [&] { exec.unregister_host_memory(a); },
                 "unregister what was never registered");
    exec.submit(a, b, out);
    CHECK(sums_match(a.data(), b.data(), out.data(), n, "copying"));
    const gpu_executor_stats_t s = exec.stats();
    CHECK_EQ(s.registered_host_regions, 0);
    CHECK_EQ(s.registered_host_operands, 0);
    CHECK_EQ(s.bytes_uploaded, 8 * n);
}

void test_unsupported_in_a_child() {
    std::vector<std::string> env;
    for (char **e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "GPU_EXECUTOR_HOST_IMPORT=", 25) != 0) env.emplace_back(*e);
    }
    env.emplace_back("GPU_EXECUTOR_HOST_IMPORT=0");
    std::vector<char *> envp;
    for (std::string &entry : env) envp.push_back(&entry[0]);
    envp.push_back(nullptr);
    std::string self = "/proc/self/exe", flag = "--unsupported-child";
    char *argv[] = {&self[0], &flag[0], nullptr};
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, envp.data());
    if (!CHECK(spawned == 0)) {
        std::fprintf(stderr, "  posix_spawn: %s\n", std::strerror(spawned));
        return;
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        std::fprintf(stderr, "  the child (GPU_EXECUTOR_HOST_IMPORT=0) failed: status %d\n", status);
    }
}

} // namespace

int main(int argc, char **argv) {
    if (argc == 2 && std::strcmp(argv[1], "--unsupported-child") == 0) {
        run_named("UNSUPPORTED without VK_EXT_external_memory_host (child)", unsupported_child);
        return tu_finish("cpp_host_registration_test (child)");
    }
    try {
        {
            ge::Executor exec;
            const ge::AdapterInfo info = exec.adapter_info();
            tu_require(info.backend == GPU_BACKEND_VULKAN, "the tests need Vulkan (lavapipe offers host import)");
            const struct {
                const char *name;
                void (*run)(ge::Executor &);
            } tests[] = {
                {"registered and copied arrays agree", test_registered_and_copied_agree},
                {"asynchronous batches", test_asynchronous},
                {"errors", test_errors},
            };
            for (const auto &test : tests) {
                run_named(test.name, [&] { test.run(exec); });
            }
        }
        // Tests that make executors of their own, or none.
        const struct {
            const char *name;
            void (*run)();
        } own[] = {
            {"typed tasks in place, exact counters", test_typed_tasks_in_place},
            {"moves and lifetime", test_moves_and_lifetime},
            {"status names", test_status_names},
            {"UNSUPPORTED in a child process", test_unsupported_in_a_child},
        };
        for (const auto &test : own) {
            run_named(test.name, test.run);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        CHECK(false);
    }
    return tu_finish("cpp_host_registration_test");
}
