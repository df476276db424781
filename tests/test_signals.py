"""Real signals to real processes (issue 11, class 10): Ctrl-C and SIGTERM on `summarize` say so
and leave nothing behind; SIGTERM on `batch` records the report like Ctrl-C; a temp file left by
`kill -9` is swept by the next write.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarizer.files import STALE_AFTER_S
from tests.batch.support import article_number, assert_consistent, write_articles
from tests.batch.test_kill import finish, start_batch, wait_until_done
from tests.fakes import answer_http_request
from tests.openai_server import OpenAIServer
from tests.support import run_summarizer

pytestmark = pytest.mark.slow


@pytest.fixture
def stalled() -> Iterator[tuple[OpenAIServer, threading.Event]]:
    """A server whose every answer waits until released: a call is in flight when we signal."""
    release = threading.Event()

    def wait_then_answer(body: dict[str, Any]) -> str:
        release.wait(20)
        return answer_http_request(body)

    with OpenAIServer(responder=wait_then_answer) as server:
        try:
            yield server, release
        finally:
            release.set()


def start_summarize(server: OpenAIServer, source: Path, *args: str) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "summarizer", "summarize", str(source), "--base-url",
        server.base_url, "--backend", "openai", *args,
    ]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "SUMMARIZER_TIMEOUT": "30"}
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_request(server: OpenAIServer, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while server.request_count == 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no request arrived: {process.communicate()}")
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("signum", "code", "message"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_a_signal_during_summarize_is_one_line_and_leaves_nothing(
    stalled: tuple[OpenAIServer, threading.Event],
    seed_path: Path,
    tmp_path: Path,
    signum: int,
    code: int,
    message: str,
) -> None:
    server, _ = stalled
    out = tmp_path / "out"
    out.mkdir()
    process = start_summarize(server, seed_path, "-o", str(out / "summary.json"))
    wait_for_request(server, process)
    signalled_at = time.monotonic()
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    assert time.monotonic() - signalled_at < 5, "a signal must not wait for the call in flight"
    assert process.returncode == code
    assert stderr == f"{message}\n" and stdout == ""
    assert list(out.iterdir()) == []


def test_a_temp_file_left_by_kill_9_is_swept_by_the_next_write(
    openai_server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    leftover = tmp_path / ".summary.json.k9x2ab7q.tmp"  # what a killed write leaves
    leftover.write_text('{"half": ')
    old = time.time() - STALE_AFTER_S - 1
    os.utime(leftover, (old, old))
    done = run_summarizer(
        "summarize", str(seed_path), "-o", "summary.json", "--base-url", openai_server.base_url,
        env={"OPENAI_API_KEY": "sk-test"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["summary.json"]
    assert json.loads((tmp_path / "summary.json").read_text())["claims"]


def test_sigterm_on_batch_records_the_report_and_a_rerun_finishes(tmp_path: Path) -> None:
    unblock = threading.Event()

    def first_four_then_hang(body: dict[str, Any]) -> str:
        if (article_number(body) or 0) >= 4:
            unblock.wait(10)
        return answer_http_request(body)

    write_articles(tmp_path / "in", 10)
    out = tmp_path / "out"
    try:
        with OpenAIServer(responder=first_four_then_hang) as server:
            process = start_batch(server, tmp_path / "in", out)
            wait_until_done(out, 4, process)
            time.sleep(0.3)  # the next items' calls are in flight
            terminated_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code, stderr = finish(process)
            stopped_after = time.monotonic() - terminated_at
    finally:
        unblock.set()
    assert code == 143, stderr
    assert stderr.startswith("terminated: rerun the same command") and "Traceback" not in stderr
    assert stopped_after < 5, "SIGTERM must not wait for calls in flight"
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and report["counts"]["done"] == 4

    with OpenAIServer(responder=answer_http_request) as healthy:
        code, stderr = finish(start_batch(healthy, tmp_path / "in", out))
        asked = Counter(map(article_number, healthy.requests))
    assert code == 0, stderr
    assert asked == Counter(range(4, 10))
    assert len(assert_consistent(out)) == 10
