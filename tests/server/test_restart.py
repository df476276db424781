"""kill -9 of the server with a job half done, a restart, and exactly-once completion.

The server is a real `summarizer serve` subprocess; the backend answers slowly, so the job is
mid-run when the server is killed. The cache is off, so "not requested again" is the ledger's
doing (and the outputs already written), not the cache's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx
import pytest

from summarizer.batch.layout import ITEMS_DIR
from summarizer.server.keys import new_key
from tests.batch.support import article, article_number
from tests.batch.test_kill import done_ids
from tests.fakes import answer_http_request
from tests.openai_server import OpenAIServer
from tests.server.support import free_port

pytestmark = pytest.mark.slow

ARTICLES = 12


def start_server(backend: OpenAIServer, data: Path, keys: Path, port: int) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "summarizer", "serve", "--port", str(port),
        "--base-url", backend.base_url, "--backend", "openai", "--model", "gpt-4o-mini",
        "--no-cache", "--concurrency", "2", "--data-dir", str(data), "--keys-file", str(keys),
    ]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "SUMMARIZER_TIMEOUT": "10"}
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {process.communicate()[1]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("the server did not start within 60 s")


def test_a_job_survives_kill_9_and_completes_exactly_once(tmp_path: Path) -> None:
    data, keys = tmp_path / "data", tmp_path / "keys"
    token = new_key(keys, "ci")
    auth = {"Authorization": f"Bearer {token}"}
    with OpenAIServer(responder=answer_http_request, latency=0.25) as backend:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        first = start_server(backend, data, keys, port)
        try:
            wait_ready(url, first)
            articles = [{"id": f"n{n:02d}", "text": article(n)} for n in range(ARTICLES)]
            accepted = httpx.post(f"{url}/v1/jobs", json={"articles": articles}, headers=auth)
            assert accepted.status_code == 202
            job_id = accepted.json()["id"]
            ledger_dir = data / "jobs" / job_id
            deadline = time.monotonic() + 30
            while len(done_ids(ledger_dir)) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()
        # Finished before the kill: marked done, or with its output durably written when the
        # kill came before the ledger's update (a restart recovers such an item without a call).
        written = {path.stem for path in (ledger_dir / ITEMS_DIR).glob("*.json")}
        done_before = done_ids(ledger_dir) | written
        assert 3 <= len(done_before) < ARTICLES  # really half done
        asked_before = backend.request_count

        second = start_server(backend, data, keys, port)
        try:
            wait_ready(url, second)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = httpx.get(f"{url}/v1/jobs/{job_id}", headers=auth).json()
                if status["state"] == "done":
                    break
                time.sleep(0.1)
            assert status["state"] == "done", status
            assert status["counts"] == {"total": ARTICLES, "done": ARTICLES, "failed": 0,
                                        "pending": 0}  # fmt: skip
            lines = httpx.get(f"{url}/v1/jobs/{job_id}/results", headers=auth).text.splitlines()
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
            second.communicate()

    ids = [json.loads(line)["id"] for line in lines]
    assert sorted(ids) == [f"n{n:02d}" for n in range(ARTICLES)]  # each exactly once
    finished_before = {int(item[1:]) for item in done_before}
    asked_after = Counter(article_number(body) for body in backend.requests[asked_before:])
    assert not finished_before & set(asked_after)  # nothing finished was redone
    assert set(asked_after) == set(range(ARTICLES)) - finished_before
    assert all(count == 1 for count in asked_after.values())
