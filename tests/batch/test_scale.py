"""What keeps a batch's cost proportional to its size: no encoder on a rerun with nothing to do,
no directory listing per written item, results.jsonl streamed from the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarizer import files, tokens
from summarizer.batch import BatchOptions, discover, layout, report, run_batch
from summarizer.batch.ledger import ItemState, Ledger
from summarizer.batch.report import rebuild_results
from summarizer.config import Settings
from summarizer.errors import OutputError
from summarizer.schemas import SummaryResult
from tests.batch.support import assert_consistent, read_jsonl, write_articles
from tests.fakes import ScriptedBackend


def settings(tmp_path: Path) -> Settings:
    return Settings(
        backend="openai", model="gpt-4o-mini", cache_dir=tmp_path / "cache", use_cache=False
    )


def run(tmp_path: Path, backend: ScriptedBackend) -> None:
    out = tmp_path / "out"
    run_batch(
        discover([str(tmp_path / "in")], exclude=out),
        settings(tmp_path),
        BatchOptions(out_dir=out, concurrency=3),
        backend=backend,
    )


def test_a_rerun_with_nothing_to_summarise_builds_no_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_articles(tmp_path / "in", 5)
    run(tmp_path, ScriptedBackend())
    built: list[str] = []
    real_get_encoding = tokens.get_encoding

    def counting(name: tokens.EncodingName) -> object:
        built.append(name)
        return real_get_encoding(name)

    monkeypatch.setattr(tokens, "get_encoding", counting)
    backend = ScriptedBackend()
    run(tmp_path, backend)
    assert backend.history == [] and built == []  # every item skipped, no encoder asked for
    write_articles(tmp_path / "in", 1, start=5)  # one new article: now the encoder is needed
    run(tmp_path, backend)
    assert len(backend.history) == 1 and built
    assert_consistent(tmp_path / "out")


def test_item_writes_do_not_list_the_items_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run sweeps stale temp files once, under its lock; a sweep per item write listed the
    whole items/ directory per item (quadratic in the batch)."""
    write_articles(tmp_path / "in", 6)
    swept: list[Path] = []
    real_sweep = files._sweep_stale_temp_files

    def sweep(path: Path) -> None:
        swept.append(path)
        real_sweep(path)

    monkeypatch.setattr(files, "_sweep_stale_temp_files", sweep)
    run(tmp_path, ScriptedBackend())
    assert [p for p in swept if p.parent.name == "items"] == []
    assert_consistent(tmp_path / "out")  # six outputs, no temp file left


def test_results_jsonl_is_strict_json_holding_each_validated_result(tmp_path: Path) -> None:
    write_articles(tmp_path / "in", 4)
    run(tmp_path, ScriptedBackend())
    out = tmp_path / "out"
    with Ledger(out / "ledger.sqlite") as ledger:
        assert rebuild_results(ledger, out) == 4
        rows = ledger.rows(ItemState.DONE)
        assert [row.id for row in ledger.iter_rows(ItemState.DONE)] == [row.id for row in rows]
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    for line, row in zip(lines, rows, strict=True):
        record = json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
        assert list(record) == ["id", "origin", "input_sha256", "metadata", "result"]
        assert (record["id"], record["input_sha256"]) == (row.id, row.input_sha256)
        stored = SummaryResult.model_validate_json((out / f"items/{row.id}.json").read_bytes())
        assert record["result"] == stored.model_dump(mode="json")
    assert [line["id"] for line in read_jsonl(out / "results.jsonl")] == sorted(r.id for r in rows)


def test_a_rerun_that_changed_nothing_leaves_results_jsonl_and_reads_no_output_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every item skipped (each output validated once, by triage) and no ledger row changed: the
    file the last run wrote is kept, checked against the digest the ledger recorded."""
    write_articles(tmp_path / "in", 5)
    run(tmp_path, ScriptedBackend())
    results = tmp_path / "out" / "results.jsonl"
    before = results.stat()
    reads: list[Path] = []
    real_read = layout.read_result

    def counting(path: Path) -> SummaryResult | None:
        reads.append(path)
        return real_read(path)

    monkeypatch.setattr(report, "read_result", counting)
    run(tmp_path, ScriptedBackend())
    assert reads == []  # the rebuild read no item (triage has its own reader)
    after = results.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert_consistent(tmp_path / "out")


@pytest.mark.parametrize(
    "damage",
    ["edited", "truncated", "removed", "replaced by a directory"],
)
def test_a_rerun_rewrites_a_results_jsonl_that_is_not_what_the_last_run_wrote(
    tmp_path: Path, damage: str
) -> None:
    write_articles(tmp_path / "in", 4)
    run(tmp_path, ScriptedBackend())
    results = tmp_path / "out" / "results.jsonl"
    good = results.read_bytes()
    if damage == "edited":  # same length, one byte different
        results.write_bytes(good[:-2] + b"x\n")
    elif damage == "truncated":
        results.write_bytes(good[: len(good) // 2])
    elif damage == "removed":
        results.unlink()
    else:
        results.unlink()
        results.mkdir()
    if damage != "replaced by a directory":
        run(tmp_path, ScriptedBackend())
        assert results.read_bytes() == good
        assert_consistent(tmp_path / "out")
    else:
        with pytest.raises(OutputError, match=r"results\.jsonl"):
            run(tmp_path, ScriptedBackend())


def test_done_items_outside_the_run_are_rebuilt_not_trusted(tmp_path: Path) -> None:
    """A rerun over some of the items has not validated the others' outputs this run: the file
    is rebuilt, and an output damaged since drops out of it."""
    write_articles(tmp_path / "in", 4)
    run(tmp_path, ScriptedBackend())
    out = tmp_path / "out"
    victim = sorted((tmp_path / "in").iterdir())[-1]
    victim.rename(tmp_path / victim.name)  # no longer in the batch
    victim_id = victim.name  # a file's item id is its path under the input folder
    (out / "items" / f"{victim_id}.json").write_text("{", encoding="utf-8")
    run(tmp_path, ScriptedBackend())
    ids = [line["id"] for line in read_jsonl(out / "results.jsonl")]
    assert len(ids) == 3 and victim_id not in ids
