"""PyTorch reference figures for docs/BENCHMARKS.md's kernel section, on the same GPU:
torch.matmul in fp32 with TF32 off (GPU time by CUDA events), and 1,000 matmuls of
64x64x64 as a loop of torch.matmul calls, on resident tensors and host to host.

    python3 benches/python/torch_kernels.py [--json FILE]
"""

import json
import sys
import time

import torch


def main() -> None:
    out = None
    if "--json" in sys.argv:
        out = open(sys.argv[sys.argv.index("--json") + 1], "w")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    dev = torch.device("cuda")
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)

    def emit(record, text):
        print(text)
        if out:
            out.write(json.dumps(record) + "\n")

    for s in (1024, 2048, 4096):
        a = torch.rand(s, s, device=dev)
        b = torch.rand(s, s, device=dev)
        for _ in range(3):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        reps = 20
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            torch.matmul(a, b)
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end) / reps
        tflops = 2 * s**3 / (ms / 1e3) / 1e12
        emit({"bench": "torch_matmul", "size": s, "ms": ms, "tflops": tflops},
             f"  torch.matmul fp32 (TF32 off) {s}^3: {tflops:.2f} TFLOP/s ({ms:.3f} ms)")

    n = 1000
    host = [(torch.rand(64, 64), torch.rand(64, 64)) for _ in range(n)]
    resident = [(a.to(dev), b.to(dev)) for a, b in host]
    for label, run in (
        ("resident tensors", lambda: [torch.matmul(a, b) for a, b in resident]),
        ("host to host", lambda: [torch.matmul(a.to(dev), b.to(dev)).cpu() for a, b in host]),
    ):
        run()
        torch.cuda.synchronize()
        times = []
        for _ in range(7):
            t = time.perf_counter()
            run()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        times.sort()
        us = times[len(times) // 2] * 1e6 / n
        emit({"bench": "torch_matmul_loop", "mode": label, "count": n, "us_per_matmul": us},
             f"  torch.matmul loop, {n} x 64^3, {label}: {us:.2f} us per matmul")


if __name__ == "__main__":
    main()
