"""The library's log messages: ``set_log_callback`` and ``set_log_level`` (process-wide)."""

from __future__ import annotations

import atexit
import sys
import threading
import traceback
from typing import Any, Callable, Optional, Union

from . import _ffi
from ._executor import GpuExecutorError
from ._ffi import LogLevel, Status

LogCallback = Callable[[Union[LogLevel, int], str], Any]

_lock = threading.Lock()
_callback: Optional[LogCallback] = None
_atexit_registered = False


def _dispatch(level: int, message: Optional[bytes], _userdata: Optional[int]) -> None:
    # Runs on whichever thread logs, possibly one the library started; ctypes takes the GIL.
    # Nothing may propagate into the library: exceptions are printed and dropped.
    callback = _callback
    if callback is None:
        return
    try:
        try:
            typed: Union[LogLevel, int] = LogLevel(level)
        except ValueError:
            typed = level
        callback(typed, (message or b"").decode("utf-8", "replace"))
    except BaseException:  # noqa: BLE001 (KeyboardInterrupt and SystemExit included)
        try:
            print("gpu_executor: exception in the log callback (ignored):", file=sys.stderr)
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass


# The one C function pointer ever installed. It lives as long as the module: a message
# being delivered on another thread while the callback is replaced still finds it valid.
_trampoline = _ffi.gpu_log_callback_t(_dispatch)
# A NULL gpu_log_callback_t (ctypes does not take None for a function-pointer argument).
_NULL = _ffi.gpu_log_callback_t()


def _uninstall_at_exit() -> None:
    # Before the interpreter tears down, so that no message reaches Python afterwards.
    global _callback
    with _lock:
        if _callback is not None:
            lib = _ffi.library()
            lib.gpu_executor_set_log_callback(_NULL, None)
            _callback = None


def set_log_callback(callback: Optional[LogCallback]) -> Optional[LogCallback]:
    """Routes the library's log messages to ``callback(level, message)``; ``None`` restores
    the default (standard error). Returns the callback installed before (or ``None``).

    Process-wide: every executor logs through it. ``level`` is a :class:`LogLevel`
    (``ERROR``, ``WARN``, ``INFO``, ``DEBUG``) and ``message`` a ``str``. The callback may
    run on any thread, possibly while an executor is busy: it must be quick and must not
    call into gpu_executor (no executor methods). Exceptions it raises are printed to
    standard error and dropped. Which messages arrive depends on :func:`set_log_level`
    (default: the ``GPU_EXECUTOR_LOG`` environment variable, else ``"warn"``).
    """
    global _callback, _atexit_registered
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    lib = _ffi.library()
    with _lock:
        previous = _callback
        if callback is None:
            status = lib.gpu_executor_set_log_callback(_NULL, None)
            _callback = None
        else:
            _callback = callback
            status = lib.gpu_executor_set_log_callback(_trampoline, None)
            if not _atexit_registered:
                atexit.register(_uninstall_at_exit)
                _atexit_registered = True
        if status != Status.OK:
            raise GpuExecutorError(status, lib.last_error_message())
        return previous


_LEVEL_NAMES = {
    "off": LogLevel.OFF,
    "none": LogLevel.OFF,
    "error": LogLevel.ERROR,
    "warn": LogLevel.WARN,
    "warning": LogLevel.WARN,
    "info": LogLevel.INFO,
    "debug": LogLevel.DEBUG,
}


def set_log_level(level: Union[str, int]) -> None:
    """Sets the most verbose level the library emits, process-wide: ``"off"``, ``"error"``,
    ``"warn"``, ``"info"``, ``"debug"`` (any case), a :class:`LogLevel` or its integer.
    Overrides ``GPU_EXECUTOR_LOG``. At ``"info"``, creating an executor logs the adapter
    it chose (``"adapter ..."``).

    Raises ``ValueError`` for an unknown name, :class:`GpuExecutorError` with
    ``INVALID_ARGUMENT`` for an integer the library does not know.
    """
    if isinstance(level, str):
        key = level.strip().lower()
        if key not in _LEVEL_NAMES:
            choices = ", ".join(repr(name) for name in ("off", "error", "warn", "info", "debug"))
            raise ValueError(f"log level {level!r} is not one of {choices}")
        value = int(_LEVEL_NAMES[key])
    elif isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"log level must be a string or a LogLevel, got {type(level).__name__}")
    else:
        value = int(level)
        if not 0 <= value < 2**32:
            raise ValueError(f"log level {value} is out of range")
    lib = _ffi.library()
    status = lib.gpu_executor_set_log_level(value)
    if status != Status.OK:
        raise GpuExecutorError(status, lib.last_error_message())
