// ops_demo: built-in ops through the C++ wrapper. Element-wise ops at two element types, a
// reduction and a matrix product go to the GPU in one batch (one submission), and every
// result is checked on the CPU.
//
// Build: cmake -S . -B build && cmake --build build
// Run:   build/c_examples/ops_demo
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "gpu_executor.hpp"

namespace ge = gpu_executor;

int main() {
    const std::size_t n = 1000, m = 3, k = 4, p = 2;
    // Small integers keep every float result exact, so the checks can compare with ==.
    std::vector<float> x(n), w(n), a(m * k), b(k * p);
    std::vector<int32_t> stock(n), sold(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
        w[i] = static_cast<float>(i % 3);
        stock[i] = static_cast<int32_t>(i);
        sold[i] = static_cast<int32_t>(i % 10);
    }
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 5);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 3) - 1.0f;

    std::vector<float> activated(n), clipped(n), c(m * p);
    std::vector<int32_t> left(n);
    float similarity = 0.0f;
    try {
        ge::Executor exec;
        ge::Batch batch;  // the tasks are independent: each reads its inputs as submitted
        batch.add(ge::Task::relu(x, activated))
            .add(ge::Task::clamp(x, -1.0f, 2.0f, clipped))
            .add(ge::Task::sub(stock, sold, left))  // int32_t vectors: an int32_t task
            .add(ge::Task::dot(x, w, similarity))
            .add(ge::Task::matmul(a, b, c, m, k, p));
        exec.submit(batch);
        std::printf("%zu tasks, %llu GPU submission(s)\n", batch.size(),
                    static_cast<unsigned long long>(exec.stats().submits));
    } catch (const ge::Error &e) {  // a bad size is caught here before anything runs
        std::fprintf(stderr, "ops_demo: %s\n", e.what());
        return 1;
    }

    std::size_t mismatches = 0;
    float dot = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        mismatches += activated[i] != std::max(x[i], 0.0f);
        mismatches += clipped[i] != std::min(std::max(x[i], -1.0f), 2.0f);
        mismatches += left[i] != stock[i] - sold[i];
        dot += x[i] * w[i];
    }
    mismatches += similarity != dot;
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < p; ++j) {
            float cell = 0.0f;
            for (std::size_t kk = 0; kk < k; ++kk) cell += a[i * k + kk] * b[kk * p + j];
            mismatches += c[i * p + j] != cell;
        }
    }
    std::printf("dot(x, w) = %g, C = [%g %g; %g %g; %g %g], %zu mismatches vs CPU\n",
                static_cast<double>(similarity), static_cast<double>(c[0]),
                static_cast<double>(c[1]), static_cast<double>(c[2]), static_cast<double>(c[3]),
                static_cast<double>(c[4]), static_cast<double>(c[5]), mismatches);
    return mismatches == 0 ? 0 : 1;
}
