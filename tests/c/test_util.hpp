// C++ additions to test_util.h for the tests in tests/c/: a random `a + b` case in
// std::vectors with its CPU reference (output NaN-poisoned), and the exact comparison.
#ifndef GPU_EXECUTOR_TEST_UTIL_HPP
#define GPU_EXECUTOR_TEST_UTIL_HPP

#include <cmath>
#include <cstring>
#include <vector>

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

#endif /* GPU_EXECUTOR_TEST_UTIL_HPP */
