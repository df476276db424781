"""The batch runner against a scripted backend: ledger semantics, duplicates, timeouts, locking."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from summarizer.batch import BatchLocked, BatchOptions, BatchReport, discover, plan_batch, run_batch
from summarizer.batch.events import BatchObserver, ItemEvent
from summarizer.batch.lock import exclusive_lock
from summarizer.config import Settings
from summarizer.errors import BackendError
from summarizer.llm import CompletionRequest
from summarizer.schemas import SummaryResult
from summarizer.service import Summarizer
from summarizer.sources import source_from_text
from tests.batch.support import MARKER, article, assert_consistent, read_jsonl, write_articles
from tests.fakes import ScriptedBackend, plausible_answer


def number(request: CompletionRequest) -> int:
    match = MARKER.search(" ".join(message.content for message in request.messages))
    assert match is not None, "every test article carries its number"
    return int(match.group(1))


def calls_per_article(backend: ScriptedBackend) -> Counter[int]:
    return Counter(number(request) for request in backend.history)


def failing_for(*numbers: int) -> Callable[[CompletionRequest], str]:
    def respond(request: CompletionRequest) -> str:
        if number(request) in numbers:
            raise BackendError("the model refused")
        return plausible_answer(request)

    return respond


class Events:
    def __init__(self) -> None:
        self.total = 0
        self.items: list[ItemEvent] = []

    def started(self, total: int) -> None:
        self.total = total

    def item(self, event: ItemEvent) -> None:
        self.items.append(event)

    def statuses(self) -> dict[str | None, str]:
        return {event.id: event.status for event in self.items}


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "backend": "openai",
        "model": "gpt-4o-mini",
        "cache_dir": tmp_path / "cache",
        "use_cache": False,
        "max_retries": 2,
    }
    return Settings.model_validate(values | overrides)


def run(
    tmp_path: Path,
    inputs: Sequence[Path],
    backend: ScriptedBackend,
    observer: BatchObserver | None = None,
    **options: object,
) -> BatchReport:
    out = tmp_path / "out"
    return run_batch(
        discover([str(path) for path in inputs], exclude=out),
        settings(tmp_path),
        BatchOptions.model_validate({"out_dir": out, **options}),
        backend=backend,
        observer=observer,
    )


def test_every_item_is_summarised_once_with_its_outputs_and_report(tmp_path: Path) -> None:
    write_articles(tmp_path / "in", 6)
    backend = ScriptedBackend()
    events = Events()
    report = run(tmp_path, [tmp_path / "in"], backend, events, concurrency=3)
    assert calls_per_article(backend) == Counter(range(6))
    results = assert_consistent(tmp_path / "out")
    assert sorted(results) == [f"a{n:03d}.txt" for n in range(6)]
    assert results["a002.txt"].source.path == str(tmp_path / "in" / "a002.txt")
    assert report.exit_code == 0 and not report.failures
    assert report.counts.model_dump() == {
        "total": 6, "done": 6, "summarized": 6, "skipped": 0, "duplicates": 0, "recovered": 0,
        "failed": 0,
    }  # fmt: skip
    assert report.usage.calls == 6 and report.usage.prompt_tokens > 0
    assert report.estimated_cost_usd is not None and report.estimated_cost_usd > 0
    assert report.throughput.items_per_s > 0 and report.throughput.calls_per_s > 0
    on_disk = json.loads((tmp_path / "out" / "report.json").read_text())
    assert BatchReport.model_validate(on_disk) == report
    assert events.total == 6 and sorted(events.statuses().values()) == ["done"] * 6


def test_a_rerun_skips_unchanged_redoes_changed_and_retries_failed(tmp_path: Path) -> None:
    paths = write_articles(tmp_path / "in", 4)
    first = run(tmp_path, [tmp_path / "in"], ScriptedBackend(failing_for(3)))
    assert first.exit_code == 1
    assert [(f.id, f.reason) for f in first.failures] == [("a003.txt", "the model refused")]

    paths[1].write_text(article(1, extra="A correction was issued. "), encoding="utf-8")
    backend = ScriptedBackend()
    events = Events()
    second = run(tmp_path, [tmp_path / "in"], backend, events)
    assert calls_per_article(backend) == Counter({1: 1, 3: 1})  # changed, and failed before
    assert events.statuses() == {
        "a000.txt": "skipped", "a001.txt": "done", "a002.txt": "skipped", "a003.txt": "done",
    }  # fmt: skip
    assert (second.counts.skipped, second.counts.summarized, second.exit_code) == (2, 2, 0)
    results = assert_consistent(tmp_path / "out")
    assert "correction was issued" in results["a001.txt"].summary.text or results[
        "a001.txt"
    ].source.chars == len(paths[1].read_text(encoding="utf-8"))
    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite") as db:
        attempts = dict(db.execute("SELECT id, attempts FROM items").fetchall())
    assert attempts == {"a000.txt": 1, "a001.txt": 2, "a002.txt": 1, "a003.txt": 2}

    third_backend = ScriptedBackend()
    third = run(tmp_path, [tmp_path / "in"], third_backend)
    assert third_backend.history == [] and third.counts.skipped == 4


def test_identical_inputs_make_one_model_call_and_each_gets_its_own_output(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 2)
    (folder / "copy.txt").write_text(article(0), encoding="utf-8")
    jsonl = tmp_path / "feed.jsonl"
    jsonl.write_text(json.dumps({"id": "wire-7", "text": article(0)}) + "\n")
    backend = ScriptedBackend()
    report = run(tmp_path, [folder, jsonl], backend, concurrency=4)
    assert calls_per_article(backend) == Counter({0: 1, 1: 1})
    assert (report.counts.summarized, report.counts.duplicates) == (2, 2)
    results = assert_consistent(tmp_path / "out")
    first, copy, wire = results["a000.txt"], results["copy.txt"], results["wire-7"]
    assert copy.summary == first.summary and copy.claims == first.claims
    assert copy.source.path == str(folder / "copy.txt")
    assert wire.source.path == f"{jsonl}#wire-7"
    assert copy.usage.calls == 0 and copy.usage.cached_calls == 1
    assert any("a000.txt" in warning for warning in copy.warnings)

    # a later run that meets the same text under a new name copies it too
    (folder / "late.txt").write_text(article(1), encoding="utf-8")
    later_backend = ScriptedBackend()
    later = run(tmp_path, [folder], later_backend)
    assert later_backend.history == [] and later.counts.duplicates == 1
    assert_consistent(tmp_path / "out")


def test_when_the_first_of_identical_inputs_fails_the_others_fail_with_the_reason(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 1, start=5)
    (folder / "again.txt").write_text(article(5), encoding="utf-8")
    backend = ScriptedBackend(failing_for(5))
    report = run(tmp_path, [folder], backend)
    assert len(backend.history) == 1
    reasons = {f.id: f.reason for f in report.failures}
    assert reasons == {
        "a005.txt": "the model refused",
        "again.txt": "identical input to item a005.txt, which failed: the model refused",
    }
    assert_consistent(tmp_path / "out")


def test_an_output_written_but_not_recorded_is_adopted_without_a_call(tmp_path: Path) -> None:
    write_articles(tmp_path / "in", 2)
    run(tmp_path, [tmp_path / "in"], ScriptedBackend())
    # As if killed between writing the output and marking it done:
    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite") as db:
        db.execute("UPDATE items SET state = 'running' WHERE id = 'a001.txt'")
    backend = ScriptedBackend()
    events = Events()
    report = run(tmp_path, [tmp_path / "in"], backend, events)
    assert backend.history == []
    assert events.statuses() == {"a000.txt": "skipped", "a001.txt": "recovered"}
    assert report.counts.recovered == 1 and report.counts.done == 2
    assert_consistent(tmp_path / "out")


def test_a_done_row_whose_file_is_gone_is_redone(tmp_path: Path) -> None:
    write_articles(tmp_path / "in", 2)
    run(tmp_path, [tmp_path / "in"], ScriptedBackend())
    (tmp_path / "out" / "items" / "a000.txt.json").unlink()
    backend = ScriptedBackend()
    run(tmp_path, [tmp_path / "in"], backend)
    assert calls_per_article(backend) == Counter({0: 1})
    assert_consistent(tmp_path / "out")


def test_a_changed_input_whose_redo_fails_keeps_no_stale_output(tmp_path: Path) -> None:
    paths = write_articles(tmp_path / "in", 1, start=2)
    run(tmp_path, [tmp_path / "in"], ScriptedBackend())
    paths[0].write_text(article(2, extra="Updated. "), encoding="utf-8")
    report = run(tmp_path, [tmp_path / "in"], ScriptedBackend(failing_for(2)))
    assert [f.id for f in report.failures] == ["a002.txt"]
    assert not (tmp_path / "out" / "items" / "a002.txt.json").exists()
    assert read_jsonl(tmp_path / "out" / "results.jsonl") == []
    assert_consistent(tmp_path / "out")


def test_an_item_that_times_out_fails_and_its_thread_makes_no_further_call(
    tmp_path: Path,
) -> None:
    release = threading.Event()

    def respond(request: CompletionRequest) -> str:
        if number(request) == 1:
            release.wait(1.0)  # slower than --item-timeout
            return "not JSON, so the pipeline would re-ask"
        return plausible_answer(request)

    write_articles(tmp_path / "in", 3)
    backend = ScriptedBackend(respond)
    started = time.monotonic()
    report = run(tmp_path, [tmp_path / "in"], backend, concurrency=3, item_timeout=0.3)
    assert [(f.id, f.reason) for f in report.failures] == [("a001.txt", "timed out after 0.3s")]
    # The re-ask that would have followed was stopped before reaching the backend.
    assert calls_per_article(backend) == Counter({0: 1, 1: 1, 2: 1})
    # The call in flight at the timeout is counted, and the one stopped before it began is not.
    assert report.usage.calls == 3
    assert time.monotonic() - started < 5
    assert_consistent(tmp_path / "out")


def test_an_unexpected_exception_fails_only_its_item(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def respond(request: CompletionRequest) -> str:
        if number(request) == 0:
            raise RuntimeError("a bug")
        return plausible_answer(request)

    write_articles(tmp_path / "in", 2)
    report = run(tmp_path, [tmp_path / "in"], ScriptedBackend(respond))
    assert [(f.id, f.reason) for f in report.failures] == [
        ("a000.txt", "unexpected RuntimeError: a bug")
    ]
    assert report.counts.done == 1
    assert "unexpected error summarising a000.txt" in caplog.text  # with its traceback


def test_bad_input_is_reported_per_item_and_jsonl_metadata_reaches_the_results(
    tmp_path: Path,
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"id": "ok", "text": article(1), "metadata": {"url": "https://x/1"}})
        + "\n{broken\n"
        + json.dumps({"id": "blank", "text": " "})
        + "\n"
    )
    report = run(tmp_path, [feed], ScriptedBackend())
    assert report.exit_code == 1
    assert {(f.id, f.origin) for f in report.failures} == {
        (None, f"{feed}:2"),
        ("blank", f"{feed}:3"),
    }
    (line,) = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert (line["id"], line["metadata"]) == ("ok", {"url": "https://x/1"})
    assert line["result"]["source"]["path"] == f"{feed}#ok"
    assert_consistent(tmp_path / "out")


def test_a_second_run_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    write_articles(tmp_path / "in", 1)
    backend = ScriptedBackend()
    with exclusive_lock(tmp_path / "out"), pytest.raises(BatchLocked) as refused:
        run(tmp_path, [tmp_path / "in"], backend)
    assert refused.value.exit_code == 2
    assert "another batch run" in str(refused.value) and str(tmp_path / "out") in str(refused.value)
    assert backend.history == []
    run(tmp_path, [tmp_path / "in"], backend)  # released: the next run goes ahead
    assert len(backend.history) == 1


def test_temp_files_left_by_a_killed_write_are_swept(tmp_path: Path) -> None:
    write_articles(tmp_path / "in", 1)
    leftovers = tmp_path / "out" / "items" / ".a000.txt.json.x1y2.tmp"
    leftovers.parent.mkdir(parents=True)
    leftovers.write_text('{"half": ')
    run(tmp_path, [tmp_path / "in"], ScriptedBackend())
    assert not leftovers.exists()
    assert_consistent(tmp_path / "out")


def test_dry_run_plans_only_the_work_left_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_articles(folder, 3)
    (folder / "copy.txt").write_text(article(0), encoding="utf-8")
    out = tmp_path / "out"
    fresh = plan_batch(discover([str(folder)]), settings(tmp_path), out)
    assert not out.exists()
    assert (fresh.items, fresh.to_summarize, fresh.duplicates, fresh.calls) == (4, 3, 1, 3)
    assert fresh.estimated_prompt_tokens > 0 and fresh.estimated_cost_usd

    run(tmp_path, [folder / "a000.txt"], ScriptedBackend())
    after = plan_batch(discover([str(folder)]), settings(tmp_path), out)
    # the directory lists the same file under the same id, so the ledger has it done
    assert (after.already_done, after.to_summarize, after.duplicates) == (1, 2, 1)


def test_a_dry_run_predicts_what_the_real_run_then_does(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    paths = write_articles(folder, 5)
    run(tmp_path, [folder], ScriptedBackend(failing_for(3)))
    # As if killed between writing a001's output and marking it done:
    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite") as db:
        db.execute("UPDATE items SET state = 'running' WHERE id = 'a001.txt'")
    paths[2].write_text(article(2, extra="A correction was issued. "), encoding="utf-8")
    (folder / "copy.txt").write_text(article(0), encoding="utf-8")  # a000 is done
    (folder / "twin1.txt").write_text(article(7), encoding="utf-8")
    (folder / "twin2.txt").write_text(article(7), encoding="utf-8")
    (folder / "empty.txt").write_text("\n", encoding="utf-8")

    planned = plan_batch(discover([str(folder)]), settings(tmp_path), tmp_path / "out")
    backend = ScriptedBackend()
    report = run(tmp_path, [folder], backend)
    assert (planned.to_summarize, planned.calls) == (report.counts.summarized, len(backend.history))
    assert (planned.to_summarize, planned.already_done, planned.recovered) == (3, 2, 1)
    assert (planned.already_done, planned.recovered) == (
        report.counts.skipped,
        report.counts.recovered,
    )
    assert (planned.duplicates, planned.failed) == (report.counts.duplicates, report.counts.failed)
    assert [f.id for f in planned.failures] == [f.id for f in report.failures] == ["empty.txt"]
    assert_consistent(tmp_path / "out")


def test_the_cache_makes_concurrent_identical_calls_one_model_call(tmp_path: Path) -> None:
    # Batch jobs rely on this for identical chunks across different items.
    def slow(request: CompletionRequest) -> str:
        time.sleep(0.2)
        return plausible_answer(request)

    backend = ScriptedBackend(slow)
    service = Summarizer(settings(tmp_path, use_cache=True), backend=backend)
    source = source_from_text(article(9), path="same.txt")
    results: list[SummaryResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(service.summarize(source))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    service.close()
    assert len(backend.history) == 1
    assert sorted(r.usage.cached_calls for r in results) == [0, 1, 1, 1]


def test_an_input_that_became_unreadable_fails_and_loses_its_old_output(tmp_path: Path) -> None:
    paths = write_articles(tmp_path / "in", 2)
    run(tmp_path, [tmp_path / "in"], ScriptedBackend())
    paths[0].write_text("   \n", encoding="utf-8")
    report = run(tmp_path, [tmp_path / "in"], ScriptedBackend())
    assert [f.id for f in report.failures] == ["a000.txt"] and "empty" in report.failures[0].reason
    assert not (tmp_path / "out" / "items" / "a000.txt.json").exists()
    assert sorted(assert_consistent(tmp_path / "out")) == ["a001.txt"]


def test_the_progress_bar_counts_items_and_prints_failures_verbatim(tmp_path: Path) -> None:
    from rich.console import Console

    from summarizer.batch.events import RichProgressObserver

    def respond(request: CompletionRequest) -> str:
        if number(request) == 1:
            raise BackendError("server said [bold]no[/bold]")  # not rich markup
        return plausible_answer(request)

    write_articles(tmp_path / "in", 3)
    progress = RichProgressObserver()
    screen = io.StringIO()
    progress.console = Console(file=screen, force_terminal=True, width=120)
    try:
        run(tmp_path, [tmp_path / "in"], ScriptedBackend(respond), progress)
    finally:
        progress.close()
    shown = screen.getvalue()
    assert "a001.txt: server said [bold]no[/bold]" in shown
    assert "3/3" in shown and "1 failed" in shown


def test_a_run_stopped_by_an_error_returns_only_after_its_output_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ledger fails on the first item's "done" (a full disk, say) while other items' outputs
    # are still being written: the run must not return with their temp files on disk (the
    # full-disk test on tmpfs caught that once in CI, a race).
    from summarizer.batch import ledger as ledger_module
    from summarizer.batch import runner
    from summarizer.errors import LedgerError
    from summarizer.files import write_atomic

    def slow_write(path: Path, text: str, **kwargs: object) -> None:
        temp = path.parent / f".{path.name}.slow.tmp"
        temp.write_text("half", encoding="utf-8")
        time.sleep(0.05 if path.name.startswith("a000") else 0.6)  # the first is done first
        temp.unlink()
        write_atomic(path, text, sweep=False)

    def full(self: object, item_id: str, **kwargs: object) -> None:
        raise LedgerError("database or disk is full", path=tmp_path, advice="free some space")

    monkeypatch.setattr(runner, "write_atomic", slow_write)
    monkeypatch.setattr(ledger_module.Ledger, "mark_done", full)
    write_articles(tmp_path / "in", 4)
    with pytest.raises(LedgerError):
        run(tmp_path, [tmp_path / "in"], ScriptedBackend(), concurrency=4)
    assert not list((tmp_path / "out").rglob(".*.tmp"))
