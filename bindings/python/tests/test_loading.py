"""Where the shared library is loaded from, each case in a fresh interpreter."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gpu_executor

PROBE = (
    "import gpu_executor as g, numpy as np;"
    "lib = g.load_library();"
    "print(lib.source); print(lib.path);"
    "ex = g.Executor(); print(ex.add(np.ones(3, np.float32), np.ones(3, np.float32)).tolist())"
)


def built_library():
    return Path(gpu_executor.load_library().path)


def run_probe(env_overrides, pythonpath=None, code=PROBE):
    env = {k: v for k, v in os.environ.items() if k not in ("GPU_EXECUTOR_LIBRARY", "LD_LIBRARY_PATH")}
    env.update(env_overrides)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_environment_variable_wins(tmp_path):
    # A copy elsewhere: it must win over the package's bundled copy (a wheel carries one).
    override = tmp_path / "elsewhere" / "libgpu_executor.so"
    override.parent.mkdir()
    shutil.copy2(built_library(), override)
    result = run_probe({"GPU_EXECUTOR_LIBRARY": str(override)})
    assert result.returncode == 0, result.stderr
    source, path, values = result.stdout.splitlines()
    assert source == "GPU_EXECUTOR_LIBRARY"
    assert Path(path) == override
    assert values == "[2.0, 2.0, 2.0]"


def test_environment_variable_pointing_nowhere_is_an_error(tmp_path):
    missing = tmp_path / "nope" / "libgpu_executor.so"
    result = run_probe({"GPU_EXECUTOR_LIBRARY": str(missing)})
    assert result.returncode != 0
    assert "LibraryNotFoundError" in result.stderr
    assert "GPU_EXECUTOR_LIBRARY" in result.stderr and str(missing) in result.stderr


def test_not_a_gpu_executor_library(tmp_path):
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.isfile(libc):
        pytest.skip("no libc at the Debian path")
    result = run_probe({"GPU_EXECUTOR_LIBRARY": libc})
    assert result.returncode != 0
    assert "does not export gpu_executor_" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux library names")
def test_bundled_copy_next_to_the_package(tmp_path):
    package = Path(gpu_executor.__file__).parent
    copy = tmp_path / "site" / "gpu_executor"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "libgpu_executor*"))
    shutil.copy2(built_library(), copy / "libgpu_executor.so")
    result = run_probe({}, pythonpath=tmp_path / "site")
    assert result.returncode == 0, result.stderr
    source, path, values = result.stdout.splitlines()
    assert source == "bundled"
    assert Path(path) == copy / "libgpu_executor.so"
    assert values == "[2.0, 2.0, 2.0]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux library names")
def test_system_loader_by_soname(tmp_path):
    # The library's SONAME is libgpu_executor.so.0, as an installed copy would be named. The
    # package copy has no bundled library, which would come first.
    package = Path(gpu_executor.__file__).parent
    copy = tmp_path / "site" / "gpu_executor"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "libgpu_executor*"))
    (tmp_path / "libgpu_executor.so.0").symlink_to(built_library())
    result = run_probe({"LD_LIBRARY_PATH": str(tmp_path)}, pythonpath=tmp_path / "site")
    assert result.returncode == 0, result.stderr
    source, path, values = result.stdout.splitlines()
    assert source == "system"
    assert path == "libgpu_executor.so.0"
    assert values == "[2.0, 2.0, 2.0]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux library names")
def test_nothing_found_explains_how_to_fix(tmp_path):
    package = Path(gpu_executor.__file__).parent
    copy = tmp_path / "site" / "gpu_executor"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "libgpu_executor*"))
    code = "import gpu_executor as g; print(g.__version__); g.version()"
    result = run_probe({}, pythonpath=tmp_path / "site", code=code)
    if result.returncode == 0:
        pytest.skip("a gpu_executor library is installed system-wide")
    assert result.stdout.strip() == gpu_executor.__version__  # importing needs no library
    assert "LibraryNotFoundError" in result.stderr
    assert "GPU_EXECUTOR_LIBRARY" in result.stderr
