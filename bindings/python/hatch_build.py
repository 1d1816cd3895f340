"""Hatchling build hook: compiles the Rust library with cargo and ships it in the wheel.

For a wheel (``pip install ./bindings/python``, ``pip wheel``, ``python -m build``) it runs
``cargo build --release`` in the crate (the repository root in a checkout, ``rust/`` in an
sdist), which honours ``CARGO_TARGET_DIR`` and cargo's own configuration; finds the built
shared library from cargo's JSON messages; strips a copy of it (the release profile keeps
debug info) and puts that copy in the wheel as ``gpu_executor/libgpu_executor.so``. The
crate's license texts (``LICENSE-MIT``, ``LICENSE-APACHE``) go in the wheel's
``.dist-info/licenses/``, where PEP 639 puts them.

The wheel is tagged ``py3-none-<platform>``: it holds a native library, but loads it with
ctypes, so it works with any Python 3 and has no Python-ABI dependency. The platform tag is
the plain one (``linux_x86_64``); ``auditwheel repair`` may retag it ``manylinux_*`` after
checking the library.

Environment: ``CARGO`` (the cargo to run; default: ``cargo`` on ``PATH``, then
``~/.cargo/bin/cargo``), ``STRIP`` (the strip tool; default ``strip``).

Editable installs get no library (their package is the source tree): point
``GPU_EXECUTOR_LIBRARY`` at a build instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

CRATE = "gpu_executor"
# The license texts at the crate's root, shipped in every wheel.
LICENSE_FILES = ("LICENSE-MIT", "LICENSE-APACHE")


def _library_name() -> str:
    if sys.platform == "win32":
        return "gpu_executor.dll"
    if sys.platform == "darwin":
        return "libgpu_executor.dylib"
    return "libgpu_executor.so"


def _platform_tag() -> str:
    # The plain platform tag (linux_x86_64, macosx_14_0_arm64, win_amd64), never a
    # manylinux/musllinux one: those are claims that only auditwheel can check.
    from packaging import tags

    for tag in tags.platform_tags():
        if not tag.startswith(("manylinux", "musllinux")):
            return tag
    raise RuntimeError("no platform tag for this interpreter")  # pragma: no cover


def _find_tool(variable: str, name: str, fallbacks: List[Path]) -> Optional[str]:
    explicit = os.environ.get(variable)
    if explicit:
        return explicit
    found = shutil.which(name)
    if found:
        return found
    for path in fallbacks:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


class CargoLibraryHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def _crate_dir(self) -> Path:
        root = Path(self.root).resolve()
        # An sdist carries the crate in rust/; a checkout has it two levels up.
        for candidate in (root / "rust", root.parent.parent):
            manifest = candidate / "Cargo.toml"
            if manifest.is_file() and f'name = "{CRATE}"' in manifest.read_text():
                return candidate
        raise RuntimeError(
            f"cannot find the {CRATE} crate (Cargo.toml) in {root / 'rust'} or "
            f"{root.parent.parent}: build the Python package from a repository checkout "
            "(pip install ./bindings/python) or from its sdist"
        )

    def _cargo_build(self, crate: Path) -> Path:
        cargo = _find_tool("CARGO", "cargo", [Path.home() / ".cargo" / "bin" / "cargo"])
        if cargo is None:
            raise RuntimeError(
                "cargo not found: building the gpu_executor wheel compiles the Rust library. "
                "Install Rust (https://rustup.rs) or set CARGO to the cargo executable."
            )
        command = [cargo, "build", "--release", "--message-format=json-render-diagnostics"]
        self.app.display_info(f"gpu_executor: {' '.join(command)} (in {crate})")
        # Diagnostics and progress go to stderr as usual; stdout carries the JSON messages.
        try:
            result = subprocess.run(command, cwd=crate, stdout=subprocess.PIPE, text=True)
        except OSError as error:
            raise RuntimeError(f"cannot run {cargo}: {error}") from error
        if result.returncode != 0:
            raise RuntimeError(f"cargo build --release failed (exit status {result.returncode})")
        suffix = Path(_library_name()).suffix
        for line in result.stdout.splitlines():
            try:
                message: Dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            target = message.get("target") or {}
            if (
                message.get("reason") == "compiler-artifact"
                and target.get("name") == CRATE
                and "cdylib" in target.get("kind", [])
            ):
                for filename in message.get("filenames", []):
                    if Path(filename).suffix == suffix:
                        return Path(filename)
        raise RuntimeError(f"cargo built no {CRATE} shared library (*{suffix})")

    def _strip(self, library: Path) -> None:
        if sys.platform == "win32":
            return  # MSVC keeps debug info in a separate .pdb
        strip = _find_tool("STRIP", "strip", [])
        if strip is None:
            raise RuntimeError(
                "strip not found (binutils): the release library keeps its debug info and "
                "would make a wheel ten times larger. Install binutils or set STRIP."
            )
        # Debug info and the static symbol table go; the exported (dynamic) symbols stay.
        flags = ["-x"] if sys.platform == "darwin" else ["--strip-unneeded"]
        subprocess.run([strip, *flags, str(library)], check=True)

    def _add_licenses(self, crate: Path, build_data: Dict[str, Any]) -> None:
        # An sdist has them at its root too, where hatchling's own license-files lookup
        # finds them and ships them itself; a checkout has them only at the crate's root,
        # outside this project, so they are forced into <name>-<version>.dist-info/licenses/.
        already = {Path(path).name for path in self.metadata.core.license_files}
        project_id = getattr(self.build_config.builder, "artifact_project_id", None) or (
            f"{CRATE}-{self.metadata.version}"
        )
        for name in LICENSE_FILES:
            if name in already:
                continue
            source = crate / name
            if not source.is_file():
                raise RuntimeError(f"the license text {source} is missing")
            build_data["force_include"][str(source)] = f"{project_id}.dist-info/licenses/{name}"

    def initialize(self, version: str, build_data: Dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        crate = self._crate_dir()
        self._add_licenses(crate, build_data)
        built = self._cargo_build(crate)
        self._scratch = tempfile.mkdtemp(prefix="gpu-executor-wheel-")
        shipped = Path(self._scratch) / _library_name()
        shutil.copyfile(built, shipped)
        self._strip(shipped)
        self.app.display_info(
            f"gpu_executor: shipping {built} stripped ({shipped.stat().st_size:,} bytes)"
        )
        build_data["force_include"][str(shipped)] = f"gpu_executor/{_library_name()}"
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{_platform_tag()}"

    def finalize(self, version: str, build_data: Dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
