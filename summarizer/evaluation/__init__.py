"""The eval harness: labelled facts, fact matchers, metrics, calibration, and the gate.

    dataset      eval files (suite, facts, story) as validated models; `load_suite`
    matchers     FactMatcher protocol; overlap (baseline), lexical (default), embedding, judge
    metrics      pure scores for one result: fact recall, claim support, specifics, length
    story_metrics  pure scores for one story against story.json: support pairs, variants,
                 disagreements, single-source facts, the acceptance checks
    calibration  agreement of a matcher with human judgements (REALSumm)
    runner       run a suite, write its report, append to the run log
    gate         baselines per backend and model; compare a run with one; EvalRegression
    session      one `summarizer eval` run end to end: score, report, log, gate

Heavy or optional dependencies (torch for the embedding matcher, a backend for the judge) are
imported only by the submodules that need them, never by `import summarizer.evaluation`.
"""

from __future__ import annotations

from summarizer.evaluation.dataset import (
    ArticleFacts,
    Fact,
    LabelledSuite,
    Story,
    Suite,
    load_facts,
    load_suite,
)
from summarizer.evaluation.gate import (
    Baseline,
    Comparison,
    EvalRegression,
    baseline_from,
    baseline_path,
    check,
    compare,
    load_baseline,
    save_baseline,
)
from summarizer.evaluation.matchers import (
    FactMatcher,
    LexicalMatcher,
    MatcherInfo,
    MatchResult,
    OverlapMatcher,
)
from summarizer.evaluation.metrics import ArticleMetrics, article_metrics, matched_text
from summarizer.evaluation.runner import (
    EvalReport,
    append_run_log,
    run_suite,
    write_eval_report,
)
from summarizer.evaluation.story_metrics import StoryMetrics, story_metrics

__all__ = [
    "ArticleFacts",
    "ArticleMetrics",
    "Baseline",
    "Comparison",
    "EvalRegression",
    "EvalReport",
    "Fact",
    "FactMatcher",
    "LabelledSuite",
    "LexicalMatcher",
    "MatchResult",
    "MatcherInfo",
    "OverlapMatcher",
    "Story",
    "StoryMetrics",
    "Suite",
    "append_run_log",
    "article_metrics",
    "baseline_from",
    "baseline_path",
    "check",
    "compare",
    "load_baseline",
    "load_facts",
    "load_suite",
    "matched_text",
    "run_suite",
    "save_baseline",
    "story_metrics",
    "write_eval_report",
]
