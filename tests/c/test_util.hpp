// C++ additions to test_util.h for the tests in tests/c/: a random `a + b` case in
// std::vectors with its CPU reference (output NaN-poisoned), the exact comparison, and
// helpers for the C++ wrapper's tests (expected errors, random vectors, bitwise equality).
#ifndef GPU_EXECUTOR_TEST_UTIL_HPP
#define GPU_EXECUTOR_TEST_UTIL_HPP

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "gpu_executor.hpp"
#include "test_util.h"

struct tu_buffers {
  std::vector<float> a, b, out, expected;
};

inline tu_buffers tu_buffers_random(tu_rng &rng, std::size_t n) {
  tu_buffers buf{std::vector<float>(n), std::vector<float>(n),
                 std::vector<float>(n, std::nanf("")), std::vector<float>(n)};
  for (std::size_t i = 0; i < n; i++) {
    buf.a[i] = tu_rng_float(&rng);
    buf.b[i] = tu_rng_float(&rng);
    buf.expected[i] = buf.a[i] + buf.b[i];
  }
  return buf;
}

// Bitwise, as tu_case_matches. An empty vector's data() may be null, which memcmp must not get.
inline bool tu_buffers_match(const tu_buffers &buf) {
  return buf.out.size() == buf.expected.size() &&
         (buf.out.empty() ||
          std::memcmp(buf.out.data(), buf.expected.data(), buf.out.size() * sizeof(float)) == 0);
}

// Runs one named test: an exception escaping it is a failed check; prints "ok" or "FAIL".
template <typename F> inline void run_named(const char *name, F &&run) {
  const int before = tu_checks_failed;
  try {
    run();
  } catch (const std::exception &e) {
    CHECK(false && "unexpected exception");
    std::fprintf(stderr, "  %s: %s\n", name, e.what());
  }
  std::printf("%s %s\n", tu_checks_failed == before ? "ok  " : "FAIL", name);
}

// Runs `f`, expecting gpu_executor::Error with `status` whose message contains `needle`.
template <typename F>
inline void expect_error(gpu_executor::Status status, const char *needle, F &&f, const char *what) {
    try {
        f();
        CHECK(false && "no exception");
        std::fprintf(stderr, "  %s: no exception, expected %s\n", what, gpu_executor::status_name(status));
    } catch (const gpu_executor::Error &e) {
        const bool ok = e.status() == status && e.message().find(needle) != std::string::npos;
        if (!CHECK(ok)) {
            std::fprintf(stderr, "  %s: got %s, expected %s with \"%s\"\n", what, e.what(),
                         gpu_executor::status_name(status), needle);
        }
    }
}

inline uint32_t bits_of(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return bits;
}

inline std::vector<float> random_floats(tu_rng &rng, std::size_t n) {
    std::vector<float> v(n);
    for (float &x : v) x = tu_rng_float(&rng);
    return v;
}

inline std::vector<int32_t> random_ints(tu_rng &rng, std::size_t n) {
    std::vector<int32_t> v(n);
    for (int32_t &x : v) x = static_cast<int32_t>(static_cast<uint32_t>(tu_rng_next(&rng)));
    return v;
}

inline std::vector<uint32_t> random_words(tu_rng &rng, std::size_t n) {
    std::vector<uint32_t> v(n);
    for (uint32_t &x : v) x = static_cast<uint32_t>(tu_rng_next(&rng));
    return v;
}

// Bitwise equality of two float vectors, reporting the first difference.
inline bool same_bits(const std::vector<float> &got, const std::vector<float> &want, const char *what) {
    if (got.size() != want.size()) {
        std::fprintf(stderr, "  %s: %zu elements, want %zu\n", what, got.size(), want.size());
        return false;
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (bits_of(got[i]) != bits_of(want[i])) {
            std::fprintf(stderr, "  %s: element %zu: %.9g, want %.9g\n", what, i, double(got[i]),
                         double(want[i]));
            return false;
        }
    }
    return true;
}

#endif /* GPU_EXECUTOR_TEST_UTIL_HPP */
