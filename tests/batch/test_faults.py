"""Fault injection: the batch CLI, the real OpenAI backend, and a loopback server misbehaving.

The server answers 429 with Retry-After, 500, cut-off JSON, requests that hang past the client's
timeout, and output that never parses. Transient faults must be retried until the item is done;
persistent ones must fail only their item, with a reason, and exit code 1.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarizer.batch.ledger import Ledger
from tests.batch.support import (
    article,
    article_number,
    assert_consistent,
    openai_env,
    run_cli,
    write_articles,
)
from tests.fakes import answer_http_request
from tests.openai_server import (
    OpenAIServer,
    length_cut,
    rate_limited,
    server_error,
    truncated,
)

HANGS, RAMBLES = 9, 10  # article numbers that always hang, and always answer non-JSON


@pytest.fixture
def unblock() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let hanging handler threads go before the server closes


def misbehaving(unblock: threading.Event) -> Any:
    def respond(body: dict[str, Any]) -> str:
        number = article_number(body)
        if number == HANGS:
            unblock.wait(2.0)  # well past the client's 0.5 s timeout
        if number == RAMBLES:
            return "Sure! Here is the summary you asked for: the council met."
        return answer_http_request(body)

    return respond


@pytest.mark.slow
def test_transient_faults_are_retried_and_persistent_ones_fail_only_their_item(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    unblock: threading.Event,
) -> None:
    write_articles(tmp_path / "in", 11)
    openai_env(monkeypatch, timeout=0.5, retries=3)
    out = tmp_path / "out"
    with OpenAIServer(responder=misbehaving(unblock)) as server:
        # Taken by the first requests, which come from the first (well-behaved) items; fewer
        # transient faults than attempts, so any one item survives them all.
        server.enqueue(rate_limited(retry_after=0.3), server_error(500), truncated())
        code = run_cli(
            ["batch", str(tmp_path / "in"), "--out", str(out), "--base-url", server.base_url,
             "--backend", "openai", "--model", "gpt-4o-mini", "--concurrency", "4", "--no-cache"]
        )  # fmt: skip
        assert server.pending == 0, "every scripted fault was served"
        requests = Counter(article_number(body) for body in server.requests)

    assert code == 1
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["done"] == 9 and report["counts"]["failed"] == 2
    reasons = {f["id"]: f["reason"] for f in report["failures"]}
    assert set(reasons) == {"a009.txt", "a010.txt"}
    assert "did not answer within 0.5s" in reasons["a009.txt"]
    assert "gave up after 3 attempts" in reasons["a009.txt"]
    assert "no valid ChunkDigest after 3 attempts" in reasons["a010.txt"]
    assert requests[HANGS] == 3 and requests[RAMBLES] == 3  # retried, re-asked, then given up
    # The three faults cost three extra requests among the good items, no more.
    assert sum(count for n, count in requests.items() if n not in (HANGS, RAMBLES)) == 9 + 3
    assert report["rate_limited_calls"] == 1
    assert report["usage"]["failed_calls"] >= 2 + 3  # 429 + 500, and the three timeouts
    assert len(assert_consistent(out)) == 9

    stderr = capsys.readouterr().err
    assert "9/11 done" in stderr and "2 failed" in stderr
    assert "a009.txt: " in stderr and "a010.txt: " in stderr  # the failures are listed


def test_a_rerun_after_the_server_recovers_finishes_only_the_failed_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unblock: threading.Event
) -> None:
    write_articles(tmp_path / "in", 4, start=8)  # 8 is fine; 9 hangs, 10 rambles; 11 is fine
    openai_env(monkeypatch, timeout=0.5, retries=2)
    out = tmp_path / "out"
    args = ["batch", str(tmp_path / "in"), "--out", str(out), "--backend", "openai",
            "--model", "gpt-4o-mini", "--no-cache", "--quiet"]  # fmt: skip
    with OpenAIServer(responder=misbehaving(unblock)) as server:
        assert run_cli([*args, "--base-url", server.base_url]) == 1
    with OpenAIServer(responder=answer_http_request) as healthy:
        assert run_cli([*args, "--base-url", healthy.base_url]) == 0
        again = Counter(article_number(body) for body in healthy.requests)
    assert again == Counter({HANGS: 1, RAMBLES: 1})
    assert len(assert_consistent(out)) == 4


LONG, SLOW = 11, 12  # an article of several chunks whose merge never parses; one past its timeout


@pytest.mark.slow
def test_the_report_counts_every_request_the_server_received(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unblock: threading.Event
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 6)
    (folder / "long.txt").write_text(
        article(LONG) + " ".join(f"Speaker {n} said the plan was costly." for n in range(40)),
        encoding="utf-8",
    )
    (folder / "rambles.txt").write_text(article(RAMBLES), encoding="utf-8")
    (folder / "slow.txt").write_text(article(SLOW), encoding="utf-8")

    def respond(body: dict[str, Any]) -> str:
        schema = body["response_format"]["json_schema"]["name"]
        number = article_number(body)
        if schema == "MergedSummary" or number == RAMBLES:
            return "Sure! Here is the summary you asked for: the council met."
        if number == SLOW:
            unblock.wait(5.0)  # answers after the item has timed out: its call still counts
        return answer_http_request(body)

    openai_env(monkeypatch, timeout=10, retries=3)
    out = tmp_path / "out"
    with OpenAIServer(responder=respond) as server:
        # Every kind of failed attempt, taken by the first requests: a 429, a 500, cut-off JSON
        # (re-asked), and an answer cut off at its token limit (asked again with twice the budget).
        server.enqueue(rate_limited(retry_after=0.2), server_error(500), truncated(), length_cut())
        code = run_cli(
            ["batch", str(folder), "--out", str(out), "--base-url", server.base_url,
             "--backend", "openai", "--model", "gpt-4o-mini", "--concurrency", "4",
             "--no-cache", "--quiet", "--max-chunk-tokens", "64", "--item-timeout", "4"]
        )  # fmt: skip
        assert server.pending == 0, "every scripted fault was served"
        requests = server.request_count

    assert code == 1
    report = json.loads((out / "report.json").read_text())
    reasons = {f["id"]: f["reason"] for f in report["failures"]}
    assert set(reasons) == {"long.txt", "rambles.txt", "slow.txt"}
    assert "no valid MergedSummary" in reasons["long.txt"]
    assert reasons["slow.txt"] == "timed out after 4s"
    # One count per request, whatever became of it; the ledger's rows add up to the same.
    assert report["usage"]["calls"] == requests
    with Ledger(out / "ledger.sqlite") as ledger:
        assert sum(row.calls for row in ledger.rows()) == requests
