"""Log messages: set_log_callback / set_log_level (process-wide), against the real library."""

import gc
import os
import subprocess
import sys
import threading

import pytest

import gpu_executor
from gpu_executor import Executor, GpuExecutorError, LogLevel, Status


@pytest.fixture(autouse=True)
def restore_logging():
    yield
    gpu_executor.set_log_callback(None)
    # The threshold GPU_EXECUTOR_LOG gave this process (the library's default is warn).
    gpu_executor.set_log_level(os.environ.get("GPU_EXECUTOR_LOG", "warn") or "warn")


class Collector:
    def __init__(self):
        self.lock = threading.Lock()
        self.messages = []

    def __call__(self, level, message):
        with self.lock:
            self.messages.append((level, message))

    def take(self):
        with self.lock:
            taken, self.messages = self.messages, []
        return taken


def adapter_lines(messages):
    return [m for m in messages if m[1].startswith("adapter ")]


def test_callback_hears_the_adapter_at_info():
    sink = Collector()
    gpu_executor.set_log_level("info")
    assert gpu_executor.set_log_callback(sink) is None
    with Executor() as ex:
        name = ex.adapter_info()["name"]
    messages = sink.take()
    lines = adapter_lines(messages)
    assert len(lines) == 1
    level, text = lines[0]
    assert level is LogLevel.INFO and isinstance(text, str)
    assert name in text
    assert all(isinstance(lv, LogLevel) and LogLevel.ERROR <= lv <= LogLevel.INFO for lv, _ in messages)


def test_threshold_filters():
    sink = Collector()
    gpu_executor.set_log_callback(sink)
    for level in ("error", LogLevel.WARN, 1, "OFF", " Warning "):
        gpu_executor.set_log_level(level)
        Executor().close()
        assert adapter_lines(sink.take()) == [], level
    gpu_executor.set_log_level(LogLevel.DEBUG)
    Executor().close()
    assert len(adapter_lines(sink.take())) == 1


def test_restore_with_none_goes_back_to_stderr(capfd):
    sink = Collector()
    gpu_executor.set_log_level("info")
    gpu_executor.set_log_callback(sink)
    Executor().close()
    assert adapter_lines(sink.take())
    assert "adapter" not in capfd.readouterr().err
    assert gpu_executor.set_log_callback(None) is sink
    Executor().close()
    assert sink.take() == []
    assert "[gpu_executor info] adapter " in capfd.readouterr().err


def test_replacing_the_callback():
    first, second = Collector(), Collector()
    gpu_executor.set_log_level("info")
    gpu_executor.set_log_callback(first)
    assert gpu_executor.set_log_callback(second) is first
    Executor().close()
    assert first.take() == [] and adapter_lines(second.take())


def test_callback_object_is_kept_alive():
    heard = []
    gpu_executor.set_log_level("info")
    gpu_executor.set_log_callback(lambda level, message: heard.append(message))
    gc.collect()  # only the bindings hold the lambda and its ctypes function pointer now
    Executor().close()
    assert adapter_lines([(None, m) for m in heard])


def test_exceptions_in_the_callback_do_not_reach_the_library(capfd, rng):
    calls = []

    def broken(level, message):
        calls.append(message)
        raise RuntimeError("broken log callback")

    gpu_executor.set_log_level("info")
    gpu_executor.set_log_callback(broken)
    with Executor() as ex:
        out = ex.add([1, 2], [3, 4])
    assert out.tolist() == [4, 6]
    assert calls
    err = capfd.readouterr().err
    assert "exception in the log callback" in err and "broken log callback" in err


def test_messages_from_several_threads():
    sink = Collector()
    gpu_executor.set_log_level("info")
    gpu_executor.set_log_callback(sink)
    threads = [threading.Thread(target=lambda: Executor().close()) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(adapter_lines(sink.take())) == 4


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        gpu_executor.set_log_callback("print")
    with pytest.raises(ValueError, match="loud"):
        gpu_executor.set_log_level("loud")
    with pytest.raises(TypeError):
        gpu_executor.set_log_level(True)
    with pytest.raises(TypeError):
        gpu_executor.set_log_level(2.0)
    with pytest.raises(ValueError):
        gpu_executor.set_log_level(-1)
    with pytest.raises(GpuExecutorError) as caught:
        gpu_executor.set_log_level(5)
    assert caught.value.status is Status.INVALID_ARGUMENT
    assert "5" in caught.value.message


PROBE = """
import gpu_executor as g
heard = []
g.set_log_callback(lambda level, message: heard.append((level.name, message)))
g.Executor().close()
print(sum(1 for level, m in heard if level == "INFO" and m.startswith("adapter ")))
"""


@pytest.mark.parametrize("env, expected", [("info", "1"), ("debug", "1"), ("warn", "0"), ("off", "0"), ("", "0")])
def test_environment_variable_sets_the_default_threshold(env, expected):
    environ = dict(os.environ, GPU_EXECUTOR_LOG=env)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
