#!/usr/bin/env bash
# Installs gpu_executor from a CMake build tree into a fresh temporary prefix and checks it
# the way a downstream user would:
#   - README.md's minimal C example is tests/consumer/app.c, verbatim;
#   - the installed file layout (library with SONAME symlinks, static library, headers,
#     CMake package, pkg-config file);
#   - only gpu_* symbols are exported, exactly the functions the header declares;
#   - a CMake project (tests/consumer/cmake) finds the package with find_package, from a
#     copy of the prefix moved elsewhere (relocatable), links the shared and the static
#     library, and runs both programs;
#   - `cc app.c $(pkg-config --cflags --libs gpu_executor)` builds and runs, and so does a
#     static link using Libs.private;
#   - what is installed is what a distribution ships: the shared library stripped, its debug
#     info in lib/debug/.build-id/NN/REST.debug (same build ID, matching GNU debuglink, and
#     it resolves the library's addresses), the static library without debug info, and the
#     license texts in share/licenses/gpu_executor (sizes printed);
#   - as a subproject (tests/consumer/subdir: add_subdirectory; tests/consumer/fetchcontent:
#     FetchContent), gpu_executor gives both library targets and builds none of its examples
#     or tests; a program linked each way runs.
# Usage: tests/consumer/run.sh [BUILD_DIR]   (default: build/, configured and built if needed)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(realpath -m "${1:-$repo/build}")"
version="$(sed -n 's/^version[[:space:]]*=[[:space:]]*"\([0-9.]*\)".*/\1/p' "$repo/Cargo.toml" | head -n1)"
major="${version%%.*}"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

work="$(mktemp -d "${TMPDIR:-/tmp}/gpu_executor_install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" -j "$(nproc)"

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
sed 's/^/   /' "$work/install.log"

# --- layout ---------------------------------------------------------------------------
lib="$prefix/lib"
check "lib/libgpu_executor.so.$version is a regular file" \
  test -f "$lib/libgpu_executor.so.$version" -a ! -L "$lib/libgpu_executor.so.$version"
check "lib/libgpu_executor.so.$major -> libgpu_executor.so.$version" \
  test "$(readlink "$lib/libgpu_executor.so.$major")" = "libgpu_executor.so.$version"
check "lib/libgpu_executor.so -> libgpu_executor.so.$major" \
  test "$(readlink "$lib/libgpu_executor.so")" = "libgpu_executor.so.$major"
check "SONAME is libgpu_executor.so.$major" \
  bash -c "readelf -d '$lib/libgpu_executor.so.$version' | grep -q 'SONAME.*\[libgpu_executor.so.$major\]'"
check "lib/libgpu_executor.a" test -s "$lib/libgpu_executor.a"
check "include/gpu_executor.h is the checked-in header" \
  cmp -s "$prefix/include/gpu_executor.h" "$repo/include/gpu_executor.h"
if [ -f "$repo/include/gpu_executor.hpp" ]; then
  check "include/gpu_executor.hpp is the checked-in header" \
    cmp -s "$prefix/include/gpu_executor.hpp" "$repo/include/gpu_executor.hpp"
fi
for f in gpu_executorConfig.cmake gpu_executorConfigVersion.cmake gpu_executorTargets.cmake; do
  check "lib/cmake/gpu_executor/$f" test -f "$lib/cmake/gpu_executor/$f"
done
check "lib/pkgconfig/gpu_executor.pc" test -f "$lib/pkgconfig/gpu_executor.pc"

# --- stripped libraries, separate debug info, licenses ----------------------------------
so="$lib/libgpu_executor.so.$version"
has_section() { readelf -S --wide "$2" 2>/dev/null | grep -q -- " $1 "; }
check "installed libgpu_executor.so.$version is stripped (no .debug_info, no .symtab)" \
  bash -c "! readelf -S --wide '$so' | grep -qE ' \.(debug_info|symtab) '"
build_id="$(readelf -n "$so" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')"
debug_file="$prefix/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
if [ -n "$build_id" ] && [ -f "$debug_file" ]; then
  ok "debug info installed as lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
  check "the debug file has .debug_info and the symbol table" \
    bash -c "readelf -S --wide '$debug_file' | grep -q ' .debug_info ' &&
             readelf -S --wide '$debug_file' | grep -q ' .symtab '"
  check "the debug file has the library's build ID" \
    test "$(readelf -n "$debug_file" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')" = "$build_id"
  # .gnu_debuglink: the debug file's name, NUL-padded to 4 bytes, then its CRC-32 (which is
  # also the CRC in a gzip trailer).
  if objcopy --dump-section .gnu_debuglink="$work/debuglink" "$so" "$work/so.tmp" 2>/dev/null; then
    link_name="$(head -c -4 "$work/debuglink" | tr -d '\0')"
    link_crc="$(tail -c 4 "$work/debuglink" | od -An -tx1 | tr -d ' \n')"
    file_crc="$(gzip -1 -c "$debug_file" | tail -c 8 | head -c 4 | od -An -tx1 | tr -d ' \n')"
    check "GNU debuglink names the debug file ($link_name)" test "$link_name" = "$(basename "$debug_file")"
    check "GNU debuglink CRC matches the debug file ($link_crc)" test "$link_crc" = "$file_crc"
  else
    bad "the installed library has no .gnu_debuglink section"
  fi
  # The debug info describes this very library: an exported function's address resolves to
  # its Rust source.
  addr="$(nm -D --defined-only "$so" | awk '$3 == "gpu_executor_create" {print $1}')"
  check "addr2line resolves gpu_executor_create through the debug file" \
    bash -c "addr2line -e '$debug_file' 0x$addr | grep -q 'src/ffi/api.rs:[0-9]'"
  if command -v gdb >/dev/null 2>&1; then
    check "gdb finds the debug info by build ID (debug-file-directory = <prefix>/lib/debug)" \
      bash -c "gdb -batch -nx -iex 'set debug-file-directory $prefix/lib/debug' \
                 -ex 'info line gpu_executor_create' '$so' 2>&1 | grep -q 'src/ffi/api.rs'"
  fi
else
  bad "debug info for build ID '${build_id:-none}' is not installed under lib/debug/.build-id"
fi
check "installed libgpu_executor.a has no debug sections" \
  bash -c "! readelf -S --wide '$lib/libgpu_executor.a' | grep -q ' \.debug_'"
for f in LICENSE-MIT LICENSE-APACHE; do
  check "share/licenses/gpu_executor/$f is the checked-in text" \
    cmp -s "$prefix/share/licenses/gpu_executor/$f" "$repo/$f"
done
size_of() { stat -c %s "$1"; }
printf '   sizes (installed <- build tree):\n'
printf '     %-44s %11d <- %11d\n' "lib/libgpu_executor.so.$version" "$(size_of "$so")" \
  "$(size_of "$(readlink -f "$build/lib/libgpu_executor.so.$version")")"
printf '     %-44s %11d <- %11d\n' "lib/libgpu_executor.a" "$(size_of "$lib/libgpu_executor.a")" \
  "$(size_of "$(sed -n 's/^GPU_EXECUTOR_CARGO_TARGET_DIR:PATH=//p' "$build/CMakeCache.txt")/release/libgpu_executor.a")"
[ -f "$debug_file" ] && printf '     %-44s %11d\n' "lib/debug/.build-id/…/*.debug" "$(size_of "$debug_file")"
printf '     %-44s %11d\n' "whole prefix" "$(du -sb "$prefix" | cut -f1)"

# The README's minimal example is this very program.
sed -n '/^<!-- begin tests\/consumer\/app.c -->$/,/^<!-- end tests\/consumer\/app.c -->$/p' \
  "$repo/README.md" | sed '1,2d;$d' | sed '$d' >"$work/readme_app.c"
check "README.md's minimal C example equals tests/consumer/app.c" \
  cmp -s "$work/readme_app.c" "$repo/tests/consumer/app.c"

# --- exported symbols -----------------------------------------------------------------
nm -D --defined-only "$lib/libgpu_executor.so.$version" | awk '{print $NF}' | sort >"$work/exported"
grep -v '^gpu_' "$work/exported" >"$work/foreign" || true
if [ -s "$work/foreign" ]; then
  bad "symbols other than gpu_* are exported: $(tr '\n' ' ' <"$work/foreign")"
else
  ok "only gpu_* symbols are exported ($(wc -l <"$work/exported") of them)"
fi
# Function names the header declares: every `gpu_name(`, less its static inline helpers
# (gpu_param_f32, ...), which are not exported.
sed -n 's/^static inline [^(]*[ *]\(gpu_[a-z0-9_]*\)(.*/\1/p' "$repo/include/gpu_executor.h" \
  | sort -u >"$work/inline"
grep -oE '\bgpu_[a-z0-9_]+\(' "$repo/include/gpu_executor.h" | tr -d '(' | sort -u \
  | comm -23 - "$work/inline" >"$work/declared"
check "exported symbols == functions declared in gpu_executor.h" cmp -s "$work/exported" "$work/declared"
if ! cmp -s "$work/exported" "$work/declared"; then diff "$work/declared" "$work/exported" >&2 || true; fi

# --- CMake consumer, from a relocated copy of the prefix --------------------------------
moved="$work/moved-prefix"
cp -a "$prefix" "$moved"
echo "== CMake consumer (find_package from $moved)"
if cmake -S "$repo/tests/consumer/cmake" -B "$work/cmake-consumer" \
     -DCMAKE_PREFIX_PATH="$moved" -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" 2>&1 &&
   cmake --build "$work/cmake-consumer" >>"$work/consumer.log" 2>&1; then
  ok "CMake consumer configures and builds"
  grep -- '-- gpu_executor' "$work/consumer.log" || true
  check "consumer_shared runs" "$work/cmake-consumer/consumer_shared"
  check "consumer_shared loads the library from the moved prefix" \
    bash -c "ldd '$work/cmake-consumer/consumer_shared' | grep -q '$moved/lib/libgpu_executor.so.$major'"
  check "consumer_static runs" "$work/cmake-consumer/consumer_static"
  check "consumer_static does not need libgpu_executor.so" \
    bash -c "! readelf -d '$work/cmake-consumer/consumer_static' | grep -q libgpu_executor"
else
  cat "$work/consumer.log" >&2
  bad "CMake consumer configures and builds"
fi

# --- pkg-config consumer ----------------------------------------------------------------
echo "== pkg-config consumer"
export PKG_CONFIG_PATH="$lib/pkgconfig"
check "pkg-config --modversion gpu_executor = $version" \
  test "$(pkg-config --modversion gpu_executor)" = "$version"
echo "   cflags: $(pkg-config --cflags gpu_executor)"
echo "   libs:   $(pkg-config --libs gpu_executor)"
echo "   static: $(pkg-config --static --libs gpu_executor)"
check "pkg-config --static --libs has the Libs.private flags" \
  bash -c "pkg-config --static --libs gpu_executor | grep -q -- '-lpthread'"
cflags=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
libdir="$(pkg-config --variable=libdir gpu_executor)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
if cc "${cflags[@]}" "$repo/tests/consumer/app.c" -o "$work/pc_app" \
     $(pkg-config --cflags --libs gpu_executor) -Wl,-rpath,"$libdir"; then
  ok "cc app.c \$(pkg-config --cflags --libs gpu_executor)"
  check "pkg-config consumer runs" "$work/pc_app"
else
  bad "cc app.c \$(pkg-config --cflags --libs gpu_executor)"
fi
# shellcheck disable=SC2046
if cc "${cflags[@]}" "$repo/tests/consumer/app.c" -o "$work/pc_app_static" \
     $(pkg-config --cflags gpu_executor) -L"$libdir" -Wl,-Bstatic -lgpu_executor -Wl,-Bdynamic \
     -Wl,--as-needed $(pkg-config --static --libs gpu_executor); then
  ok "static link with \$(pkg-config --static --libs gpu_executor)"
  check "static pkg-config consumer runs" "$work/pc_app_static"
  check "static pkg-config consumer does not need libgpu_executor.so" \
    bash -c "! readelf -d '$work/pc_app_static' | grep -q libgpu_executor"
else
  bad "static link with \$(pkg-config --static --libs gpu_executor)"
fi

# --- gpu_executor as a subproject: add_subdirectory and FetchContent ---------------------
# Each consumer configures gpu_executor from this source tree (cargo shares its target
# directory, so nothing is compiled twice), checks at configure time that only the library
# targets exist (tests/consumer/common/checks.cmake), builds app.c against both libraries
# and runs them. Nothing else may be built: the only programs are the two consumers.
for kind in subdir fetchcontent; do
  echo "== $kind consumer (tests/consumer/$kind)"
  dir="$work/$kind"
  if cmake -S "$repo/tests/consumer/$kind" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
       -DGPU_EXECUTOR_SOURCE_DIR="$repo" >"$work/$kind.log" 2>&1 &&
     cmake --build "$dir" -j "$(nproc)" >>"$work/$kind.log" 2>&1; then
    ok "$kind consumer configures and builds, with only the library targets"
    grep -- '-- gpu_executor subproject' "$work/$kind.log" | sed 's/^/   /' || true
    check "$kind: consumer_shared runs" "$dir/consumer_shared"
    check "$kind: consumer_static runs" "$dir/consumer_static"
    check "$kind: consumer_static does not need libgpu_executor.so" \
      bash -c "! readelf -d '$dir/consumer_static' | grep -q libgpu_executor"
    programs="$(find "$dir" -path '*/CMakeFiles' -prune -o -type f -executable \
                  ! -name '*.so*' -printf '%P\n' | sort | tr '\n' ' ')"
    check "$kind: no example or test of gpu_executor was built (programs: $programs)" \
      test "$programs" = "consumer_shared consumer_static "
    check "$kind: no ctest tests registered" \
      bash -c "! (cd '$dir' && ctest -N 2>/dev/null | grep -q 'Test *#')"
  else
    cat "$work/$kind.log" >&2
    bad "$kind consumer configures and builds, with only the library targets"
  fi
done
# GPU_EXECUTOR_BUILD_TESTS=ON still brings the tests in (configure only).
if cmake -S "$repo/tests/consumer/subdir" -B "$work/subdir-tests" \
     -DGPU_EXECUTOR_SOURCE_DIR="$repo" -DGPU_EXECUTOR_BUILD_TESTS=ON \
     -DEXPECT_GPU_EXECUTOR_TESTS=ON >"$work/subdir-tests.log" 2>&1; then
  ok "subdir consumer with GPU_EXECUTOR_BUILD_TESTS=ON gets the tests"
else
  cat "$work/subdir-tests.log" >&2
  bad "subdir consumer with GPU_EXECUTOR_BUILD_TESTS=ON gets the tests"
fi

echo "install-consumer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
