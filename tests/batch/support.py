"""Shared pieces of the batch tests: articles that say who they are, running the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from summarizer.batch.ledger import ItemState, Ledger
from summarizer.schemas import SummaryResult

# Every article says which one it is, so a request can be traced back to its item.
MARKER = re.compile(r"Article number (\d+) ")


def article(number: int, extra: str = "") -> str:
    return (
        f"Article number {number} reports that the council met on day {number}. "
        f"It approved measure {number} by a wide margin. {extra}"
        "The mayor said the vote was good news for the city."
    )


def write_articles(folder: Path, count: int, *, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(start, start + count):
        path = folder / f"a{number:03d}.txt"
        path.write_text(article(number), encoding="utf-8")
        paths.append(path)
    return paths


def article_number(body: dict[str, Any]) -> int | None:
    """Which article a chat-completions request body is about."""
    text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    match = MARKER.search(text)
    return int(match.group(1)) if match else None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_cli(argv: list[str]) -> int:
    """Run `summarizer ARGV` in-process, as the console script does; return the exit code."""
    from summarizer.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    code = exited.value.code
    return code if isinstance(code, int) else (0 if code is None else 1)


def openai_env(monkeypatch: pytest.MonkeyPatch, *, timeout: float, retries: int) -> None:
    """Settings for the real OpenAI backend against the loopback server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("SUMMARIZER_TIMEOUT", str(timeout))
    monkeypatch.setenv("SUMMARIZER_MAX_RETRIES", str(retries))


def assert_consistent(out_dir: Path) -> dict[str, SummaryResult]:
    """The invariants a finished run must leave, whatever happened before it; returns done items.

    Every done row has its output, valid and for the recorded input; every output belongs to a
    done row; results.jsonl holds each done item exactly once; no temporary file is left.
    """
    with Ledger(out_dir / "ledger.sqlite") as ledger:
        rows = ledger.rows()
    done = {row.id: row for row in rows if row.state is ItemState.DONE}
    assert all(row.state in (ItemState.DONE, ItemState.FAILED) for row in rows), rows
    results: dict[str, SummaryResult] = {}
    for item_id, row in done.items():
        assert row.output_path == f"items/{item_id}.json"
        result = SummaryResult.model_validate_json((out_dir / row.output_path).read_bytes())
        assert result.source.sha256 == row.input_sha256
        results[item_id] = result
    files = {path.name.removesuffix(".json") for path in (out_dir / "items").glob("*.json")}
    assert files == set(done), "every output file belongs to a done item, and vice versa"
    lines = read_jsonl(out_dir / "results.jsonl")
    assert [line["id"] for line in lines] == sorted(done)
    for line in lines:
        assert SummaryResult.model_validate(line["result"]) == results[line["id"]]
    assert not [p for p in out_dir.rglob("*") if p.name.endswith(".tmp")], "temp files left"
    return results
