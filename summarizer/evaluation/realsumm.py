"""The REALSumm suite: our summaries against 25 published systems, at the same length.

    load_realsumm(directory) -> RealsummData       articles, people's facts, the systems' summaries
    run_realsumm(data, summarize_fn, matcher, words=65) -> RealsummReport
    realsumm_table(report) -> str                  the ranking, printed by `summarizer eval`
    gate_realsumm(report, baselines_dir, ...)      our recall per backend and model, like the seeds

Each article's facts are REALSumm's SCUs, written by people from the reference highlights. A
summary's score is the share of its article's facts that the calibrated lexical matcher finds in
it. Everyone gets the same length: the 25 systems' summaries and the lead baselines (the first
3 or 5 sentences) are cut after `words` words (`selection.count_words`), mid-sentence where
that falls; ours are made for the same budget and are whole sentences. Our rank is 1 + the
number of systems whose mean recall is higher than ours; the interval is a percentile
bootstrap over articles (resampled with a fixed seed, so a rerun prints the same figures).

Data (evals/realsumm, see its README): Bhandari et al., "Re-evaluating Evaluation in Text
Summarization", EMNLP 2020, github.com/neulab/REALSumm, CC BY 4.0; cased article text from
github.com/neulab/BARTScore (Apache-2.0).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from summarizer.errors import EvalError
from summarizer.evaluation.calibration import load_judgements
from summarizer.evaluation.dataset import Fact, describe_validation_error, load_model
from summarizer.evaluation.gate import baseline_path
from summarizer.evaluation.matchers.base import FactMatcher, MatcherInfo
from summarizer.schemas import ModelRef, SummaryResult

SUITE_ID = "realsumm"
DEFAULT_WORDS = 65  # the median length of the 25 systems' summaries
LEAD_BASELINES = {"lead-3": 3, "lead-5": 5}
BOOTSTRAP_RESAMPLES = 1000
# Our recall may not fall at all: the embedded tier is deterministic.
RECALL_TOLERANCE = 0.0

_WORD = re.compile(r"\S*[^\W_]\S*")

SummarizeText = Callable[[str, str], SummaryResult]  # (doc_id, article text) -> result


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RealsummArticle(_Strict):
    doc_id: str
    source: str
    reference: str


@dataclass(frozen=True)
class RealsummData:
    articles: list[RealsummArticle]
    facts: dict[str, list[Fact]]  # doc_id -> its SCUs
    systems: dict[str, dict[str, str]]  # system -> doc_id -> summary


def load_realsumm(directory: Path, *, limit: int | None = None) -> RealsummData:
    """Read `articles.jsonl` and `scu_presence.jsonl`; `limit` keeps the first N articles."""
    path = directory / "articles.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise EvalError(f"{path}: cannot read: {error.strerror}") from None
    articles: list[RealsummArticle] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            articles.append(RealsummArticle.model_validate(json.loads(line)))
        except json.JSONDecodeError as error:
            raise EvalError(f"{path}:{number}: not valid JSON: {error.msg}") from None
        except ValidationError as error:
            raise EvalError(f"{path}:{number}: {describe_validation_error(error)}") from None
    articles = articles[:limit] if limit is not None else articles
    wanted = {a.doc_id for a in articles}
    facts: dict[str, list[Fact]] = {}
    systems: dict[str, dict[str, str]] = {}
    for row in load_judgements(directory):
        if row.doc_id not in wanted:
            continue
        facts.setdefault(
            row.doc_id, [Fact(id=f"scu-{s.scu_global_id}", text=s.scu) for s in row.scus]
        )
        systems.setdefault(row.system, {})[row.doc_id] = row.summary
    missing = sorted(wanted - facts.keys())
    if missing:
        raise EvalError(f"{directory}: no facts for article(s) {', '.join(missing)}")
    return RealsummData(articles=articles, facts=facts, systems=systems)


def cut_words(text: str, words: int) -> str:
    """`text` up to and including its `words`-th word (punctuation-only tokens are not words)."""
    matches = list(_WORD.finditer(text))
    return text if len(matches) <= words else text[: matches[words - 1].end()]


def lead(text: str, sentences: int) -> str:
    """The first `sentences` sentences, split as the pipeline splits them."""
    from summarizer.chunking import split_sentences
    from summarizer.tokens import TokenCounter

    split = split_sentences(text, TokenCounter.for_model("gpt-4o-mini"), 10**6)
    return " ".join(s.text for s in split[:sentences])


# --- the report ------------------------------------------------------------------------------


class Interval(_Strict):
    low: float
    high: float


class SystemScore(_Strict):
    system: str
    recall: float
    interval: Interval


class ArticleScore(_Strict):
    doc_id: str
    recall: float | None
    words: int | None
    error: str | None = None


class RealsummReport(_Strict):
    suite_id: str = SUITE_ID
    words: int
    articles: int
    failed_articles: int
    model: ModelRef | None
    matcher: MatcherInfo
    recall: float
    interval: Interval
    rank: int
    systems: int
    # Paired bootstrap intervals of (ours - theirs) over articles.
    versus: dict[str, Interval]
    scores: list[SystemScore]  # everyone, ours included as "ours", best first
    per_article: list[ArticleScore]


def run_realsumm(
    data: RealsummData,
    summarize_fn: SummarizeText,
    matcher: FactMatcher,
    *,
    words: int = DEFAULT_WORDS,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> RealsummReport:
    """Summarise every article for `words` words and rank the result among the systems'."""
    from summarizer.errors import SummarizerError
    from summarizer.selection import count_words

    doc_ids = [a.doc_id for a in data.articles]
    per_article: list[ArticleScore] = []
    ours: list[float] = []
    model: ModelRef | None = None
    for article in data.articles:
        try:
            result = summarize_fn(article.doc_id, article.source)
        except SummarizerError as error:
            per_article.append(ArticleScore(doc_id=article.doc_id, recall=None, words=None,
                                            error=str(error)))  # fmt: skip
            ours.append(0.0)  # a failed article states no fact
            continue
        model = model or result.model
        text = result.summary.text
        recall = _recall(matcher, data.facts[article.doc_id], text)
        per_article.append(ArticleScore(doc_id=article.doc_id, recall=recall,
                                        words=count_words(text)))  # fmt: skip
        ours.append(recall)
    columns: dict[str, list[float]] = {"ours": ours}
    for name, count in LEAD_BASELINES.items():
        columns[name] = [
            _recall(matcher, data.facts[a.doc_id], cut_words(lead(a.source, count), words))
            for a in data.articles
        ]
    for system, summaries in sorted(data.systems.items()):
        columns[system] = [
            _recall(matcher, data.facts[d], cut_words(summaries.get(d, ""), words)) for d in doc_ids
        ]
    rng = random.Random(0)
    samples = [[rng.randrange(len(doc_ids)) for _ in doc_ids] for _ in range(resamples)]
    scores = sorted(
        (
            SystemScore(system=name, recall=_mean(values), interval=_interval(values, samples))
            for name, values in columns.items()
        ),
        key=lambda s: (-s.recall, s.system),
    )
    mine = _mean(ours)
    published = [s for s in scores if s.system in data.systems]
    best = published[0].system if published else None
    rivals = [*LEAD_BASELINES, *([best] if best else [])]
    return RealsummReport(
        words=words,
        articles=len(doc_ids),
        failed_articles=sum(a.error is not None for a in per_article),
        model=model,
        matcher=matcher.info,
        recall=mine,
        interval=_interval(ours, samples),
        rank=1 + sum(s.recall > mine for s in published),
        systems=len(published),
        versus={
            name: _interval([o - t for o, t in zip(ours, columns[name], strict=True)], samples)
            for name in rivals
        },
        scores=scores,
        per_article=per_article,
    )


def _recall(matcher: FactMatcher, facts: Sequence[Fact], text: str) -> float:
    if not facts:
        return 0.0
    results = matcher.match_many([(fact, text) for fact in facts])
    return sum(r.present for r in results) / len(facts)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _interval(values: Sequence[float], samples: Sequence[Sequence[int]]) -> Interval:
    """The 2.5th and 97.5th percentiles of the mean over resampled articles."""
    means = sorted(_mean([values[i] for i in sample]) for sample in samples)
    if not means:
        return Interval(low=_mean(values), high=_mean(values))
    return Interval(low=means[int(0.025 * len(means))], high=means[int(0.975 * len(means)) - 1])


def realsumm_table(report: RealsummReport) -> str:
    """Everyone's mean fact recall at the same length, best first, ours marked."""
    lines = [
        f"REALSumm, {report.articles} articles, every summary at most {report.words} words "
        f"(matcher: {report.matcher.name} @ {report.matcher.threshold})",
        "rank | system | fact recall | 95% interval",
    ]
    rank = 0
    for score in report.scores:
        mark = ""
        if score.system in ("ours", *LEAD_BASELINES):
            mark = "  <- ours" if score.system == "ours" else ""
            shown = "-"
        else:
            rank += 1
            shown = str(rank)
        lines.append(
            f"{shown} | {score.system} | {score.recall:.3f} | "
            f"{score.interval.low:.3f}-{score.interval.high:.3f}{mark}"
        )
    lines.append(
        f"ours: {report.recall:.3f} ({report.interval.low:.3f}-{report.interval.high:.3f}), "
        f"rank {report.rank} of {report.systems + 1} among the published systems"
    )
    for name, diff in report.versus.items():
        lines.append(f"ours - {name}: 95% interval {diff.low:+.3f} to {diff.high:+.3f}")
    if report.failed_articles:
        lines.append(f"failed articles: {report.failed_articles} (scored as no fact stated)")
    return "\n".join(lines)


# --- the gate --------------------------------------------------------------------------------


class RealsummBaseline(_Strict):
    suite_id: str = SUITE_ID
    backend: str
    model: str
    matcher: MatcherInfo
    words: int
    articles: int
    recall: float
    tolerance: float = RECALL_TOLERANCE
    per_article: dict[str, float]


@dataclass(frozen=True)
class RealsummGate:
    path: Path
    baseline: RealsummBaseline | None  # None: none yet for this backend and model
    written: bool
    problems: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems


def gate_realsumm(
    report: RealsummReport, baselines_dir: Path, *, update: bool = False
) -> RealsummGate:
    """Compare our recall with the baseline of this backend, model, length and subset."""
    if report.model is None:
        raise EvalError("every REALSumm article failed")
    suite = f"{SUITE_ID}-{report.words}w-{report.articles}"
    path = baseline_path(baselines_dir, suite, report.model.backend, report.model.name)
    current = {a.doc_id: a.recall or 0.0 for a in report.per_article}
    if update:
        baseline = RealsummBaseline(
            backend=report.model.backend, model=report.model.name, matcher=report.matcher,
            words=report.words, articles=report.articles, recall=report.recall,
            per_article=current,
        )  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(baseline.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return RealsummGate(path, baseline, written=True, problems=[])
    if not path.exists():
        return RealsummGate(path, None, written=False, problems=[])
    baseline = load_model(path, RealsummBaseline)
    problems: list[str] = []
    if baseline.matcher != report.matcher:
        problems.append(f"the baseline was scored with {baseline.matcher}, not {report.matcher}")
    if report.recall < baseline.recall - baseline.tolerance:
        problems.append(f"fact recall {report.recall:.4f} < baseline {baseline.recall:.4f}")
        problems.extend(
            f"  {doc}: {current.get(doc, 0.0):.3f} (was {was:.3f})"
            for doc, was in baseline.per_article.items()
            if current.get(doc, 0.0) < was
        )
    return RealsummGate(path, baseline, written=False, problems=problems)
