// The C++ wrapper: RAII handle, exceptions, asynchronous tickets, a log callback.
#include <cstdio>
#include <string_view>
#include <vector>

#include "gpu_executor.hpp"

namespace ge = gpu_executor;

int main() {
    ge::set_log_callback([](ge::LogLevel level, std::string_view message) {
        std::fprintf(stderr, "gpu_executor[%u] %.*s\n", static_cast<unsigned>(level),
                     static_cast<int>(message.size()), message.data());
    });
    try {
        ge::Executor exec;                       // default options
        std::vector<float> a(100000, 1.5f), b(100000, 2.0f), out(a.size()), out2(a.size());
        exec.submit(a, b, out);                  // blocks: out = a + b

        ge::Ticket ticket = exec.submit_async(a, b, out2);  // returns at once
        a.assign(a.size(), 0.0f);                // inputs were copied: free to change
        ticket.wait();                           // out2 written here (must outlive ticket)

        std::printf("out[0] = %g, out2[0] = %g\n", out[0], out2[0]);
        ge::set_log_callback(nullptr);           // back to stderr
        return out == out2 && out[0] == 3.5f ? 0 : 1;
    } catch (const ge::Error &e) {               // status code + library message
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
