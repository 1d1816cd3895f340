// The C++ wrapper's typed builders (every element-wise op at every type it supports, the
// reductions, matmul, registered kernels through Task::custom), register_kernel's errors,
// Options::wait_timeout, and the checks the wrapper makes before calling the library.
//
// Exactness as tests/ops.rs: integers exact (wrapping); floats bit-exact for add sub mul min
// max neg abs relu scale clamp, fused or unfused for axpy and fma, within ULP/absolute
// bounds for div, sqrt and the transcendental ops.
#include "gpu_executor.hpp"

#include <array>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace ge = gpu_executor;

namespace {

float f32(uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// --------------------------------------------------------------------------------------
// What compiles: builders exist only for the types their op is defined for.
// --------------------------------------------------------------------------------------

template <typename T>
using vec = std::vector<T>;

#define DETECT(NAME, EXPR)                                                        \
    template <typename T, typename = void>                                        \
    struct NAME : std::false_type {};                                             \
    template <typename T>                                                         \
    struct NAME<T, std::void_t<decltype(EXPR)>> : std::true_type {};

DETECT(has_add, ge::Task::add(std::declval<vec<T> &>(), std::declval<vec<T> &>(),
                              std::declval<vec<T> &>()))
DETECT(has_neg, ge::Task::neg(std::declval<vec<T> &>(), std::declval<vec<T> &>()))
DETECT(has_neg_ptr, ge::Task::neg(std::declval<const T *>(), std::declval<T *>(), std::size_t{}))
DETECT(has_sqrt, ge::Task::sqrt(std::declval<vec<T> &>(), std::declval<vec<T> &>()))
DETECT(has_pow_ptr, ge::Task::pow(std::declval<const T *>(), std::declval<const T *>(),
                                  std::declval<T *>(), std::size_t{}))
DETECT(has_clamp, ge::Task::clamp(std::declval<vec<T> &>(), T{}, T{}, std::declval<vec<T> &>()))
DETECT(has_sum, ge::Task::sum(std::declval<vec<T> &>(), std::declval<float &>()))
// T is the first input's argument type here; the rest are lvalue float vectors.
DETECT(add_takes_input, ge::Task::add(std::declval<T>(), std::declval<vec<float> &>(),
                                      std::declval<vec<float> &>()))
DETECT(add_takes_output, ge::Task::add(std::declval<vec<float> &>(), std::declval<vec<float> &>(),
                                       std::declval<T>()))
DETECT(custom_takes_input, ge::Task::custom(1u, {std::declval<T>()},
                                            std::declval<vec<float> &>()))

#undef DETECT

static_assert(has_add<float>::value && has_add<int32_t>::value && has_add<uint32_t>::value, "");
static_assert(has_neg<float>::value && has_neg<int32_t>::value && !has_neg<uint32_t>::value,
              "neg: float and int32_t");
static_assert(!has_neg_ptr<uint32_t>::value && has_neg_ptr<int32_t>::value, "");
static_assert(has_sqrt<float>::value && !has_sqrt<int32_t>::value && !has_sqrt<uint32_t>::value,
              "sqrt: float only");
static_assert(has_pow_ptr<float>::value && !has_pow_ptr<int32_t>::value, "");
static_assert(has_clamp<uint32_t>::value, "");
static_assert(has_sum<float>::value && !has_sum<int32_t>::value, "reductions: float only");
static_assert(!has_add<double>::value && !has_add<int64_t>::value, "no other element types");
// Inputs: lvalues (const or not) or views; a temporary vector would dangle.
static_assert(add_takes_input<vec<float> &>::value, "");
static_assert(add_takes_input<const vec<float> &>::value, "");
static_assert(add_takes_input<std::array<float, 4> &>::value, "");
static_assert(!add_takes_input<vec<float>>::value, "no temporaries");
static_assert(!add_takes_input<vec<int32_t> &>::value, "one element type per task");
// The output: a writable lvalue.
static_assert(!add_takes_output<const vec<float> &>::value, "");
static_assert(!add_takes_output<vec<float>>::value, "");
static_assert(custom_takes_input<vec<float> &>::value, "");
static_assert(!custom_takes_input<vec<float>>::value, "");
static_assert(!custom_takes_input<vec<uint32_t> &>::value, "");
#if defined(__cpp_lib_span)
static_assert(add_takes_input<std::span<const float>>::value, "a temporary span is fine");
static_assert(add_takes_output<std::span<float>>::value, "");
static_assert(!add_takes_output<std::span<const float>>::value, "");
#endif

static_assert(ge::dtype_of<float> == GPU_DTYPE_F32 && ge::dtype_of<int32_t> == GPU_DTYPE_I32 &&
                  ge::dtype_of<uint32_t> == GPU_DTYPE_U32,
              "");
static_assert(ge::supports(GPU_OP_FMA, GPU_DTYPE_U32) && !ge::supports(GPU_OP_ABS, GPU_DTYPE_U32) &&
                  !ge::supports(GPU_OP_TANH, GPU_DTYPE_I32) &&
                  !ge::supports(GPU_OP_MATMUL, GPU_DTYPE_I32) &&
                  !ge::supports(static_cast<gpu_op_t>(999), GPU_DTYPE_F32),
              "");

void test_names_and_options() {
    // Every status the header defines has its own name.
    std::vector<std::string> names;
    for (int32_t s = 0; s <= GPU_EXECUTOR_UNSUPPORTED; ++s) {
        const std::string name = ge::status_name(static_cast<ge::Status>(s));
        CHECK(name != "GPU_EXECUTOR_UNKNOWN_STATUS");
        for (const std::string &other : names) CHECK(other != name);
        names.push_back(name);
    }
    CHECK(names[GPU_EXECUTOR_TIMED_OUT] == "GPU_EXECUTOR_TIMED_OUT");
    CHECK(names[GPU_EXECUTOR_INVALID_KERNEL] == "GPU_EXECUTOR_INVALID_KERNEL");
    CHECK(names[GPU_EXECUTOR_DEPENDENCY] == "GPU_EXECUTOR_DEPENDENCY");
    CHECK(names[GPU_EXECUTOR_OVER_BUDGET] == "GPU_EXECUTOR_OVER_BUDGET");
    CHECK(names[GPU_EXECUTOR_UNSUPPORTED] == "GPU_EXECUTOR_UNSUPPORTED");
    CHECK(std::string(ge::status_name(static_cast<ge::Status>(27))) == "GPU_EXECUTOR_UNKNOWN_STATUS");

    using namespace std::chrono;
    ge::Options options;
    CHECK_EQ(options.raw().wait_timeout_ns, 0);
    CHECK(options.wait_timeout() == nanoseconds(0));
    CHECK_EQ(options.wait_timeout(seconds(5)).raw().wait_timeout_ns, 5000000000ull);
    CHECK(options.wait_timeout() == seconds(5));
    CHECK_EQ(options.wait_timeout(milliseconds(-3)).raw().wait_timeout_ns, 0);
    CHECK_EQ(options.wait_timeout(duration<double, std::nano>(0.25)).raw().wait_timeout_ns, 1);
    CHECK_EQ(options.wait_timeout(hours::max()).raw().wait_timeout_ns, UINT64_MAX);
    CHECK_EQ(options.wait_timeout(nanoseconds(0)).raw().wait_timeout_ns, 0);

    // KernelDesc{} is gpu_kernel_desc_default().
    const gpu_kernel_desc_t c = gpu_kernel_desc_default();
    const ge::KernelDesc cpp;
    CHECK(cpp.source.empty() && cpp.entry_point == std::string(c.entry_point ? c.entry_point : "main"));
    CHECK_EQ(cpp.num_inputs, c.num_inputs);
    CHECK_EQ(cpp.dtype, c.dtype);
    CHECK_EQ(cpp.elements_per_invocation, c.elements_per_invocation);
    CHECK_EQ(cpp.elementwise ? 1u : 0u, c.elementwise);
    CHECK_EQ(cpp.params_size, c.params_size);

    // Task fields as the C API wants them.
    std::vector<uint32_t> a(8), b(8), out(8);
    const ge::Task t = ge::Task::clamp(a, 3u, 9u, out);
    CHECK_EQ(t.op(), GPU_OP_CLAMP);
    CHECK_EQ(t.dtype(), GPU_DTYPE_U32);
    CHECK_EQ(t.raw().flags, GPU_DTYPE_U32);
    CHECK(t.raw().inputs[0] == a.data() && t.raw().inputs[1] == nullptr);
    CHECK(t.raw().params[0] == 3 && t.raw().params[1] == 9 && t.raw().params[2] == 0);
    std::vector<int32_t> ia(8), iout(8);
    const ge::Task s = ge::Task::scale(ia, -2, iout);
    CHECK_EQ(s.raw().params[0], 0xFFFFFFFEull);  // the low half only
    std::vector<float> fa(6), fb(6), fc(4);
    const ge::Task m = ge::Task::matmul(fa, fb, fc, 2, 3, 2, true);
    CHECK_EQ(m.raw().flags, GPU_TASK_TRANSPOSE_B);
    CHECK(m.raw().params[0] == 2 && m.raw().params[1] == 3 && m.raw().params[2] == 2 &&
          m.length() == 4);
    const ge::Task u = ge::Task::custom(0x10000000u, {fa, fb}, fa, {1.5f, -1, 7u});
    CHECK(u.raw().params[0] == bits_of(1.5f) && u.raw().params[1] == 0xFFFFFFFFull &&
          u.raw().params[2] == 7 && u.raw().params[3] == 0);
    CHECK(u.dtype() == GPU_DTYPE_F32 && u.raw().inputs[2] == nullptr);
}

// --------------------------------------------------------------------------------------
// Element-wise ops against the CPU
// --------------------------------------------------------------------------------------

enum class Kind { f32, i32, u32 };

struct OpInfo {
    const char *name;
    gpu_op_t op;
    int arity;
    int scalars;
};

const OpInfo kOps[] = {
    {"add", GPU_OP_VECTOR_ADD, 2, 0}, {"sub", GPU_OP_SUB, 2, 0},
    {"mul", GPU_OP_MUL, 2, 0},        {"div", GPU_OP_DIV, 2, 0},
    {"min", GPU_OP_MIN, 2, 0},        {"max", GPU_OP_MAX, 2, 0},
    {"pow", GPU_OP_POW, 2, 0},        {"neg", GPU_OP_NEG, 1, 0},
    {"abs", GPU_OP_ABS, 1, 0},        {"sqrt", GPU_OP_SQRT, 1, 0},
    {"exp", GPU_OP_EXP, 1, 0},        {"log", GPU_OP_LOG, 1, 0},
    {"sin", GPU_OP_SIN, 1, 0},        {"cos", GPU_OP_COS, 1, 0},
    {"tanh", GPU_OP_TANH, 1, 0},      {"relu", GPU_OP_RELU, 1, 0},
    {"sigmoid", GPU_OP_SIGMOID, 1, 0}, {"scale", GPU_OP_SCALE, 1, 1},
    {"axpy", GPU_OP_AXPY, 2, 1},      {"clamp", GPU_OP_CLAMP, 1, 2},
    {"fma", GPU_OP_FMA, 3, 0},
};

// Random floats with every sign, zeros, huge and tiny (some subnormal) magnitudes.
float random_float(tu_rng &rng) {
    const float unit = tu_rng_float(&rng) / 100.0f;  // [-1, 1)
    switch (tu_rng_next(&rng) % 16) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return unit * 1e30f;
    case 3: return unit * 1e-30f;
    case 4: return unit * 1e-40f;  // subnormal
    case 5: return unit * 1e4f;
    default: return unit * 10.0f;
    }
}

uint32_t random_word(tu_rng &rng) {
    switch (tu_rng_next(&rng) % 6) {
    case 0: return 0;
    case 1: return UINT32_MAX;
    case 2: return 0x80000000u;
    default: return static_cast<uint32_t>(tu_rng_next(&rng));
    }
}

// Inputs kept where the op is defined (log, sqrt, pow) or interesting (exp, sin, ...).
float float_input(tu_rng &rng, gpu_op_t op, int k) {
    float x = random_float(rng);
    const float r = tu_rng_float(&rng);  // [-100, 100)
    switch (op) {
    case GPU_OP_SQRT:
    case GPU_OP_LOG: return std::fmax(std::fabs(x), 1e-30f);
    case GPU_OP_POW: return k == 0 ? std::fmax(std::fabs(x), 1e-30f) : std::fmin(std::fmax(r / 25.0f, -4.0f), 4.0f);
    case GPU_OP_EXP:
    case GPU_OP_TANH:
    case GPU_OP_SIGMOID: return std::fmin(std::fmax(r / 5.0f, -20.0f), 20.0f);
    case GPU_OP_SIN:
    case GPU_OP_COS: return r * 3.14159265f / 100.0f;
    default: return x;
    }
}

float ftz(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }

float ref_float(gpu_op_t op, float a, float b, float c, float s0, float s1) {
    const double da = a;
    switch (op) {
    case GPU_OP_VECTOR_ADD: return a + b;
    case GPU_OP_SUB: return a - b;
    case GPU_OP_MUL: return a * b;
    case GPU_OP_DIV: return a / b;
    case GPU_OP_MIN: return std::fmin(a, b);
    case GPU_OP_MAX: return std::fmax(a, b);
    case GPU_OP_POW: return static_cast<float>(std::pow(da, static_cast<double>(b)));
    case GPU_OP_NEG: return -a;
    case GPU_OP_ABS: return std::fabs(a);
    case GPU_OP_SQRT: return std::sqrt(a);
    case GPU_OP_EXP: return static_cast<float>(std::exp(da));
    case GPU_OP_LOG: return static_cast<float>(std::log(da));
    case GPU_OP_SIN: return static_cast<float>(std::sin(da));
    case GPU_OP_COS: return static_cast<float>(std::cos(da));
    case GPU_OP_TANH: return static_cast<float>(std::tanh(da));
    case GPU_OP_RELU: return std::fmax(a, 0.0f);
    case GPU_OP_SIGMOID: return static_cast<float>(1.0 / (1.0 + std::exp(-da)));
    case GPU_OP_SCALE: return a * s0;
    case GPU_OP_AXPY: return std::fma(s0, a, b);
    case GPU_OP_CLAMP: return std::fmin(std::fmax(a, s0), s1);
    case GPU_OP_FMA: return std::fma(a, b, c);
    default: return std::nanf("");
    }
}

// Integer ops in uint32_t arithmetic, so that wrapping is defined; `is_signed` picks the
// int32_t meaning of division, comparison, negation and absolute value.
uint32_t ref_int(gpu_op_t op, bool is_signed, uint32_t a, uint32_t b, uint32_t c, uint32_t s0,
                 uint32_t s1) {
    const auto i = [](uint32_t x) { return static_cast<int32_t>(x); };
    const auto less = [&](uint32_t x, uint32_t y) { return is_signed ? i(x) < i(y) : x < y; };
    const auto mn = [&](uint32_t x, uint32_t y) { return less(y, x) ? y : x; };
    const auto mx = [&](uint32_t x, uint32_t y) { return less(x, y) ? y : x; };
    switch (op) {
    case GPU_OP_VECTOR_ADD: return a + b;
    case GPU_OP_SUB: return a - b;
    case GPU_OP_MUL: return a * b;
    case GPU_OP_DIV:
        if (b == 0) return a;
        if (!is_signed) return a / b;
        if (a == 0x80000000u && b == UINT32_MAX) return a;
        return static_cast<uint32_t>(i(a) / i(b));
    case GPU_OP_MIN: return mn(a, b);
    case GPU_OP_MAX: return mx(a, b);
    case GPU_OP_NEG: return 0u - a;
    case GPU_OP_ABS: return i(a) < 0 ? 0u - a : a;
    case GPU_OP_RELU: return i(a) < 0 ? 0u : a;
    case GPU_OP_SCALE: return a * s0;
    case GPU_OP_AXPY: return s0 * a + b;
    case GPU_OP_CLAMP: return mn(mx(a, s0), s1);
    case GPU_OP_FMA: return a * b + c;
    default: return 0xDEADBEEFu;
    }
}

// Allowed error of float results: ULPs or absolute; {0, 0} = bit-exact.
struct Tolerance {
    uint32_t ulps;
    float absolute;
};

Tolerance tolerance(gpu_op_t op) {
    switch (op) {
    case GPU_OP_DIV:
    case GPU_OP_SQRT: return {3, 0.0f};
    case GPU_OP_EXP: return {64, std::numeric_limits<float>::min()};
    case GPU_OP_POW: return {1024, std::numeric_limits<float>::min()};
    case GPU_OP_LOG: return {4, std::ldexp(1.0f, -21)};
    case GPU_OP_SIN:
    case GPU_OP_COS: return {4, std::ldexp(1.0f, -11)};
    case GPU_OP_TANH:
    case GPU_OP_SIGMOID: return {64, 1e-5f};
    default: return {0, 0.0f};
    }
}

uint64_t ulps(float a, float b) {
    const auto key = [](float x) {
        const int64_t bits = bits_of(x);
        return bits < 0x80000000ll ? bits : 0x80000000ll - bits;
    };
    const int64_t d = key(a) - key(b);
    return static_cast<uint64_t>(d < 0 ? -d : d);
}

// One task's data, as 32-bit words whatever the element type.
template <typename T>
struct Case {
    const OpInfo *op;
    std::vector<T> in[3];
    T s0{}, s1{};
    std::vector<T> out;
};

template <typename T>
Kind kind_of() {
    return std::is_same<T, float>::value ? Kind::f32
                                         : std::is_same<T, int32_t>::value ? Kind::i32 : Kind::u32;
}

// The task through the typed builder: pointers for even `form`, ranges for odd.
template <typename T>
ge::Task build(Case<T> &c, int form) {
    const T *a = c.in[0].data();
    const T *b = c.in[1].data();
    const T *x = c.in[2].data();
    T *o = c.out.data();
    const std::size_t n = c.out.size();
    const bool ptr = form % 2 == 0;
    std::vector<T> &va = c.in[0];
    std::vector<T> &vb = c.in[1];
    const std::vector<T> &vc = c.in[2];  // const inputs are fine
    std::vector<T> &vo = c.out;
    constexpr gpu_dtype_t D = ge::dtype_of<T>;
    // Ops not defined for T must not even be instantiated: `if constexpr`.
#define BIN(NAME, OP)                                                           \
    case OP:                                                                    \
        if constexpr (ge::supports(OP, D)) {                                    \
            return ptr ? ge::Task::NAME(a, b, o, n) : ge::Task::NAME(va, vb, vo); \
        }                                                                       \
        break;
#define UN(NAME, OP)                                                            \
    case OP:                                                                    \
        if constexpr (ge::supports(OP, D)) {                                    \
            return ptr ? ge::Task::NAME(a, o, n) : ge::Task::NAME(va, vo);      \
        }                                                                       \
        break;
    switch (c.op->op) {
        BIN(add, GPU_OP_VECTOR_ADD)
        BIN(sub, GPU_OP_SUB)
        BIN(mul, GPU_OP_MUL)
        BIN(div, GPU_OP_DIV)
        BIN(min, GPU_OP_MIN)
        BIN(max, GPU_OP_MAX)
        BIN(pow, GPU_OP_POW)
        UN(neg, GPU_OP_NEG)
        UN(abs, GPU_OP_ABS)
        UN(sqrt, GPU_OP_SQRT)
        UN(exp, GPU_OP_EXP)
        UN(log, GPU_OP_LOG)
        UN(sin, GPU_OP_SIN)
        UN(cos, GPU_OP_COS)
        UN(tanh, GPU_OP_TANH)
        UN(relu, GPU_OP_RELU)
        UN(sigmoid, GPU_OP_SIGMOID)
    case GPU_OP_SCALE:
        return ptr ? ge::Task::scale(a, c.s0, o, n) : ge::Task::scale(va, c.s0, vo);
    case GPU_OP_AXPY:
        return ptr ? ge::Task::axpy(c.s0, a, b, o, n) : ge::Task::axpy(c.s0, va, vb, vo);
    case GPU_OP_CLAMP:
        return ptr ? ge::Task::clamp(a, c.s0, c.s1, o, n) : ge::Task::clamp(va, c.s0, c.s1, vo);
    case GPU_OP_FMA:
        return ptr ? ge::Task::fma(a, b, x, o, n) : ge::Task::fma(va, vb, vc, vo);
    default:
        break;
    }
#undef BIN
#undef UN
    std::fprintf(stderr, "no builder for %s\n", c.op->name);
    std::abort();
}

template <typename T>
void make_cases(tu_rng &rng, std::vector<Case<T>> &cases) {
    for (const OpInfo &op : kOps) {
        if (!ge::supports(op.op, ge::dtype_of<T>)) continue;
        // A small task and one past the smallest bucket.
        for (std::size_t n : {tu_rng_range(&rng, 1, 3000), std::size_t{20000}}) {
            Case<T> c;
            c.op = &op;
            for (int k = 0; k < op.arity; ++k) {
                c.in[k].resize(n);
                for (T &v : c.in[k]) {
                    if constexpr (std::is_same<T, float>::value) {
                        v = float_input(rng, op.op, k);
                    } else {
                        v = static_cast<T>(random_word(rng));
                    }
                }
            }
            if constexpr (std::is_same<T, float>::value) {
                c.s0 = op.op == GPU_OP_CLAMP ? -5.0f : -2.5f;
                c.s1 = 7.5f;
            } else if constexpr (std::is_same<T, int32_t>::value) {
                c.s0 = op.op == GPU_OP_CLAMP ? -1000 : 7;
                c.s1 = 123456;
            } else {
                c.s0 = op.op == GPU_OP_CLAMP ? 1000u : 7u;
                c.s1 = 3000000000u;
            }
            c.out.assign(n, static_cast<T>(0xDEADBEEFu));
            cases.push_back(std::move(c));
        }
    }
}

template <typename T>
uint32_t word(T v) {
    uint32_t w;
    std::memcpy(&w, &v, sizeof w);
    return w;
}

// Checks every element; reports the first mismatch of a case.
template <typename T>
void check_case(const Case<T> &c, bool flush) {
    const OpInfo &op = *c.op;
    const Kind kind = kind_of<T>();
    const Tolerance tol = tolerance(op.op);
    for (std::size_t i = 0; i < c.out.size(); ++i) {
        uint32_t in[3] = {0, 0, 0};
        for (int k = 0; k < op.arity; ++k) in[k] = word(c.in[k][i]);
        const uint32_t got = word(c.out[i]);
        if (kind != Kind::f32) {
            const uint32_t want = ref_int(op.op, kind == Kind::i32, in[0], in[1], in[2],
                                          word(c.s0), word(c.s1));
            if (got != want) {
                CHECK(got == want);
                std::fprintf(stderr, "  %s %s element %zu: got %u, want %u\n", op.name,
                             kind == Kind::i32 ? "int32_t" : "uint32_t", i, got, want);
                return;
            }
            continue;
        }
        float a = f32(in[0]), b = f32(in[1]), x = f32(in[2]);
        if (flush) {
            a = ftz(a);
            b = ftz(b);
            x = ftz(x);
        }
        const float s0 = f32(word(c.s0)), s1 = f32(word(c.s1));
        float want = ref_float(op.op, a, b, x, s0, s1);
        if (flush) want = ftz(want);
        const float g = f32(got);
        if (got == bits_of(want) || (std::isnan(g) && std::isnan(want))) continue;
        // Vulkan may or may not fuse a * b + c: the unfused rounding is right too.
        if (op.op == GPU_OP_AXPY && g == s0 * a + b) continue;
        if (op.op == GPU_OP_FMA && g == a * b + x) continue;
        // min/max of +0 and -0 may give either zero.
        if ((op.op == GPU_OP_MIN || op.op == GPU_OP_MAX || op.op == GPU_OP_RELU ||
             op.op == GPU_OP_CLAMP) &&
            g == 0.0f && want == 0.0f)
            continue;
        const bool within = (tol.ulps > 0 || tol.absolute > 0.0f) &&
                            (ulps(g, want) <= tol.ulps || std::fabs(g - want) <= tol.absolute);
        if (!within) {
            CHECK(within);
            std::fprintf(stderr, "  %s float element %zu: got %.9g (%#x), want %.9g; inputs %.9g %.9g %.9g\n",
                         op.name, i, static_cast<double>(g), got, static_cast<double>(want),
                         static_cast<double>(a), static_cast<double>(b), static_cast<double>(x));
            return;
        }
    }
    CHECK(true);
}

bool flushes_subnormals(const ge::Executor &exec) {
    return exec.adapter_info().vendor_id == 0x10de;  // NVIDIA flushes; lavapipe keeps them
}

void test_elementwise(ge::Executor &exec) {
    const bool flush = flushes_subnormals(exec);
    tu_rng rng = tu_rng_new(2024);
    std::vector<Case<float>> fs;
    std::vector<Case<int32_t>> is;
    std::vector<Case<uint32_t>> us;
    make_cases(rng, fs);
    make_cases(rng, is);
    make_cases(rng, us);
    CHECK_EQ(fs.size(), 2 * 21);
    CHECK_EQ(is.size(), 2 * 13);
    CHECK_EQ(us.size(), 2 * 10);

    ge::Batch batch;
    int form = 0;
    for (auto &c : fs) batch.add(build(c, form++));
    for (auto &c : is) batch.add(build(c, form++));
    for (auto &c : us) batch.add(build(c, form++));

    const gpu_executor_stats_t before = exec.stats();
    exec.submit(batch);
    const gpu_executor_stats_t after = exec.stats();
    CHECK_EQ(after.submits - before.submits, 1);
    CHECK_EQ(after.tasks - before.tasks, batch.size());
    for (const auto &c : fs) check_case(c, flush);
    for (const auto &c : is) check_case(c, flush);
    for (const auto &c : us) check_case(c, flush);
}

// --------------------------------------------------------------------------------------
// Reductions, matmul
// --------------------------------------------------------------------------------------

void test_reductions(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(64);
    const std::size_t lengths[] = {0, 1, 3, 255, 4096, 4097, 16385, 100000};
    const gpu_op_t ops[] = {GPU_OP_SUM, GPU_OP_REDUCE_MIN, GPU_OP_REDUCE_MAX,
                            GPU_OP_MEAN, GPU_OP_DOT, GPU_OP_NORM2};
    struct R {
        gpu_op_t op;
        std::vector<float> a, b;
        float out = std::nanf("");
    };
    std::vector<R> rs;
    for (gpu_op_t op : ops) {
        for (std::size_t n : lengths) {
            R r{op, std::vector<float>(n), std::vector<float>(n)};
            for (std::size_t i = 0; i < n; ++i) {
                r.a[i] = tu_rng_float(&rng);
                r.b[i] = tu_rng_float(&rng);
            }
            rs.push_back(std::move(r));
        }
    }
    ge::Batch batch;
    bool ranges = false;
    for (R &r : rs) {
        ranges = !ranges;
        const float *a = r.a.data();
        const std::size_t n = r.a.size();
        switch (r.op) {
        case GPU_OP_SUM: batch.add(ranges ? ge::Task::sum(r.a, r.out) : ge::Task::sum(a, &r.out, n)); break;
        case GPU_OP_REDUCE_MIN:
            batch.add(ranges ? ge::Task::reduce_min(r.a, r.out) : ge::Task::reduce_min(a, &r.out, n));
            break;
        case GPU_OP_REDUCE_MAX:
            batch.add(ranges ? ge::Task::reduce_max(r.a, r.out) : ge::Task::reduce_max(a, &r.out, n));
            break;
        case GPU_OP_MEAN: batch.add(ranges ? ge::Task::mean(r.a, r.out) : ge::Task::mean(a, &r.out, n)); break;
        case GPU_OP_DOT:
            batch.add(ranges ? ge::Task::dot(r.a, r.b, r.out) : ge::Task::dot(a, r.b.data(), &r.out, n));
            break;
        default: batch.add(ranges ? ge::Task::norm2(r.a, r.out) : ge::Task::norm2(a, &r.out, n)); break;
        }
    }
    // An element-wise task in the same batch.
    std::vector<float> x(5000), y(5000), sum(5000, std::nanf(""));
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = tu_rng_float(&rng);
        y[i] = tu_rng_float(&rng);
    }
    batch.add(ge::Task::add(x, y, sum));

    const uint64_t submits = exec.stats().submits;
    exec.submit(batch);
    CHECK_EQ(exec.stats().submits - submits, 1);
    bool sums_ok = true;
    for (std::size_t i = 0; i < x.size(); ++i) sums_ok = sums_ok && bits_of(sum[i]) == bits_of(x[i] + y[i]);
    CHECK(sums_ok);

    for (const R &r : rs) {
        const std::size_t n = r.a.size();
        if (n == 0) {
            const float inf = std::numeric_limits<float>::infinity();
            const float want = r.op == GPU_OP_REDUCE_MIN ? inf
                               : r.op == GPU_OP_REDUCE_MAX ? -inf
                               : r.op == GPU_OP_MEAN ? std::nanf("")
                                                     : 0.0f;
            const bool ok = bits_of(r.out) == bits_of(want) || (std::isnan(r.out) && std::isnan(want));
            if (!CHECK(ok)) std::fprintf(stderr, "  op %u over nothing: %g\n", unsigned(r.op), double(r.out));
            continue;
        }
        double exact = 0.0, scale = 0.0;
        switch (r.op) {
        case GPU_OP_REDUCE_MIN:
            exact = r.a[0];
            for (float v : r.a) exact = std::fmin(exact, double(v));
            break;
        case GPU_OP_REDUCE_MAX:
            exact = r.a[0];
            for (float v : r.a) exact = std::fmax(exact, double(v));
            break;
        case GPU_OP_DOT:
            for (std::size_t i = 0; i < n; ++i) {
                exact += double(r.a[i]) * r.b[i];
                scale += std::fabs(double(r.a[i]) * r.b[i]);
            }
            break;
        case GPU_OP_NORM2:
            for (float v : r.a) exact += double(v) * v;
            exact = scale = std::sqrt(exact);
            break;
        default:  // sum, mean
            for (float v : r.a) {
                exact += v;
                scale += std::fabs(double(v));
            }
            if (r.op == GPU_OP_MEAN) {
                exact /= double(n);
                scale /= double(n);
            }
        }
        if (r.op == GPU_OP_REDUCE_MIN || r.op == GPU_OP_REDUCE_MAX) {
            if (!CHECK(double(r.out) == exact))
                std::fprintf(stderr, "  op %u over %zu: %g, want %g\n", unsigned(r.op), n, double(r.out), exact);
        } else {
            const double error = std::fabs(double(r.out) - exact) / std::fmax(scale, 1e-300);
            if (!CHECK(error <= 1e-5))
                std::fprintf(stderr, "  op %u over %zu: %g, want %g (relative error %g)\n",
                             unsigned(r.op), n, double(r.out), exact, error);
        }
    }
}

struct Product {
    std::size_t m, k, n;
    bool transpose_b;
    std::vector<float> a, b, c;

    Product(tu_rng &rng, std::size_t m_, std::size_t k_, std::size_t n_, bool t)
        : m(m_), k(k_), n(n_), transpose_b(t), a(m_ * k_), b(k_ * n_), c(m_ * n_, std::nanf("")) {
        for (float &v : a) v = tu_rng_float(&rng) / 100.0f;
        for (float &v : b) v = tu_rng_float(&rng) / 100.0f;
    }

    // Every element within 4·K roundings of the sum of magnitudes, against double.
    bool check() const {
        for (std::size_t i = 0; i < m; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                double exact = 0.0, magnitude = 0.0;
                for (std::size_t kk = 0; kk < k; ++kk) {
                    const double bv = transpose_b ? b[j * k + kk] : b[kk * n + j];
                    exact += double(a[i * k + kk]) * bv;
                    magnitude += std::fabs(double(a[i * k + kk]) * bv);
                }
                const double got = c[i * n + j];
                const double bound = 4.0 * double(k) * double(FLT_EPSILON) * magnitude + 1e-30;
                if (!(std::fabs(got - exact) <= bound)) {
                    std::fprintf(stderr, "  matmul %zux%zux%zu%s C[%zu][%zu] = %g, want %g\n", m, k, n,
                                 transpose_b ? " (B transposed)" : "", i, j, got, exact);
                    return false;
                }
            }
        }
        return true;
    }
};

void test_matmul(ge::Executor &exec) {
    tu_rng rng = tu_rng_new(128);
    const std::size_t shapes[][3] = {{1, 1, 1},    {17, 33, 65}, {1, 4096, 1}, {3, 500, 7},
                                     {64, 64, 64}, {65, 17, 130}, {5, 9, 3},   {2, 1, 300}};
    std::vector<Product> ps;
    for (std::size_t i = 0; i < std::size(shapes); ++i) {
        ps.emplace_back(rng, shapes[i][0], shapes[i][1], shapes[i][2], i % 2 == 1);
    }
    ge::Batch batch;
    for (std::size_t i = 0; i < ps.size(); ++i) {
        Product &p = ps[i];
        batch.add(i % 4 < 2 ? ge::Task::matmul(p.a, p.b, p.c, p.m, p.k, p.n, p.transpose_b)
                            : ge::Task::matmul(p.a.data(), p.b.data(), p.c.data(), p.m, p.k, p.n,
                                               p.transpose_b));
    }
    const uint64_t submits = exec.stats().submits;
    exec.submit(batch);
    CHECK_EQ(exec.stats().submits - submits, 1);
    for (const Product &p : ps) CHECK(p.check());
}

// --------------------------------------------------------------------------------------
// Registered kernels
// --------------------------------------------------------------------------------------

// out = a * a * s + b, one element per invocation.
const char *const kPoly = R"(struct Params { count: u32, s: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn poly(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 64u;
    if (i < params.count) {
        out[i] = a[i] * a[i] * params.s + b[i];
    }
}
)";

// out[i] = a[n - 1 - i]: needs the whole array, so registered whole-array.
const char *const kReverse = R"(struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(128)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 128u;
    if (i < params.count) {
        out[i] = a[params.count - 1u - i];
    }
}
)";

ge::KernelDesc poly_desc() {
    ge::KernelDesc desc;
    desc.source = kPoly;
    desc.entry_point = "poly";
    desc.num_inputs = 2;
    desc.params_size = 4;
    return desc;
}

bool poly_matches(const std::vector<float> &a, const std::vector<float> &b, float s,
                  const std::vector<float> &out) {
    for (std::size_t i = 0; i < out.size(); ++i) {
        const float square = a[i] * a[i];
        const float unfused = square * s + b[i];
        const float fused = std::fma(square, s, b[i]);
        if (bits_of(out[i]) != bits_of(unfused) && bits_of(out[i]) != bits_of(fused)) {
            std::fprintf(stderr, "  poly element %zu: %.9g, want %.9g\n", i, double(out[i]), double(unfused));
            return false;
        }
    }
    return true;
}

void test_user_kernels(ge::Executor &exec) {
    const uint32_t poly = exec.register_kernel(poly_desc());
    CHECK(poly >= GPU_USER_OP_BASE);
    ge::KernelDesc reverse_desc;
    reverse_desc.source = kReverse;  // entry point "main" by default
    reverse_desc.dtype = GPU_DTYPE_U32;
    reverse_desc.elementwise = false;
    const uint32_t reverse = exec.register_kernel(reverse_desc);
    CHECK(reverse != poly);

    tu_rng rng = tu_rng_new(256);
    const float s = 1.5f;
    std::vector<float> a(1000), b(1000), a2(40000), b2(40000);
    for (float &v : a) v = tu_rng_float(&rng);
    for (float &v : b) v = tu_rng_float(&rng);
    for (float &v : a2) v = tu_rng_float(&rng);
    for (float &v : b2) v = tu_rng_float(&rng);
    std::vector<float> out(1000, std::nanf("")), out2(40000, std::nanf("")), out3(1000, std::nanf(""));
    std::vector<uint32_t> ints(5000), reversed(5000);
    for (uint32_t &v : ints) v = static_cast<uint32_t>(tu_rng_next(&rng));
    std::vector<float> sum(1000, std::nanf(""));
    float total = std::nanf("");
    std::vector<float> mat_a(6, 1.0f), mat_b(6, 2.0f), mat_c(4, std::nanf(""));

    ge::Batch batch;
    batch.add(ge::Task::custom(poly, {a, b}, out, {s}))                              // ranges
        .add(ge::Task::custom(poly, {a2.data(), b2.data()}, out2.data(), a2.size(), {s}))  // typed
        .add(ge::Task::custom(poly, GPU_DTYPE_F32, {a.data(), b.data()}, out3.data(), a.size(),
                              {ge::Param::raw(bits_of(s))}))                           // raw
        .add(ge::Task::custom(reverse, {ints}, reversed))
        .add(ge::Task::add(a, b, sum))
        .add(ge::Task::sum(a2, total))
        .add(ge::Task::matmul(mat_a, mat_b, mat_c, 2, 3, 2));
    const gpu_executor_stats_t before = exec.stats();
    exec.submit(batch);
    const gpu_executor_stats_t after = exec.stats();
    CHECK_EQ(after.submits - before.submits, 1);
    CHECK_EQ(after.tasks - before.tasks, 7);
    CHECK(poly_matches(a, b, s, out));
    CHECK(poly_matches(a2, b2, s, out2));
    CHECK(poly_matches(a, b, s, out3));
    bool reversed_ok = true;
    for (std::size_t i = 0; i < ints.size(); ++i) reversed_ok = reversed_ok && reversed[i] == ints[ints.size() - 1 - i];
    CHECK(reversed_ok);
    bool sum_ok = true;
    for (std::size_t i = 0; i < a.size(); ++i) sum_ok = sum_ok && bits_of(sum[i]) == bits_of(a[i] + b[i]);
    CHECK(sum_ok);
    double exact = 0.0, magnitude = 0.0;
    for (float v : a2) {
        exact += v;
        magnitude += std::fabs(double(v));
    }
    CHECK(std::fabs(double(total) - exact) <= 1e-5 * magnitude);
    CHECK(mat_c == std::vector<float>(4, 6.0f));

    // The code is this executor's only.
    ge::Executor other;
    expect_error(GPU_EXECUTOR_UNKNOWN_OP, "task 0", [&] { other.submit(ge::Task::custom(poly, {a, b}, out, {s})); },
                 "another executor's op code");
    // The library checks what the wrapper cannot: the kernel's dtype, its params.
    std::vector<int32_t> ia(10), iout(10);
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "task 0",
                 [&] { exec.submit(ge::Task::custom(poly, {ia, ia}, iout, {2})); }, "wrong dtype");
    std::vector<float> o10(10, std::nanf("")), x10(10, 1.0f);
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "task 0",
                 [&] { exec.submit(ge::Task::custom(poly, {x10, x10}, o10, {2.0f, 1.0f})); },
                 "a param the kernel does not read");
    CHECK(tu_all_nan(o10.data(), o10.size()));
    exec.submit(ge::Task::custom(poly, {x10, x10}, o10, {2.0f}));
    CHECK(o10 == std::vector<float>(10, 3.0f));
}

void test_registration_errors(ge::Executor &exec) {
    const uint64_t pipelines = exec.stats().pipelines_created;
    struct Bad {
        const char *what;
        std::function<void(ge::KernelDesc &)> edit;
        const char *needle;
    };
    const auto replace = [](std::string text, const std::string &from, const std::string &to) {
        text.replace(text.find(from), from.size(), to);
        return text;
    };
    const Bad cases[] = {
        {"syntax error", [&](ge::KernelDesc &d) { d.source = replace(d.source, "out[i] = a[i]", "out[i] = = a[i]"); },
         "kernel.wgsl:12:"},
        {"unknown identifier", [&](ge::KernelDesc &d) { d.source = replace(d.source, "params.s", "params.t"); },
         "kernel.wgsl:12:"},
        {"missing entry point", [](ge::KernelDesc &d) { d.entry_point = "main"; },
         "no @compute entry point named \"main\""},
        {"empty entry point means main", [](ge::KernelDesc &d) { d.entry_point.clear(); },
         "no @compute entry point named \"main\""},
        {"more inputs than bound", [](ge::KernelDesc &d) { d.num_inputs = 3; }, "binds no input 2"},
        {"bad params size", [](ge::KernelDesc &d) { d.params_size = 6; }, "multiple of 4"},
        {"bad elements per invocation", [](ge::KernelDesc &d) { d.elements_per_invocation = 3; }, "1 or 4"},
        {"empty source", [](ge::KernelDesc &d) { d.source.clear(); }, "entry point"},
    };
    for (const Bad &bad : cases) {
        ge::KernelDesc desc = poly_desc();
        bad.edit(desc);
        expect_error(GPU_EXECUTOR_INVALID_KERNEL, bad.needle, [&] { (void)exec.register_kernel(desc); }, bad.what);
    }
    // The C description too.
    gpu_kernel_desc_t raw = gpu_kernel_desc_default();
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { (void)exec.register_kernel(raw); }, "no source");
    raw.source = "fn main() {}";
    expect_error(GPU_EXECUTOR_INVALID_KERNEL, "main", [&] { (void)exec.register_kernel(raw); }, "not @compute");
    CHECK_EQ(exec.stats().pipelines_created, pipelines);

    // A NUL would cut the text short in C: refused before the call (the last-error message
    // still names the previous failure).
    expect_error(GPU_EXECUTOR_INVALID_KERNEL, "main", [&] { (void)exec.register_kernel(raw); }, "not @compute");
    const std::string previous = gpu_executor_last_error_message();
    CHECK(!previous.empty());
    ge::KernelDesc nul = poly_desc();
    nul.source += std::string(1, '\0') + "garbage";
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "NUL", [&] { (void)exec.register_kernel(nul); }, "NUL in source");
    nul = poly_desc();
    nul.entry_point = std::string("poly\0x", 6);
    expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, "entry point", [&] { (void)exec.register_kernel(nul); },
                 "NUL in entry point");
    CHECK(previous == gpu_executor_last_error_message());

    ge::Executor empty(static_cast<gpu_executor_t *>(nullptr));
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { (void)empty.register_kernel(poly_desc()); }, "no executor");
}

// --------------------------------------------------------------------------------------
// Sizes checked by the wrapper, before the library is called
// --------------------------------------------------------------------------------------

void test_size_checks(ge::Executor &exec) {
    const gpu_executor_stats_t before = exec.stats();
    // Leave a known last-error message: a C call in between would replace it.
    ge::Executor empty(static_cast<gpu_executor_t *>(nullptr));
    expect_error(GPU_EXECUTOR_NULL_POINTER, "", [&] { (void)empty.stats(); }, "stats of nothing");
    const std::string previous = gpu_executor_last_error_message();
    CHECK(!previous.empty());

    std::vector<float> f8(8, 1.0f), f7(7, 1.0f), out8(8, std::nanf("")), out7(7, std::nanf(""));
    std::vector<int32_t> i8(8), i9(9), iout8(8);
    std::vector<uint32_t> u8(8), uout9(9);
    float result = std::nanf("");
    const auto sizes = [&](const char *what, const char *needle, std::function<void()> f) {
        expect_error(GPU_EXECUTOR_INVALID_ARGUMENT, needle, f, what);
    };
    sizes("add: short b", "add: input 1 has 7 elements, the output 8", [&] { (void)ge::Task::add(f8, f7, out8); });
    sizes("sub: long output", "input 0 has 8 elements, the output 9", [&] { (void)ge::Task::sub(u8, u8, uout9); });
    sizes("neg", "neg: input 0", [&] { (void)ge::Task::neg(i9, iout8); });
    sizes("sqrt", "sqrt:", [&] { (void)ge::Task::sqrt(f7, out8); });
    sizes("scale", "scale:", [&] { (void)ge::Task::scale(f7, 2.0f, out8); });
    sizes("axpy", "axpy: input 1", [&] { (void)ge::Task::axpy(2.0f, f8, f7, out8); });
    sizes("clamp", "clamp:", [&] { (void)ge::Task::clamp(i9, -1, 1, iout8); });
    sizes("fma", "fma: input 2", [&] { (void)ge::Task::fma(f8, f8, f7, out8); });
    sizes("dot", "dot: a has 8 elements, b 7", [&] { (void)ge::Task::dot(f8, f7, result); });
    sizes("matmul A", "matmul: A has 8 elements", [&] { (void)ge::Task::matmul(f8, f8, out8, 2, 3, 4); });
    sizes("matmul B", "matmul: B has 7 elements", [&] { (void)ge::Task::matmul(f8, f7, out8, 2, 4, 2); });
    sizes("matmul C", "matmul: C has 7 elements", [&] { (void)ge::Task::matmul(f8, f8, out7, 2, 4, 2); });
    sizes("matmul transposed", "(B transposed)", [&] { (void)ge::Task::matmul(f8, f7, out8, 4, 2, 2, true); });
    sizes("custom", "custom: input 1 has 7 elements", [&] { (void)ge::Task::custom(1u, {f8, f7}, out8); });
    sizes("custom: 5 params", "4 of each", [&] {
        (void)ge::Task::custom(1u, {f8}, out8, {1.0f, 2.0f, 3.0f, 4.0f, 5.0f});
    });
    sizes("custom raw: 5 inputs", "4 of each", [&] {
        (void)ge::Task::custom(1u, GPU_DTYPE_F32, {f8.data(), f8.data(), f8.data(), f8.data(), f8.data()},
                               out8.data(), 8);
    });
    expect_error(GPU_EXECUTOR_SIZE_OVERFLOW, "overflows", [&] {
        (void)ge::Task::matmul(f8.data(), f8.data(), out8.data(), SIZE_MAX / 2, 1, 3);
    }, "matmul M*N overflows");
    expect_error(GPU_EXECUTOR_SIZE_OVERFLOW, "M*K", [&] {
        (void)ge::Task::matmul(f8, f8, out8, SIZE_MAX / 2, 4, 1);
    }, "matmul M*K overflows");

    CHECK(previous == gpu_executor_last_error_message());
    const gpu_executor_stats_t after = exec.stats();
    CHECK_EQ(after.batches, before.batches);
    CHECK_EQ(after.tasks, before.tasks);
    CHECK(tu_all_nan(out8.data(), out8.size()) && std::isnan(result));

    // Sizes that match pass; and empty arrays are a valid no-op.
    std::vector<float> none;
    std::vector<float> none_out;
    float empty_sum = std::nanf("");
    exec.submit({ge::Task::add(none, none, none_out), ge::Task::sum(none, empty_sum),
                 ge::Task::matmul(none, f8, none_out, 0, 8, 1)});
    CHECK(empty_sum == 0.0f);

    // std::array and C arrays are ranges too; under C++20, spans address parts of arrays.
    std::array<int32_t, 4> ints{{-3, 5, -7, 9}};
    int32_t magnitudes[4] = {0, 0, 0, 0};
    exec.submit(ge::Task::abs(ints, magnitudes));
    CHECK(magnitudes[0] == 3 && magnitudes[1] == 5 && magnitudes[2] == 7 && magnitudes[3] == 9);
#if defined(__cpp_lib_span)
    std::vector<float> whole{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    std::span<float> view(whole);
    float tail_sum = 0.0f;
    exec.submit({ge::Task::scale(view.first(3), 10.0f, view.last(3)),
                 ge::Task::sum(std::span<const float>(whole).first(2), tail_sum)});
    CHECK(whole == std::vector<float>({1.0f, 2.0f, 3.0f, 10.0f, 20.0f, 30.0f}));
    CHECK(tail_sum == 3.0f);
    sizes("span", "scale: input 0 has 2 elements, the output 3",
          [&] { (void)ge::Task::scale(view.first(2), 1.0f, view.last(3)); });
#endif
}

// --------------------------------------------------------------------------------------
// Options::wait_timeout
// --------------------------------------------------------------------------------------

void test_wait_timeout() {
    ge::Executor exec{ge::Options{}.wait_timeout(std::chrono::nanoseconds(1))};  // shorter than any batch
    const std::size_t n = std::size_t{4} << 20;
    std::vector<float> a(n, 1.0f), b(n, 2.0f), out(n, std::nanf(""));
    expect_error(GPU_EXECUTOR_TIMED_OUT, "wait limit", [&] { exec.submit(ge::Task::add(a, b, out)); },
                 "blocking submit past the limit");
    CHECK(std::isnan(out[0]) && std::isnan(out[n - 1]));

    ge::Ticket ticket = exec.submit_async(ge::Task::add(a, b, out));
    expect_error(GPU_EXECUTOR_TIMED_OUT, "", [&] { ticket.wait(); }, "ticket wait past the limit");
    CHECK(!ticket.done());
    // An explicit timeout is the caller's own: the ticket is still valid and completes.
    CHECK(ticket.wait(std::chrono::seconds(120)));
    CHECK(out[0] == 3.0f && out[n - 1] == 3.0f);
}

}  // namespace

int main() {
    try {
        test_names_and_options();
        ge::Executor exec;
        test_elementwise(exec);
        test_reductions(exec);
        test_matmul(exec);
        test_user_kernels(exec);
        test_registration_errors(exec);
        test_size_checks(exec);
        test_wait_timeout();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        CHECK(false);
    }
    return tu_finish("cpp_ops_test");
}
