"""A batch directory someone damaged, and a batch that carries secrets (issue 11, classes 3, 4, 7).

The CLI in a subprocess against the loopback server, as a user runs it: damaged outputs are
redone, exactly those, and said; nothing written is anything but strict JSON; no credential
from the base URL lands on disk or in output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from summarizer.batch.inputs import discover
from summarizer.batch.ledger import Ledger
from summarizer.batch.report import rebuild_results
from summarizer.batch.triage import Summarize, observe, triage
from tests.batch.support import article_number, assert_consistent, write_articles
from tests.openai_server import OpenAIServer, http_error
from tests.support import run_summarizer

pytestmark = pytest.mark.slow

DAMAGE: dict[str, bytes] = {
    "a000.txt": b"",  # emptied
    "a001.txt": b"cut",  # replaced by the first bytes of something
    "a002.txt": b"{}",  # JSON, but no result
    "a003.txt": b"\xff\x00\xfe binary",  # not even text
}


def batch(
    server: OpenAIServer, *args: str, base_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_summarizer(
        "batch", *args, "--base-url", base_url or server.base_url, "--backend", "openai",
        "--no-cache", env={"OPENAI_API_KEY": "sk-test", "SUMMARIZER_TIMEOUT": "5",
                           "SUMMARIZER_MAX_RETRIES": "1"},
    )  # fmt: skip


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_damaged_outputs_are_redone_exactly_and_said(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    write_articles(tmp_path / "in", 6)
    out = tmp_path / "out"
    first = batch(openai_server, str(tmp_path / "in"), "--out", str(out))
    assert first.returncode == 0, first.stderr
    calls = openai_server.request_count
    items = out / "items"
    whole = (items / "a004.txt.json").read_bytes()
    (items / "a004.txt.json").write_bytes(whole[: len(whole) // 2])  # truncated mid-way
    for item_id, damage in DAMAGE.items():
        (items / f"{item_id}.json").write_bytes(damage)

    # results.jsonl can be rebuilt over the damage: the broken items are left out, no crash.
    with Ledger(out / "ledger.sqlite") as ledger:
        assert rebuild_results(ledger, out) == 1

    dry = batch(openai_server, str(tmp_path / "in"), "--out", str(out), "--dry-run")
    assert dry.returncode == 0 and "Traceback" not in dry.stderr, dry.stderr
    assert openai_server.request_count == calls

    again = batch(openai_server, str(tmp_path / "in"), "--out", str(out))
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    redone = {article_number(body) for body in openai_server.requests[calls:]}
    assert redone == {0, 1, 2, 3, 4}  # a005 was intact: not asked again
    for number in range(5):
        assert f"items/a00{number}.txt.json is damaged" in again.stderr
    done = assert_consistent(out)
    assert len(done) == 6
    lines = (out / "results.jsonl").read_text().splitlines()
    assert sorted(strict_json(line)["id"] for line in lines) == sorted(done)


def test_triage_names_each_damaged_output(tmp_path: Path, openai_server: OpenAIServer) -> None:
    write_articles(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert batch(openai_server, str(tmp_path / "in"), "--out", str(out)).returncode == 0
    (out / "items" / "a000.txt.json").write_text('{"truncated": ')
    found = discover([str(tmp_path / "in")], exclude=out)
    with Ledger(out / "ledger.sqlite") as ledger:
        seen = observe(found.items, ledger, out)
    actions = dict((item.id, action) for item, action in triage(seen.items, seen.finished))
    assert actions["a000.txt"] == Summarize(
        redo="its output items/a000.txt.json is damaged (not a valid result): summarising again"
    )
    assert not isinstance(actions["a001.txt"], Summarize)


def test_poisoned_jsonl_runs_the_rest_and_writes_only_strict_json(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    good = [json.dumps({"id": f"g{n}", "text": f"Article number {n} reports that the council "
                        "met. It approved the budget.", "metadata": {"score": 0.5}})
            for n in range(2)]  # fmt: skip
    lines = [
        good[0],
        '{"id": "nan", "text": "Article number 7 says x.", "metadata": {"score": NaN}}',
        '{"id": "inf", "text": "Article number 8 says x.", "metadata": {"score": 1e999}}',
        '{"id": "sur", "text": "Article number 9 \\ud800 says x."}',
        '{"id": true, "text": "Article number 10 says x."}',
        '{"id": "deep", "text": "x", "metadata": ' + "[" * 10_000 + "]" * 10_000 + "}",
        good[1],
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    done = batch(openai_server, str(path), "--out", str(out))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert {article_number(body) for body in openai_server.requests} == {0, 1}
    report = strict_json((out / "report.json").read_text())
    assert report["counts"]["done"] == 2 and report["counts"]["failed"] == 5
    reasons = " ".join(f["reason"] for f in report["failures"])
    for reason in ("NaN", "out of range", "surrogate", "id must be", "nested"):
        assert reason in reasons
    for line in (out / "results.jsonl").read_text().splitlines():
        strict_json(line)
    for item in (out / "items").iterdir():
        strict_json(item.read_text())


def test_url_credentials_reach_no_file_and_no_output(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    password, token = "pw-BATCH-SECRET-31337", "qk-BATCH-SECRET-4242"
    host = openai_server.base_url.removeprefix("http://")
    url = f"http://user:{password}@{host}?api-key={token}"
    write_articles(tmp_path / "in", 3)
    # One item fails with a server message that quotes the URL it was called at.
    openai_server.enqueue(http_error(400, f"no such deployment at {url}"))
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    outputs = []
    for extra in (("--dry-run",), (), ()):
        done = run_summarizer(
            "batch", str(tmp_path / "in"), "--out", str(out), "--base-url", url,
            "--backend", "openai", *extra,
            env={"OPENAI_API_KEY": "sk-test", "SUMMARIZER_CACHE_DIR": str(cache),
                 "SUMMARIZER_MAX_RETRIES": "1"},
        )  # fmt: skip
        assert "Traceback" not in done.stderr, done.stderr
        outputs.append(done.stdout + done.stderr)
    assert "http://***@" in "".join(outputs)  # the failure was reported, redacted
    assert openai_server.request_count >= 3
    on_disk = b"".join(
        p.read_bytes() for root in (out, cache) for p in root.rglob("*") if p.is_file()
    )
    for secret in (password, token):
        assert secret not in "".join(outputs)
        assert secret.encode() not in on_disk
