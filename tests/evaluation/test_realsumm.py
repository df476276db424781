"""The REALSumm suite: loading, equal-length cuts, ranking, intervals, and its gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarizer.errors import EvalError
from summarizer.evaluation.matchers import LexicalMatcher
from summarizer.evaluation.realsumm import (
    RealsummData,
    cut_words,
    gate_realsumm,
    lead,
    load_realsumm,
    realsumm_table,
    run_realsumm,
)
from summarizer.schemas import ModelRef, SourceInfo, Summary, SummaryResult, Usage
from summarizer.selection import count_words
from tests.evaluation.builders import REPO
from tests.support import run_summarizer

DATA = REPO / "evals" / "realsumm"


@pytest.fixture(scope="module")
def data() -> RealsummData:
    return load_realsumm(DATA, limit=4)


def result_of(text: str) -> SummaryResult:
    return SummaryResult(
        source=SourceInfo(path="a.txt", sha256="0" * 64, chars=1, tokens=1), mode="extractive",
        summary=Summary(headline="", text=text, key_points=[]), claims=[],
        model=ModelRef(backend="scripted", name="fixed"), prompts=[], chunks=1, usage=Usage(),
        warnings=[],
    )  # fmt: skip


def test_the_shipped_data_loads_with_facts_and_25_systems(data: RealsummData) -> None:
    assert len(data.articles) == 4 and set(data.facts) == {a.doc_id for a in data.articles}
    assert len(data.systems) == 25
    assert all(len(s) == 4 for s in data.systems.values())
    assert (DATA / "README.md").read_text(encoding="utf-8").count("CC BY 4.0") >= 1


def test_cuts_count_words_not_punctuation() -> None:
    text = "( cnn ) two cnn heroes are among the survivors in kathmandu , nepal ."
    assert cut_words(text, 3) == "( cnn ) two cnn"
    assert count_words(cut_words(text, 9)) == 9
    assert cut_words(text, 100) == text


def test_lead_splits_tokenised_text_at_its_sentences() -> None:
    text = "it was cold , he said . `` we are scared , `` she said . And then it snowed ."
    assert lead(text, 2) == "it was cold , he said . `` we are scared , `` she said ."


def test_the_reference_ranks_first_and_nothing_ranks_last(data: RealsummData) -> None:
    references = {a.doc_id: a.reference for a in data.articles}
    best = run_realsumm(
        data, lambda doc, _: result_of(references[doc]), LexicalMatcher(), resamples=200
    )
    worst = run_realsumm(data, lambda _doc, _text: result_of(""), LexicalMatcher(), resamples=200)
    assert best.rank == 1 and best.recall > 0.5
    assert worst.rank == 26 and worst.recall == 0.0 and worst.systems == 25
    assert best.interval.low <= best.recall <= best.interval.high
    assert worst.versus["lead-5"].high < 0  # nothing is worse than the lead, surely
    assert {"lead-3", "lead-5"} <= set(best.versus)
    table = realsumm_table(best)
    assert "<- ours" in table and "rank 1 of 26" in table


def test_every_system_is_scored_at_the_same_length(data: RealsummData) -> None:
    """A system's uncut summary, given as ours, scores what it scores cut to 65 words only
    when it is that short; the ranking cuts everyone the same way."""
    system = "ext:bart_out"
    own = data.systems[system]
    report = run_realsumm(
        data, lambda doc, _: result_of(cut_words(own[doc], 65)), LexicalMatcher(), resamples=50
    )
    theirs = next(s for s in report.scores if s.system == system)
    assert report.recall == pytest.approx(theirs.recall)


def test_the_gate_fails_when_recall_falls_and_names_the_article(
    data: RealsummData, tmp_path: Path
) -> None:
    references = {a.doc_id: a.reference for a in data.articles}
    good = run_realsumm(data, lambda d, _: result_of(references[d]), LexicalMatcher(), resamples=20)
    written = gate_realsumm(good, tmp_path, update=True)
    assert written.written and written.path.is_file()
    assert gate_realsumm(good, tmp_path).passed
    first = data.articles[0].doc_id

    def worse(doc: str, _text: str) -> SummaryResult:
        return result_of("" if doc == first else references[doc])

    bad = run_realsumm(data, worse, LexicalMatcher(), resamples=20)
    gate = gate_realsumm(bad, tmp_path)
    assert not gate.passed and any(first in line for line in gate.problems)


def test_a_bad_line_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "articles.jsonl").write_text('{"doc_id": "x"}\n', encoding="utf-8")
    with pytest.raises(EvalError, match=r"articles.jsonl:1: "):
        load_realsumm(tmp_path)


@pytest.mark.slow
def test_cli_ranks_the_embedded_tier_and_gates_it(tmp_path: Path) -> None:
    args = ["eval", "--suite", "realsumm", "--articles", "3", "--backend", "local", "--no-cache",
            "--out", str(tmp_path / "out"), "--baselines", str(tmp_path / "baselines")]  # fmt: skip
    first = run_summarizer(*args, "--update-baseline")
    assert first.returncode == 0, first.stderr
    assert "baseline written" in first.stdout and "rank" in first.stdout
    report = json.loads((tmp_path / "out" / "realsumm.json").read_text(encoding="utf-8"))
    assert report["words"] == 65 and report["articles"] == 3
    assert all(a["words"] <= 65 for a in report["per_article"])
    again = run_summarizer(*args)
    assert again.returncode == 0 and "gate passed" in again.stdout
