// The C++ wrapper's resident buffers: Buffer<T> (create, write, read, asynchronous
// transfers, move semantics, lifetime against its Executor) and buffer operands (Region<T>,
// whole Buffers) in the typed builders: chains of dependent tasks in one batch, host and
// buffer operands mixed, offsets and sub-regions, reductions, matmul and a registered kernel
// on buffers, reductions writing their result into a buffer (read by later tasks of the
// batch; limited to one slab), and every buffer status surfacing as gpu_executor::Error.
//
// Every result is compared with a CPU computation on random data. Float results are
// bit-exact where the ops are (add, sub, mul, min, max, clamp, scale, copy: one IEEE rounding
// each); axpy, fma and the registered kernel may be fused or not, so either rounding is
// accepted; reductions and matmul are compared with a relative tolerance.
#include "gpu_executor.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace ge = gpu_executor;

namespace {

// `got[i]` is one of the two roundings of s * x + y (fused or not).
bool fused_or_not(const std::vector<float> &got, float s, const std::vector<float> &x,
                  const std::vector<float> &y, const char *what) {
    for (std::size_t i = 0; i < got.size(); ++i) {
        const float unfused = s * x[i] + y[i];
        const float fused = std::fma(s, x[i], y[i]);
        if (bits_of(got[i]) != bits_of(unfused) && bits_of(got[i]) != bits_of(fused)) {
            std::fprintf(stderr, "  %s: element %zu: %.9g, want %.9g\n", what, i, double(got[i]),
                         double(unfused));
            return false;
        }
    }
    return true;
}

bool close(double got, double want, double relative) {
    return std::fabs(got - want) <= relative * std::fmax(std::fabs(want), 1.0);
}

// --------------------------------------------------------------------------------------
// What compiles: buffer operands take the place of arrays, typed like them.
// --------------------------------------------------------------------------------------

template <typename T>
using vec = std::vector<T>;
template <typename T>
using buf = ge::Buffer<T>;
template <typename T>
using reg = ge::Region<T>;

#define DETECT(NAME, EXPR)                                            \
    template <typename A, typename B, typename O, typename = void>    \
    struct NAME : std::false_type {};                                 \
    template <typename A, typename B, typename O>                     \
    struct NAME<A, B, O, std::void_t<decltype(EXPR)>> : std::true_type {};

// A, B, O are the argument types as passed (an lvalue is `X &`).
DETECT(can_add, ge::Task::add(std::declval<A>(), std::declval<B>(), std::declval<O>()))
DETECT(can_sqrt, ge::Task::sqrt(std::declval<A>(), std::declval<O>()))
DETECT(can_sum, ge::Task::sum(std::declval<A>(), std::declval<O>()))
DETECT(can_reduce_min, ge::Task::reduce_min(std::declval<A>(), std::declval<O>()))
DETECT(can_reduce_max, ge::Task::reduce_max(std::declval<A>(), std::declval<O>()))
DETECT(can_mean, ge::Task::mean(std::declval<A>(), std::declval<O>()))
DETECT(can_norm2, ge::Task::norm2(std::declval<A>(), std::declval<O>()))
DETECT(can_dot, ge::Task::dot(std::declval<A>(), std::declval<B>(), std::declval<O>()))
DETECT(can_matmul, ge::Task::matmul(std::declval<A>(), std::declval<B>(), std::declval<O>(),
                                    std::size_t{}, std::size_t{}, std::size_t{}))
DETECT(can_custom, ge::Task::custom(1u, {std::declval<A>()}, std::declval<O>()))
#undef DETECT

// Regions and Buffer lvalues anywhere an array goes, mixed with host ranges.
static_assert(can_add<reg<float>, reg<float>, reg<float>>::value, "");
static_assert(can_add<buf<float> &, vec<float> &, reg<float>>::value, "");
static_assert(can_add<const vec<float> &, const buf<float> &, vec<float> &>::value, "");
static_assert(can_add<reg<int32_t>, buf<int32_t> &, buf<int32_t> &>::value, "");
static_assert(can_add<reg<uint32_t>, vec<uint32_t> &, reg<uint32_t>>::value, "");
// One element type per task: a mismatch does not compile.
static_assert(!can_add<buf<int32_t> &, vec<float> &, vec<float> &>::value, "");
static_assert(!can_add<reg<float>, reg<float>, reg<int32_t>>::value, "");
static_assert(!can_add<reg<uint32_t>, reg<int32_t>, vec<uint32_t> &>::value, "");
// A temporary Buffer would be destroyed before submission; a const one is read only.
static_assert(!can_add<buf<float>, reg<float>, reg<float>>::value, "");
static_assert(!can_add<reg<float>, reg<float>, buf<float>>::value, "");
static_assert(!can_add<reg<float>, reg<float>, const buf<float> &>::value, "");
// Ops keep their types: no sqrt of an int32_t region.
static_assert(can_sqrt<reg<float>, int, reg<float>>::value, "");
static_assert(!can_sqrt<reg<int32_t>, int, reg<int32_t>>::value, "");
// Reductions read host arrays or buffers and write a host float or a float buffer operand
// (a Region, a Buffer lvalue that is not const), every one of the six alike.
static_assert(can_sum<reg<float>, int, float &>::value, "");
static_assert(can_sum<buf<float> &, int, float &>::value, "");
static_assert(can_sum<reg<float>, int, reg<float>>::value, "");
static_assert(can_sum<vec<float> &, int, reg<float>>::value, "");
static_assert(can_sum<const buf<float> &, int, buf<float> &>::value, "");
static_assert(can_reduce_min<reg<float>, int, reg<float>>::value, "");
static_assert(can_reduce_max<buf<float> &, int, buf<float> &>::value, "");
static_assert(can_mean<const vec<float> &, int, reg<float>>::value, "");
static_assert(can_norm2<reg<float>, int, const reg<float> &>::value, "");
static_assert(can_dot<reg<float>, vec<float> &, reg<float>>::value, "");
static_assert(can_dot<buf<float> &, buf<float> &, buf<float> &>::value, "");
static_assert(can_dot<vec<float> &, vec<float> &, float &>::value, "");
// Reductions are float: no other element type in or out, and no double for the result.
static_assert(!can_sum<reg<int32_t>, int, float &>::value, "");
static_assert(!can_sum<reg<float>, int, reg<int32_t>>::value, "");
static_assert(!can_mean<reg<float>, int, buf<uint32_t> &>::value, "");
static_assert(!can_dot<reg<float>, reg<float>, reg<uint32_t>>::value, "");
static_assert(!can_norm2<vec<float> &, int, double &>::value, "");
static_assert(!can_reduce_min<reg<int32_t>, int, reg<int32_t>>::value, "");
// The result must land somewhere that lasts and may be written: not a temporary float or
// Buffer, not a const Buffer; and one float is a `float &`, not a host range.
static_assert(!can_sum<reg<float>, int, float>::value, "");
static_assert(!can_sum<reg<float>, int, const float &>::value, "");
static_assert(!can_reduce_max<reg<float>, int, buf<float>>::value, "");
static_assert(!can_mean<reg<float>, int, const buf<float> &>::value, "");
static_assert(!can_dot<reg<float>, reg<float>, const buf<float> &>::value, "");
static_assert(!can_sum<reg<float>, int, vec<float> &>::value, "");
static_assert(can_matmul<buf<float> &, vec<float> &, reg<float>>::value, "");
static_assert(!can_matmul<buf<float> &, vec<float> &, reg<int32_t>>::value, "");
static_assert(can_custom<reg<float>, int, buf<float> &>::value, "");
static_assert(can_custom<buf<float> &, int, vec<float> &>::value, "");
static_assert(!can_custom<reg<int32_t>, int, vec<float> &>::value, "");
static_assert(!can_custom<buf<float>, int, vec<float> &>::value, "");
// Buffers own GPU memory: move-only; regions are plain values.
static_assert(!std::is_copy_constructible<buf<int32_t>>::value, "");
static_assert(!std::is_copy_assignable<buf<uint32_t>>::value, "");
static_assert(std::is_nothrow_move_constructible<buf<uint32_t>>::value, "");
static_assert(std::is_trivially_copyable<reg<float>>::value, "");
static_assert(buf<int32_t>::dtype == GPU_DTYPE_I32 && buf<uint32_t>::dtype == GPU_DTYPE_U32, "");
// Buffer(exec, range) deduces the element type.
static_assert(std::is_same<decltype(ge::Buffer(std::declval<ge::Executor &>(),
                                               std::declval<const vec<int32_t> &>())),
                           buf<int32_t>>::value,
              "");

// --------------------------------------------------------------------------------------
// Buffer<T> on its own
// --------------------------------------------------------------------------------------

template <typename T>
void round_trip(ge::Executor &exec, const std::vector<T> &data, tu_rng &rng, const char *what) {
    const std::size_t n = data.size();
    ge::Buffer<T> b(exec, data);
    CHECK(b && b.handle() != 0 && b.size() == n);
    CHECK(b.read() == data);
    // A part, from an offset.
    const std::size_t offset = n / 3, count = n / 4;
    CHECK(b.read(offset, count) == std::vector<T>(data.begin() + offset, data.begin() + offset + count));
    // A patch in the middle, then the whole buffer against the patched CPU copy.
    std::vector<T> patch(count);
    for (std::size_t i = 0; i < count; ++i) patch[i] = data[(i * 7919) % n];
    const std::size_t at = tu_rng_range(&rng, 0, n - count);
    b.write(at, patch);
    std::vector<T> want = data;
    std::copy(patch.begin(), patch.end(), want.begin() + at);
    std::vector<T> got(n);
    b.read_into(0, got.data(), n);
    if (!CHECK(got == want)) std::fprintf(stderr, "  %s: round trip after a patch\n", what);
    // Zero elements: nothing to do, no error.
    CHECK(b.read(n, 0).empty());
    b.write(n, patch.data(), 0);
}

void test_round_trips(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(11);
    round_trip(exec, random_floats(rng, 10007), rng, "float");
    round_trip(exec, random_ints(rng, 4099), rng, "int32_t");
    round_trip(exec, random_words(rng, 70001), rng, "uint32_t");

    // From a pointer and count, and zero-filled.
    const std::vector<float> data = random_floats(rng, 777);
    ge::Buffer<float> p(exec, data.data(), data.size());
    CHECK(p.read() == data);
    ge::Buffer<int32_t> z(exec, 300);
    CHECK(z.size() == 300 && z.read() == std::vector<int32_t>(300, 0));
    std::array<uint32_t, 5> small{{1u, 2u, 3u, 0xFFFFFFFFu, 0x80000000u}};
    ge::Buffer s(exec, small);  // the element type from the array
    CHECK(s.read() == std::vector<uint32_t>(small.begin(), small.end()));

    // The library agrees on what a Buffer is.
    uint32_t dtype = 99;
    uint64_t count = 0;
    CHECK_OK(gpu_buffer_info(exec.get(), z.handle(), &dtype, &count));
    CHECK(dtype == GPU_DTYPE_I32 && count == 300);
}

void test_async_transfers(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(12);
    const std::size_t n = 50000;
    std::vector<float> data = random_floats(rng, n);
    const std::vector<float> original = data;
    ge::Buffer<float> b(exec, n);
    ge::Ticket wrote = b.write_async(0, data);
    // The data was copied during the call: scribbling on it now must not matter.
    for (float &x : data) x = -1.0f;
    CHECK(wrote.wait());
    std::vector<float> back(n, std::nanf(""));
    ge::Ticket read = b.read_async(0, back);
    CHECK(read.wait());
    CHECK(same_bits(back, original, "read_async after write_async"));

    // A read ordered after a batch submitted before it, from an offset, through a pointer.
    ge::Buffer<float> doubled(exec, n);
    exec.submit(ge::Task::scale(b, 2.0f, doubled));
    std::vector<float> part(1000, std::nanf(""));
    ge::Ticket t = doubled.read_async(n - 1000, part.data(), part.size());
    while (!t.poll()) {
        std::this_thread::yield();  // poll() never blocks: leave the core to the GPU's threads
    }
    std::vector<float> want(original.end() - 1000, original.end());
    for (float &x : want) x *= 2.0f;
    CHECK(same_bits(part, want, "read_async of a batch's result"));
    // The destructor completes a ticket not waited for.
    {
        std::vector<float> later(10, std::nanf(""));
        ge::Ticket pending = doubled.read_async(0, later);
        (void)pending;
    }
}

void test_moves_and_lifetime() {
    tu_rng rng = tu_rng_new(13);
    ge::Executor exec;
    const std::vector<float> data = random_floats(rng, 1000);
    const uint64_t live0 = exec.stats().resident_buffers;

    ge::Buffer<float> a(exec, data);
    const gpu_buffer_t handle = a.handle();
    ge::Buffer<float> b(std::move(a));
    CHECK(!a && a.handle() == 0 && a.size() == 0 && a.executor() == nullptr);
    CHECK(b && b.handle() == handle && b.size() == 1000 && b.executor() == exec.get());
    CHECK(b.read() == data);
    CHECK_EQ(exec.stats().resident_buffers, live0 + 1);  // moved, not copied
    expect_error(GPU_EXECUTOR_INVALID_BUFFER, "empty", [&] { (void)a.read(); }, "read a moved-from Buffer");
    expect_error(GPU_EXECUTOR_INVALID_BUFFER, "empty", [&] { (void)a.region(); }, "region of a moved-from Buffer");

    // Move assignment destroys the target's own buffer first.
    const std::vector<float> other = random_floats(rng, 64);
    ge::Buffer<float> c(exec, other);
    CHECK_EQ(exec.stats().resident_buffers, live0 + 2);
    c = std::move(b);
    CHECK_EQ(exec.stats().resident_buffers, live0 + 1);
    CHECK(!b && c.handle() == handle && c.read() == data);

    // Buffers in a growing vector (moved on every reallocation) keep their contents.
    {
        std::vector<ge::Buffer<int32_t>> many;
        std::vector<std::vector<int32_t>> contents;
        for (int i = 0; i < 20; ++i) {
            contents.push_back(random_ints(rng, 100 + static_cast<std::size_t>(i)));
            many.emplace_back(exec, contents.back());
        }
        CHECK_EQ(exec.stats().resident_buffers, live0 + 21);
        bool all = true;
        for (std::size_t i = 0; i < many.size(); ++i) all = all && many[i].read() == contents[i];
        CHECK(all);
    }
    // ... and the destructors destroyed them.
    CHECK_EQ(exec.stats().resident_buffers, live0 + 1);

    // reset(), release() and adopt().
    c.reset();
    CHECK(!c);
    CHECK_EQ(exec.stats().resident_buffers, live0);
    ge::Buffer<uint32_t> r(exec, 10);
    const gpu_buffer_t raw = r.release();
    CHECK(!r && raw != 0);
    CHECK_EQ(exec.stats().resident_buffers, live0 + 1);  // released, not destroyed
    ge::Buffer<uint32_t> adopted = ge::Buffer<uint32_t>::adopt(exec, raw);
    CHECK(adopted.handle() == raw && adopted.size() == 10);
    adopted = ge::Buffer<uint32_t>();
    CHECK_EQ(exec.stats().resident_buffers, live0);
    CHECK_STATUS(gpu_buffer_destroy(exec.get(), raw), GPU_EXECUTOR_INVALID_BUFFER);  // destroyed by the move

    // Moving the Executor keeps its buffers working.
    ge::Buffer<float> kept(exec, data);
    ge::Executor moved(std::move(exec));
    CHECK(kept.executor() == moved.get() && kept.read() == data);

    // An Executor destroyed first takes its buffers with it; the Buffers then say so and
    // their destructors do nothing (this must not crash, or trip a sanitizer).
    ge::Buffer<float> orphan(moved, data);
    moved.reset();
    CHECK(orphan && orphan.executor() == nullptr);
    expect_error(GPU_EXECUTOR_INVALID_BUFFER, "Executor was destroyed", [&] { (void)orphan.read(); },
                 "read after the Executor");
    expect_error(GPU_EXECUTOR_INVALID_BUFFER, "Executor was destroyed",
                 [&] { orphan.write(0, data); }, "write after the Executor");
    orphan.reset();
    kept = ge::Buffer<float>();
}

// --------------------------------------------------------------------------------------
// Tasks on buffers
// --------------------------------------------------------------------------------------

// x_1 = x_0 + y; x_2 = x_1 * y; x_3 = clamp(x_2, -2000, 2000); x_4 = x_3 - x_1;
// x_5 = x_4 * 0.5; x_6 = 0.25 * x_5 + x_0: six dependent tasks, each writing the next
// region of one buffer, all in one batch; only x_6 (and x_3, to see the middle) come back.
void test_chain_on_buffers(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(21);
    const std::size_t n = 50001, steps = 6;
    const std::vector<float> x0 = random_floats(rng, n), yv = random_floats(rng, n);

    ge::Buffer<float> x(exec, (steps + 1) * n);
    x.write(0, x0);
    ge::Buffer<float> y(exec, yv);
    const auto R = [&](std::size_t k) { return x.region(k * n, n); };

    ge::Batch batch;
    batch.add(ge::Task::add(R(0), y, R(1)))
        .add(ge::Task::mul(R(1), y, R(2)))
        .add(ge::Task::clamp(R(2), -2000.0f, 2000.0f, R(3)))
        .add(ge::Task::sub(R(3), R(1), R(4)))
        .add(ge::Task::scale(R(4), 0.5f, R(5)))
        .add(ge::Task::axpy(0.25f, R(5), R(0), R(6)));
    CHECK_EQ(batch.size(), steps);

    const gpu_executor_stats_t before = exec.stats();
    exec.submit(batch);
    const gpu_executor_stats_t after = exec.stats();
    CHECK_EQ(after.submits - before.submits, 1);          // one submission for the chain
    CHECK_EQ(after.bytes_uploaded - before.bytes_uploaded, 0);   // nothing went up
    CHECK_EQ(after.bytes_read_back - before.bytes_read_back, 0); // nothing came back
    CHECK(after.direct_dispatches > before.direct_dispatches);   // straight on the buffers

    std::vector<float> x1(n), x3(n), x5(n);
    for (std::size_t i = 0; i < n; ++i) {
        x1[i] = x0[i] + yv[i];
        const float x2 = x1[i] * yv[i];
        x3[i] = std::fmin(std::fmax(x2, -2000.0f), 2000.0f);
        x5[i] = (x3[i] - x1[i]) * 0.5f;
    }
    CHECK(same_bits(x.read(3 * n, n), x3, "chain step 3"));
    CHECK(fused_or_not(x.read(6 * n, n), 0.25f, x5, x0, "chain step 6"));
    // The clamp bit: the data must reach both bounds, or the test would not test it.
    std::size_t clamped = 0;
    for (float v : x3) clamped += std::fabs(v) == 2000.0f;
    CHECK(clamped > n / 10);
}

// The same kind of chain with distinct int32_t buffers, host inputs and host outputs mixed
// in, built in a helper (its Tasks are gone by submission: the Batch keeps their regions),
// submitted through a copy of the Batch, asynchronously.
struct IntChain {
    std::vector<int32_t> h, c;                      // host inputs
    std::vector<int32_t> out1, out2;                // host outputs
};

ge::Batch int_chain_batch(ge::Buffer<int32_t> &x, ge::Buffer<int32_t> (&t)[4], IntChain &io) {
    ge::Batch batch;
    batch.add(ge::Task::mul(x, io.h, t[0]))                       // t0 = x * h
        .add(ge::Task::add(t[0], io.h, t[1]))                     // t1 = t0 + h
        .add(ge::Task::sub(t[1], x, io.out1))                     // out1 = t1 - x
        .add(ge::Task::fma(t[1], t[0], io.c, t[2]))               // t2 = t1 * t0 + c
        .add(ge::Task::max(t[2].region(), x.region(), t[3]))      // t3 = max(t2, x)
        .add(ge::Task::neg(t[3], io.out2));                       // out2 = -t3
    return batch;
}

void test_mixed_chain(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(22);
    const std::size_t n = 30011;
    const std::vector<int32_t> xv = random_ints(rng, n);
    IntChain io{random_ints(rng, n), random_ints(rng, n), std::vector<int32_t>(n, 7),
                std::vector<int32_t>(n, 7)};
    ge::Buffer<int32_t> x(exec, xv);
    ge::Buffer<int32_t> t[4] = {ge::Buffer<int32_t>(exec, n), ge::Buffer<int32_t>(exec, n),
                                ge::Buffer<int32_t>(exec, n), ge::Buffer<int32_t>(exec, n)};
    ge::Batch original = int_chain_batch(x, t, io);
    const ge::Batch copy = original;
    original = ge::Batch();  // the copy must not depend on the original's storage

    // Every region pointer of the copy still leads to what the builders put there, though
    // the Tasks and the original Batch are gone (AddressSanitizer checks this read, which
    // the uninstrumented library's would escape).
    const gpu_buffer_t handles[5] = {x.handle(), t[0].handle(), t[1].handle(), t[2].handle(),
                                     t[3].handle()};
    const auto known = [&](const void *p) {
        const gpu_region_t *r = static_cast<const gpu_region_t *>(p);
        return r->offset == 0 && std::find(std::begin(handles), std::end(handles), r->buffer) !=
                                     std::end(handles);
    };
    std::size_t regions = 0;
    bool regions_ok = true;
    for (std::size_t i = 0; i < copy.size(); ++i) {
        const gpu_task_t &task = copy.data()[i];
        for (uint32_t k = 0; k < 4; ++k) {
            if (task.flags & (static_cast<uint32_t>(GPU_TASK_INPUT0_BUFFER) << k)) {
                regions_ok = regions_ok && known(task.inputs[k]);
                ++regions;
            }
        }
        if (task.flags & GPU_TASK_OUTPUT_BUFFER) {
            regions_ok = regions_ok && known(task.output);
            ++regions;
        }
    }
    CHECK(regions_ok);
    CHECK_EQ(regions, 13);  // 2 + 2 + 2 + 3 + 3 + 1 buffer operands in the six tasks
    ge::Ticket ticket = exec.submit_async(copy);
    CHECK(ticket.wait());

    // Wrapping arithmetic in uint32_t, as the GPU does it.
    std::vector<int32_t> want1(n), want2(n), want_t0(n), want_t2(n);
    for (std::size_t i = 0; i < n; ++i) {
        const uint32_t xu = static_cast<uint32_t>(xv[i]), hu = static_cast<uint32_t>(io.h[i]);
        const uint32_t t0 = xu * hu, t1 = t0 + hu;
        const uint32_t t2 = t1 * t0 + static_cast<uint32_t>(io.c[i]);
        const int32_t t3 = std::max(static_cast<int32_t>(t2), xv[i]);
        want1[i] = static_cast<int32_t>(t1 - xu);
        want2[i] = static_cast<int32_t>(0u - static_cast<uint32_t>(t3));
        want_t0[i] = static_cast<int32_t>(t0);
        want_t2[i] = static_cast<int32_t>(t2);
    }
    CHECK(io.out1 == want1);
    CHECK(io.out2 == want2);
    CHECK(t[2].read() == want_t2);

    // Tasks kept in a vector (copied as it grows) and submitted from there: t1 = t0, then
    // t2 = t1, then t3 = t2, in order, so t0's values reach t3.
    std::vector<ge::Task> tasks;
    for (std::size_t k = 0; k < 3; ++k) tasks.push_back(ge::Task::copy(t[k], t[k + 1]));
    exec.submit(tasks);
    CHECK(t[3].read() == want_t0);
}

// Offsets and sub-regions, with the rest of the output buffer checked untouched.
void test_offsets(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(23);
    const std::vector<float> big = random_floats(rng, 10000), init = random_floats(rng, 10000);
    ge::Buffer<float> bb(exec, big);
    ge::Buffer<float> out(exec, init);
    std::vector<float> host(30, std::nanf(""));
    const ge::Region<float> middle = bb.region(1000);  // elements 1000 to the end
    CHECK(middle.offset() == 1000 && middle.size() == 9000);

    exec.submit({
        // out[3..1003) = big[1..1001) + big[5001..6001)
        ge::Task::add(bb.region(1, 1000), bb.region(5001, 1000), out.region(3, 1000)),
        // out[7001..7031) = big[2..32) * 2
        ge::Task::scale(bb.region(2, 30), 2.0f, out.region(7001, 30)),
        // host = big[1002..1032) - big[9970..10000), through sub-regions
        ge::Task::sub(middle.sub(2, 30), middle.sub(8970, 30), host),
        // out[9000..10000) = min(out[9000..10000), big[0..1000)): in place on out
        ge::Task::min(out.region(9000), bb.region(0, 1000), out.region(9000)),
    });
    std::vector<float> want = init;
    for (std::size_t i = 3; i < 1003; ++i) want[i] = big[i - 2] + big[i + 4998];
    for (std::size_t i = 7001; i < 7031; ++i) want[i] = big[i - 6999] * 2.0f;
    for (std::size_t i = 9000; i < 10000; ++i) want[i] = std::fmin(init[i], big[i - 9000]);
    CHECK(same_bits(out.read(), want, "offsets"));
    std::vector<float> want_host(30);
    for (std::size_t i = 0; i < 30; ++i) want_host[i] = big[1002 + i] - big[9970 + i];
    CHECK(same_bits(host, want_host, "sub-regions into host memory"));

    // A whole buffer in place: x = x * 3.
    ge::Buffer<float> x(exec, init);
    exec.submit(ge::Task::scale(x, 3.0f, x));
    std::vector<float> tripled = init;
    for (float &v : tripled) v *= 3.0f;
    CHECK(same_bits(x.read(), tripled, "in place"));

    // Copies between buffers and host memory, at offsets, of unsigned words.
    // (A region is written once per batch: the second copy writes where the first did not.)
    const std::vector<uint32_t> words = random_words(rng, 5000);
    ge::Buffer<uint32_t> w(exec, 6000);
    std::vector<uint32_t> back(1000, 0);
    exec.submit({ge::Task::copy(words, w.region(1000)),                      // host -> buffer
                 ge::Task::copy(w.region(5000, 1000), w.region(0, 1000))});  // then within it
    ge::Task copy_out = ge::Task::copy(w.region(0, 1000), back);             // buffer -> host
    exec.submit(copy_out);
    const std::vector<uint32_t> tail(words.begin() + 4000, words.end());
    CHECK(back == tail);
    std::vector<uint32_t> whole = tail;
    whole.insert(whole.end(), words.begin(), words.end());
    CHECK(w.read() == whole);
}

// Reductions and matmul reading buffers, matmul writing one, and a registered kernel.
void test_reductions_matmul_kernel(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(24);
    const std::size_t m = 33, k = 17, n = 29;
    const std::vector<float> av = random_floats(rng, m * k), bv = random_floats(rng, k * n);
    ge::Buffer<float> a(exec, av);
    ge::Buffer<float> c(exec, m * n);
    float total = std::nanf(""), dot = std::nanf(""), norm = std::nanf(""), top = std::nanf("");
    std::vector<float> weights = random_floats(rng, m * n);
    exec.submit({ge::Task::matmul(a, bv, c.region(), m, k, n),  // B from host memory
                 ge::Task::sum(c, total),                       // reads what matmul wrote
                 ge::Task::dot(c.region(), weights, dot),
                 ge::Task::norm2(a.region(0, 100), norm),
                 ge::Task::reduce_max(a.region(m * k - 50, 50), top)});
    std::vector<double> want(m * n, 0.0);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t p = 0; p < k; ++p) want[i * n + j] += double(av[i * k + p]) * bv[p * n + j];
    const std::vector<float> got = c.read();
    bool all = true;
    double sum = 0.0, weighted = 0.0;
    for (std::size_t i = 0; i < m * n; ++i) {
        all = all && close(got[i], want[i], 1e-4);
        sum += got[i];
        weighted += double(got[i]) * weights[i];
    }
    CHECK(all);
    CHECK(close(total, sum, 1e-4));
    CHECK(close(dot, weighted, 1e-4));
    double squares = 0.0;
    for (std::size_t i = 0; i < 100; ++i) squares += double(av[i]) * av[i];
    CHECK(close(norm, std::sqrt(squares), 1e-5));
    float biggest = av[m * k - 50];
    for (std::size_t i = m * k - 50; i < m * k; ++i) biggest = std::fmax(biggest, av[i]);
    CHECK(bits_of(top) == bits_of(biggest));

    // out = a * a * s + b: `a` in a buffer, `b` host memory, `out` a region.
    ge::KernelDesc desc;
    desc.source = R"(struct Params { count: u32, s: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 64u;
    if (i < params.count) {
        out[i] = a[i] * a[i] * params.s + b[i];
    }
}
)";
    desc.num_inputs = 2;
    desc.params_size = 4;
    const uint32_t poly = exec.register_kernel(desc);
    const std::size_t len = 5000;
    const std::vector<float> xv = random_floats(rng, len), bvv = random_floats(rng, len);
    ge::Buffer<float> xb(exec, xv);
    ge::Buffer<float> ob(exec, 2 * len);
    exec.submit(ge::Task::custom(poly, {xb, bvv}, ob.region(len, len), {0.5f}));
    std::vector<float> squares_v(len);
    for (std::size_t i = 0; i < len; ++i) squares_v[i] = xv[i] * xv[i];
    CHECK(fused_or_not(ob.read(len, len), 0.5f, squares_v, bvv, "registered kernel on buffers"));
    CHECK(ob.read(0, len) == std::vector<float>(len, 0.0f));  // the first half untouched
}

// A sum of n floats combined blockwise in float is within a few roundings of each term's
// magnitude: its error bound scales with the sum of magnitudes, not with the (possibly
// cancelling) sum itself. So `got` is compared with the f64 reference `want` relative to
// `scale`, that sum of magnitudes (tests/buffers.rs bounds the core's GPU combine alike).
bool near(float got, double want, double scale, double relative = 1e-5) {
    const bool ok = std::fabs(double(got) - want) <= relative * scale + 1e-30;
    if (!ok) {
        std::fprintf(stderr, "  %.9g, want %.9g (scale %.9g)\n", double(got), want, scale);
    }
    return ok;
}

// Every reduction writing its one result into a buffer, where the library combines the
// blocks' partials on the GPU in float: against f64 CPU references on random data, over no
// elements (each op's identity over sentinel values, so that a missing write shows), and
// read by later tasks of the same batch (a copy, an add and another reduction), in one
// submission with nothing read back but what those later tasks send to the host.
void test_reductions_into_buffers(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(25);
    const std::size_t n = 10007;  // not a multiple of any block size
    const std::vector<float> av = random_floats(rng, n), bv = random_floats(rng, n);
    ge::Buffer<float> a(exec, av);
    ge::Buffer<float> b(exec, bv);
    ge::Buffer<float> t(exec, n);
    // Results from element `at`, with sentinels around and under them: a sum over nothing
    // is 0, which a zero-filled buffer would show without any write.
    const float sentinel = 12345.0f;
    const std::size_t at = 5, slots = 14, size = at + slots + 3;
    ge::Buffer<float> results(exec, std::vector<float>(size, sentinel));
    const auto R = [&](std::size_t k) { return results.region(at + k, 1); };
    ge::Buffer<float> one(exec, std::vector<float>{sentinel});  // a whole Buffer as the output
    const std::vector<float> none;                              // host input of no elements
    std::vector<float> copied(13, std::nanf("")), pair(1, std::nanf(""));
    float host_sum = std::nanf("");

    ge::Batch batch;
    batch.add(ge::Task::sum(a, R(0)))
        .add(ge::Task::reduce_min(a.region(), R(1)))
        .add(ge::Task::reduce_max(a, R(2)))
        .add(ge::Task::mean(a, R(3)))
        .add(ge::Task::dot(a, bv, R(4)))  // one input in host memory
        .add(ge::Task::norm2(a, R(5)))
        .add(ge::Task::mul(a, b, t))
        .add(ge::Task::sum(t, R(6)))  // reads what the task before wrote
        // Over no elements: the op's value over nothing.
        .add(ge::Task::sum(a.region(0, 0), R(7)))
        .add(ge::Task::reduce_min(a.region(3, 0), R(8)))
        .add(ge::Task::reduce_max(a.region(n, 0), R(9)))
        .add(ge::Task::mean(none, R(10)))
        .add(ge::Task::dot(a.region(7, 0), none, R(11)))
        .add(ge::Task::norm2(b.region(n, 0), R(12)))
        .add(ge::Task::norm2(bv, one))  // host input, a one-element Buffer lvalue as output
        // Later tasks reading the results: a reduction into the buffer, a copy and an add
        // to the host, and a reduction to the host for comparison.
        .add(ge::Task::reduce_max(results.region(at, 7), R(13)))
        .add(ge::Task::copy(results.region(at, 13), copied))
        .add(ge::Task::add(R(5), one, pair))
        .add(ge::Task::sum(a, host_sum));
    const gpu_executor_stats_t before = exec.stats();
    exec.submit(batch);
    const gpu_executor_stats_t after = exec.stats();
    CHECK_EQ(after.submits - before.submits, 1);
    // Only the copy (13 floats), the add (1) and the host sum (1) came back.
    CHECK_EQ(after.bytes_read_back - before.bytes_read_back, 15 * 4);

    double sum = 0.0, magnitude = 0.0, squares_a = 0.0, squares_b = 0.0, dot = 0.0,
           dot_magnitude = 0.0, products = 0.0, products_magnitude = 0.0;
    float smallest = av[0], biggest = av[0];
    for (std::size_t i = 0; i < n; ++i) {
        sum += av[i];
        magnitude += std::fabs(double(av[i]));
        squares_a += double(av[i]) * av[i];
        squares_b += double(bv[i]) * bv[i];
        dot += double(av[i]) * bv[i];
        dot_magnitude += std::fabs(double(av[i]) * bv[i]);
        const float product = av[i] * bv[i];  // as the GPU's mul rounds it
        products += product;
        products_magnitude += std::fabs(double(product));
        smallest = std::fmin(smallest, av[i]);
        biggest = std::fmax(biggest, av[i]);
    }
    const std::vector<float> got = results.read();
    const float *r = got.data() + at;
    CHECK(near(r[0], sum, magnitude));
    CHECK(bits_of(r[1]) == bits_of(smallest));
    CHECK(bits_of(r[2]) == bits_of(biggest));
    CHECK(near(r[3], sum / double(n), magnitude / double(n)));
    CHECK(near(r[4], dot, dot_magnitude));
    CHECK(near(r[5], std::sqrt(squares_a), std::sqrt(squares_a)));
    CHECK(near(r[6], products, products_magnitude));
    CHECK(r[7] == 0.0f);
    CHECK(std::isinf(r[8]) && r[8] > 0.0f);
    CHECK(std::isinf(r[9]) && r[9] < 0.0f);
    CHECK(std::isnan(r[10]));
    CHECK(r[11] == 0.0f);
    CHECK(r[12] == 0.0f);
    const float norm_b = one.read()[0];
    CHECK(near(norm_b, std::sqrt(squares_b), std::sqrt(squares_b)));
    // The later tasks saw the results the reductions wrote.
    float top = r[0];
    for (std::size_t k = 1; k < 7; ++k) top = std::fmax(top, r[k]);
    CHECK(bits_of(r[13]) == bits_of(top));
    CHECK(same_bits(copied, std::vector<float>(r, r + 13), "copy of the results"));
    CHECK(bits_of(pair[0]) == bits_of(r[5] + norm_b));
    // The host's double-precision combine and the GPU's float one agree.
    CHECK(near(host_sum, sum, magnitude));
    CHECK(near(r[0], double(host_sum), magnitude));
    // Nothing outside the result slots was written.
    bool untouched = true;
    for (std::size_t i = 0; i < size; ++i) {
        if (i < at || i >= at + slots) untouched = untouched && got[i] == sentinel;
    }
    CHECK(untouched);

    // The results stay in the buffer: a later batch reads them too.
    std::vector<float> mean_back(1, std::nanf(""));
    exec.submit(ge::Task::copy(R(3), mean_back));
    CHECK(bits_of(mean_back[0]) == bits_of(r[3]));
}

// A reduction into a buffer is combined on the GPU from one slab's partials, so it may read
// at most max_chunk_elements elements: past that the library refuses it
// (GPU_EXECUTOR_INVALID_ARGUMENT) and writes nothing, while the same reduction into host
// memory (partials of several slabs combined on the host) still runs.
void test_reduction_into_a_buffer_fits_one_slab() {
    tu_rng rng = tu_rng_new(26);
    ge::Executor exec{ge::Options{}.max_chunk_elements(64)};
    const std::vector<float> xv = random_floats(rng, 100), yv = random_floats(rng, 100);
    ge::Buffer<float> x(exec, xv);
    ge::Buffer<float> out(exec, std::vector<float>{12345.0f, 12345.0f});

    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "one slab",
                 [&] { exec.submit(ge::Task::sum(x, out.region(0, 1))); },
                 "a sum of 100 elements into a buffer, slabs of 64");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "one slab",
                 [&] { exec.submit(ge::Task::dot(yv, x, out.region(1, 1))); },
                 "a dot of 100 elements into a buffer, slabs of 64");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "one slab",
                 [&] { (void)exec.submit_async(ge::Task::mean(xv, out.region(0, 1))); },
                 "a mean of 100 host elements into a buffer, asynchronously");
    // One task too long rejects its whole batch, the fitting tasks included.
    float host = std::nanf("");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "task 1",
                 [&] {
                     exec.submit({ge::Task::norm2(x.region(0, 10), out.region(1, 1)),
                                  ge::Task::reduce_max(x, out.region(0, 1)),
                                  ge::Task::sum(x, host)});
                 },
                 "a batch holding one reduction too long");
    CHECK(std::isnan(host));
    CHECK(out.read() == std::vector<float>(2, 12345.0f));

    // Into host memory the 100 elements are fine (two slabs, combined on the host) ...
    double sum = 0.0, magnitude = 0.0;
    for (float v : xv) {
        sum += v;
        magnitude += std::fabs(double(v));
    }
    exec.submit(ge::Task::sum(x, host));
    CHECK(near(host, sum, magnitude));
    // ... and into a buffer exactly one slab's worth is.
    const std::vector<float> y64(yv.begin() + 36, yv.end());
    exec.submit({ge::Task::sum(x.region(0, 64), out.region(0, 1)),
                 ge::Task::dot(x.region(36, 64), y64, out.region(1, 1))});
    double sum64 = 0.0, magnitude64 = 0.0, dot64 = 0.0, dot_magnitude64 = 0.0;
    for (std::size_t i = 0; i < 64; ++i) {
        sum64 += xv[i];
        magnitude64 += std::fabs(double(xv[i]));
        dot64 += double(xv[36 + i]) * y64[i];
        dot_magnitude64 += std::fabs(double(xv[36 + i]) * y64[i]);
    }
    const std::vector<float> got = out.read();
    CHECK(near(got[0], sum64, magnitude64));
    CHECK(near(got[1], dot64, dot_magnitude64));
}

// --------------------------------------------------------------------------------------
// Errors
// --------------------------------------------------------------------------------------

void test_errors(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(31);
    const std::vector<float> data = random_floats(rng, 100);
    ge::Buffer<float> x(exec, data);
    ge::Buffer<float> y(exec, data);
    std::vector<float> host(100, std::nanf(""));
    const auto untouched = [&] {
        return tu_all_nan(host.data(), host.size()) && x.read() == data && y.read() == data;
    };

    // FOREIGN_BUFFER: another executor's buffer in this executor's task, and in adopt().
    {
        ge::Executor other;
        ge::Buffer<float> foreign(other, data);
        expect_error(GPU_EXECUTOR_FOREIGN_BUFFER, "", [&] { exec.submit(ge::Task::scale(foreign, 2.0f, host)); },
                     "a foreign buffer as input");
        expect_error(GPU_EXECUTOR_FOREIGN_BUFFER, "", [&] { exec.submit(ge::Task::neg(x, foreign)); },
                     "a foreign buffer as output");
        expect_error(GPU_EXECUTOR_FOREIGN_BUFFER, "",
                     [&] { (void)ge::Buffer<float>::adopt(exec, foreign.handle()); }, "adopt a foreign buffer");
        CHECK(foreign.read() == data);
    }
    CHECK(untouched());

    // INVALID_BUFFER: a region of a buffer destroyed since, and the null region.
    {
        ge::Buffer<float> dead(exec, data);
        const ge::Region<float> stale = dead.region();
        dead.reset();
        expect_error(GPU_EXECUTOR_INVALID_BUFFER, "destroyed",
                     [&] { exec.submit(ge::Task::scale(stale, 2.0f, host)); }, "a destroyed buffer");
        expect_error(GPU_EXECUTOR_INVALID_BUFFER, "",
                     [&] { exec.submit(ge::Task::copy(x, ge::Region<float>(0, 0, 100))); }, "handle 0");
        expect_error(GPU_EXECUTOR_INVALID_BUFFER, "", [&] { (void)ge::Buffer<float>::adopt(exec, stale.handle()); },
                     "adopt a destroyed buffer");
    }
    CHECK(untouched());

    // OUT_OF_BOUNDS: from the library (reads, writes, unchecked regions) and from the
    // wrapper's own region checks.
    std::vector<float> ten(10, 1.0f);
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "", [&] { x.write(95, ten); }, "write past the end");
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "", [&] { (void)x.read(95, 10); }, "read past the end");
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "", [&] { x.read_into(101, ten.data(), 0); }, "read from past the end");
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "",
                 [&] { exec.submit(ge::Task::scale(ge::Region<float>(x.handle(), 50, 100), 2.0f, host)); },
                 "an unchecked region past the end");
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "100 elements", [&] { (void)x.region(90, 20); }, "region past the end");
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "", [&] { (void)x.region(101); }, "region from past the end");
    expect_error(GPU_EXECUTOR_OUT_OF_BOUNDS, "", [&] { (void)x.region(10, 50).sub(40, 11); }, "sub past the end");
    CHECK(untouched());

    // TYPE_MISMATCH: the typed API does not compile a float buffer in an int32_t task, so
    // a raw handle does it; adopt() checks the type itself.
    std::vector<int32_t> ints(100, 7);
    expect_error(GPU_EXECUTOR_TYPE_MISMATCH, "",
                 [&] { exec.submit(ge::Task::neg(ge::Region<int32_t>(x.handle(), 0, 100), ints)); },
                 "float buffer in an int32_t task");
    expect_error(GPU_EXECUTOR_TYPE_MISMATCH, "holds dtype 0",
                 [&] { (void)ge::Buffer<int32_t>::adopt(exec, x.handle()); }, "adopt as the wrong type");
    CHECK(ints == std::vector<int32_t>(100, 7));

    // DEPENDENCY: task 0 reads y, which task 1 (later) writes; nothing runs.
    expect_error(GPU_EXECUTOR_DEPENDENCY, "task 1",
                 [&] {
                     exec.submit({ge::Task::add(x, y, host), ge::Task::scale(x, 2.0f, y)});
                 },
                 "a read of what a later task writes");
    // ALIASING: two writers of overlapping regions; in place on part of the input.
    expect_error(GPU_EXECUTOR_ALIASING, "",
                 [&] {
                     exec.submit({ge::Task::scale(x.region(0, 50), 2.0f, y.region(0, 50)),
                                  ge::Task::scale(x.region(0, 50), 3.0f, y.region(25, 50))});
                 },
                 "overlapping outputs");
    expect_error(GPU_EXECUTOR_ALIASING, "",
                 [&] { exec.submit(ge::Task::scale(x.region(0, 50), 2.0f, x.region(1, 50))); },
                 "in place on part of the input");
    CHECK(untouched());

    // The wrapper's size check: a region and a host array of different lengths.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "input 0 has 50", [&] { (void)ge::Task::relu(x.region(50), host); },
                 "sizes differ");
    // A reduction writes one float: a longer region, or a whole Buffer of more than one
    // element, is refused by the wrapper before anything is submitted.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "sum: the output region has 2 elements",
                 [&] { (void)ge::Task::sum(x, y.region(0, 2)); }, "a reduction into 2 elements");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "dot: the output region has 100 elements",
                 [&] { (void)ge::Task::dot(x, host, y); }, "a reduction into a whole Buffer of 100");
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "mean: the output region has 0 elements",
                 [&] { (void)ge::Task::mean(x, y.region(100)); }, "a reduction into no element");
    // A reduction into an int32_t buffer does not compile; from raw C fields the library
    // refuses it.
    ge::Buffer<int32_t> iy(exec, 1);
    gpu_region_t rin = x.region().raw(), rout = iy.region().raw();
    gpu_task_t raw{};
    raw.op = GPU_OP_SUM;
    raw.flags = GPU_TASK_INPUT0_BUFFER | GPU_TASK_OUTPUT_BUFFER;
    raw.inputs[0] = &rin;
    raw.output = &rout;
    raw.length = 100;
    expect_error(GPU_EXECUTOR_TYPE_MISMATCH, "", [&] { exec.submit(ge::Task(raw)); },
                 "a reduction into an int32_t buffer");
    CHECK(iy.read() == std::vector<int32_t>(1, 0));
    // Creation: zero elements, an empty Executor.
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "", [&] { ge::Buffer<float> b(exec, std::size_t{0}); },
                 "zero elements");
    ge::Executor empty(static_cast<gpu_executor_t *>(nullptr));
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { ge::Buffer<float> b(empty, 10); }, "empty Executor");
    CHECK(untouched());

    // After all that the buffers still work.
    exec.submit(ge::Task::add(x, y, host));
    std::vector<float> sum(100);
    for (std::size_t i = 0; i < 100; ++i) sum[i] = data[i] + data[i];
    CHECK(same_bits(host, sum, "after the errors"));
}

void test_stats(ge::Executor &exec) {
    const gpu_executor_stats_t before = exec.stats();
    {
        ge::Buffer<float> a(exec, 1000);
        ge::Buffer<uint32_t> b(exec, 24);
        const gpu_executor_stats_t during = exec.stats();
        CHECK_EQ(during.resident_buffers - before.resident_buffers, 2);
        CHECK_EQ(during.resident_bytes - before.resident_bytes, 4096);
        CHECK_EQ(during.resident_buffers_created - before.resident_buffers_created, 2);
    }
    const gpu_executor_stats_t after = exec.stats();
    CHECK_EQ(after.resident_buffers, before.resident_buffers);
    CHECK_EQ(after.resident_bytes, before.resident_bytes);
}

} // namespace

int main() {
    const struct {
        const char *name;
        void (*run)(ge::Executor &);
    } tests[] = {
        {"round trips", test_round_trips},
        {"asynchronous transfers", test_async_transfers},
        {"chain of six on buffers", test_chain_on_buffers},
        {"mixed chain, int32_t", test_mixed_chain},
        {"offsets and sub-regions", test_offsets},
        {"reductions, matmul, a registered kernel", test_reductions_matmul_kernel},
        {"reductions into buffers", test_reductions_into_buffers},
        {"errors", test_errors},
        {"stats", test_stats},
    };
    try {
        ge::Executor exec;
        for (const auto &test : tests) {
            run_named(test.name, [&] { test.run(exec); });
        }
        // Tests that make executors of their own.
        const struct {
            const char *name;
            void (*run)();
        } own[] = {
            {"moves and lifetime", test_moves_and_lifetime},
            {"a reduction into a buffer fits one slab", test_reduction_into_a_buffer_fits_one_slab},
        };
        for (const auto &test : own) {
            run_named(test.name, test.run);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        CHECK(false);
    }
    return tu_finish("cpp_buffer_test");
}
