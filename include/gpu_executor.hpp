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
 *   gpu_executor::Ticket ticket = exec.submit_async(batch);   // returns at once
 *   ticket.wait();                              // outputs written here
 *
 *   gpu_executor::set_log_level(GPU_LOG_INFO);  // process-wide
 *   gpu_executor::set_log_callback([](gpu_executor::LogLevel, std::string_view text) {
 *       std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
 *   });
 *
 * Every failure throws gpu_executor::Error, which carries the status code and the
 * library's last-error message. Tasks hold raw pointers: the arrays they name must stay
 * alive (and outputs untouched by others) until the submit call returns; for
 * submit_async, inputs until it returns and outputs until the Ticket completes.
 *
 * Requires C++17; with C++20 (when <span> is available) the std::span overloads are
 * added as well.
 */

#ifndef GPU_EXECUTOR_HPP
#define GPU_EXECUTOR_HPP

#include "gpu_executor.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
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

    const gpu_executor_options_t &raw() const noexcept { return raw_; }
    gpu_executor_options_t &raw() noexcept { return raw_; }

private:
    gpu_executor_options_t raw_;
};

/// One task. Holds pointers only: the arrays must outlive the submit call.
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

    const gpu_task_t &raw() const noexcept { return raw_; }
    std::size_t length() const noexcept { return raw_.length; }

private:
    gpu_task_t raw_;
};

/// Tasks collected for one submission. Holds pointers only, like Task.
class Batch {
public:
    Batch() = default;
    Batch(std::initializer_list<Task> tasks) {
        tasks_.reserve(tasks.size());
        for (const Task &task : tasks) {
            tasks_.push_back(task.raw());
        }
    }

    Batch &add(const Task &task) {
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
    void clear() noexcept { tasks_.clear(); }
    std::size_t size() const noexcept { return tasks_.size(); }
    bool empty() const noexcept { return tasks_.empty(); }
    const gpu_task_t *data() const noexcept { return tasks_.data(); }

private:
    std::vector<gpu_task_t> tasks_;
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
};

/// One asynchronous batch, from Executor::submit_async. Move-only.
///
/// The batch's outputs are written when the ticket completes: in wait() or poll() when they
/// return true, or at the latest in the destructor (which waits, ignoring errors). So every
/// output array must outlive the Ticket, and must not be read or written until it has
/// completed. Destroying (or reset()ting) the Executor first abandons the results: the
/// Ticket then never writes, and wait()/poll() throw Error(GPU_EXECUTOR_UNKNOWN_TICKET).
/// Moving the Executor is fine. A Ticket is not itself thread-safe; the Executor is.
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
        if (status != GPU_EXECUTOR_UNKNOWN_TICKET && status != GPU_EXECUTOR_NULL_POINTER) {
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
    /// Tickets keep using the handle, which must then outlive them.
    gpu_executor_t *release() noexcept {
        gpu_executor_t *handle = get();
        live_.reset();
        return handle;
    }

    /// Destroys the owned handle, if any. Its Tickets that are still pending are abandoned
    /// (their outputs are never written).
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
    /// the returned Ticket completes, so they must outlive it. Several tickets may be in
    /// flight and complete in any order.
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
                           copy_c_string(raw.driver_info, sizeof(raw.driver_info))};
    }

    /// Prints the three "[gpu] ..." diagnostic lines to standard output (flushing C stdio,
    /// and so std::cout while it is synchronised with stdio, first to keep the order).
    void print_stats() const {
        std::fflush(stdout);
        detail::check(gpu_executor_print_stats(get()));
    }

private:
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

} // namespace gpu_executor

#endif /* GPU_EXECUTOR_HPP */
