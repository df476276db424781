"""Kill safety: `kill -9` or Ctrl-C at any moment, then a rerun, loses nothing and repeats nothing.

The batch runs as a real subprocess against the loopback server, with latency so it is mid-run
when killed. The cache is off, so "not requested again" is the ledger's doing, not the cache's.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.batch.support import article_number, assert_consistent, write_articles
from tests.conftest import REPO
from tests.fakes import answer_http_request
from tests.openai_server import OpenAIServer


def start_batch(server: OpenAIServer, source: Path, out: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "summarizer", "batch", str(source), "--out", str(out),
        "--base-url", server.base_url, "--backend", "openai", "--model", "gpt-4o-mini",
        "--no-cache", "--concurrency", "4", "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "SUMMARIZER_TIMEOUT": "10"}
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def done_ids(out: Path) -> set[str]:
    path = out / "ledger.sqlite"
    if not path.exists():
        return set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT id FROM items WHERE state = 'done'")}
    except sqlite3.OperationalError:  # the table is not created yet
        return set()
    finally:
        db.close()


def wait_until_done(out: Path, at_least: int, process: subprocess.Popen[str]) -> set[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = done_ids(out)
        if len(done) >= at_least:
            return done
        if process.poll() is not None:
            code, stderr = finish(process)
            pytest.fail(f"the batch exited early ({code}): {stderr}")
        time.sleep(0.02)
    process.kill()
    finish(process)
    pytest.fail(f"fewer than {at_least} items done after 30 s")


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the process and close its pipes; return its exit code and stderr."""
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


@pytest.fixture
def slow_server() -> Iterator[OpenAIServer]:
    with OpenAIServer(responder=answer_http_request, latency=0.25) as server:
        yield server


@pytest.mark.slow
def test_kill_9_twice_mid_run_then_rerun_finishes_everything_exactly_once(
    tmp_path: Path, slow_server: OpenAIServer
) -> None:
    write_articles(tmp_path / "in", 24)
    out = tmp_path / "out"
    done_at_kill: list[set[int]] = []  # article numbers done when each killed run died
    asked_by_run: list[Counter[int | None]] = []  # what each run asked the server for
    for kill_after in (5, 13):
        seen = len(slow_server.requests)
        process = start_batch(slow_server, tmp_path / "in", out)
        wait_until_done(out, kill_after, process)
        process.send_signal(signal.SIGKILL)
        finish(process)
        done_at_kill.append({int(item_id[1:4]) for item_id in done_ids(out)})
        asked_by_run.append(Counter(map(article_number, slow_server.requests[seen:])))
    seen = len(slow_server.requests)
    code, stderr = finish(start_batch(slow_server, tmp_path / "in", out))
    assert code == 0, stderr
    asked_by_run.append(Counter(map(article_number, slow_server.requests[seen:])))

    results = assert_consistent(out)
    assert sorted(results) == [f"a{n:03d}.txt" for n in range(24)]
    assert done_at_kill[0] <= done_at_kill[1]
    for run, done in enumerate(done_at_kill):
        for later in asked_by_run[run + 1 :]:
            assert not done & set(later), "an item done before a kill was asked for again"
    total = Counter(map(article_number, slow_server.requests))
    assert set(total) == set(range(24))
    # Only items unfinished at a kill may have been asked twice: per worker, one with the model
    # and one answered but not yet written; so at most 2 * concurrency per kill.
    assert sum(count - 1 for count in total.values()) <= 2 * (2 * 4)


@pytest.mark.slow
def test_ctrl_c_stops_at_once_and_a_rerun_finishes_the_rest(tmp_path: Path) -> None:
    unblock = threading.Event()

    def first_four_then_hang(body: dict[str, Any]) -> str:
        if (article_number(body) or 0) >= 4:
            unblock.wait(10)  # in flight when Ctrl-C comes
        return answer_http_request(body)

    write_articles(tmp_path / "in", 10)
    out = tmp_path / "out"
    try:
        with OpenAIServer(responder=first_four_then_hang) as server:
            process = start_batch(server, tmp_path / "in", out)
            wait_until_done(out, 4, process)
            time.sleep(0.3)  # let the next items' requests reach the server and hang
            interrupted_at = time.monotonic()
            process.send_signal(signal.SIGINT)
            code, stderr = finish(process)
            stopped_after = time.monotonic() - interrupted_at
    finally:
        unblock.set()
    assert code == 130 and "interrupted" in stderr, stderr
    assert stopped_after < 5, "Ctrl-C must not wait for calls in flight"
    report = (out / "report.json").read_text()
    assert '"interrupted": true' in report
    with sqlite3.connect(out / "ledger.sqlite") as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall())
    assert states["done"] == 4 and states.get("running", 0) >= 1

    with OpenAIServer(responder=answer_http_request) as healthy:
        code, stderr = finish(start_batch(healthy, tmp_path / "in", out))
        asked = Counter(map(article_number, healthy.requests))
    assert code == 0, stderr
    assert asked == Counter(range(4, 10))
    assert len(assert_consistent(out)) == 10
