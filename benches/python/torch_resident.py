"""PyTorch reference figures for docs/BENCHMARKS.md's resident-buffer section, on the same
GPU as c_examples/resident_bench.c and with the same workloads:

1. 1,000 x 4,096 `a + b` on resident tensors: a loop of separate torch.add calls (one
   launch each), and everything stacked into one (1000, 4096) tensor (one launch).
2. A 10-step chain x = s * x + y over 16M resident elements (torch.add(y, x, alpha=s):
   one kernel per step, 12 bytes per element per step).
3. The same chain host to host: one upload, the chain, one readback; and 10 host round
   trips (upload, one step, readback).

Every figure is the median of wall-clock times with torch.cuda.synchronize() at the end
of each repetition.

    python3 benches/python/torch_resident.py [iterations] [chain_elements]
"""

import statistics
import sys
import time

import torch

STEPS = 10


def timed(fn, iterations, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 24
    dev = torch.device("cuda")
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)

    a = [torch.rand(4096, device=dev) for _ in range(1000)]
    b = [torch.rand(4096, device=dev) for _ in range(1000)]
    out = [torch.empty(4096, device=dev) for _ in range(1000)]

    def separate():
        for x, y, o in zip(a, b, out):
            torch.add(x, y, out=o)

    t = timed(separate, iterations)
    print(f"torch resident 1000 x 4096 add, separate launches: {t * 1e6:.1f} us per batch, "
          f"{t * 1e6 / 1000:.3f} us per task")
    sa, sb = torch.stack(a), torch.stack(b)
    so = torch.empty_like(sa)
    t = timed(lambda: torch.add(sa, sb, out=so), iterations)
    print(f"torch resident 1000 x 4096 add, stacked into one tensor: {t * 1e6:.1f} us per batch, "
          f"{t * 1e6 / 1000:.4f} us per task")

    s = 0.5
    x0_host = torch.rand(n) * 10 - 5
    y_host = torch.rand(n)
    x0, y = x0_host.to(dev), y_host.to(dev)
    xs = [torch.empty(n, device=dev) for _ in range(STEPS)]

    def chain_resident():
        x = x0
        for k in range(STEPS):
            torch.add(y, x, alpha=s, out=xs[k])
            x = xs[k]
        return x

    t = timed(chain_resident, iterations)
    print(f"torch chain of {STEPS} over {n} elements, resident: {t * 1e3:.3f} ms, "
          f"{12 * STEPS * n / t / 1e12:.2f} TB/s (12 bytes per element per step)")

    def chain_one_trip():
        x = x0_host.to(dev)
        for k in range(STEPS):
            torch.add(y, x, alpha=s, out=xs[k])
            x = xs[k]
        return x.cpu()

    t = timed(chain_one_trip, iterations)
    print(f"torch chain host to host, one upload + one readback: {t * 1e3:.3f} ms")

    def chain_round_trips():
        x = x0_host
        for _ in range(STEPS):
            x = torch.add(y, x.to(dev), alpha=s).cpu()
        return x

    t = timed(chain_round_trips, max(5, iterations // 5))
    print(f"torch chain host to host, {STEPS} round trips: {t * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
