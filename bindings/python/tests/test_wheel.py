"""The package as a wheel ships it: the library inside, stripped, found without any setting.

scripts/test-python builds the wheel, installs it, and names it in GPU_EXECUTOR_TEST_WHEEL;
without that variable (tests run from a source tree) these tests are skipped.
"""

import os
import re
import struct
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import gpu_executor

from conftest import PACKAGE_DIR, bundled_library

WHEEL = os.environ.get("GPU_EXECUTOR_TEST_WHEEL")

pytestmark = [
    pytest.mark.skipif(not WHEEL, reason="not installed from a wheel by scripts/test-python"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux library names"),
]


def platform_tag():
    return re.sub(r"[-.]", "_", sysconfig.get_platform())


def elf_section_names(path):
    """Section names of a little-endian ELF64 file."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF"
    if data[4] != 2 or data[5] != 1:
        pytest.skip("not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(index):
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + index * shentsize
        )
        return name, offset, size

    _, strtab_offset, strtab_size = section(shstrndx)
    strtab = data[strtab_offset : strtab_offset + strtab_size]
    names = []
    for index in range(shnum):
        name = section(index)[0]
        names.append(strtab[name : strtab.index(b"\0", name)].decode())
    return names


def test_wheel_name_and_tags():
    # Native code, but no Python-ABI dependency (ctypes): py3-none-<platform>.
    assert Path(WHEEL).name == f"gpu_executor-{gpu_executor.__version__}-py3-none-{platform_tag()}.whl"
    with zipfile.ZipFile(WHEEL) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"gpu_executor-{gpu_executor.__version__}.dist-info/WHEEL").decode()
    assert "Root-Is-Purelib: false" in metadata
    assert re.findall(r"^Tag: (.*)$", metadata, re.M) == [f"py3-none-{platform_tag()}"]
    libraries = [n for n in names if re.search(r"\.so(\.|$)|\.dylib$|\.dll$", n)]
    assert libraries == ["gpu_executor/libgpu_executor.so"]
    assert not [n for n in names if n.startswith(("tests/", "bench/", "rust/")) or "hatch_build" in n]


def test_library_is_bundled_and_stripped():
    library = bundled_library()
    assert library == PACKAGE_DIR / "libgpu_executor.so"
    sections = elf_section_names(library)
    assert ".dynsym" in sections  # the exported API
    assert not [s for s in sections if s.startswith((".debug", ".zdebug"))], sections
    assert ".symtab" not in sections
    assert library.stat().st_size < 20 * 2**20


def test_bundled_library_is_used_without_any_setting():
    assert "GPU_EXECUTOR_LIBRARY" not in os.environ
    lib = gpu_executor.load_library()
    assert lib.source == "bundled"
    assert Path(lib.path) == bundled_library()


def test_fresh_interpreter_finds_the_bundled_library(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GPU_EXECUTOR_LIBRARY", "LD_LIBRARY_PATH")}
    code = (
        "import gpu_executor as g, numpy as np; ex = g.Executor();"
        "print(g.load_library().source); print(g.library_path());"
        "print(ex.add(np.ones(3, np.float32), np.ones(3, np.float32)).tolist())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    source, path, values = result.stdout.splitlines()
    assert (source, Path(path), values) == ("bundled", bundled_library(), "[2.0, 2.0, 2.0]")
