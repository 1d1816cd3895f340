"""The ctypes mirror must match include/gpu_executor.h and the loaded library exactly."""

import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest

import gpu_executor
from gpu_executor import GpuExecutorError, Status, _ffi
from gpu_executor._executor import _check

from conftest import HEADER, random_task

STRUCTS = {
    "gpu_executor_options_t": _ffi.gpu_executor_options_t,
    "gpu_task_t": _ffi.gpu_task_t,
    "gpu_executor_stats_t": _ffi.gpu_executor_stats_t,
    "gpu_adapter_info_t": _ffi.gpu_adapter_info_t,
    "gpu_kernel_desc_t": _ffi.gpu_kernel_desc_t,
    "gpu_region_t": _ffi.gpu_region_t,
}

ENUMS = {
    "gpu_executor_status_t": ("GPU_EXECUTOR_", gpu_executor.Status),
    "gpu_op_t": ("GPU_OP_", gpu_executor.Op),
    "gpu_dtype_t": ("GPU_DTYPE_", gpu_executor.DType),
    "gpu_backend_t": ("GPU_BACKEND_", gpu_executor.Backend),
    "gpu_power_preference_t": ("GPU_POWER_", gpu_executor.PowerPreference),
    "gpu_strategy_t": ("GPU_STRATEGY_", gpu_executor.Strategy),
    "gpu_device_type_t": ("GPU_DEVICE_", gpu_executor.DeviceType),
    "gpu_log_level_t": ("GPU_LOG_", gpu_executor.LogLevel),
}

C_TYPES = {
    "uint32_t": ctypes.c_uint32,
    "int32_t": ctypes.c_int32,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "double": ctypes.c_double,
    "char": ctypes.c_char,
    "gpu_buffer_t": ctypes.c_uint64,  # typedef uint64_t gpu_buffer_t (checked below)
}

needs_header = pytest.mark.skipif(not HEADER.is_file(), reason=f"{HEADER} not found")


def header_text():
    return HEADER.read_text()


def header_structs():
    """{name: [(field, ctype)]} parsed from the header's `typedef struct` blocks."""
    text = re.sub(r"//[^\n]*", "", header_text())
    structs = {}
    for name, body in re.findall(r"typedef struct (\w+) \{(.*?)\} \1;", text, re.S):
        fields = []
        for decl in filter(None, (d.strip() for d in body.split(";"))):
            m = re.fullmatch(r"(?:const\s+)?(\w+)\s*(\*)?\s*(\w+)(?:\[(\d+)\])?", " ".join(decl.split()))
            assert m, f"cannot parse {decl!r} in {name}"
            base, pointer, field, count = m.groups()
            ctype = ctypes.c_void_p if pointer else C_TYPES[base]
            if count:
                ctype = ctype * int(count)
            fields.append((field, ctype))
        structs[name] = fields
    return structs


def same_type(a, b):
    if hasattr(a, "_length_") or hasattr(b, "_length_"):
        return (
            getattr(a, "_length_", None) == getattr(b, "_length_", None)
            and same_type(a._type_, b._type_)
        )
    pointers = (ctypes.c_void_p, ctypes.c_char_p)
    if a in pointers and b in pointers:
        return True  # a C string is a pointer like any other
    return a is b or (ctypes.sizeof(a) == ctypes.sizeof(b) and a._type_ == b._type_)


@needs_header
def test_structs_match_header():
    parsed = header_structs()
    assert set(parsed) == set(STRUCTS)
    for name, cls in STRUCTS.items():
        ours = cls._fields_
        theirs = parsed[name]
        assert [f for f, _ in ours] == [f for f, _ in theirs], name
        for (field, a), (_, b) in zip(ours, theirs):
            assert same_type(a, b), f"{name}.{field}: {a} vs {b}"


@needs_header
def test_enums_match_header():
    text = header_text()
    for name, (prefix, cls) in ENUMS.items():
        m = re.search(r"enum %s\b[^{]*\{(.*?)\};" % name, text, re.S)
        assert m, name
        body = re.sub(r"//[^\n]*", "", m.group(1))
        values = {k[len(prefix):]: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(-?\d+)", body)}
        assert values == {member.name: member.value for member in cls}, name


@needs_header
def test_every_header_function_has_a_prototype():
    declared = set(re.findall(r"\b(gpu_(?:executor|kernel|buffer|recording)_[a-z_]+)\(", header_text()))
    assert declared == set(_ffi._PROTOTYPES)


@needs_header
def test_ticket_and_log_callback_types_match_header():
    text = header_text()
    assert "typedef uint64_t gpu_ticket_t;" in text
    assert _ffi.gpu_ticket_t is ctypes.c_uint64
    m = re.search(r"typedef void \(\*gpu_log_callback_t\)\((.*?)\);", text, re.S)
    assert m, "gpu_log_callback_t"
    params = [" ".join(p.split()) for p in m.group(1).split(",")]
    assert params == ["uint32_t level", "const char *message", "void *userdata"]
    assert _ffi.gpu_log_callback_t._restype_ is None
    assert _ffi.gpu_log_callback_t._argtypes_ == (ctypes.c_uint32, ctypes.c_char_p, ctypes.c_void_p)


@needs_header
def test_buffer_type_and_task_flags_match_header():
    text = header_text()
    assert "typedef uint64_t gpu_buffer_t;" in text
    assert _ffi.gpu_buffer_t is ctypes.c_uint64
    macros = {name: int(value) for name, value in re.findall(r"#define GPU_(TASK_\w+) (\d+)", text)}
    ours = {name: getattr(_ffi, name) for name in macros}
    assert ours == macros
    # Every flag macro is exported where the package exports the older ones.
    assert set(macros) <= set(gpu_executor.__all__)


@needs_header
def test_version_macros_match_library():
    text = header_text()
    parts = [
        re.search(r"#define GPU_EXECUTOR_VERSION_%s (\d+)" % p, text).group(1)
        for p in ("MAJOR", "MINOR", "PATCH")
    ]
    assert gpu_executor.version() == ".".join(parts)


@needs_header
@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler")
def test_sizes_and_offsets_match_a_c_compiler(tmp_path):
    lines = []
    for name, cls in STRUCTS.items():
        lines.append(f'printf("{name} %zu %zu\\n", sizeof({name}), _Alignof({name}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{name}.{field} %zu\\n", offsetof({name}, {field}));')
    source = tmp_path / "layout.c"
    source.write_text(
        "#include <stddef.h>\n#include <stdio.h>\n"
        f'#include "{HEADER}"\n'
        "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n"
    )
    exe = tmp_path / "layout"
    compiler = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([compiler, "-std=c11", "-o", str(exe), str(source)], check=True)
    output = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        key, *numbers = line.split()
        if "." in key:
            name, field = key.split(".")
            assert getattr(STRUCTS[name], field).offset == int(numbers[0]), key
        else:
            assert ctypes.sizeof(STRUCTS[key]) == int(numbers[0]), key
            assert ctypes.alignment(STRUCTS[key]) == int(numbers[1]), key


def test_library_accepts_struct_sizes(executor):
    lib = gpu_executor.load_library()
    assert lib.gpu_executor_options_default().struct_size == ctypes.sizeof(_ffi.gpu_executor_options_t)
    assert lib.gpu_kernel_desc_default().struct_size == ctypes.sizeof(_ffi.gpu_kernel_desc_t)
    handle = executor._handle

    stats = _ffi.gpu_executor_stats_t(struct_size=ctypes.sizeof(_ffi.gpu_executor_stats_t))
    assert lib.gpu_executor_stats(handle, ctypes.byref(stats)) == Status.OK
    info = _ffi.gpu_adapter_info_t(struct_size=ctypes.sizeof(_ffi.gpu_adapter_info_t))
    assert lib.gpu_executor_adapter_info(handle, ctypes.byref(info)) == Status.OK

    # And rejects anything else, so a layout drift cannot go unnoticed.
    for cls, function in (
        (_ffi.gpu_executor_stats_t, lib.gpu_executor_stats),
        (_ffi.gpu_adapter_info_t, lib.gpu_executor_adapter_info),
    ):
        # 4 bytes short: no version of either struct has that size.
        wrong = cls(struct_size=ctypes.sizeof(cls) - 4)
        with pytest.raises(GpuExecutorError) as caught:
            _check(lib, function(handle, ctypes.byref(wrong)))
        assert caught.value.status == Status.BAD_STRUCT_SIZE
        assert str(ctypes.sizeof(cls)) in caught.value.message

    options = lib.gpu_executor_options_default()
    options.struct_size -= 4
    out = _ffi.ExecutorHandle()
    with pytest.raises(GpuExecutorError) as caught:
        _check(lib, lib.gpu_executor_create(ctypes.byref(options), ctypes.byref(out)))
    assert caught.value.status == Status.BAD_STRUCT_SIZE
    assert not out.value

    # The 0.1 header's options end before wait_timeout_ns; the library still takes them.
    options = lib.gpu_executor_options_default()
    options.struct_size = _ffi.gpu_executor_options_t.wait_timeout_ns.offset
    _check(lib, lib.gpu_executor_create(ctypes.byref(options), ctypes.byref(out)))
    assert out.value
    lib.gpu_executor_destroy(out)


def test_raw_task_layout_reaches_the_library(executor, rng):
    """A raw gpu_task_t built field by field runs, and each reserved field is checked where
    the header says: a wrong offset would show up as the wrong status."""
    lib = gpu_executor.load_library()
    a, b, out = random_task(rng, 1000)

    def task(**overrides):
        t = _ffi.gpu_task_t(op=gpu_executor.Op.VECTOR_ADD, length=out.size)
        t.inputs[0], t.inputs[1], t.output = a.ctypes.data, b.ctypes.data, out.ctypes.data
        for key, value in overrides.items():
            if key.startswith("inputs") or key.startswith("params"):
                field, index = key.split("_")
                getattr(t, field)[int(index)] = value
            else:
                setattr(t, key, value)
        return t

    def status_of(t):
        try:
            _check(lib, lib.gpu_executor_submit_batch(executor._handle, ctypes.byref(t), 1))
        except GpuExecutorError as error:
            return error.status
        return Status.OK

    assert status_of(task(op=0)) == Status.UNKNOWN_OP
    assert status_of(task(op=max(gpu_executor.Op) + 1)) == Status.UNKNOWN_OP
    last_elementwise = max(op for op in gpu_executor.Op if op < gpu_executor.Op.SUM)
    assert status_of(task(op=last_elementwise + 1)) == Status.UNKNOWN_OP  # the gap before 64
    assert status_of(task(flags=0x20)) == Status.INVALID_ARGUMENT  # a reserved bit
    assert status_of(task(flags=0x800)) == Status.INVALID_ARGUMENT  # no fourth input to mark
    # inputs[0] as a gpu_region_t: handle 0 is never a buffer; the offset field is read
    # where the header puts it (one past the start reaches past the end).
    buffer = _ffi.gpu_buffer_t()
    _check(lib, lib.gpu_buffer_create_from(executor._handle, 0, a.ctypes.data, a.size, ctypes.byref(buffer)))
    region = _ffi.gpu_region_t(buffer=0, offset=0)
    flags = _ffi.TASK_INPUT0_BUFFER
    assert status_of(task(flags=flags, inputs_0=ctypes.addressof(region))) == Status.INVALID_BUFFER
    region.buffer, region.offset = buffer.value, 1
    assert status_of(task(flags=flags, inputs_0=ctypes.addressof(region))) == Status.OUT_OF_BOUNDS
    assert status_of(task(flags=max(gpu_executor.DType) + 1)) == Status.INVALID_ARGUMENT
    assert status_of(task(params_3=1)) == Status.INVALID_ARGUMENT
    assert status_of(task(inputs_2=a.ctypes.data)) == Status.INVALID_ARGUMENT
    assert status_of(task(inputs_1=None)) == Status.NULL_POINTER
    assert status_of(task(output=a.ctypes.data)) == Status.ALIASING
    assert status_of(task(output=out.ctypes.data + 2)) == Status.MISALIGNED_POINTER
    assert np.isnan(out).all()
    assert status_of(task()) == Status.OK
    np.testing.assert_array_equal(out, a + b)
    # The buffer holds a copy of a: out = buffer[0:] + b, the same sums.
    out[:] = np.nan
    region.offset = 0
    assert status_of(task(flags=flags, inputs_0=ctypes.addressof(region))) == Status.OK
    np.testing.assert_array_equal(out, a + b)
    _check(lib, lib.gpu_buffer_destroy(executor._handle, buffer))


def test_task_dtype_matches_the_ctypes_struct():
    """gpu_executor.TASK_DTYPE (the NumPy task arrays) has gpu_task_t's exact layout; the
    ctypes struct is checked against the header and a C compiler above."""
    dtype = gpu_executor.TASK_DTYPE
    assert dtype.itemsize == ctypes.sizeof(_ffi.gpu_task_t)
    assert list(dtype.names) == [name for name, _ in _ffi.gpu_task_t._fields_]
    for name, ctype in _ffi.gpu_task_t._fields_:
        field_type, offset = dtype.fields[name][:2]
        assert offset == getattr(_ffi.gpu_task_t, name).offset, name
        assert field_type.itemsize == ctypes.sizeof(ctype), name
    # The same values give the same bytes.
    raw = _ffi.gpu_task_t(op=1, flags=2, output=0x1122334455667788, length=2**40 + 3)
    raw.inputs[0], raw.inputs[3], raw.params[1] = 8, 0xFFFF_FFFF_FFFF_FFF0, 7
    record = np.zeros(1, dtype)
    record["op"], record["flags"], record["output"], record["length"] = 1, 2, 0x1122334455667788, 2**40 + 3
    record["inputs"][0, 0], record["inputs"][0, 3], record["params"][0, 1] = 8, 0xFFFF_FFFF_FFFF_FFF0, 7
    assert record.tobytes() == bytes(raw)


def test_region_dtype_matches_the_ctypes_struct():
    """gpu_executor.REGION_DTYPE (the region records next to a task array) has
    gpu_region_t's exact layout; the ctypes struct is checked against the header above."""
    dtype = gpu_executor.REGION_DTYPE
    assert dtype.itemsize == ctypes.sizeof(_ffi.gpu_region_t)
    assert list(dtype.names) == [name for name, _ in _ffi.gpu_region_t._fields_]
    raw = _ffi.gpu_region_t(buffer=0x0000_0007_0000_0001, offset=2**40 + 3)
    record = np.zeros(1, dtype)
    record["buffer"], record["offset"] = 0x0000_0007_0000_0001, 2**40 + 3
    assert record.tobytes() == bytes(raw)
