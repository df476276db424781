from __future__ import annotations

import json
from pathlib import Path

from summarizer.evaluation.runner import EvalReport, append_run_log, read_run_log
from tests.evaluation.builders import run_seeds


def test_run_scores_every_article_and_writes_both_reports(tmp_path: Path) -> None:
    report = run_seeds(8, out_dir=tmp_path / "out")
    assert [a.article_id[:3] for a in report.articles] == ["000", "001", "002", "003", "004"]
    aggregate = report.aggregate
    assert 0.5 < aggregate.fact_recall_core <= 1.0
    assert aggregate.claims_resolved_share == 1.0  # spans come from the source itself
    assert aggregate.calls == 5 and aggregate.failed_articles == 0
    assert report.model is not None and report.model.name == "scripted-1"
    assert report.prompts[0].name == "summarize"
    saved = EvalReport.model_validate_json((tmp_path / "out" / "report.json").read_text())
    assert saved == report
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| 001_c7cab5bb4e64a322 | AFP |" in markdown
    assert "## Facts missed" in markdown


def test_run_log_is_append_only(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    append_run_log(run_seeds(8), log)
    first = log.read_text()
    append_run_log(run_seeds(2), log)
    assert log.read_text().startswith(first)
    records = read_run_log(log)
    assert len(records) == 2
    assert records[0].aggregate.fact_recall_core > records[1].aggregate.fact_recall_core
    assert records[0].prompts[0].sha256 == "a" * 64
    assert json.loads(first)["matcher"]["name"] == "lexical"
