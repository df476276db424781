"""`batch --stories`: grouping by field and by similarity, and a story redone only when one of its
articles changed, across reruns, edits and a run killed between a story's file and its record."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from summarizer.batch import BatchOptions, BatchReport, discover, plan_batch, run_batch
from summarizer.batch.ledger import Ledger
from summarizer.batch.stories import StoriesReport
from summarizer.config import Settings
from summarizer.schemas import SummaryResult
from summarizer.story.result import Checked, StoryResult
from tests.batch.support import run_cli
from tests.fakes import ScriptedBackend, WordsEmbedder, quoting_answer
from tests.openai_server import OpenAIServer

TREATY = [
    "Putin and Kim signed a mutual defence treaty in Pyongyang on Wednesday. "
    "It was the first visit by Putin to North Korea in 24 years. "
    "The two leaders promised to help each other if attacked. "
    "Western governments condemned the agreement.",
    "Putin and Kim signed a mutual defence treaty in Pyongyang this week. "
    "It was the first visit by Putin to North Korea in 24 years. "
    "Both leaders promised to help each other if either is attacked. "
    "Western governments condemned the deal.",
    "Kim and Putin signed a defence treaty in Pyongyang on Wednesday. "
    "The two leaders promised to help each other if attacked. "
    "It was the first visit by Putin to North Korea in 24 years.",
]
SNOW = [
    "Heavy snow closed the mountain passes near Geneva for a third day. "
    "Hundreds of travellers spent the night in shelters. "
    "Avalanche warnings were raised to the highest level.",
    "Heavy snow closed the mountain passes near Geneva for a third day on Friday. "
    "Hundreds of travellers spent the night in emergency shelters. "
    "Avalanche warnings were raised to the highest level in several cantons.",
]
FERRY = (
    "A new ferry line links the two harbours of the lake twice a day. "
    "The regional government paid for two electric boats."
)


def settings(tmp_path: Path, mode: str = "extractive") -> Settings:
    return Settings.model_validate(
        {"backend": "openai", "model": "gpt-4o-mini", "mode": mode, "use_cache": False,
         "cache_dir": tmp_path / "cache", "models_dir": tmp_path / "models"}
    )  # fmt: skip


def write_named(path: Path) -> Path:
    """A JSONL feed whose articles name their story; one names a story of its own."""
    lines = [
        {"id": f"treaty-{n}", "text": text, "story": "treaty", "outlet": f"outlet {n}"}
        for n, text in enumerate(TREATY)
    ]
    lines += [{"id": f"snow-{n}", "text": text, "story": "snow"} for n, text in enumerate(SNOW)]
    lines.append({"id": "ferry", "text": FERRY, "story": "ferry"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def write_unnamed(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(TREATY):
        (folder / f"treaty-{n}.txt").write_text(text, encoding="utf-8")
    for n, text in enumerate(SNOW):
        (folder / f"snow-{n}.txt").write_text(text, encoding="utf-8")
    (folder / "ferry.txt").write_text(FERRY, encoding="utf-8")
    return folder


def run(
    tmp_path: Path, source: Path, backend: ScriptedBackend, mode: str = "extractive"
) -> BatchReport:
    out = tmp_path / "out"
    return run_batch(
        discover([str(source)], exclude=out),
        settings(tmp_path, mode),
        BatchOptions(out_dir=out, stories=True),
        backend=backend,
        embedder=WordsEmbedder(),
    )


def stories_of(report: BatchReport) -> StoriesReport:
    assert report.stories is not None
    return report.stories


def statuses(report: BatchReport) -> dict[str, str]:
    return {line.id: line.status for line in stories_of(report).stories}


def members(report: BatchReport) -> dict[str, list[str]]:
    return {line.id: line.articles for line in stories_of(report).stories}


def read_story(out: Path, story_id: str) -> StoryResult:
    return StoryResult.model_validate_json((out / "stories" / f"{story_id}.json").read_bytes())


def read_item(out: Path, item_id: str) -> SummaryResult:
    return SummaryResult.model_validate_json((out / "items" / f"{item_id}.json").read_bytes())


def test_articles_naming_a_story_form_it_and_the_story_step_reuses_their_results(
    tmp_path: Path,
) -> None:
    backend = ScriptedBackend()
    report = run(tmp_path, write_named(tmp_path / "feed.jsonl"), backend)
    out = tmp_path / "out"
    assert report.exit_code == 0
    assert members(report) == {
        "snow": ["snow-0", "snow-1"],
        "treaty": ["treaty-0", "treaty-1", "treaty-2"],
    }
    assert statuses(report) == {"snow": "built", "treaty": "built"}
    assert stories_of(report).alone == ["ferry"]  # a story of one article is no story
    # No call at all: the extractive tier chooses sentences itself, the items' results were
    # reused for the stories, and the extractive story step has no model judge.
    assert len(backend.history) == 0 and report.usage.calls == 0
    treaty = read_story(out, "treaty")
    hashes = {r.source.sha256 for r in (read_item(out, f"treaty-{n}") for n in range(3))}
    assert {s.sha256 for s in treaty.sources} == hashes
    assert [s.outlet for s in treaty.sources] == ["outlet 0", "outlet 1", "outlet 2"]
    assert any(len(claim.support) == 3 for claim in treaty.claims), "a claim all three state"
    on_disk = BatchReport.model_validate_json((out / "report.json").read_bytes())
    assert on_disk.stories == report.stories
    with Ledger(out / "ledger.sqlite") as ledger:
        rows = {row.id: row for row in ledger.story_rows()}
    assert rows["treaty"].members == tuple(
        (f"treaty-{n}", read_item(out, f"treaty-{n}").source.sha256) for n in range(3)
    )


def test_articles_without_a_story_field_are_grouped_by_similarity_as_the_dry_run_said(
    tmp_path: Path,
) -> None:
    source = write_unnamed(tmp_path / "in")
    out = tmp_path / "out"
    found = discover([str(source)], exclude=out)
    planned = plan_batch(found, settings(tmp_path), out, stories=True, embedder=WordsEmbedder())
    assert planned.stories is not None
    would = {story.id: story.articles for story in planned.stories.stories}
    assert sorted(would.values()) == [
        ["snow-0.txt", "snow-1.txt"],
        ["treaty-0.txt", "treaty-1.txt", "treaty-2.txt"],
    ]
    assert planned.stories.alone == ["ferry.txt"]
    assert {story.action for story in planned.stories.stories} == {"build"}
    assert not out.exists(), "a dry run writes nothing"

    report = run(tmp_path, source, ScriptedBackend())
    assert members(report) == would, "the run groups as the dry run said"
    assert all(story_id.startswith("auto-") for story_id in would)
    assert set(statuses(report).values()) == {"built"}
    for story_id in would:
        assert len(read_story(out, story_id).sources) == len(would[story_id])
    assert not (out / "stories" / "ferry.txt.json").exists()

    again = plan_batch(found, settings(tmp_path), out, stories=True, embedder=WordsEmbedder())
    assert again.stories is not None
    assert {story.action for story in again.stories.stories} == {"unchanged"}


def test_a_rerun_redoes_no_story_and_makes_no_call(tmp_path: Path) -> None:
    # Abstractive: the model judges each story's relations, so a redone story would show.
    source = write_named(tmp_path / "feed.jsonl")
    first = ScriptedBackend(quoting_answer)
    report = run(tmp_path, source, first, mode="abstractive")
    out = tmp_path / "out"
    relation_calls = [r for r in first.history if r.schema_name == "RelationBatch"]
    assert len(relation_calls) == 2, "one batched relation call per story"
    assert stories_of(report).usage.calls == 2 and report.usage.calls == 6 + 2
    treaty = read_story(out, "treaty")
    assert treaty.relations_checked is Checked.MODEL
    before = {p.name: p.read_bytes() for p in (out / "stories").iterdir()}

    second = ScriptedBackend(quoting_answer)
    rerun = run(tmp_path, source, second, mode="abstractive")
    assert second.history == []
    assert statuses(rerun) == {"snow": "unchanged", "treaty": "unchanged"}
    assert rerun.usage.calls == 0 and rerun.exit_code == 0
    assert {p.name: p.read_bytes() for p in (out / "stories").iterdir()} == before


def test_a_changed_article_redoes_only_its_story(tmp_path: Path) -> None:
    source = write_unnamed(tmp_path / "in")
    out = tmp_path / "out"
    first = run(tmp_path, source, ScriptedBackend(quoting_answer), mode="abstractive")
    snow_id = next(i for i, m in members(first).items() if m[0].startswith("snow"))
    treaty_id = next(i for i, m in members(first).items() if m[0].startswith("treaty"))
    snow_before = (out / "stories" / f"{snow_id}.json").read_bytes()

    edited = TREATY[2] + " Moscow said the treaty was purely defensive."
    (source / "treaty-2.txt").write_text(edited, encoding="utf-8")
    backend = ScriptedBackend(quoting_answer)
    report = run(tmp_path, source, backend, mode="abstractive")
    assert report.counts.summarized == 1 and report.counts.skipped == 5
    assert statuses(report) == {treaty_id: "built", snow_id: "unchanged"}
    asked = [r.schema_name for r in backend.history]
    assert asked == ["ChunkDigest", "RelationBatch"], "the edited article, then its story only"
    relation_prompt = backend.history[1].messages[-1].content
    assert "Pyongyang" in relation_prompt and "Geneva" not in relation_prompt
    treaty = read_story(out, treaty_id)
    assert read_item(out, "treaty-2.txt").source.sha256 in {s.sha256 for s in treaty.sources}
    assert (out / "stories" / f"{snow_id}.json").read_bytes() == snow_before


def test_a_run_killed_between_a_story_and_its_record_is_adopted_without_a_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_named(tmp_path / "feed.jsonl")
    out = tmp_path / "out"
    real_record = Ledger.record_story
    recorded: list[str] = []

    def killed_after_the_first_file(self: Ledger, story_id: str, **fields: object) -> None:
        if recorded:  # the second story's file is written; the run dies before its row
            raise KeyboardInterrupt
        recorded.append(story_id)
        real_record(self, story_id, **fields)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "record_story", killed_after_the_first_file)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, source, ScriptedBackend(quoting_answer), mode="abstractive")
    monkeypatch.setattr(Ledger, "record_story", real_record)
    interrupted = BatchReport.model_validate_json((out / "report.json").read_bytes())
    assert interrupted.interrupted and recorded == ["snow"]
    assert (out / "stories" / "treaty.json").exists(), "written, not recorded"
    (out / "stories" / ".treaty.json.1234.tmp").write_text("{", encoding="utf-8")  # a torn write

    backend = ScriptedBackend(quoting_answer)
    report = run(tmp_path, source, backend, mode="abstractive")
    assert backend.history == [], "every item done and both stories on disk: nothing to ask"
    assert statuses(report) == {"snow": "unchanged", "treaty": "recovered"}
    assert not list((out / "stories").glob("*.tmp"))
    with sqlite3.connect(out / "ledger.sqlite") as db:
        states = dict(db.execute("SELECT id, state FROM stories").fetchall())
    assert states == {"snow": "done", "treaty": "done"}


def test_a_story_no_longer_formed_is_removed_and_one_that_is_not_a_story_is_not_retried(
    tmp_path: Path,
) -> None:
    source = write_unnamed(tmp_path / "in")
    out = tmp_path / "out"
    first = run(tmp_path, source, ScriptedBackend())
    snow_id = next(i for i, m in members(first).items() if m[0].startswith("snow"))
    # snow-1 now tells of the ferry: the snow group breaks up and its story goes.
    (source / "snow-1.txt").write_text(FERRY.replace("twice", "three times"), encoding="utf-8")
    report = run(tmp_path, source, ScriptedBackend())
    assert statuses(report)[snow_id] == "removed"
    assert not (out / "stories" / f"{snow_id}.json").exists()
    ferry = [m for m in members(report).values() if "ferry.txt" in m]
    assert ferry == [["ferry.txt", "snow-1.txt"]]
    with Ledger(out / "ledger.sqlite") as ledger:
        assert snow_id not in {row.id for row in ledger.story_rows()}


@pytest.mark.slow
def test_the_cli_flag_builds_stories_and_prints_a_line_per_story(
    tmp_path: Path,
    openai_server: OpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    feed = write_named(tmp_path / "feed.jsonl")
    args = ["batch", str(feed), "--out", str(tmp_path / "out"), "--base-url",
            openai_server.base_url, "--backend", "openai", "--model", "gpt-4o-mini",
            "--no-cache", "--mode", "extractive", "--stories"]  # fmt: skip
    assert run_cli(["batch", *args[1:], "--dry-run"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in planned["stories"]["stories"]] == ["snow", "treaty"]
    assert run_cli(args) == 0
    err = capsys.readouterr().err
    assert "stories 2: 2 built · 1 article in no story" in err
    assert "  treaty: built, 3 articles" in err
    assert (tmp_path / "out" / "stories" / "treaty.json").is_file()
