/*
 * gpu_executor.hpp: header-only C++17 RAII wrapper over the C API in gpu_executor.h.
 *
 *   gpu_executor::Executor exec{gpu_executor::Options{}.strategy(GPU_STRATEGY_BUCKETED)};
 *   std::vector<float> a(n), b(n), out(n);
 *   exec.submit(a, b, out);                     // one task: out = a + b
 *
 *   gpu_executor::Batch batch;                  // many tasks, one submission
 *   batch.add(a1, b1, out1).add(a2, b2, out2);
 *   exec.submit(batch);
 *
 *   using gpu_executor::Task;                   // typed builders for every op
 *   batch.add(Task::relu(x, y))                 // float, int32_t or uint32_t arrays
 *        .add(Task::sum(y, total))              // reductions into one float (or a
 *                                               // one-element Region<float>)
 *        .add(Task::matmul(A, B, C, m, k, n));  // sizes checked before submission
 *
 *   uint32_t poly = exec.register_kernel(desc); // a WGSL kernel (KernelDesc)
 *   batch.add(Task::custom(poly, {a, b}, out, {1.5f}));
 *
 *   gpu_executor::Ticket ticket = exec.submit_async(batch);   // returns at once
 *   ticket.wait();                              // outputs written here
 *
 *   gpu_executor::Buffer<float> x(exec, host);  // resident on the GPU (a copy of host)
 *   gpu_executor::Buffer<float> y(exec, 2 * n); // zero-filled
 *   exec.submit({Task::relu(x, y.region(0, n)),           // operands stay on the GPU;
 *                Task::scale(y.region(0, n), 2.0f, y.region(n, n))});  // ordered, one submit
 *   std::vector<float> result = y.read(n, n);   // only this comes back
 *
 *   gpu_executor::Region<float> y0 = y.region(0, n);  // buffer operands only:
 *   gpu_executor::Recording step = exec.record({Task::add(y0, x, y0)});  // planned once
 *   for (int i = 0; i < 4; ++i) step.submit();  // y0 += x, one submit each, nothing re-planned
 *
 *   gpu_executor::HostRegistration pinned(exec, out);   // registered host memory: the GPU
 *   exec.submit(a, b, out);                     // writes `out` in place, no staging copy;
 *                                               // unregistered when `pinned` goes away
 *
 *   gpu_executor::set_log_level(GPU_LOG_INFO);  // process-wide
 *   gpu_executor::set_log_callback([](gpu_executor::LogLevel, std::string_view text) {
 *       std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
 *   });
 *
 * Every failure throws gpu_executor::Error, which carries the status code and the
 * library's last-error message. Tasks hold raw pointers: the arrays they name must stay
 * alive (and outputs untouched by others) until the submit call returns; for
 * submit_async, inputs until it returns and outputs until the Ticket completes (inputs in
 * registered host memory, read in place, until the Ticket completes too). Buffer
 * operands (Region, Buffer) are handles: a Task or Batch keeps the gpu_region_t structs it
 * points to itself, and the buffers must not be destroyed before submission.
 *
 * Requires C++17; with C++20 (when <span> is available) the std::span overloads are
 * added as well.
 */

#ifndef GPU_EXECUTOR_HPP
#define GPU_EXECUTOR_HPP

#include "gpu_executor.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__has_include)
#if __has_include(<version>)
#include <version>
#endif
#endif

#if defined(__cpp_lib_span)
#include <span>
#endif

namespace gpu_executor {

/// The C status enum; `GPU_EXECUTOR_OK` is zero.
using Status = gpu_executor_status_t;

/// The enumerator's name, e.g. "GPU_EXECUTOR_ALIASING" ("GPU_EXECUTOR_UNKNOWN_STATUS" for
/// values this header does not know).
inline const char *status_name(Status status) noexcept {
    switch (status) {
    case GPU_EXECUTOR_OK: return "GPU_EXECUTOR_OK";
    case GPU_EXECUTOR_NULL_POINTER: return "GPU_EXECUTOR_NULL_POINTER";
    case GPU_EXECUTOR_INVALID_ARGUMENT: return "GPU_EXECUTOR_INVALID_ARGUMENT";
    case GPU_EXECUTOR_UNKNOWN_OP: return "GPU_EXECUTOR_UNKNOWN_OP";
    case GPU_EXECUTOR_BAD_STRUCT_SIZE: return "GPU_EXECUTOR_BAD_STRUCT_SIZE";
    case GPU_EXECUTOR_SIZE_OVERFLOW: return "GPU_EXECUTOR_SIZE_OVERFLOW";
    case GPU_EXECUTOR_ALIASING: return "GPU_EXECUTOR_ALIASING";
    case GPU_EXECUTOR_NO_ADAPTER: return "GPU_EXECUTOR_NO_ADAPTER";
    case GPU_EXECUTOR_DEVICE_REQUEST_FAILED: return "GPU_EXECUTOR_DEVICE_REQUEST_FAILED";
    case GPU_EXECUTOR_GPU_ERROR: return "GPU_EXECUTOR_GPU_ERROR";
    case GPU_EXECUTOR_OUT_OF_MEMORY: return "GPU_EXECUTOR_OUT_OF_MEMORY";
    case GPU_EXECUTOR_DEVICE_LOST: return "GPU_EXECUTOR_DEVICE_LOST";
    case GPU_EXECUTOR_PANIC: return "GPU_EXECUTOR_PANIC";
    case GPU_EXECUTOR_MISALIGNED_POINTER: return "GPU_EXECUTOR_MISALIGNED_POINTER";
    case GPU_EXECUTOR_INVALID_OPTION: return "GPU_EXECUTOR_INVALID_OPTION";
    case GPU_EXECUTOR_POISONED: return "GPU_EXECUTOR_POISONED";
    case GPU_EXECUTOR_NOT_READY: return "GPU_EXECUTOR_NOT_READY";
    case GPU_EXECUTOR_UNKNOWN_TICKET: return "GPU_EXECUTOR_UNKNOWN_TICKET";
    case GPU_EXECUTOR_TIMED_OUT: return "GPU_EXECUTOR_TIMED_OUT";
    case GPU_EXECUTOR_INVALID_KERNEL: return "GPU_EXECUTOR_INVALID_KERNEL";
    case GPU_EXECUTOR_INVALID_BUFFER: return "GPU_EXECUTOR_INVALID_BUFFER";
    case GPU_EXECUTOR_FOREIGN_BUFFER: return "GPU_EXECUTOR_FOREIGN_BUFFER";
    case GPU_EXECUTOR_OUT_OF_BOUNDS: return "GPU_EXECUTOR_OUT_OF_BOUNDS";
    case GPU_EXECUTOR_TYPE_MISMATCH: return "GPU_EXECUTOR_TYPE_MISMATCH";
    case GPU_EXECUTOR_DEPENDENCY: return "GPU_EXECUTOR_DEPENDENCY";
    case GPU_EXECUTOR_OVER_BUDGET: return "GPU_EXECUTOR_OVER_BUDGET";
    case GPU_EXECUTOR_UNSUPPORTED: return "GPU_EXECUTOR_UNSUPPORTED";
    }
    return "GPU_EXECUTOR_UNKNOWN_STATUS";
}

/// The library's description of a status (gpu_executor_status_str).
inline std::string status_string(Status status) {
    return gpu_executor_status_str(static_cast<int32_t>(status));
}

/// The version of the loaded library, e.g. "0.1.0".
inline std::string version() { return gpu_executor_version(); }

/// The version of this header, from the GPU_EXECUTOR_VERSION_* macros.
inline std::string header_version() {
    return std::to_string(GPU_EXECUTOR_VERSION_MAJOR) + "." +
           std::to_string(GPU_EXECUTOR_VERSION_MINOR) + "." +
           std::to_string(GPU_EXECUTOR_VERSION_PATCH);
}

/// A failed call: the status code and the detail message.
class Error : public std::runtime_error {
public:
    Error(Status status, std::string message)
        : std::runtime_error(describe(status, message)),
          status_(status),
          message_(std::move(message)) {}

    /// The status the call returned (never GPU_EXECUTOR_OK).
    Status status() const noexcept { return status_; }
    /// The status as a plain integer.
    int32_t code() const noexcept { return static_cast<int32_t>(status_); }
    /// The enumerator's name, e.g. "GPU_EXECUTOR_ALIASING".
    const char *name() const noexcept { return status_name(status_); }
    /// The detail: gpu_executor_last_error_message() at the time of the failure, or the
    /// wrapper's own explanation for errors it detects itself.
    const std::string &message() const noexcept { return message_; }

private:
    static std::string describe(Status status, const std::string &message) {
        std::string text = "gpu_executor: ";
        text += status_name(status);
        text += " (";
        text += gpu_executor_status_str(static_cast<int32_t>(status));
        text += ")";
        if (!message.empty()) {
            text += ": ";
            text += message;
        }
        return text;
    }

    Status status_;
    std::string message_;
};

namespace detail {

/// Throws Error with the thread's last-error message unless `status` is OK.
inline void check(Status status) {
    if (status != GPU_EXECUTOR_OK) {
        throw Error(status, gpu_executor_last_error_message());
    }
}

inline void check_lengths(std::size_t a, std::size_t b, std::size_t out) {
    if (a != out || b != out) {
        throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                    "vector_add: input lengths " + std::to_string(a) + " and " +
                        std::to_string(b) + " do not match the output length " +
                        std::to_string(out));
    }
}

/// A timeout as gpu_executor_wait's nanoseconds: negative or zero = 0 (only check),
/// anything from 2^64 ns (about 584 years) up = UINT64_MAX (no limit). Never overflows.
template <typename Rep, typename Period>
uint64_t timeout_ns(const std::chrono::duration<Rep, Period> &timeout) noexcept {
    const long double ns = std::chrono::duration<long double, std::nano>(timeout).count();
    if (!(ns > 0.0L)) {
        return 0;
    }
    if (ns >= 18446744073709551616.0L) {
        return UINT64_MAX;
    }
    return static_cast<uint64_t>(ns);
}

inline gpu_task_t make_vector_add(const float *a, const float *b, float *out,
                                  std::size_t length) noexcept {
    gpu_task_t task{};
    task.op = GPU_OP_VECTOR_ADD;
    task.inputs[0] = a;
    task.inputs[1] = b;
    task.output = out;
    task.length = length;
    return task;
}

} // namespace detail

// --------------------------------------------------------------------------------------
// Logging (process-wide)
// --------------------------------------------------------------------------------------

/// The C level enum: GPU_LOG_OFF (as a threshold only), GPU_LOG_ERROR, GPU_LOG_WARN,
/// GPU_LOG_INFO, GPU_LOG_DEBUG.
using LogLevel = gpu_log_level_t;

/// Receives one message: its level and text (valid only during the call; copy it to keep
/// it). May run on any thread that calls into the library, possibly while an executor's
/// internal lock is held: it must be thread-safe and must not call into gpu_executor.
/// Exceptions it throws are swallowed (they cannot cross the C boundary).
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

namespace detail {

struct LogState {
    std::mutex install;  // serialises set_log_callback, so `callback` matches the C side
    std::mutex slot;     // guards `callback` only; never held while calling anything
    std::shared_ptr<const LogCallback> callback;
};

/// Never destroyed: the library may log during static destruction (an Executor with static
/// storage, a library thread), and the trampoline must still find a valid state then.
inline LogState &log_state() {
    static LogState *const state = new LogState();
    return *state;
}

inline void log_trampoline(uint32_t level, const char *message, void *) noexcept {
    std::shared_ptr<const LogCallback> callback;
    {
        LogState &state = log_state();
        std::lock_guard<std::mutex> lock(state.slot);
        callback = state.callback;  // a copy: replacing it meanwhile cannot free it under us
    }
    if (callback && *callback) {
        try {
            (*callback)(static_cast<LogLevel>(level),
                        message != nullptr ? std::string_view(message) : std::string_view());
        } catch (...) {
            // Nothing may unwind into the library.
        }
    }
}

} // namespace detail

/// Routes the library's log messages (gpu_executor_set_log_callback) to `callback`, for
/// every executor of the process; an empty callback (or nullptr) restores stderr. The
/// wrapper keeps the std::function alive for as long as it is installed, and a call already
/// running when it is replaced finishes on its own copy. Only a threshold of
/// set_log_level (or GPU_EXECUTOR_LOG; default warn) lets messages through.
inline void set_log_callback(LogCallback callback) {
    detail::LogState &state = detail::log_state();
    std::lock_guard<std::mutex> install(state.install);
    if (callback) {
        auto shared = std::make_shared<const LogCallback>(std::move(callback));
        {
            std::lock_guard<std::mutex> lock(state.slot);
            state.callback = std::move(shared);
        }
        detail::check(gpu_executor_set_log_callback(&detail::log_trampoline, nullptr));
    } else {
        detail::check(gpu_executor_set_log_callback(nullptr, nullptr));
        std::shared_ptr<const LogCallback> old;
        {
            std::lock_guard<std::mutex> lock(state.slot);
            old.swap(state.callback);
        }
        // `old` is released here, outside the lock.
    }
}

/// The most verbose level emitted, process-wide (gpu_executor_set_log_level); overrides
/// GPU_EXECUTOR_LOG. GPU_LOG_OFF silences the library. Throws
/// Error(GPU_EXECUTOR_INVALID_ARGUMENT) for a value outside gpu_log_level_t.
inline void set_log_level(LogLevel level) {
    detail::check(gpu_executor_set_log_level(static_cast<uint32_t>(level)));
}

/// Executor options, starting from gpu_executor_options_default(). Setters chain.
class Options {
public:
    Options() noexcept : raw_(gpu_executor_options_default()) {}
    explicit Options(const gpu_executor_options_t &raw) noexcept : raw_(raw) {}

    Options &backend(gpu_backend_t value) noexcept {
        raw_.backend = value;
        return *this;
    }
    Options &power_preference(gpu_power_preference_t value) noexcept {
        raw_.power_preference = value;
        return *this;
    }
    Options &strategy(gpu_strategy_t value) noexcept {
        raw_.strategy = value;
        return *this;
    }
    Options &exact_size_cache(bool enabled) noexcept {
        raw_.exact_size_cache = enabled ? 1u : 0u;
        return *this;
    }
    Options &exact_size_cache_capacity(uint32_t capacity) noexcept {
        raw_.exact_size_cache_capacity = capacity;
        return *this;
    }
    /// 0 = what the device allows; otherwise at least 64 (rounded down to a power of two).
    Options &max_chunk_elements(uint64_t elements) noexcept {
        raw_.max_chunk_elements = elements;
        return *this;
    }

    /// Threads copying a large batch to and from staging memory: 0 = up to 16, by the
    /// machine's parallelism; 1 = the calling thread only.
    Options &copy_threads(uint32_t threads) noexcept {
        raw_.copy_threads = threads;
        return *this;
    }

    /// Longest that a blocking submit, and Ticket::wait() without a timeout, wait for the
    /// GPU before throwing Error(GPU_EXECUTOR_TIMED_OUT) (wait_timeout_ns). Zero (the
    /// default) or negative: no limit. Fractions of a nanosecond are dropped, but a positive
    /// limit stays at least 1 ns; from 2^64 ns up, UINT64_MAX (no practical limit).
    template <typename Rep, typename Period>
    Options &wait_timeout(const std::chrono::duration<Rep, Period> &limit) noexcept {
        const uint64_t ns = detail::timeout_ns(limit);
        // A positive limit under 1 ns must not truncate to 0, which means "no limit".
        raw_.wait_timeout_ns =
            ns == 0 && limit > std::chrono::duration<Rep, Period>::zero() ? 1 : ns;
        return *this;
    }
    /// The wait limit (zero: none).
    std::chrono::nanoseconds wait_timeout() const noexcept {
        return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(
            raw_.wait_timeout_ns > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                                    : raw_.wait_timeout_ns));
    }

    /// The adapter to run on, by its index in the list gpu_executor_enumerate_adapters()
    /// gives for the same backend (adapter_index); GPU_ADAPTER_DEFAULT (the default)
    /// chooses by backend and power preference.
    Options &adapter_index(uint32_t index) noexcept {
        raw_.adapter_index = index;
        return *this;
    }

    /// Most bytes kept for reuse in idle slabs, the exact-size cache and idle block tables
    /// together (max_idle_bytes; default 512 MiB, 0 keeps nothing, UINT64_MAX no cap).
    Options &max_idle_bytes(uint64_t bytes) noexcept {
        raw_.max_idle_bytes = bytes;
        return *this;
    }

    /// Most slab bytes asynchronous batches may hold in flight (max_in_flight_bytes; 0,
    /// the default: no budget); one more gets Error(GPU_EXECUTOR_OVER_BUDGET).
    Options &max_in_flight_bytes(uint64_t bytes) noexcept {
        raw_.max_in_flight_bytes = bytes;
        return *this;
    }

    /// Where the host side of transfers lives (staging; default GPU_STAGING_AUTO: host
    /// memory mapped once where the backend allows it, else wgpu's mapped buffers).
    Options &staging(gpu_staging_t staging) noexcept {
        raw_.staging = static_cast<uint32_t>(staging);
        return *this;
    }

    /// Directory of the persistent pipeline cache (pipeline_cache_dir; nullptr or "", the
    /// default: off). The string is read by the constructor of Executor only, so it must
    /// live until then.
    Options &pipeline_cache_dir(const char *dir) noexcept {
        raw_.pipeline_cache_dir = dir;
        return *this;
    }

    /// The smallest size bucket in elements (min_bucket_elements): a power of two from 64
    /// to 2^30; default 16384. Other values: Error(GPU_EXECUTOR_INVALID_ARGUMENT)
    /// when the executor is created.
    Options &min_bucket_elements(uint64_t elements) noexcept {
        raw_.min_bucket_elements = elements;
        return *this;
    }

    /// Each size bucket is this many times the one below (bucket_growth): 2 to 16;
    /// default 2.
    Options &bucket_growth(uint32_t growth) noexcept {
        raw_.bucket_growth = growth;
        return *this;
    }

    /// Adapt the buckets to the workload between batches (adaptive_buckets; default off).
    /// Results never change; see docs/BUCKETS.md.
    Options &adaptive_buckets(bool on) noexcept {
        raw_.adaptive_buckets = on ? 1u : 0u;
        return *this;
    }

    const gpu_executor_options_t &raw() const noexcept { return raw_; }
    gpu_executor_options_t &raw() noexcept { return raw_; }

private:
    gpu_executor_options_t raw_;
};

// --------------------------------------------------------------------------------------
// Element types and typed task arguments
// --------------------------------------------------------------------------------------

/// Whether `op` is defined for element type `dtype` (the table of gpu_op_t in
/// gpu_executor.h): add, sub, mul, div, min, max, scale, axpy, clamp, fma and copy for every type;
/// neg, abs and relu for float and int32_t; pow, sqrt, exp, log, sin, cos, tanh and sigmoid,
/// the reductions and matmul for float only. False for codes this header does not know
/// (registered kernels included: they name their own dtype).
constexpr bool supports(gpu_op_t op, gpu_dtype_t dtype) noexcept {
    const bool any = dtype == GPU_DTYPE_F32 || dtype == GPU_DTYPE_I32 || dtype == GPU_DTYPE_U32;
    switch (op) {
    case GPU_OP_VECTOR_ADD:
    case GPU_OP_SUB:
    case GPU_OP_MUL:
    case GPU_OP_DIV:
    case GPU_OP_MIN:
    case GPU_OP_MAX:
    case GPU_OP_SCALE:
    case GPU_OP_AXPY:
    case GPU_OP_CLAMP:
    case GPU_OP_FMA:
    case GPU_OP_COPY:
        return any;
    case GPU_OP_NEG:
    case GPU_OP_ABS:
    case GPU_OP_RELU:
        return dtype == GPU_DTYPE_F32 || dtype == GPU_DTYPE_I32;
    case GPU_OP_POW:
    case GPU_OP_SQRT:
    case GPU_OP_EXP:
    case GPU_OP_LOG:
    case GPU_OP_SIN:
    case GPU_OP_COS:
    case GPU_OP_TANH:
    case GPU_OP_SIGMOID:
    case GPU_OP_SUM:
    case GPU_OP_REDUCE_MIN:
    case GPU_OP_REDUCE_MAX:
    case GPU_OP_MEAN:
    case GPU_OP_DOT:
    case GPU_OP_NORM2:
    case GPU_OP_MATMUL:
        return dtype == GPU_DTYPE_F32;
    }
    return false;
}

template <typename T>
class Region;
template <typename T>
class Buffer;

namespace detail {

template <typename T>
struct type_identity {
    using type = T;
};
/// Keeps a parameter out of template argument deduction (a scalar takes the arrays' type).
template <typename T>
using type_identity_t = typename type_identity<T>::type;

template <typename T>
using remove_cvref_t = std::remove_cv_t<std::remove_reference_t<T>>;

/// The gpu_dtype_t of element type T; 255 (no type) for any other T.
template <typename T>
constexpr uint32_t dtype_code() noexcept {
    if constexpr (std::is_same<T, float>::value) {
        return GPU_DTYPE_F32;
    } else if constexpr (std::is_same<T, int32_t>::value) {
        return GPU_DTYPE_I32;
    } else if constexpr (std::is_same<T, uint32_t>::value) {
        return GPU_DTYPE_U32;
    } else {
        return 255;
    }
}

template <typename T>
constexpr gpu_dtype_t element_dtype() noexcept {
    static_assert(dtype_code<T>() != 255, "task elements are float, int32_t or uint32_t");
    return static_cast<gpu_dtype_t>(dtype_code<T>());
}

/// Whether built-in op `Op` is defined for element type T.
template <gpu_op_t Op, typename T>
inline constexpr bool op_defined_for =
    supports(Op, static_cast<gpu_dtype_t>(dtype_code<std::remove_cv_t<T>>()));

/// A contiguous range: std::data() gives a pointer (its element const when read-only)
/// and std::size() a count. std::vector, std::array, std::span, C arrays.
template <typename R, typename = void>
struct range_of {
    static constexpr bool value = false;
    using element = void;
};
template <typename R>
struct range_of<R, std::void_t<decltype(std::data(std::declval<R &>())),
                               decltype(std::size(std::declval<R &>()))>> {
    static constexpr bool value =
        std::is_pointer<decltype(std::data(std::declval<R &>()))>::value;
    using element = std::remove_pointer_t<decltype(std::data(std::declval<R &>()))>;
};

/// Ranges that only view memory owned elsewhere, so that a temporary of them is fine.
template <typename R>
struct is_view : std::false_type {};
#if defined(__cpp_lib_span)
template <typename T, std::size_t Extent>
struct is_view<std::span<T, Extent>> : std::true_type {};
#endif

/// A range argument a Task may keep pointing into: an lvalue, or a view. A Task outlives
/// the full-expression, so a temporary container would dangle.
template <typename R>
inline constexpr bool lasting =
    std::is_lvalue_reference<R>::value || is_view<remove_cvref_t<R>>::value;

template <typename R>
using element_t = typename range_of<R>::element;

/// The bytes of a contiguous range to register as host memory; Error(INVALID_ARGUMENT)
/// for an empty one (whose data() may be NULL, which the library would call NULL_POINTER).
template <typename R>
std::size_t registered_bytes(R &range, const char *what) {
    const std::size_t count = std::size(range);
    if (count == 0) {
        throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                    std::string(what) + ": the range is empty (no memory to register)");
    }
    return count * sizeof(*std::data(range));
}

/// Region<T> and Buffer<T>: operands that name buffer memory on the GPU, of element type T.
template <typename X>
struct region_traits {
    static constexpr bool value = false;
    static constexpr bool is_buffer = false;
    using element = void;
};
template <typename T>
struct region_traits<Region<T>> {
    static constexpr bool value = true;
    static constexpr bool is_buffer = false;
    using element = T;
};
template <typename T>
struct region_traits<Buffer<T>> {
    static constexpr bool value = true;
    static constexpr bool is_buffer = true;
    using element = T;
};

/// X (as deduced for `X &&`) is a buffer operand: a Region (a small value, so a temporary
/// is fine), or a Buffer lvalue (all of it; a temporary Buffer would be destroyed, and its
/// handle invalid, before the task is submitted).
template <typename X>
inline constexpr bool region_arg =
    region_traits<remove_cvref_t<X>>::value &&
    (!region_traits<remove_cvref_t<X>>::is_buffer || std::is_lvalue_reference<X>::value);

/// A buffer operand the task may write: a Region, or a Buffer lvalue that is not const (a
/// const Buffer, like a const vector, is read only).
template <typename X>
inline constexpr bool output_region =
    region_arg<X> && (!region_traits<remove_cvref_t<X>>::is_buffer ||
                      !std::is_const<std::remove_reference_t<X>>::value);

template <typename X>
using region_element_t = typename region_traits<remove_cvref_t<X>>::element;

/// R (as deduced for `R &&`) is a lasting range of T elements, read-only or not, or a
/// buffer operand of T elements.
template <typename R, typename T>
inline constexpr bool input_of =
    (range_of<R>::value && lasting<R> &&
     std::is_same<std::remove_const_t<element_t<R>>, T>::value) ||
    (region_arg<R> && std::is_same<region_element_t<R>, T>::value);

/// R is a lasting range of writable elements.
template <typename R>
inline constexpr bool output_range =
    range_of<R>::value && lasting<R> && !std::is_const<element_t<R>>::value;

/// R is an operand a task may write: a writable lasting range or a buffer operand.
template <typename R>
inline constexpr bool output_operand = output_range<R> || output_region<R>;

/// The element type of operand R (without const): a range's or a buffer operand's.
template <typename R>
using operand_element_t = std::conditional_t<region_arg<R>, region_element_t<R>,
                                             std::remove_const_t<element_t<R>>>;

/// The element type T of an element-wise task of `Op` writing `Out` from inputs `In...`:
/// Out a writable range or a buffer operand of T, every input a range or buffer operand of
/// T, Op defined for T. Substitution fails otherwise, so the builder does not exist for
/// those arguments (a Buffer<int32_t> with float vectors does not compile).
template <gpu_op_t Op, typename Out, typename... In>
using elementwise_t = std::enable_if_t<
    output_operand<Out> && op_defined_for<Op, operand_element_t<Out>> &&
        (input_of<In, operand_element_t<Out>> && ...),
    operand_element_t<Out>>;

/// T, when built-in op `Op` is defined for it.
template <gpu_op_t Op, typename T>
using op_type_t = std::enable_if_t<op_defined_for<Op, T>, T>;

/// Every input a lasting range of float (the reductions and matmul).
template <typename... In>
using floats_t = std::enable_if_t<(input_of<In, float> && ...), float>;

/// Where a reduction may write its result (O as deduced for `O &&`): a host float lvalue,
/// or a buffer operand of float that a task may write (a Region<float>, a non-const
/// Buffer<float> lvalue). Not a temporary float (the result would be lost), nor a host
/// range (one float is a `float &`), nor a region of another element type.
template <typename O>
inline constexpr bool reduction_output =
    std::is_same<O, float &>::value ||
    (output_region<O> && std::is_same<region_element_t<O>, float>::value);

template <typename O>
using reduction_output_t = std::enable_if_t<reduction_output<O>, float>;

/// The element type of a writable range or buffer operand of float, int32_t or uint32_t.
template <typename Out>
using element_output_t =
    std::enable_if_t<output_operand<Out> && dtype_code<operand_element_t<Out>>() != 255,
                     operand_element_t<Out>>;

/// A scalar as the low half of a params word.
inline uint64_t scalar_bits(float value) noexcept { return gpu_param_f32(value); }
inline uint64_t scalar_bits(int32_t value) noexcept { return gpu_param_i32(value); }
inline uint64_t scalar_bits(uint32_t value) noexcept { return value; }

/// A task from its fields. Callers reject more than 4 inputs or params before this; the
/// bounds here keep the copy itself safe (and let the compiler see it is).
inline gpu_task_t make_task(uint32_t op, uint32_t flags,
                            std::initializer_list<const void *> inputs, void *output,
                            std::size_t length, std::initializer_list<uint64_t> params) noexcept {
    gpu_task_t task{};
    task.op = op;
    task.flags = flags;
    std::size_t k = 0;
    for (auto input = inputs.begin(); input != inputs.end() && k < 4; ++input) {
        task.inputs[k++] = *input;
    }
    task.output = output;
    task.length = length;
    k = 0;
    for (auto word = params.begin(); word != params.end() && k < 4; ++word) {
        task.params[k++] = *word;
    }
    return task;
}

/// Throws Error(GPU_EXECUTOR_INVALID_ARGUMENT) unless every input holds `out` elements.
inline void check_sizes(const char *what, std::initializer_list<std::size_t> inputs,
                        std::size_t out) {
    std::size_t k = 0;
    for (std::size_t size : inputs) {
        if (size != out) {
            throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                        std::string(what) + ": input " + std::to_string(k) + " has " +
                            std::to_string(size) + " elements, the output " +
                            std::to_string(out));
        }
        ++k;
    }
}

/// `x * y`, or Error(GPU_EXECUTOR_SIZE_OVERFLOW) naming `what` when it does not fit.
inline std::size_t checked_product(std::size_t x, std::size_t y, const char *what) {
    if (x != 0 && y > SIZE_MAX / x) {
        throw Error(GPU_EXECUTOR_SIZE_OVERFLOW,
                    std::string("matmul: ") + what + " = " + std::to_string(x) + " * " +
                        std::to_string(y) + " overflows size_t");
    }
    return x * y;
}

} // namespace detail

/// The gpu_dtype_t of element type T: float, int32_t or uint32_t (others do not compile).
template <typename T>
inline constexpr gpu_dtype_t dtype_of = detail::element_dtype<T>();

/// A params word of Task::custom: a float, int32_t or uint32_t as its 32-bit pattern (the
/// upper half 0). Other arithmetic types are ambiguous on purpose (write 1.5f, not 1.5;
/// cast a size_t); Param::raw gives any 64-bit word.
class Param {
public:
    Param(float value) noexcept : bits_(detail::scalar_bits(value)) {}
    Param(int32_t value) noexcept : bits_(detail::scalar_bits(value)) {}
    Param(uint32_t value) noexcept : bits_(detail::scalar_bits(value)) {}

    /// The word as is (a built-in op's params, e.g. matmul's M, K, N).
    static Param raw(uint64_t bits) noexcept {
        Param param(uint32_t{0});
        param.bits_ = bits;
        return param;
    }

    uint64_t bits() const noexcept { return bits_; }

private:
    uint64_t bits_;
};

/// `size()` elements of a resident buffer of T from element `offset()`: a task operand,
/// input or output, wherever the typed builders take an array (from Buffer::region(), or a
/// whole Buffer lvalue). A small value holding the buffer's handle, not the buffer: copying
/// it copies the handle. The library checks the handle, the element type and the bounds
/// when a task using the region is submitted (Error(GPU_EXECUTOR_INVALID_BUFFER) once the
/// buffer was destroyed, FOREIGN_BUFFER on another executor, TYPE_MISMATCH,
/// OUT_OF_BOUNDS).
template <typename T>
class Region {
    static_assert(detail::dtype_code<T>() != 255, "buffer elements are float, int32_t or uint32_t");

public:
    using value_type = T;

    /// No buffer (handle 0, which the library rejects as INVALID_BUFFER).
    Region() noexcept = default;

    /// `size` elements of the buffer with handle `buffer` from element `offset`, unchecked:
    /// for handles from the C API. The library checks it at submission, including that the
    /// buffer holds T.
    Region(gpu_buffer_t buffer, uint64_t offset, std::size_t size) noexcept
        : buffer_(buffer), offset_(offset), size_(size) {}

    gpu_buffer_t handle() const noexcept { return buffer_; }
    /// The first element, counted from the buffer's start.
    uint64_t offset() const noexcept { return offset_; }
    /// Elements in the region.
    std::size_t size() const noexcept { return size_; }
    /// The C struct a task points to.
    gpu_region_t raw() const noexcept { return gpu_region_t{buffer_, offset_}; }

    /// `count` elements of this region from its element `offset`. Throws
    /// Error(GPU_EXECUTOR_OUT_OF_BOUNDS) when they reach past its end.
    Region sub(std::size_t offset, std::size_t count) const {
        if (offset > size_ || count > size_ - offset) {
            throw Error(GPU_EXECUTOR_OUT_OF_BOUNDS,
                        "Region::sub: " + std::to_string(count) + " elements from element " +
                            std::to_string(offset) +
                            " of a region of " + std::to_string(size_) + " elements");
        }
        return Region(buffer_, offset_ + offset, count);
    }

private:
    gpu_buffer_t buffer_ = 0;
    uint64_t offset_ = 0;
    std::size_t size_ = 0;
};

namespace detail {

/// The element count of a task operand: a range's, a Region's, a whole Buffer's.
template <typename X>
std::size_t operand_size(const X &x) {
    if constexpr (region_traits<remove_cvref_t<X>>::value) {
        return x.size();
    } else {
        return std::size(x);
    }
}

/// The gpu_region_t of a buffer operand (all of a Buffer).
template <typename T>
gpu_region_t raw_region(const Region<T> &region) noexcept {
    return region.raw();
}
template <typename T>
gpu_region_t raw_region(const Buffer<T> &buffer) {
    return buffer.region().raw();
}

/// A task while a builder fills it: its C fields, and the gpu_region_t of each buffer
/// operand (inputs 0 to 3, the output at 4), which Task moves to storage of its own.
struct TaskParts {
    gpu_task_t task{};
    gpu_region_t regions[5]{};
    bool in_buffer[5]{};

    /// Input k: a host range's data, or a buffer operand's region.
    template <typename X>
    void input(std::size_t k, const X &x) {
        if (k >= 4) {
            return;  // (callers pass at most 3)
        }
        if constexpr (region_traits<remove_cvref_t<X>>::value) {
            regions[k] = raw_region(x);
            in_buffer[k] = true;
        } else {
            task.inputs[k] = std::data(x);
        }
    }

    /// The output: a writable range's data, or a buffer operand's region.
    template <typename X>
    void output(X &x) {
        if constexpr (region_traits<remove_cvref_t<X>>::value) {
            regions[4] = raw_region(x);
            in_buffer[4] = true;
        } else {
            task.output = std::data(x);
        }
    }
};

} // namespace detail

/// One input array of Task::custom: a read-only view of `size()` T elements, made from a
/// lasting range (an lvalue std::vector, std::array or C array, or a std::span), or a
/// buffer operand (a Region<T>, or a Buffer<T> lvalue).
template <typename T>
class Input {
public:
    template <typename R, typename = std::enable_if_t<detail::input_of<R, T>>>
    Input(R &&operand) : size_(detail::operand_size(operand)) {
        if constexpr (detail::region_arg<R>) {
            region_ = detail::raw_region(operand);
            in_buffer_ = true;
        } else {
            data_ = std::data(operand);
        }
    }

    /// The host data; NULL for a buffer operand.
    const T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    /// Whether this input is a buffer operand, and its region then.
    bool in_buffer() const noexcept { return in_buffer_; }
    gpu_region_t region() const noexcept { return region_; }

private:
    const T *data_ = nullptr;
    std::size_t size_;
    gpu_region_t region_{};
    bool in_buffer_ = false;
};

/// One task. Holds pointers to host arrays, which must outlive the submit call; the
/// gpu_region_t structs of its buffer operands it keeps itself (shared by its copies), so
/// a Task may be copied, stored in a Batch and submitted later.
class Task {
public:
    /// A task from raw C fields, submitted as is (the library validates it).
    explicit Task(const gpu_task_t &raw) noexcept : raw_(raw) {}

    /// `out[i] = a[i] + b[i]` for `length` elements.
    static Task vector_add(const float *a, const float *b, float *out,
                           std::size_t length) noexcept {
        return Task(detail::make_vector_add(a, b, out, length));
    }

    /// `out = a + b`; throws Error(GPU_EXECUTOR_INVALID_ARGUMENT) when the sizes differ.
    static Task vector_add(const std::vector<float> &a, const std::vector<float> &b,
                           std::vector<float> &out) {
        detail::check_lengths(a.size(), b.size(), out.size());
        return vector_add(a.data(), b.data(), out.data(), out.size());
    }
    // A Task outlives the full-expression: temporaries would dangle.
    static Task vector_add(const std::vector<float> &&, const std::vector<float> &,
                           std::vector<float> &) = delete;
    static Task vector_add(const std::vector<float> &, const std::vector<float> &&,
                           std::vector<float> &) = delete;
    static Task vector_add(const std::vector<float> &&, const std::vector<float> &&,
                           std::vector<float> &) = delete;

#if defined(__cpp_lib_span)
    /// `out = a + b`; throws Error(GPU_EXECUTOR_INVALID_ARGUMENT) when the sizes differ.
    static Task vector_add(std::span<const float> a, std::span<const float> b,
                           std::span<float> out) {
        detail::check_lengths(a.size(), b.size(), out.size());
        return vector_add(a.data(), b.data(), out.data(), out.size());
    }
#endif

    // ----------------------------------------------------------------------------------
    // Typed builders. Each op comes twice:
    // - pointers and a length: `Task::sub(a, b, out, n)` with `const T *` inputs and a
    //   `T *` output (T deduced from them), unchecked, as C would be;
    // - ranges: `Task::sub(a, b, out)` with std::vector (lvalues: a Task outlives the
    //   full-expression, so a temporary would dangle), std::array, C arrays or (C++20)
    //   std::span; inputs may be const, the output must be writable. Sizes must match:
    //   Error(GPU_EXECUTOR_INVALID_ARGUMENT) otherwise, before anything is submitted.
    //   Any of these operands may instead be on the GPU: a Region<T> (buffer.region(offset,
    //   count)) or a whole Buffer<T> lvalue (not const for the output), mixed freely with
    //   host ranges; the result then stays in the buffer.
    // T is float, int32_t or uint32_t and sets the task's dtype. An op used with a type it is
    // not defined for (see supports(); e.g. sqrt of int32_t, neg of uint32_t), or arguments
    // of different element types, do not compile: no builder matches. Scalars take the
    // arrays' type. Integer arithmetic wraps; integer division by 0 gives `a`.
    // ----------------------------------------------------------------------------------

#define GPU_EXECUTOR_HPP_BINARY(NAME, OP)                                                \
    template <typename T, typename = detail::op_type_t<OP, T>>                          \
    static Task NAME(const T *a, const T *b, T *out, std::size_t length) {              \
        return typed<T>(OP, {a, b}, out, length, {});                                   \
    }                                                                                    \
    template <typename A, typename B, typename O,                                        \
              typename T = detail::elementwise_t<OP, O, A, B>>                           \
    static Task NAME(A &&a, B &&b, O &&out) {                                            \
        return elementwise<T>(#NAME, OP, {}, out, a, b);                                 \
    }
#define GPU_EXECUTOR_HPP_UNARY(NAME, OP)                                                 \
    template <typename T, typename = detail::op_type_t<OP, T>>                          \
    static Task NAME(const T *a, T *out, std::size_t length) {                          \
        return typed<T>(OP, {a}, out, length, {});                                      \
    }                                                                                    \
    template <typename A, typename O, typename T = detail::elementwise_t<OP, O, A>>      \
    static Task NAME(A &&a, O &&out) {                                                   \
        return elementwise<T>(#NAME, OP, {}, out, a);                                    \
    }

    /// `out = a + b`. float, int32_t, uint32_t.
    GPU_EXECUTOR_HPP_BINARY(add, GPU_OP_VECTOR_ADD)
    /// `out = a - b`. float, int32_t, uint32_t.
    GPU_EXECUTOR_HPP_BINARY(sub, GPU_OP_SUB)
    /// `out = a * b`. float, int32_t, uint32_t.
    GPU_EXECUTOR_HPP_BINARY(mul, GPU_OP_MUL)
    /// `out = a / b`. float, int32_t, uint32_t (integer division by 0 gives `a`).
    GPU_EXECUTOR_HPP_BINARY(div, GPU_OP_DIV)
    /// `out = min(a, b)`. float, int32_t, uint32_t.
    GPU_EXECUTOR_HPP_BINARY(min, GPU_OP_MIN)
    /// `out = max(a, b)`. float, int32_t, uint32_t.
    GPU_EXECUTOR_HPP_BINARY(max, GPU_OP_MAX)
    /// `out = pow(a, b)`. float.
    GPU_EXECUTOR_HPP_BINARY(pow, GPU_OP_POW)
    /// `out = -a`. float, int32_t.
    GPU_EXECUTOR_HPP_UNARY(neg, GPU_OP_NEG)
    /// `out = |a|`. float, int32_t.
    GPU_EXECUTOR_HPP_UNARY(abs, GPU_OP_ABS)
    /// `out = sqrt(a)`. float.
    GPU_EXECUTOR_HPP_UNARY(sqrt, GPU_OP_SQRT)
    /// `out = exp(a)`. float.
    GPU_EXECUTOR_HPP_UNARY(exp, GPU_OP_EXP)
    /// `out = log(a)` (natural). float.
    GPU_EXECUTOR_HPP_UNARY(log, GPU_OP_LOG)
    /// `out = sin(a)`. float.
    GPU_EXECUTOR_HPP_UNARY(sin, GPU_OP_SIN)
    /// `out = cos(a)`. float.
    GPU_EXECUTOR_HPP_UNARY(cos, GPU_OP_COS)
    /// `out = tanh(a)`. float.
    GPU_EXECUTOR_HPP_UNARY(tanh, GPU_OP_TANH)
    /// `out = max(a, 0)`. float, int32_t.
    GPU_EXECUTOR_HPP_UNARY(relu, GPU_OP_RELU)
    /// `out = 1 / (1 + exp(-a))`. float.
    GPU_EXECUTOR_HPP_UNARY(sigmoid, GPU_OP_SIGMOID)
    /// `out = a`: between buffers, or between a buffer and host memory. float, int32_t,
    /// uint32_t.
    GPU_EXECUTOR_HPP_UNARY(copy, GPU_OP_COPY)

#undef GPU_EXECUTOR_HPP_BINARY
#undef GPU_EXECUTOR_HPP_UNARY

    /// `out = a * s`. float, int32_t, uint32_t.
    template <typename T, typename = detail::op_type_t<GPU_OP_SCALE, T>>
    static Task scale(const T *a, detail::type_identity_t<T> s, T *out, std::size_t length) {
        return typed<T>(GPU_OP_SCALE, {a}, out, length, {detail::scalar_bits(s)});
    }
    template <typename A, typename O, typename T = detail::elementwise_t<GPU_OP_SCALE, O, A>>
    static Task scale(A &&a, detail::type_identity_t<T> s, O &&out) {
        return elementwise<T>("scale", GPU_OP_SCALE, {detail::scalar_bits(s)}, out, a);
    }

    /// `out = s * x + y` (fused or not, as the GPU does it). float, int32_t, uint32_t.
    template <typename T, typename = detail::op_type_t<GPU_OP_AXPY, T>>
    static Task axpy(detail::type_identity_t<T> s, const T *x, const T *y, T *out,
                     std::size_t length) {
        return typed<T>(GPU_OP_AXPY, {x, y}, out, length, {detail::scalar_bits(s)});
    }
    template <typename X, typename Y, typename O,
              typename T = detail::elementwise_t<GPU_OP_AXPY, O, X, Y>>
    static Task axpy(detail::type_identity_t<T> s, X &&x, Y &&y, O &&out) {
        return elementwise<T>("axpy", GPU_OP_AXPY, {detail::scalar_bits(s)}, out, x, y);
    }

    /// `out = min(max(a, lo), hi)`. float, int32_t, uint32_t.
    template <typename T, typename = detail::op_type_t<GPU_OP_CLAMP, T>>
    static Task clamp(const T *a, detail::type_identity_t<T> lo, detail::type_identity_t<T> hi,
                      T *out, std::size_t length) {
        return typed<T>(GPU_OP_CLAMP, {a}, out, length,
                        {detail::scalar_bits(lo), detail::scalar_bits(hi)});
    }
    template <typename A, typename O, typename T = detail::elementwise_t<GPU_OP_CLAMP, O, A>>
    static Task clamp(A &&a, detail::type_identity_t<T> lo, detail::type_identity_t<T> hi,
                      O &&out) {
        return elementwise<T>("clamp", GPU_OP_CLAMP,
                              {detail::scalar_bits(lo), detail::scalar_bits(hi)}, out, a);
    }

    /// `out = a * b + c` (fused where the GPU fuses). float, int32_t, uint32_t.
    template <typename T, typename = detail::op_type_t<GPU_OP_FMA, T>>
    static Task fma(const T *a, const T *b, const T *c, T *out, std::size_t length) {
        return typed<T>(GPU_OP_FMA, {a, b, c}, out, length, {});
    }
    template <typename A, typename B, typename C, typename O,
              typename T = detail::elementwise_t<GPU_OP_FMA, O, A, B, C>>
    static Task fma(A &&a, B &&b, C &&c, O &&out) {
        return elementwise<T>("fma", GPU_OP_FMA, {}, out, a, b, c);
    }

    // Reductions: float only, one float result. Over no elements: sum, dot, norm2 0;
    // reduce_min +infinity; reduce_max -infinity; mean NaN. The inputs may be buffer
    // operands. The result goes to
    // - a host `float &` (or `float *`): the library combines the blocks' partials on the
    //   host in double precision; or
    // - a buffer: a Region<float> of exactly one element, or a one-element Buffer<float>
    //   lvalue (not const; other sizes: Error(GPU_EXECUTOR_INVALID_ARGUMENT) before
    //   anything is submitted). The partials are then combined on the GPU in float
    //   (compensated sums), nothing comes back, and later tasks of the batch may read the
    //   result. Such a reduction must read at most one slab's worth of elements
    //   (Options::max_chunk_elements; by default what the device allows in one binding):
    //   Error(GPU_EXECUTOR_INVALID_ARGUMENT) at submission otherwise.
    // A result of another element type (a Region<int32_t>, a double) does not compile.

    /// `out = sum(a)`.
    static Task sum(const float *a, float *out, std::size_t length) {
        return typed<float>(GPU_OP_SUM, {a}, out, length, {});
    }
    template <typename A, typename O, typename = detail::floats_t<A>,
              typename = detail::reduction_output_t<O>>
    static Task sum(A &&a, O &&out) {
        return reduction("sum", GPU_OP_SUM, out, a);
    }
    /// `out = min(a)` (NaN if any element is NaN).
    static Task reduce_min(const float *a, float *out, std::size_t length) {
        return typed<float>(GPU_OP_REDUCE_MIN, {a}, out, length, {});
    }
    template <typename A, typename O, typename = detail::floats_t<A>,
              typename = detail::reduction_output_t<O>>
    static Task reduce_min(A &&a, O &&out) {
        return reduction("reduce_min", GPU_OP_REDUCE_MIN, out, a);
    }
    /// `out = max(a)` (NaN if any element is NaN).
    static Task reduce_max(const float *a, float *out, std::size_t length) {
        return typed<float>(GPU_OP_REDUCE_MAX, {a}, out, length, {});
    }
    template <typename A, typename O, typename = detail::floats_t<A>,
              typename = detail::reduction_output_t<O>>
    static Task reduce_max(A &&a, O &&out) {
        return reduction("reduce_max", GPU_OP_REDUCE_MAX, out, a);
    }
    /// `out = sum(a) / length`.
    static Task mean(const float *a, float *out, std::size_t length) {
        return typed<float>(GPU_OP_MEAN, {a}, out, length, {});
    }
    template <typename A, typename O, typename = detail::floats_t<A>,
              typename = detail::reduction_output_t<O>>
    static Task mean(A &&a, O &&out) {
        return reduction("mean", GPU_OP_MEAN, out, a);
    }
    /// `out = sum(a * b)`.
    static Task dot(const float *a, const float *b, float *out, std::size_t length) {
        return typed<float>(GPU_OP_DOT, {a, b}, out, length, {});
    }
    template <typename A, typename B, typename O, typename = detail::floats_t<A, B>,
              typename = detail::reduction_output_t<O>>
    static Task dot(A &&a, B &&b, O &&out) {
        if (detail::operand_size(a) != detail::operand_size(b)) {
            throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                        "dot: a has " + std::to_string(detail::operand_size(a)) +
                            " elements, b " + std::to_string(detail::operand_size(b)));
        }
        return reduction("dot", GPU_OP_DOT, out, a, b);
    }
    /// `out = sqrt(sum(a * a))`.
    static Task norm2(const float *a, float *out, std::size_t length) {
        return typed<float>(GPU_OP_NORM2, {a}, out, length, {});
    }
    template <typename A, typename O, typename = detail::floats_t<A>,
              typename = detail::reduction_output_t<O>>
    static Task norm2(A &&a, O &&out) {
        return reduction("norm2", GPU_OP_NORM2, out, a);
    }

    /// `c[m×n] = a[m×k] · b[k×n]`, row-major floats; with `transpose_b`, `b` is stored
    /// n×k. Throws Error(GPU_EXECUTOR_SIZE_OVERFLOW) when m·n does not fit a size_t.
    static Task matmul(const float *a, const float *b, float *c, std::size_t m, std::size_t k,
                       std::size_t n, bool transpose_b = false) {
        const std::size_t length = detail::checked_product(m, n, "M*N");
        return Task(detail::make_task(GPU_OP_MATMUL,
                                      GPU_DTYPE_F32 | (transpose_b ? GPU_TASK_TRANSPOSE_B : 0u),
                                      {a, b}, c, length, {m, k, n}));
    }
    /// As above, from ranges or buffer operands: `a` must hold m·k elements, `b` k·n and `c`
    /// m·n (else Error(GPU_EXECUTOR_INVALID_ARGUMENT); SIZE_OVERFLOW when a product
    /// overflows).
    template <typename A, typename B, typename C,
              typename = std::enable_if_t<
                  detail::output_operand<C> &&
                  std::is_same<detail::operand_element_t<C>, float>::value>,
              typename = detail::floats_t<A, B>>
    static Task matmul(A &&a, B &&b, C &&c, std::size_t m, std::size_t k, std::size_t n,
                       bool transpose_b = false) {
        const std::size_t sizes[3] = {detail::operand_size(a), detail::operand_size(b),
                                      detail::operand_size(c)};
        const std::size_t want[3] = {detail::checked_product(m, k, "M*K"),
                                     detail::checked_product(k, n, "K*N"),
                                     detail::checked_product(m, n, "M*N")};
        const char *names[3] = {"A", "B", "C"};
        for (int i = 0; i < 3; ++i) {
            if (sizes[i] != want[i]) {
                throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                            std::string("matmul: ") + names[i] + " has " +
                                std::to_string(sizes[i]) + " elements, " +
                                std::to_string(m) + "x" + std::to_string(k) + "x" +
                                std::to_string(n) + (transpose_b ? " (B transposed)" : "") +
                                " needs " + std::to_string(want[i]));
            }
        }
        detail::TaskParts parts;
        parts.task = detail::make_task(GPU_OP_MATMUL,
                                       GPU_DTYPE_F32 | (transpose_b ? GPU_TASK_TRANSPOSE_B : 0u),
                                       {}, nullptr, want[2], {m, k, n});
        parts.input(0, a);
        parts.input(1, b);
        parts.output(c);
        return Task(parts);
    }

    /// Any op code, typically one from Executor::register_kernel: `inputs` (at most 4; the
    /// kernel reads its `num_inputs` first) and `output` hold `length` elements of `dtype`;
    /// `params` (at most 4) are its params words. Throws Error(GPU_EXECUTOR_INVALID_ARGUMENT)
    /// for more than 4 of either; the library checks the rest at submission.
    static Task custom(uint32_t op, gpu_dtype_t dtype, std::initializer_list<const void *> inputs,
                       void *output, std::size_t length, std::initializer_list<Param> params = {}) {
        check_custom_counts(inputs.size(), params.size());
        return with_params(detail::make_task(op, dtype, inputs, output, length, {}), params);
    }
    /// As above with typed pointers: T (float, int32_t, uint32_t) gives the dtype.
    template <typename T, typename = std::enable_if_t<detail::dtype_code<T>() != 255>>
    static Task custom(uint32_t op, std::initializer_list<const T *> inputs, T *output,
                       std::size_t length, std::initializer_list<Param> params = {}) {
        check_custom_counts(inputs.size(), params.size());
        gpu_task_t task = detail::make_task(op, detail::dtype_code<T>(), {}, output, length, {});
        std::size_t k = 0;
        for (const T *input : inputs) {
            task.inputs[k++] = input;
        }
        return with_params(task, params);
    }
    /// As above with ranges or buffer operands, e.g. `Task::custom(poly, {a, b}, out,
    /// {1.5f})`: the output's element type gives the dtype, and every input must hold as
    /// many elements as the output (else Error(GPU_EXECUTOR_INVALID_ARGUMENT)).
    template <typename O, typename T = detail::element_output_t<O>>
    static Task custom(uint32_t op, std::initializer_list<Input<detail::type_identity_t<T>>> inputs,
                       O &&output, std::initializer_list<Param> params = {}) {
        check_custom_counts(inputs.size(), params.size());
        const std::size_t length = detail::operand_size(output);
        detail::TaskParts parts;
        parts.task = detail::make_task(op, detail::dtype_code<T>(), {}, nullptr, length, {});
        std::size_t k = 0;
        for (const Input<T> &input : inputs) {
            if (input.size() != length) {
                throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                            "custom: input " + std::to_string(k) + " has " +
                                std::to_string(input.size()) + " elements, the output " +
                                std::to_string(length));
            }
            if (input.in_buffer()) {
                parts.regions[k] = input.region();
                parts.in_buffer[k] = true;
            } else {
                parts.task.inputs[k] = input.data();
            }
            ++k;
        }
        parts.output(output);
        k = 0;
        for (const Param &param : params) {
            parts.task.params[k++] = param.bits();
        }
        return Task(parts);
    }

    const gpu_task_t &raw() const noexcept { return raw_; }
    std::size_t length() const noexcept { return raw_.length; }
    /// The op code (a gpu_op_t or a registered kernel's).
    uint32_t op() const noexcept { return raw_.op; }
    /// The element type, from the flags.
    gpu_dtype_t dtype() const noexcept {
        return static_cast<gpu_dtype_t>(raw_.flags & GPU_TASK_DTYPE_MASK);
    }

private:
    friend class Batch;

    // The gpu_region_t structs of a task's buffer operands, at the addresses its pointers
    // hold: on the heap, shared by every copy of the Task (and by the Batches it was added
    // to), so that copying or moving a Task never leaves a pointer into a dead object.
    using RegionBlock = std::array<gpu_region_t, 5>;

    /// The task of `parts`; its buffer operands' regions move to a block of its own, and
    /// their flags (GPU_TASK_INPUTk_BUFFER, GPU_TASK_OUTPUT_BUFFER) are set.
    explicit Task(const detail::TaskParts &parts) : raw_(parts.task) {
        bool any = false;
        for (bool b : parts.in_buffer) {
            any = any || b;
        }
        if (!any) {
            return;
        }
        auto block = std::make_shared<RegionBlock>();
        for (std::size_t k = 0; k < 5; ++k) {
            if (!parts.in_buffer[k]) {
                continue;
            }
            (*block)[k] = parts.regions[k];
            if (k < 4) {
                raw_.inputs[k] = &(*block)[k];
                raw_.flags |= static_cast<uint32_t>(GPU_TASK_INPUT0_BUFFER) << k;
            } else {
                raw_.output = &(*block)[k];
                raw_.flags |= static_cast<uint32_t>(GPU_TASK_OUTPUT_BUFFER);
            }
        }
        regions_ = std::move(block);
    }

    template <typename T>
    static Task typed(uint32_t op, std::initializer_list<const void *> inputs, T *out,
                      std::size_t length, std::initializer_list<uint64_t> params) {
        return Task(detail::make_task(op, detail::dtype_code<T>(), inputs, out, length, params));
    }

    /// An element-wise task of `op` on element type T writing `out` from `in...` (host
    /// ranges or buffer operands, as the builders' enable_if allowed); every input must hold
    /// as many elements as the output (Error(GPU_EXECUTOR_INVALID_ARGUMENT) naming `what`).
    template <typename T, typename O, typename... In>
    static Task elementwise(const char *what, uint32_t op, std::initializer_list<uint64_t> params,
                            O &out, const In &...in) {
        const std::size_t length = detail::operand_size(out);
        detail::check_sizes(what, {detail::operand_size(in)...}, length);
        detail::TaskParts parts;
        parts.task = detail::make_task(op, detail::dtype_code<T>(), {}, nullptr, length, params);
        std::size_t k = 0;
        (parts.input(k++, in), ...);
        parts.output(out);
        return Task(parts);
    }

    /// A reduction of `op` over `in...` (each as long as the first) into `out`: a host
    /// float, or a buffer operand of one float (Error(GPU_EXECUTOR_INVALID_ARGUMENT) naming
    /// `what` for another size: the library would take a longer region and write its first
    /// element, which is never what a caller passing a longer one meant).
    template <typename O, typename A, typename... More>
    static Task reduction(const char *what, uint32_t op, O &out, const A &a,
                          const More &...more) {
        detail::TaskParts parts;
        parts.task =
            detail::make_task(op, GPU_DTYPE_F32, {}, nullptr, detail::operand_size(a), {});
        parts.input(0, a);
        std::size_t k = 1;
        (parts.input(k++, more), ...);
        if constexpr (detail::region_traits<detail::remove_cvref_t<O>>::value) {
            if (out.size() != 1) {
                throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                            std::string(what) + ": the output region has " +
                                std::to_string(out.size()) +
                                " elements; a reduction writes exactly one");
            }
            parts.output(out);
        } else {
            parts.task.output = &out;
        }
        return Task(parts);
    }

    static void check_custom_counts(std::size_t inputs, std::size_t params) {
        if (inputs > 4 || params > 4) {
            throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                        "custom: " + std::to_string(inputs) + " inputs and " +
                            std::to_string(params) + " params; a task has 4 of each");
        }
    }

    static Task with_params(gpu_task_t task, std::initializer_list<Param> params) noexcept {
        std::size_t k = 0;
        for (const Param &param : params) {
            task.params[k++] = param.bits();
        }
        return Task(task);
    }

    gpu_task_t raw_;
    // Where raw_'s region pointers point; empty for a task on host memory only.
    std::shared_ptr<const RegionBlock> regions_;
};

/// Tasks collected for one submission. Holds pointers to host arrays, like Task, and keeps
/// the gpu_region_t structs of the tasks' buffer operands alive itself.
class Batch {
public:
    Batch() = default;
    Batch(std::initializer_list<Task> tasks) {
        tasks_.reserve(tasks.size());
        for (const Task &task : tasks) {
            add(task);
        }
    }

    Batch &add(const Task &task) {
        // The regions first: should this throw, no task points to storage nobody keeps.
        if (task.regions_) {
            regions_.push_back(task.regions_);
        }
        tasks_.push_back(task.raw());
        return *this;
    }
    Batch &add(const float *a, const float *b, float *out, std::size_t length) {
        tasks_.push_back(detail::make_vector_add(a, b, out, length));
        return *this;
    }
    Batch &add(const std::vector<float> &a, const std::vector<float> &b,
               std::vector<float> &out) {
        return add(Task::vector_add(a, b, out));
    }
    Batch &add(const std::vector<float> &&, const std::vector<float> &,
               std::vector<float> &) = delete;
    Batch &add(const std::vector<float> &, const std::vector<float> &&,
               std::vector<float> &) = delete;
    Batch &add(const std::vector<float> &&, const std::vector<float> &&,
               std::vector<float> &) = delete;
#if defined(__cpp_lib_span)
    Batch &add(std::span<const float> a, std::span<const float> b, std::span<float> out) {
        return add(Task::vector_add(a, b, out));
    }
#endif

    void reserve(std::size_t count) { tasks_.reserve(count); }
    void clear() noexcept {
        tasks_.clear();
        regions_.clear();
    }
    std::size_t size() const noexcept { return tasks_.size(); }
    bool empty() const noexcept { return tasks_.empty(); }
    const gpu_task_t *data() const noexcept { return tasks_.data(); }

private:
    std::vector<gpu_task_t> tasks_;
    // The region blocks of the tasks on buffers (shared with the Tasks): the Batch may
    // outlive them, and copies of the Batch share the blocks too.
    std::vector<std::shared_ptr<const Task::RegionBlock>> regions_;
};

/// Which adapter an executor runs on, with the C strings copied out.
struct AdapterInfo {
    gpu_backend_t backend;
    gpu_device_type_t device_type;
    uint32_t vendor_id;
    uint32_t device_id;
    std::string name;
    std::string driver;
    std::string driver_info;
    /// Bytes of device-local memory (the largest DEVICE_LOCAL heap on Vulkan); 0 when
    /// unknown.
    uint64_t device_local_bytes;
};

class Recording;
class HostRegistration;

/// One asynchronous batch, from Executor::submit_async. Move-only.
///
/// The batch's outputs are written when the ticket completes (outputs in registered host
/// memory excepted: the GPU writes those in place while the batch runs, and they hold their
/// results once the ticket completed): in wait() or poll() when they return true, or at the
/// latest in the destructor (which waits, ignoring errors; with
/// Options::wait_timeout set, at most that long, after which the results are abandoned and
/// never written). So every
/// output array must outlive the Ticket, and must not be read or written until it has
/// completed. Destroying (or reset()ting) the Executor first abandons the results: the
/// Ticket then never writes (outputs in registered host memory are written all the same,
/// before the destruction returns), and wait()/poll() throw
/// Error(GPU_EXECUTOR_UNKNOWN_TICKET). Moving the Executor is fine. A Ticket is not itself
/// thread-safe; the Executor is.
class Ticket {
public:
    /// An empty ticket (as a moved-from one): waiting on it throws
    /// Error(GPU_EXECUTOR_UNKNOWN_TICKET).
    Ticket() noexcept = default;

    /// Adopts ticket `id` from gpu_executor_submit_batch_async on `exec` (a handle this
    /// object does not own and that must outlive it).
    Ticket(gpu_executor_t *exec, gpu_ticket_t id)
        : exec_(std::make_shared<gpu_executor_t *>(exec)), id_(id) {}

    ~Ticket() { complete_quietly(); }

    Ticket(const Ticket &) = delete;
    Ticket &operator=(const Ticket &) = delete;

    Ticket(Ticket &&other) noexcept
        : exec_(std::move(other.exec_)),
          id_(std::exchange(other.id_, 0)),
          state_(std::exchange(other.state_, State::pending)),
          error_status_(other.error_status_),
          error_message_(std::move(other.error_message_)) {}

    /// Completes (waits for) this ticket's own batch first, if still pending.
    Ticket &operator=(Ticket &&other) noexcept {
        if (this != &other) {
            complete_quietly();
            exec_ = std::move(other.exec_);
            id_ = std::exchange(other.id_, 0);
            state_ = std::exchange(other.state_, State::pending);
            error_status_ = other.error_status_;
            error_message_ = std::move(other.error_message_);
        }
        return *this;
    }

    /// Waits without a time limit; returns true once the outputs hold their results.
    /// Throws Error with the batch's status (GPU_ERROR, DEVICE_LOST, ...) when it failed;
    /// the ticket is then complete and a later wait()/poll() throws the same error.
    /// With Options::wait_timeout set, throws Error(GPU_EXECUTOR_TIMED_OUT) once that limit
    /// passed; the ticket then stays pending (wait again, poll, or wait(timeout), which
    /// the limit does not cap).
    bool wait() { return wait_ns(UINT64_MAX); }

    /// Waits at most `timeout` (any std::chrono duration): true when the batch completed
    /// (outputs written), false when the time ran out (GPU_EXECUTOR_NOT_READY: wait again
    /// or poll later). Errors as wait().
    template <typename Rep, typename Period>
    bool wait(const std::chrono::duration<Rep, Period> &timeout) {
        return wait_ns(detail::timeout_ns(timeout));
    }

    /// Checks without blocking: true when the batch completed (outputs written now).
    bool poll() { return wait_ns(0); }

    /// Whether the ticket has completed (successfully or not). Makes no call.
    bool done() const noexcept { return state_ != State::pending; }

    /// Whether this object refers to a batch (false when empty, moved from or released).
    explicit operator bool() const noexcept { return id_ != 0; }

    /// The C ticket (0 when empty).
    gpu_ticket_t id() const noexcept { return id_; }

    /// The executor handle the ticket belongs to (not owned); NULL when empty or when the
    /// Executor was destroyed.
    gpu_executor_t *executor() const noexcept { return exec_ ? *exec_ : nullptr; }

    /// Gives up the ticket without waiting: the caller completes it with gpu_executor_wait
    /// or gpu_executor_poll (or abandons it). Returns 0 for an empty ticket.
    gpu_ticket_t release() noexcept {
        exec_.reset();
        state_ = State::pending;
        return std::exchange(id_, 0);
    }

private:
    friend class Executor;
    template <typename>
    friend class Buffer;
    friend class Recording;

    enum class State { pending, completed, failed };

    Ticket(std::shared_ptr<gpu_executor_t *> exec, gpu_ticket_t id) noexcept
        : exec_(std::move(exec)), id_(id) {}

    bool wait_ns(uint64_t timeout_ns) {
        if (id_ == 0) {
            throw Error(GPU_EXECUTOR_UNKNOWN_TICKET,
                        "empty gpu_executor::Ticket (default-constructed, moved from or released)");
        }
        if (state_ == State::completed) {
            return true;
        }
        if (state_ == State::failed) {
            throw Error(error_status_, error_message_);
        }
        gpu_executor_t *exec = executor();
        if (exec == nullptr) {
            throw Error(GPU_EXECUTOR_UNKNOWN_TICKET,
                        "ticket " + std::to_string(id_) +
                            ": its Executor was destroyed; the results were abandoned");
        }
        const Status status = gpu_executor_wait(exec, id_, timeout_ns);
        if (status == GPU_EXECUTOR_OK) {
            state_ = State::completed;
            return true;
        }
        if (status == GPU_EXECUTOR_NOT_READY) {
            return false;
        }
        std::string message = gpu_executor_last_error_message();
        // TIMED_OUT (the options' wait limit) leaves the ticket valid, as NOT_READY does.
        if (status != GPU_EXECUTOR_UNKNOWN_TICKET && status != GPU_EXECUTOR_NULL_POINTER &&
            status != GPU_EXECUTOR_TIMED_OUT) {
            // The batch itself failed: the ticket is spent, and says so again if asked.
            state_ = State::failed;
            error_status_ = status;
            error_message_ = message;
        }
        throw Error(status, std::move(message));
    }

    void complete_quietly() noexcept {
        gpu_executor_t *exec = executor();
        if (id_ != 0 && exec != nullptr && state_ == State::pending) {
            (void)gpu_executor_wait(exec, id_, UINT64_MAX);
            state_ = State::completed;
        }
    }

    // Shared with the Executor, which sets it to NULL when it destroys the handle.
    std::shared_ptr<gpu_executor_t *> exec_;
    gpu_ticket_t id_ = 0;
    State state_ = State::pending;
    Status error_status_ = GPU_EXECUTOR_OK;
    std::string error_message_;
};

static_assert(!std::is_copy_constructible<Ticket>::value, "Ticket is move-only");
static_assert(std::is_nothrow_move_constructible<Ticket>::value, "Ticket moves");
static_assert(std::is_nothrow_move_assignable<Ticket>::value, "Ticket moves");

/// A WGSL kernel to register (gpu_kernel_desc_t with owned strings); the defaults are
/// gpu_kernel_desc_default()'s. Bindings, all in group 0: 0 the optional uniform params
/// (the invocation count, then `params_size / 4` words), 1, 2, 4 the inputs, 3 the output
/// (gpu_executor.h has the details).
struct KernelDesc {
    /// The WGSL source.
    std::string source;
    /// The `@compute` entry point (empty: "main").
    std::string entry_point = "main";
    /// Input arrays, 1 to 3.
    uint32_t num_inputs = 1;
    /// The element type of every array (tasks must name the same).
    gpu_dtype_t dtype = GPU_DTYPE_F32;
    /// 1, or 4 (arrays packed at multiples of four elements, readable as vec4).
    uint32_t elements_per_invocation = 1;
    /// true: element-wise (tasks share dispatches and are split like the built-ins);
    /// false: each task is one dispatch over its whole arrays, never split.
    bool elementwise = true;
    /// Bytes of params the kernel reads after the count: 0 to 16, a multiple of 4.
    uint32_t params_size = 0;
};

/// Owns one gpu_executor_t. Move-only; the destructor calls gpu_executor_destroy.
/// A moved-from Executor is empty: calls on it throw Error(GPU_EXECUTOR_NULL_POINTER).
/// Thread-safe as the C handle is, except construction, assignment, release(), reset() and
/// destruction, which must not overlap any other use of the object.
class Executor {
public:
    /// Default options (gpu_executor_options_default()).
    Executor() : Executor(Options{}) {}

    // The cell first: nothing may throw between creating the handle and owning it.
    explicit Executor(const Options &options) : live_(std::make_shared<gpu_executor_t *>()) {
        detail::check(gpu_executor_create(&options.raw(), live_.get()));
    }

    /// Takes ownership of a handle from gpu_executor_create (may be NULL: empty). Should
    /// memory run out (std::bad_alloc), the handle is destroyed.
    explicit Executor(gpu_executor_t *handle) : live_(adopt(handle)) {}

    ~Executor() { reset(); }

    Executor(const Executor &) = delete;
    Executor &operator=(const Executor &) = delete;

    Executor(Executor &&other) noexcept : live_(std::move(other.live_)) {}

    Executor &operator=(Executor &&other) noexcept {
        if (this != &other) {
            reset();
            live_ = std::move(other.live_);
        }
        return *this;
    }

    /// Whether this object owns a handle.
    explicit operator bool() const noexcept { return live_ != nullptr; }

    /// The C handle, still owned by this object.
    gpu_executor_t *get() const noexcept { return live_ ? *live_ : nullptr; }

    /// Gives up ownership: the caller must gpu_executor_destroy the result. Pending
    /// Tickets, Buffers and Recordings keep using the handle, which must then outlive them.
    gpu_executor_t *release() noexcept {
        gpu_executor_t *handle = get();
        live_.reset();
        return handle;
    }

    /// Destroys the owned handle, if any. Its Tickets that are still pending are abandoned
    /// (their outputs are never written); its Buffers and Recordings learn of it (their
    /// calls throw, their destructors stay safe).
    void reset() noexcept {
        if (live_) {
            gpu_executor_t *old = std::exchange(*live_, nullptr);  // tell its Tickets
            live_.reset();
            gpu_executor_destroy(old);
        }
    }

    /// As reset(), then takes ownership of `handle` (may be NULL: empty). Should memory run
    /// out (std::bad_alloc), `handle` is destroyed and this object is left unchanged.
    void reset(gpu_executor_t *handle) {
        std::shared_ptr<gpu_executor_t *> next = adopt(handle);
        reset();
        live_ = std::move(next);
    }

    /// Runs raw C tasks; blocks until every output holds its result.
    void submit(const gpu_task_t *tasks, std::size_t count) {
        detail::check(gpu_executor_submit_batch(get(), tasks, count));
    }

    void submit(const Batch &batch) { submit(batch.data(), batch.size()); }

    void submit(const std::vector<Task> &tasks) { submit_tasks(tasks.data(), tasks.size()); }

    void submit(std::initializer_list<Task> tasks) {
        submit_tasks(tasks.begin(), tasks.size());
    }

    void submit(const Task &task) { submit(&task.raw(), 1); }

    /// One task: `out[i] = a[i] + b[i]` for `length` elements.
    void submit(const float *a, const float *b, float *out, std::size_t length) {
        const gpu_task_t task = detail::make_vector_add(a, b, out, length);
        submit(&task, 1);
    }

    /// One task: `out = a + b`; sizes must match (else Error(GPU_EXECUTOR_INVALID_ARGUMENT)).
    void submit(const std::vector<float> &a, const std::vector<float> &b,
                std::vector<float> &out) {
        detail::check_lengths(a.size(), b.size(), out.size());
        submit(a.data(), b.data(), out.data(), out.size());
    }

#if defined(__cpp_lib_span)
    void submit(std::span<const float> a, std::span<const float> b, std::span<float> out) {
        detail::check_lengths(a.size(), b.size(), out.size());
        submit(a.data(), b.data(), out.data(), out.size());
    }
#endif

    /// Submits raw C tasks without waiting (gpu_executor_submit_batch_async). Inputs are
    /// copied before this returns (reuse or free them at once); outputs are written when
    /// the returned Ticket completes, so they must outlive it. Inputs in registered host
    /// memory (register_host_memory) are the exception: the GPU reads them in place while
    /// the batch runs, so they must stay unchanged until the Ticket completes. Several
    /// tickets may be in flight and complete in any order.
    [[nodiscard]] Ticket submit_async(const gpu_task_t *tasks, std::size_t count) {
        gpu_ticket_t id = 0;
        detail::check(gpu_executor_submit_batch_async(get(), tasks, count, &id));
        return Ticket(live_, id);
    }

    [[nodiscard]] Ticket submit_async(const Batch &batch) {
        return submit_async(batch.data(), batch.size());
    }

    [[nodiscard]] Ticket submit_async(const std::vector<Task> &tasks) {
        return submit_tasks_async(tasks.data(), tasks.size());
    }

    [[nodiscard]] Ticket submit_async(std::initializer_list<Task> tasks) {
        return submit_tasks_async(tasks.begin(), tasks.size());
    }

    [[nodiscard]] Ticket submit_async(const Task &task) { return submit_async(&task.raw(), 1); }

    /// One task: `out[i] = a[i] + b[i]` for `length` elements, asynchronously.
    [[nodiscard]] Ticket submit_async(const float *a, const float *b, float *out,
                                      std::size_t length) {
        const gpu_task_t task = detail::make_vector_add(a, b, out, length);
        return submit_async(&task, 1);
    }

    /// One task: `out = a + b`, asynchronously; `out` must outlive the Ticket (and keep its
    /// size). Sizes must match (else Error(GPU_EXECUTOR_INVALID_ARGUMENT)).
    [[nodiscard]] Ticket submit_async(const std::vector<float> &a, const std::vector<float> &b,
                                      std::vector<float> &out) {
        detail::check_lengths(a.size(), b.size(), out.size());
        return submit_async(a.data(), b.data(), out.data(), out.size());
    }

#if defined(__cpp_lib_span)
    [[nodiscard]] Ticket submit_async(std::span<const float> a, std::span<const float> b,
                                      std::span<float> out) {
        detail::check_lengths(a.size(), b.size(), out.size());
        return submit_async(a.data(), b.data(), out.data(), out.size());
    }
#endif

    /// Records tasks to submit later, as often as wanted, for the cost of one submit
    /// (gpu_executor_record): they are checked, ordered and planned now, and nothing runs.
    /// Every task must be a built-in element-wise op whose inputs and output are all buffer
    /// operands (Region, Buffer); the batch rules of Buffer apply (a task may read what an
    /// earlier one writes). The tasks are read during the call only. Throws
    /// Error(GPU_EXECUTOR_INVALID_ARGUMENT), naming the task, for a host operand, a
    /// reduction, matmul or a registered kernel, and for an executor with
    /// GPU_STRATEGY_BASELINE; otherwise the errors a submission's checks give
    /// (INVALID_BUFFER, FOREIGN_BUFFER, OUT_OF_BOUNDS, TYPE_MISMATCH, ALIASING, DEPENDENCY,
    /// ...). Thread-safe.
    [[nodiscard]] Recording record(const gpu_task_t *tasks, std::size_t count);
    [[nodiscard]] Recording record(const Batch &batch);
    [[nodiscard]] Recording record(const std::vector<Task> &tasks);
    [[nodiscard]] Recording record(std::initializer_list<Task> tasks);
    [[nodiscard]] Recording record(const Task &task);

    /// Runs `recording` on this executor and blocks until its tasks are done
    /// (gpu_recording_submit), as Recording::submit(). Error(GPU_EXECUTOR_INVALID_ARGUMENT)
    /// for a recording of another executor; the other errors as Recording::submit().
    void submit(const Recording &recording);

    /// Submits `recording` without waiting (gpu_recording_submit_async), as
    /// Recording::submit_async().
    [[nodiscard]] Ticket submit_async(const Recording &recording);

    /// Registers a WGSL kernel on this executor and returns its op code, for
    /// Task::custom (valid on this executor only, until it is destroyed). Throws
    /// Error(GPU_EXECUTOR_INVALID_KERNEL) with the compiler's message (line and column)
    /// when the source does not compile, lacks the entry point or its bindings do not
    /// match the description; Error(GPU_EXECUTOR_INVALID_ARGUMENT), before calling the
    /// library, when the source or entry point holds a NUL character.
    uint32_t register_kernel(const KernelDesc &desc) {
        for (const std::string *text : {&desc.source, &desc.entry_point}) {
            if (text->find('\0') != std::string::npos) {
                throw Error(GPU_EXECUTOR_INVALID_ARGUMENT,
                            std::string("register_kernel: the ") +
                                (text == &desc.source ? "source" : "entry point") +
                                " holds a NUL character at offset " +
                                std::to_string(text->find('\0')));
            }
        }
        gpu_kernel_desc_t raw = gpu_kernel_desc_default();
        raw.source = desc.source.c_str();
        raw.entry_point = desc.entry_point.empty() ? nullptr : desc.entry_point.c_str();
        raw.num_inputs = desc.num_inputs;
        raw.dtype = desc.dtype;
        raw.elements_per_invocation = desc.elements_per_invocation;
        raw.elementwise = desc.elementwise ? 1u : 0u;
        raw.params_size = desc.params_size;
        return register_kernel(raw);
    }

    /// Registers a kernel from the C description (start from gpu_kernel_desc_default()).
    uint32_t register_kernel(const gpu_kernel_desc_t &desc) {
        uint32_t op = 0;
        detail::check(gpu_executor_register_kernel(get(), &desc, &op));
        return op;
    }

    /// Registers `bytes` bytes of host memory at `ptr` (gpu_executor_register_host_memory),
    /// so that the GPU reads and writes the arrays lying wholly inside it in place: every
    /// later batch's host input or output there (not a reduction's one-element result) is
    /// moved by DMA straight from or to it, with no copy through the executor's staging.
    /// Worth it for arrays many batches reuse (registering pins the pages, about the cost
    /// of one copy); tasks stay as they are. HostRegistration does the same for a scope.
    ///
    /// The memory must be readable and writable, need not be aligned, and must stay
    /// allocated until unregister_host_memory(ptr) or the Executor's destruction returned;
    /// registered ranges may not overlap. An output there is written while its batch runs
    /// (it holds its results once submit() returned or the Ticket completed), and inputs
    /// there are read in place, by submit_async() too: do not write such an input or read
    /// such an output while a batch using it is in flight.
    ///
    /// Throws Error(GPU_EXECUTOR_INVALID_ARGUMENT) for 0 bytes or a range overlapping one
    /// registered already (nothing registered), NULL_POINTER (ptr, or an empty Executor),
    /// SIZE_OVERFLOW (the range wraps), UNSUPPORTED where the device cannot import host
    /// memory (a backend other than Vulkan, a driver without VK_EXT_external_memory_host,
    /// or GPU_EXECUTOR_HOST_IMPORT=0; batches still run, copying), GPU_ERROR or
    /// OUT_OF_MEMORY when the driver refuses it. Thread-safe.
    void register_host_memory(const void *ptr, std::size_t bytes) {
        detail::check(
            gpu_executor_register_host_memory(get(), ptr, static_cast<uint64_t>(bytes)));
    }

    /// Registers a lasting, writable contiguous range (an lvalue std::vector, std::array
    /// or C array, or a std::span of non-const elements): all its elements' bytes. An
    /// empty range is Error(GPU_EXECUTOR_INVALID_ARGUMENT), before calling the library. A
    /// std::vector must then keep its size (no reallocation) until it is unregistered.
    template <typename R, typename = std::enable_if_t<detail::output_range<R>>>
    void register_host_memory(R &&range) {
        register_host_memory(std::data(range),
                             detail::registered_bytes(range, "register_host_memory"));
    }

    /// Unregisters the host memory registered at `ptr`, the same pointer given to
    /// register_host_memory (gpu_executor_unregister_host_memory). Blocks until the GPU
    /// has finished every batch submitted before (on any thread): once it returns the
    /// memory may be freed, and outputs there hold their results. Later batches copy
    /// arrays there through staging again. Throws Error(GPU_EXECUTOR_INVALID_ARGUMENT)
    /// when no registered range starts at `ptr`, NULL_POINTER (ptr, or an empty
    /// Executor), POISONED. Thread-safe.
    void unregister_host_memory(const void *ptr) {
        detail::check(gpu_executor_unregister_host_memory(get(), ptr));
    }

    /// Unregisters the range registered with register_host_memory(range) (only its start
    /// is compared).
    template <typename R, typename = std::enable_if_t<detail::range_of<R>::value>>
    void unregister_host_memory(R &&range) {
        unregister_host_memory(static_cast<const void *>(std::data(range)));
    }

    /// `a + b` into a new vector.
    std::vector<float> add(const std::vector<float> &a, const std::vector<float> &b) {
        std::vector<float> out(a.size());
        submit(a, b, out);
        return out;
    }

    /// The executor's counters (struct_size set for the call).
    gpu_executor_stats_t stats() const {
        gpu_executor_stats_t stats{};
        stats.struct_size = static_cast<uint32_t>(sizeof(stats));
        detail::check(gpu_executor_stats(get(), &stats));
        return stats;
    }

    /// Sizes (in elements) of the buckets whose pipelines are cached, ascending.
    std::vector<uint64_t> bucket_sizes() const {
        std::vector<uint64_t> sizes;
        std::size_t count = 0;
        detail::check(gpu_executor_bucket_sizes(get(), nullptr, 0, &count));
        // Another thread may add buckets between the calls: retry until it fits.
        while (count > 0) {
            sizes.resize(count);
            std::size_t total = 0;
            detail::check(gpu_executor_bucket_sizes(get(), sizes.data(), sizes.size(), &total));
            if (total <= sizes.size()) {
                sizes.resize(total);
                return sizes;
            }
            count = total;
        }
        return sizes;
    }

    /// The adapter the executor runs on.
    AdapterInfo adapter_info() const {
        gpu_adapter_info_t raw{};
        raw.struct_size = static_cast<uint32_t>(sizeof(raw));
        detail::check(gpu_executor_adapter_info(get(), &raw));
        return AdapterInfo{static_cast<gpu_backend_t>(raw.backend),
                           static_cast<gpu_device_type_t>(raw.device_type),
                           raw.vendor_id,
                           raw.device_id,
                           copy_c_string(raw.name, sizeof(raw.name)),
                           copy_c_string(raw.driver, sizeof(raw.driver)),
                           copy_c_string(raw.driver_info, sizeof(raw.driver_info)),
                           raw.device_local_bytes};
    }

    /// Prints the "[gpu] ..." diagnostic lines to standard error, as the seed does
    /// (flushing C's stderr, and so std::cerr while it is synchronised with stdio, first to
    /// keep the order).
    void print_stats() const {
        std::fflush(stderr);
        detail::check(gpu_executor_print_stats(get()));
    }

    /// The same lines as one string (each ending in '\n'), to route wherever wanted.
    std::string format_stats() const {
        std::size_t length = 0;
        detail::check(gpu_executor_format_stats(get(), nullptr, 0, &length));
        // The counters may move between the two calls: grow until the text fits.
        std::string text(length + 1, '\0');
        for (;;) {
            detail::check(gpu_executor_format_stats(get(), &text[0], text.size(), &length));
            if (length < text.size()) break;
            text.assign(length + 1, '\0');
        }
        text.resize(length);
        return text;
    }

private:
    template <typename>
    friend class Buffer;
    friend class Recording;
    friend class HostRegistration;

    static std::string copy_c_string(const char *chars, std::size_t capacity) {
        std::size_t length = 0;
        while (length < capacity && chars[length] != '\0') {
            ++length;
        }
        return std::string(chars, length);
    }

    void submit_tasks(const Task *tasks, std::size_t count) {
        std::vector<gpu_task_t> raw;
        raw.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            raw.push_back(tasks[i].raw());
        }
        submit(raw.data(), raw.size());
    }

    Ticket submit_tasks_async(const Task *tasks, std::size_t count) {
        std::vector<gpu_task_t> raw;
        raw.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            raw.push_back(tasks[i].raw());
        }
        return submit_async(raw.data(), raw.size());
    }

    // The Task objects (and so the gpu_region_t blocks their raw tasks point into) are the
    // caller's, alive until this returns; the library reads them during the call only.
    Recording record_tasks(const Task *tasks, std::size_t count);

    // The cell for a newly owned handle (none for NULL). Made as soon as the handle is
    // owned, never lazily, so that concurrent submit_async calls only copy it.
    static std::shared_ptr<gpu_executor_t *> adopt(gpu_executor_t *handle) {
        if (handle == nullptr) {
            return nullptr;
        }
        try {
            return std::make_shared<gpu_executor_t *>(handle);
        } catch (...) {
            gpu_executor_destroy(handle);
            throw;
        }
    }

    // The owned handle, shared with this executor's Tickets, which see NULL once it is
    // destroyed; empty when there is none.
    std::shared_ptr<gpu_executor_t *> live_;
};

static_assert(!std::is_copy_constructible<Executor>::value, "Executor is move-only");
static_assert(std::is_nothrow_move_constructible<Executor>::value, "Executor moves");
static_assert(std::is_nothrow_move_assignable<Executor>::value, "Executor moves");

/// Host memory registered with an Executor for this object's lifetime
/// (Executor::register_host_memory on construction, unregister_host_memory in the
/// destructor, which never throws). Move-only; a moved-from HostRegistration is empty.
///
///   std::vector<float> a(n), b(n), out(n);
///   gpu_executor::HostRegistration pinned(exec, out);   // or (exec, ptr, bytes)
///   exec.submit(a, b, out);                 // the GPU writes `out` in place
///
/// The memory must outlive this object (or its Executor, whichever goes first), and a
/// registered std::vector must keep its size until then. The destructor (and reset())
/// blocks until the GPU has finished the batches submitted before, as
/// Executor::unregister_host_memory does; errors are ignored there (unregister() reports
/// them). It shares its Executor's handle cell, as a Buffer does: once the Executor is
/// destroyed (or reset()), which releases every registration, this object has nothing
/// left to do. Moving the Executor is fine; after Executor::release() the caller's handle
/// must outlive this object. Construction, assignment, unregister(), reset(), release()
/// and destruction must not overlap any other use of the object, and the Executor must
/// not be destroyed meanwhile on another thread.
class HostRegistration {
public:
    /// An empty registration (as a moved-from one).
    HostRegistration() noexcept = default;

    /// Registers `bytes` bytes at `ptr` with `exec`; errors as
    /// Executor::register_host_memory (nothing registered, the exception propagates).
    HostRegistration(Executor &exec, const void *ptr, std::size_t bytes) : exec_(exec.live_) {
        exec.register_host_memory(ptr, bytes);
        ptr_ = ptr;
        bytes_ = bytes;
    }

    /// Registers a lasting, writable contiguous range (an lvalue std::vector, std::array or
    /// C array, or a std::span of non-const elements): all its elements' bytes. An empty
    /// range is Error(GPU_EXECUTOR_INVALID_ARGUMENT).
    template <typename R, typename = std::enable_if_t<detail::output_range<R>>>
    HostRegistration(Executor &exec, R &&range)
        : HostRegistration(exec, std::data(range),
                           detail::registered_bytes(range, "HostRegistration")) {}

    ~HostRegistration() { reset(); }

    HostRegistration(const HostRegistration &) = delete;
    HostRegistration &operator=(const HostRegistration &) = delete;

    HostRegistration(HostRegistration &&other) noexcept
        : exec_(std::move(other.exec_)),
          ptr_(std::exchange(other.ptr_, nullptr)),
          bytes_(std::exchange(other.bytes_, 0)) {}

    /// Unregisters this object's own memory first, if any.
    HostRegistration &operator=(HostRegistration &&other) noexcept {
        if (this != &other) {
            reset();
            exec_ = std::move(other.exec_);
            ptr_ = std::exchange(other.ptr_, nullptr);
            bytes_ = std::exchange(other.bytes_, 0);
        }
        return *this;
    }

    /// Unregisters now, if anything is registered (errors ignored: the registration is
    /// dropped either way), and leaves this object empty. Blocks as
    /// Executor::unregister_host_memory does.
    void reset() noexcept {
        gpu_executor_t *exec = executor();
        if (ptr_ != nullptr && exec != nullptr) {
            (void)gpu_executor_unregister_host_memory(exec, ptr_);
        }
        exec_.reset();
        ptr_ = nullptr;
        bytes_ = 0;
    }

    /// Unregisters now and leaves this object empty, throwing what the library reports
    /// (POISONED, or INVALID_ARGUMENT when the memory was unregistered behind this object's
    /// back, through Executor::unregister_host_memory); on error this object is unchanged.
    /// Throws Error(GPU_EXECUTOR_NULL_POINTER) for an empty HostRegistration. Once the
    /// Executor is destroyed there is nothing left to unregister: this only empties it.
    void unregister() {
        if (ptr_ == nullptr) {
            throw Error(GPU_EXECUTOR_NULL_POINTER,
                        "HostRegistration::unregister: empty gpu_executor::HostRegistration "
                        "(default-constructed, moved from, reset, released or unregistered)");
        }
        gpu_executor_t *exec = executor();
        if (exec != nullptr) {
            detail::check(gpu_executor_unregister_host_memory(exec, ptr_));
        }
        exec_.reset();
        ptr_ = nullptr;
        bytes_ = 0;
    }

    /// Gives up the registration without unregistering: the caller unregisters the
    /// returned pointer with Executor::unregister_host_memory (or lets the Executor's
    /// destruction release it). NULL when empty.
    const void *release() noexcept {
        exec_.reset();
        bytes_ = 0;
        return std::exchange(ptr_, nullptr);
    }

    /// Whether this object holds a registration (false when empty, moved from, reset,
    /// released or unregistered; still true after its Executor was destroyed).
    explicit operator bool() const noexcept { return ptr_ != nullptr; }

    /// The registered memory's start (NULL when empty).
    const void *data() const noexcept { return ptr_; }
    /// Its size in bytes, as given (0 when empty).
    std::size_t size() const noexcept { return bytes_; }
    /// The executor handle the memory is registered with (not owned); NULL when empty or
    /// when the Executor was destroyed.
    gpu_executor_t *executor() const noexcept { return exec_ ? *exec_ : nullptr; }

private:
    // The Executor's handle cell (NULL inside once it is destroyed); empty when this
    // object holds no registration.
    std::shared_ptr<gpu_executor_t *> exec_;
    const void *ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

static_assert(!std::is_copy_constructible<HostRegistration>::value,
              "HostRegistration is move-only");
static_assert(std::is_nothrow_move_constructible<HostRegistration>::value,
              "HostRegistration moves");
static_assert(std::is_nothrow_move_assignable<HostRegistration>::value,
              "HostRegistration moves");

/// A resident buffer of `size()` elements of T (float, int32_t or uint32_t) on the GPU,
/// owned by an Executor (gpu_buffer_create). Move-only; a moved-from Buffer is empty. The
/// destructor destroys the buffer (gpu_buffer_destroy, never throwing; batches already
/// submitted that use it are unaffected).
///
/// Tasks take it, or a part of it (region()), wherever they take an array: data stays on
/// the GPU between tasks and batches, and only what read() asks for comes back. Tasks of one
/// batch may read what earlier tasks of the batch write (the library orders them, still one
/// submission), but not what later ones write (Error(GPU_EXECUTOR_DEPENDENCY)); two tasks
/// may not write overlapping regions (ALIASING), and a task may write the very region it
/// reads but not part of it.
///
/// A Buffer shares its Executor's handle cell, as a Ticket does: when the Executor is
/// destroyed (or reset()), so is the buffer's memory, and the Buffer learns of it: its
/// destructor then does nothing, and other calls throw Error(GPU_EXECUTOR_INVALID_BUFFER).
/// Moving the Executor is fine. Like the C handle, one Buffer may be used from several
/// threads at once, except construction, assignment, reset(), release() and destruction;
/// and the Executor must not be destroyed while another thread uses its buffers.
template <typename T>
class Buffer {
    static_assert(detail::dtype_code<T>() != 255, "buffer elements are float, int32_t or uint32_t");

public:
    using value_type = T;
    /// The gpu_dtype_t of the elements.
    static constexpr gpu_dtype_t dtype = static_cast<gpu_dtype_t>(detail::dtype_code<T>());

    /// An empty buffer (as a moved-from one): calls on it throw
    /// Error(GPU_EXECUTOR_INVALID_BUFFER).
    Buffer() noexcept = default;

    /// `count` elements, zero-filled. Error(GPU_EXECUTOR_INVALID_ARGUMENT) for 0;
    /// SIZE_OVERFLOW past the device's largest buffer; OUT_OF_MEMORY; NULL_POINTER for an
    /// empty Executor.
    Buffer(Executor &exec, std::size_t count) : exec_(exec.live_) {
        gpu_buffer_t handle = 0;
        detail::check(gpu_buffer_create(exec.get(), dtype, count, &handle));
        handle_ = handle;
        size_ = count;
    }

    /// A copy of `count` elements from `data` (read during the call only).
    Buffer(Executor &exec, const T *data, std::size_t count) : exec_(exec.live_) {
        gpu_buffer_t handle = 0;
        detail::check(gpu_buffer_create_from(exec.get(), dtype, data, count, &handle));
        handle_ = handle;
        size_ = count;
    }

    /// A copy of a contiguous range of T (std::vector, std::array, C array, std::span; a
    /// temporary is fine: it is read during the call only).
    template <typename R, typename = std::enable_if_t<
                              detail::range_of<R>::value &&
                              std::is_same<std::remove_const_t<detail::element_t<R>>, T>::value>>
    Buffer(Executor &exec, R &&data) : Buffer(exec, std::data(data), std::size(data)) {}

    /// Takes ownership of `handle` from gpu_buffer_create on `exec`, after checking with
    /// gpu_buffer_info that it holds T: Error(GPU_EXECUTOR_TYPE_MISMATCH) otherwise,
    /// INVALID_BUFFER or FOREIGN_BUFFER as the library says. On error the caller keeps the
    /// handle.
    static Buffer adopt(Executor &exec, gpu_buffer_t handle) {
        uint32_t code = 0;
        uint64_t count = 0;
        detail::check(gpu_buffer_info(exec.get(), handle, &code, &count));
        if (code != detail::dtype_code<T>()) {
            throw Error(GPU_EXECUTOR_TYPE_MISMATCH,
                        "Buffer::adopt: buffer " + std::to_string(handle) + " holds dtype " +
                            std::to_string(code) + ", not " +
                            std::to_string(detail::dtype_code<T>()));
        }
        Buffer buffer;
        buffer.exec_ = exec.live_;
        buffer.handle_ = handle;
        buffer.size_ = static_cast<std::size_t>(count);
        return buffer;
    }

    ~Buffer() { reset(); }

    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;

    Buffer(Buffer &&other) noexcept
        : exec_(std::move(other.exec_)),
          handle_(std::exchange(other.handle_, 0)),
          size_(std::exchange(other.size_, 0)) {}

    /// Destroys this object's own buffer first, if any.
    Buffer &operator=(Buffer &&other) noexcept {
        if (this != &other) {
            reset();
            exec_ = std::move(other.exec_);
            handle_ = std::exchange(other.handle_, 0);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }

    /// Destroys the buffer now, if any (errors ignored: the handle is dropped either way),
    /// and leaves this object empty. Regions taken from it become invalid: a task using one
    /// is rejected with Error(GPU_EXECUTOR_INVALID_BUFFER).
    void reset() noexcept {
        gpu_executor_t *exec = executor();
        if (handle_ != 0 && exec != nullptr) {
            (void)gpu_buffer_destroy(exec, handle_);
        }
        exec_.reset();
        handle_ = 0;
        size_ = 0;
    }

    /// Gives up ownership without destroying: the caller destroys the returned handle with
    /// gpu_buffer_destroy (or lets the executor's destruction free it). 0 when empty.
    gpu_buffer_t release() noexcept {
        exec_.reset();
        size_ = 0;
        return std::exchange(handle_, 0);
    }

    /// Whether this object owns a buffer (false when empty, moved from, reset or released;
    /// still true after its Executor was destroyed).
    explicit operator bool() const noexcept { return handle_ != 0; }

    /// Elements in the buffer (0 when empty).
    std::size_t size() const noexcept { return size_; }
    /// The C handle, still owned by this object (0 when empty).
    gpu_buffer_t handle() const noexcept { return handle_; }
    /// The executor handle the buffer belongs to (not owned); NULL when empty or when the
    /// Executor was destroyed.
    gpu_executor_t *executor() const noexcept { return exec_ ? *exec_ : nullptr; }

    /// Elements `offset` to the end, as a task operand.
    Region<T> region(std::size_t offset = 0) const {
        return region(offset, offset <= size_ ? size_ - offset : 0, "region(offset)");
    }
    /// `count` elements from element `offset`, as a task operand. Throws
    /// Error(GPU_EXECUTOR_OUT_OF_BOUNDS) when they reach past the end, and
    /// Error(GPU_EXECUTOR_INVALID_BUFFER) for an empty Buffer.
    Region<T> region(std::size_t offset, std::size_t count) const {
        return region(offset, count, "region(offset, count)");
    }

    /// Writes `count` elements from `data` from element `offset` (gpu_buffer_write): `data`
    /// may be reused as soon as this returns; batches submitted afterwards see the write.
    /// Error(GPU_EXECUTOR_OUT_OF_BOUNDS) past the end; nothing is written on error.
    void write(std::size_t offset, const T *data, std::size_t count) {
        detail::check(gpu_buffer_write(live("write"), handle_, offset, data, count));
    }
    /// Writes a contiguous range of T from element `offset`.
    template <typename R, typename = std::enable_if_t<
                              detail::range_of<R>::value &&
                              std::is_same<std::remove_const_t<detail::element_t<R>>, T>::value>>
    void write(std::size_t offset, R &&data) {
        write(offset, std::data(data), std::size(data));
    }

    /// Reads `count` elements from element `offset` into `data` (gpu_buffer_read), after
    /// every batch and write submitted before; blocks until they are there. On error `data`
    /// is untouched.
    void read_into(std::size_t offset, T *data, std::size_t count) const {
        detail::check(gpu_buffer_read(live("read"), handle_, offset, data, count));
    }
    /// `count` elements from element `offset`, as read_into.
    std::vector<T> read(std::size_t offset, std::size_t count) const {
        std::vector<T> out(count);
        read_into(offset, out.data(), count);
        return out;
    }
    /// The whole buffer.
    std::vector<T> read() const { return read(0, size_); }

    /// Starts reading `count` elements from element `offset` into `data` and returns at
    /// once (gpu_buffer_read_async): `data` is written when the Ticket completes, so it
    /// must outlive the Ticket and stay untouched until then (the Ticket's destructor
    /// waits). The read sees every batch and write submitted before this call.
    [[nodiscard]] Ticket read_async(std::size_t offset, T *data, std::size_t count) const {
        gpu_ticket_t id = 0;
        detail::check(gpu_buffer_read_async(live("read_async"), handle_, offset, data, count, &id));
        return Ticket(exec_, id);
    }
    /// Starts reading `std::size(out)` elements from element `offset` into a lasting,
    /// writable range (an lvalue std::vector keeps its size until the Ticket completes).
    template <typename R, typename = std::enable_if_t<
                              detail::output_range<R> &&
                              std::is_same<detail::element_t<R>, T>::value>>
    [[nodiscard]] Ticket read_async(std::size_t offset, R &&out) const {
        return read_async(offset, std::data(out), std::size(out));
    }

    /// Starts writing `count` elements from `data` from element `offset`
    /// (gpu_buffer_write_async): `data` is copied before this returns (reuse it at once); the
    /// Ticket completes once the GPU has applied the write. Later batches see it either way.
    [[nodiscard]] Ticket write_async(std::size_t offset, const T *data, std::size_t count) {
        gpu_ticket_t id = 0;
        detail::check(
            gpu_buffer_write_async(live("write_async"), handle_, offset, data, count, &id));
        return Ticket(exec_, id);
    }
    /// Starts writing a contiguous range of T from element `offset`.
    template <typename R, typename = std::enable_if_t<
                              detail::range_of<R>::value &&
                              std::is_same<std::remove_const_t<detail::element_t<R>>, T>::value>>
    [[nodiscard]] Ticket write_async(std::size_t offset, R &&data) {
        return write_async(offset, std::data(data), std::size(data));
    }

private:
    /// The executor handle for a call, or Error(GPU_EXECUTOR_INVALID_BUFFER) when this
    /// Buffer is empty or its Executor was destroyed (the handle would be stale).
    gpu_executor_t *live(const char *what) const {
        if (handle_ == 0) {
            throw Error(GPU_EXECUTOR_INVALID_BUFFER,
                        std::string("Buffer::") + what +
                            ": empty gpu_executor::Buffer (default-constructed, moved from, "
                            "reset or released)");
        }
        gpu_executor_t *exec = executor();
        if (exec == nullptr) {
            throw Error(GPU_EXECUTOR_INVALID_BUFFER,
                        std::string("Buffer::") + what + ": buffer " + std::to_string(handle_) +
                            ": its Executor was destroyed, and the buffer with it");
        }
        return exec;
    }

    Region<T> region(std::size_t offset, std::size_t count, const char *what) const {
        (void)live(what);
        if (offset > size_ || count > size_ - offset) {
            throw Error(GPU_EXECUTOR_OUT_OF_BOUNDS,
                        std::string("Buffer::") + what + ": " + std::to_string(count) +
                            " elements from element " + std::to_string(offset) +
                            " of a buffer of " + std::to_string(size_) + " elements");
        }
        return Region<T>(handle_, offset, count);
    }

    // The owning Executor's handle cell (NULL inside once it is destroyed); empty when this
    // object owns no buffer.
    std::shared_ptr<gpu_executor_t *> exec_;
    gpu_buffer_t handle_ = 0;
    std::size_t size_ = 0;
};

/// Buffer(exec, range) gives the range's element type.
template <typename R, typename = std::enable_if_t<detail::range_of<R>::value>>
Buffer(Executor &, R &&) -> Buffer<std::remove_const_t<detail::element_t<R>>>;

static_assert(!std::is_copy_constructible<Buffer<float>>::value, "Buffer is move-only");
static_assert(std::is_nothrow_move_constructible<Buffer<float>>::value, "Buffer moves");
static_assert(std::is_nothrow_move_assignable<Buffer<float>>::value, "Buffer moves");

/// A batch recorded once and submitted many times, from Executor::record
/// (gpu_executor_record). Move-only; a moved-from Recording is empty. The destructor
/// destroys the recording (gpu_recording_destroy, never throwing; submissions already made
/// are unaffected and still complete).
///
/// Each submission runs the recorded tasks on the buffers as they are then (write new data
/// with Buffer::write between submissions), in order with every other batch and buffer
/// call of the executor, for the cost of one submit however many tasks were recorded.
/// Several submissions may be in flight at once; they run in the order they were made.
/// The recording holds its buffers' memory, not the Buffer objects: destroying (or
/// reset()ting) a Buffer it uses makes every later submission throw
/// Error(GPU_EXECUTOR_INVALID_BUFFER).
///
/// A Recording shares its Executor's handle cell, as Buffer and Ticket do: once the
/// Executor is destroyed (or reset()), submit() and submit_async() throw
/// Error(GPU_EXECUTOR_NULL_POINTER) saying so, and the destructor still frees the recording
/// safely. Moving the Executor is fine; after Executor::release() the caller's handle must
/// outlive the Recording's submissions. Like the C handle, one Recording may be submitted
/// from several threads at once; construction, assignment, reset(), release() and
/// destruction must not overlap any other use, and the Executor must not be destroyed
/// while another thread submits.
class Recording {
public:
    /// An empty recording (as a moved-from one): submitting it throws
    /// Error(GPU_EXECUTOR_NULL_POINTER).
    Recording() noexcept = default;

    ~Recording() { reset(); }

    Recording(const Recording &) = delete;
    Recording &operator=(const Recording &) = delete;

    Recording(Recording &&other) noexcept
        : exec_(std::move(other.exec_)),
          handle_(std::exchange(other.handle_, nullptr)),
          size_(std::exchange(other.size_, 0)) {}

    /// Destroys this object's own recording first, if any.
    Recording &operator=(Recording &&other) noexcept {
        if (this != &other) {
            reset();
            exec_ = std::move(other.exec_);
            handle_ = std::exchange(other.handle_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }

    /// Destroys the recording now, if any, and leaves this object empty. Safe whether or
    /// not the Executor still exists (gpu_recording_destroy needs no executor).
    void reset() noexcept {
        gpu_recording_destroy(std::exchange(handle_, nullptr));
        exec_.reset();
        size_ = 0;
    }

    /// Gives up ownership without destroying: the caller destroys the returned handle with
    /// gpu_recording_destroy. NULL when empty.
    gpu_recording_t *release() noexcept {
        exec_.reset();
        size_ = 0;
        return std::exchange(handle_, nullptr);
    }

    /// Whether this object owns a recording (false when empty, moved from, reset or
    /// released; still true after its Executor was destroyed).
    explicit operator bool() const noexcept { return handle_ != nullptr; }

    /// The C handle, still owned by this object (NULL when empty).
    gpu_recording_t *get() const noexcept { return handle_; }
    /// The executor handle the recording belongs to (not owned); NULL when empty or when
    /// the Executor was destroyed.
    gpu_executor_t *executor() const noexcept { return exec_ ? *exec_ : nullptr; }
    /// How many tasks were recorded (0 when empty).
    std::size_t size() const noexcept { return size_; }

    /// Runs the recorded tasks and blocks until they are done (gpu_recording_submit).
    /// Throws Error(GPU_EXECUTOR_NULL_POINTER) for an empty Recording or one whose Executor
    /// was destroyed, INVALID_BUFFER when one of its buffers was destroyed, and GPU_ERROR,
    /// OUT_OF_MEMORY, DEVICE_LOST, TIMED_OUT (Options::wait_timeout) or POISONED as the
    /// library reports them. Thread-safe.
    void submit() const { detail::check(gpu_recording_submit(live("Recording::submit"), handle_)); }

    /// Submits the recorded tasks and returns at once (gpu_recording_submit_async): the
    /// Ticket completes once they are done (it has no host outputs to write; its destructor
    /// waits, as for any Ticket). Errors as submit(). Thread-safe.
    [[nodiscard]] Ticket submit_async() const {
        gpu_ticket_t id = 0;
        detail::check(gpu_recording_submit_async(live("Recording::submit_async"), handle_, &id));
        return Ticket(exec_, id);
    }

private:
    friend class Executor;

    Recording(std::shared_ptr<gpu_executor_t *> exec, gpu_recording_t *handle,
              std::size_t size) noexcept
        : exec_(std::move(exec)), handle_(handle), size_(size) {}

    /// The recording's executor handle for a call, or Error(GPU_EXECUTOR_NULL_POINTER)
    /// when this Recording is empty or its Executor was destroyed (the library would be
    /// handed a stale handle).
    gpu_executor_t *live(const char *what) const {
        if (handle_ == nullptr) {
            throw Error(GPU_EXECUTOR_NULL_POINTER,
                        std::string(what) +
                            ": empty gpu_executor::Recording (default-constructed, moved "
                            "from, reset or released)");
        }
        gpu_executor_t *exec = executor();
        if (exec == nullptr) {
            throw Error(GPU_EXECUTOR_NULL_POINTER,
                        std::string(what) +
                            ": the recording's Executor was destroyed; it cannot be "
                            "submitted any more");
        }
        return exec;
    }

    // The owning Executor's handle cell (NULL inside once it is destroyed); empty when
    // this object owns no recording.
    std::shared_ptr<gpu_executor_t *> exec_;
    gpu_recording_t *handle_ = nullptr;
    std::size_t size_ = 0;
};

static_assert(!std::is_copy_constructible<Recording>::value, "Recording is move-only");
static_assert(std::is_nothrow_move_constructible<Recording>::value, "Recording moves");
static_assert(std::is_nothrow_move_assignable<Recording>::value, "Recording moves");

inline Recording Executor::record(const gpu_task_t *tasks, std::size_t count) {
    gpu_recording_t *handle = nullptr;
    detail::check(gpu_executor_record(get(), tasks, count, &handle));
    // Owned from here on: copying the cell cannot throw.
    return Recording(live_, handle, count);
}

inline Recording Executor::record(const Batch &batch) {
    return record(batch.data(), batch.size());
}

inline Recording Executor::record(const std::vector<Task> &tasks) {
    return record_tasks(tasks.data(), tasks.size());
}

inline Recording Executor::record(std::initializer_list<Task> tasks) {
    return record_tasks(tasks.begin(), tasks.size());
}

inline Recording Executor::record(const Task &task) { return record(&task.raw(), 1); }

inline Recording Executor::record_tasks(const Task *tasks, std::size_t count) {
    std::vector<gpu_task_t> raw;
    raw.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        raw.push_back(tasks[i].raw());
    }
    return record(raw.data(), raw.size());
}

inline void Executor::submit(const Recording &recording) {
    (void)recording.live("Executor::submit");
    detail::check(gpu_recording_submit(get(), recording.get()));
}

inline Ticket Executor::submit_async(const Recording &recording) {
    (void)recording.live("Executor::submit_async");
    gpu_ticket_t id = 0;
    detail::check(gpu_recording_submit_async(get(), recording.get(), &id));
    return Ticket(live_, id);
}

} // namespace gpu_executor

#endif /* GPU_EXECUTOR_HPP */
