"""How many llama.cpp threads an in-process model gets: the override, else free cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from summarizer import config
from summarizer.config import Settings, auto_threads, load_settings
from summarizer.errors import ConfigError
from summarizer.llm.factory import BackendProfile, create_backend
from summarizer.llm.local_backend import LocalBackend


@pytest.mark.parametrize(
    ("available", "load", "expected"),
    [
        (2, 0.0, 2),  # idle: every core
        (2, 0.4, 2),
        (2, 0.6, 1),  # a busy core more often than not: one thread never waits for it
        (2, 1.0, 1),
        (2, 7.5, 1),  # overloaded: still one
        (1, 0.0, 1),
        (8, 0.0, 4),  # capped: more buys nothing on these models
        (8, 5.0, 3),
        (16, 13.6, 2),
    ],
)
def test_auto_threads_uses_the_cores_nobody_else_is_using(
    available: int, load: float, expected: int
) -> None:
    assert auto_threads(available, load) == expected


def test_the_rule_reads_affinity_and_load_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the machine's count is not ours
    # /proc/stat read twice: 8 cores, 1000 jiffies passed, 850 of them idle: 1.2 cores busy.
    readings = iter([(8, 10_000, 6_000), (8, 11_000, 6_850)])
    monkeypatch.setattr(config, "_cpu_times", lambda: next(readings))
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # stale: not read
    assert Settings().resolved_threads() == 3
    readings = iter([(8, 10_000, 6_000), (8, 11_000, 6_525)])  # 3.8 cores busy
    assert Settings().resolved_threads() == 1


def test_busy_cores_are_measured_now_not_averaged_over_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readings = iter([(2, 1_000, 400), (2, 1_200, 600)])  # all idle in the window
    monkeypatch.setattr(config, "_cpu_times", lambda: next(readings))
    assert config.current_load(window=0) == 0.0
    readings = iter([(2, 1_000, 400), (2, 1_200, 410)])  # 190 of 200 jiffies busy
    monkeypatch.setattr(config, "_cpu_times", lambda: next(readings))
    assert config.current_load(window=0) == pytest.approx(1.9)
    monkeypatch.setattr(config, "_cpu_times", lambda: None)  # no /proc: the load average
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert config.current_load(window=0) == 1.5


def test_the_real_reading_is_a_count_of_cores() -> None:
    busy = config.current_load(window=0.05)
    assert 0.0 <= busy <= (os.cpu_count() or 1)


def test_no_load_average_counts_as_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(config, "_cpu_times", lambda: None)  # no /proc/stat either
    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert Settings().resolved_threads() == 2


def test_summarizer_threads_overrides_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 0.0, 0.0))
    settings = load_settings(env={"SUMMARIZER_THREADS": "3"}, dotenv_path=None)
    assert settings.resolved_threads() == 3


def test_a_bad_thread_count_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="threads"):
        load_settings(env={"SUMMARIZER_THREADS": "0"}, dotenv_path=None)


def test_the_local_backend_is_built_with_the_rules_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from summarizer.llm import BackendIdentity

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    readings = iter([(2, 1_000, 400), (2, 1_200, 410)])  # 1.9 cores busy
    monkeypatch.setattr(config, "_cpu_times", lambda: next(readings))
    profile = BackendProfile(
        identity=BackendIdentity(name="local", model="m@0", context_window=2048),
        default_mode="extractive",
        local_path=tmp_path / "model.gguf",  # never loaded: building reads no file
    )
    backend = create_backend(Settings(backend="local"), profile)
    assert isinstance(backend, LocalBackend)
    assert backend.threads == 1
    idle = create_backend(Settings(backend="local", threads=2), profile)
    assert isinstance(idle, LocalBackend)
    assert idle.threads == 2
