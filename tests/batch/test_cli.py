"""`summarizer batch` as users run it: exit codes, messages, JSON logs, dry runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarizer.batch.lock import exclusive_lock
from tests.batch.support import article, openai_env, run_cli, write_articles
from tests.openai_server import OpenAIServer


@pytest.fixture
def server(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    openai_env(monkeypatch, timeout=5, retries=2)
    return openai_server


def batch_args(server: OpenAIServer, *inputs: Path, out: Path) -> list[str]:
    return ["batch", *map(str, inputs), "--out", str(out), "--base-url", server.base_url,
            "--backend", "openai", "--model", "gpt-4o-mini", "--no-cache"]  # fmt: skip


@pytest.mark.slow
def test_all_done_exits_0_with_a_short_summary(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 3)
    assert run_cli(batch_args(server, tmp_path / "in", out=tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert "3/3 done (3 summarised), 0 failed" in err
    assert "estimated cost $" in err and "items/s" in err
    assert run_cli(batch_args(server, tmp_path / "in", out=tmp_path / "out")) == 0
    assert "3/3 done (0 summarised, 3 already done)" in capsys.readouterr().err
    assert server.request_count == 3


def test_json_logs_are_one_event_per_item_and_one_for_the_run(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 2)
    (tmp_path / "in" / "empty.txt").write_text("\n")
    code = run_cli([*batch_args(server, tmp_path / "in", out=tmp_path / "out"),
                    "--log-format", "json"])  # fmt: skip
    assert code == 1
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    items = [e for e in events if e["event"] == "item"]
    assert sorted((e["id"], e["status"]) for e in items) == [
        ("a000.txt", "done"), ("a001.txt", "done"), ("empty.txt", "failed"),
    ]  # fmt: skip
    assert events[-1]["event"] == "run" and events[-1]["counts"]["failed"] == 1
    assert "empty" in events[-1]["failures"][0]["reason"]


def test_quiet_prints_only_the_failures(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 1)
    (tmp_path / "in" / "binary.txt").write_bytes(b"\x00\x01")
    code = run_cli([*batch_args(server, tmp_path / "in", out=tmp_path / "out"), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "failed:" and "binary.txt: " in err
    assert "done" not in err


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("empty-dir", [], "no inputs"),
        ("missing", [], "input not found"),
        ("locked", [], "another batch run"),
        ("articles", ["--concurrency", "0"], "concurrency"),
        ("articles", ["--log-format", "xml"], "log-format"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(
    tmp_path: Path,
    server: OpenAIServer,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    extra: list[str],
    message: str,
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    if setup == "articles":
        write_articles(source, 1)
    if setup == "missing":
        source = tmp_path / "nowhere"
    out = tmp_path / "out"
    args = [*batch_args(server, source, out=out), *extra]
    if setup == "locked":
        write_articles(source, 1)
        with exclusive_lock(out):
            assert run_cli(args) == 2
    else:
        assert run_cli(args) == 2
    assert message in capsys.readouterr().err
    assert server.request_count == 0


def test_dry_run_reports_calls_tokens_and_cost_without_calling_or_writing(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 3)
    (tmp_path / "in" / "dup.txt").write_text(article(0))
    out = tmp_path / "out"
    assert run_cli([*batch_args(server, tmp_path / "in", out=out), "--dry-run"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["items"], plan["to_summarize"], plan["duplicates"], plan["calls"]) == (4, 3, 1, 3)
    assert plan["estimated_prompt_tokens"] > 0 and plan["estimated_cost_usd"] > 0
    assert server.request_count == 0 and not out.exists()
