"""Shared fixtures. The tests run against the library the package finds by itself (the copy
a wheel carries, when installed from one) or the one GPU_EXECUTOR_LIBRARY names; when the
package has no bundled copy (a source tree) and the variable is unset, this checkout's
release build is used."""

import os
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
HEADER = REPO_ROOT / "include" / "gpu_executor.h"

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

import gpu_executor  # noqa: E402  (the library is loaded on first use, not on import)

PACKAGE_DIR = Path(gpu_executor.__file__).resolve().parent


def bundled_library():
    """The library copy next to the installed package, or None."""
    for name in gpu_executor._ffi._bundled_names():
        if (PACKAGE_DIR / name).is_file():
            return PACKAGE_DIR / name
    return None


if not os.environ.get("GPU_EXECUTOR_LIBRARY") and bundled_library() is None:
    _target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    _built = (_target if _target.is_absolute() else REPO_ROOT / _target) / "release" / "libgpu_executor.so"
    if _built.is_file():
        os.environ["GPU_EXECUTOR_LIBRARY"] = str(_built)


def pytest_report_header(config):
    try:
        lib = gpu_executor.load_library()
        where = f"{lib.path} ({lib.source}), version {lib.version()}"
    except OSError as error:
        where = f"not loadable: {error}"
    return [f"gpu_executor package: {Path(gpu_executor.__file__).parent}", f"library: {where}"]


@pytest.fixture
def executor():
    with gpu_executor.Executor() as ex:
        yield ex


@pytest.fixture
def rng(request):
    # A fixed seed per test, so that a failure reproduces.
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def random_task(rng, shape):
    a = rng.uniform(-100, 100, size=shape).astype(np.float32)
    b = rng.uniform(-100, 100, size=shape).astype(np.float32)
    # NaN: an element the library never wrote can never match.
    out = np.full(shape, np.nan, dtype=np.float32)
    return a, b, out


def assert_bitwise_equal(got, want):
    assert got.shape == want.shape
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
