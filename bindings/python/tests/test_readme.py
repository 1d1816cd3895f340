"""README.md's code snippets are real: each sits between `<!-- begin X -->` and
`<!-- end X -->` markers and is checked here.

- `python example`: run in a fresh interpreter against the library under test;
- `tests/c/FILE`: the block is that file, verbatim (ctest builds and runs it);
- `tests/c/FILE: NAME`: the block is the regions of FILE between `/* begin README snippet:
  NAME */` and `/* end README snippet: NAME */`, each dedented, joined by a blank line.

Where compilers exist, the C and C++ files are also built here, strict, as C11 and as
C++17 and C++20 (the CMake build uses C++17 only), and run; so is the C++ wrapper's test.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import gpu_executor

from conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
TESTS_C = REPO_ROOT / "tests" / "c"
INCLUDE = REPO_ROOT / "include"

# Every marked block README.md must have (so that deleting a marker cannot pass silently).
EXPECTED_BLOCKS = {
    "tests/consumer/app.c",
    "python example",
    "tests/c/readme_example.cpp",
    "tests/c/readme_snippets.c: async",
    "tests/c/readme_snippets.c: log",
}

needs_readme = pytest.mark.skipif(not README.is_file(), reason=f"{README} not found")


def readme_blocks():
    """{marker: code} for every `<!-- begin X -->` ... `<!-- end X -->` in README.md."""
    text = README.read_text()
    blocks = {}
    for match in re.finditer(r"^<!-- begin (.+?) -->\n(.*?)^<!-- end \1 -->$", text, re.S | re.M):
        name, body = match.groups()
        fenced = re.fullmatch(r"```\w*\n(.*?)```\n", body, re.S)
        assert fenced, f"README block {name!r} is not exactly one fenced code block"
        assert name not in blocks, f"README block {name!r} appears twice"
        blocks[name] = fenced.group(1)
    return blocks


def file_regions(path, name):
    """The regions of `path` marked as README snippet `name`, dedented, joined by a blank line."""
    lines = path.read_text().splitlines(keepends=True)
    regions, current = [], None
    for line in lines:
        stripped = line.strip()
        if stripped == f"/* begin README snippet: {name} */":
            assert current is None, f"nested region {name!r} in {path}"
            current = []
        elif stripped == f"/* end README snippet: {name} */":
            assert current is not None, f"unopened region {name!r} in {path}"
            regions.append(textwrap.dedent("".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    assert current is None, f"unclosed region {name!r} in {path}"
    assert regions, f"no region {name!r} in {path}"
    return "\n".join(regions)


@needs_readme
def test_readme_has_every_block():
    assert set(readme_blocks()) == EXPECTED_BLOCKS


@needs_readme
@pytest.mark.parametrize("name", sorted(b for b in EXPECTED_BLOCKS if b.startswith("tests/")))
def test_readme_block_is_the_tested_source(name):
    code = readme_blocks()[name]
    if ": " in name:
        path, region = name.split(": ", 1)
        want = file_regions(REPO_ROOT / path, region)
    else:
        want = (REPO_ROOT / name).read_text()
    assert code == want, f"README.md's block {name!r} differs from {name}"


@needs_readme
def test_readme_python_example_runs(tmp_path):
    code = readme_blocks()["python example"]
    script = tmp_path / "readme_example.py"
    script.write_text(code)
    # A fresh interpreter, outside the source tree, with the package under test and the
    # library named by GPU_EXECUTOR_LIBRARY (set by conftest), as a user would run it.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(gpu_executor.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- compiling the C and C++ sources ---------------------------------------------------------

CC = shutil.which("cc") or shutil.which("gcc")
CXX = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
STRICT = ["-Wall", "-Wextra", "-Wpedantic", "-Werror"]


@pytest.fixture(scope="module")
def libdir(tmp_path_factory):
    """A directory holding the library under test under its link and SONAME names."""
    library = os.path.realpath(gpu_executor.load_library().path)
    if not os.path.isfile(library):
        pytest.skip(f"the library under test is not a file: {library}")
    directory = tmp_path_factory.mktemp("lib")
    for name in ("libgpu_executor.so", "libgpu_executor.so.0"):
        (directory / name).symlink_to(library)
    return directory


def build_and_run(compiler, std, source, libdir, tmp_path, extra=()):
    exe = tmp_path / f"{source.stem}-{std}"
    command = [
        compiler, f"-std={std}", *STRICT, f"-I{INCLUDE}", f"-I{TESTS_C}", str(source), "-o", str(exe),
        f"-L{libdir}", "-lgpu_executor", f"-Wl,-rpath,{libdir}", "-pthread", *extra,
    ]
    built = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, " ".join(command) + "\n" + built.stderr
    env = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    env.pop("GPU_EXECUTOR_LOG", None)
    ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


@pytest.mark.skipif(sys.platform != "linux" or CC is None, reason="needs Linux and a C compiler")
def test_readme_c_snippets_build_and_run(libdir, tmp_path):
    out = build_and_run(CC, "c11", TESTS_C / "readme_snippets.c", libdir, tmp_path)
    assert "log: 1 adapter line(s)" in out and out.rstrip().endswith("ok")


@pytest.mark.skipif(sys.platform != "linux" or CXX is None, reason="needs Linux and a C++ compiler")
@pytest.mark.parametrize("std", ["c++17", "c++20"])
def test_readme_cpp_example_builds_and_runs(std, libdir, tmp_path):
    out = build_and_run(CXX, std, TESTS_C / "readme_example.cpp", libdir, tmp_path)
    assert "out2[0] = 3.5" in out


@pytest.mark.skipif(sys.platform != "linux" or CXX is None, reason="needs Linux and a C++ compiler")
def test_cpp_wrapper_test_as_cxx20(libdir, tmp_path):
    """ctest runs tests/c/cpp_wrapper_test.cpp as C++17; as C++20 it adds std::span."""
    out = build_and_run(CXX, "c++20", TESTS_C / "cpp_wrapper_test.cpp", libdir, tmp_path)
    assert re.search(r"\d+ checks, 0 failures", out)
