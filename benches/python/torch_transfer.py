"""PyTorch reference figures for docs/BENCHMARKS.md's host-to-host section, on the same GPU
as c_examples/transfer_bench.c and latency_bench.c:

1. The PCIe link: pinned (page-locked) host memory to the GPU and back, 64 MiB copies.
2. `out = a + b` host to host, as a PyTorch user writes it (pageable NumPy-backed tensors:
   a.cuda(), b.cuda(), (a + b).cpu()), for the reference workloads (tasks stacked into one
   tensor) and the small latency batches, one at a time.

Every figure is the median of wall-clock times, synchronised at the end of each repetition.

    python3 benches/python/torch_transfer.py [iterations]
"""

import sys

import torch

from torch_resident import timed


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")

    size = 64 << 20
    pinned = torch.empty(size, dtype=torch.uint8).pin_memory()
    gpu = torch.empty(size, dtype=torch.uint8, device=dev)
    h2d = timed(lambda: gpu.copy_(pinned, non_blocking=True), iterations)
    d2h = timed(lambda: pinned.copy_(gpu, non_blocking=True), iterations)
    print(f"pcie pinned 64MiB: h2d {size / h2d / 1e9:.1f} GB/s, d2h {size / d2h / 1e9:.1f} GB/s")
    pageable = torch.empty(size, dtype=torch.uint8)
    h2d = timed(lambda: gpu.copy_(pageable), iterations)
    d2h = timed(lambda: pageable.copy_(gpu), iterations)
    print(f"pcie pageable 64MiB: h2d {size / h2d / 1e9:.1f} GB/s, d2h {size / d2h / 1e9:.1f} GB/s")

    shapes = [(1000, 4096), (100, 100_000), (10, 1_000_000), (1, 16_777_216),
              (1, 1024), (1, 4096), (1, 100_000), (10, 4096), (64, 4096), (10, 100_000)]
    print(f"{'batch':<14}{'median_us':>12}{'us_per_task':>13}{'GB/s':>8}")
    for count, n in shapes:
        a = torch.rand(count, n)
        b = torch.rand(count, n)
        t = timed(lambda: (a.to(dev) + b.to(dev)).cpu(), max(iterations, 200 if count * n <= 1 << 20 else 0))
        print(f"{count:>4} x {n:<8}{t * 1e6:>12.1f}{t * 1e6 / count:>13.3f}{count * n * 12 / t / 1e9:>8.2f}")


if __name__ == "__main__":
    main()
