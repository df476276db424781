"""One eval run end to end: score the suite, write reports, log the run, apply the gate.

This is what `summarizer eval` calls. The gate compares against the baseline for the run's
backend and model (or an explicit file), fails with `EvalRegression` naming every lost fact,
and passes with a note when no baseline exists yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from summarizer.errors import EvalError
from summarizer.evaluation.matchers import FactMatcher, LexicalMatcher, OverlapMatcher
from summarizer.evaluation.runner import (
    Comparison,
    EvalReport,
    SummarizeFn,
    append_run_log,
    baseline_from,
    baseline_path,
    compare,
    load_baseline,
    run_suite,
    save_baseline,
    write_report,
)

MATCHERS = ("lexical", "learned", "overlap", "embedding")


def build_matcher(name: str) -> FactMatcher:
    if name == "lexical":
        return LexicalMatcher()
    if name == "overlap":
        return OverlapMatcher()
    if name == "learned":
        from summarizer.evaluation.matchers.learned import LearnedMatcher

        return LearnedMatcher()
    if name == "embedding":
        from summarizer.evaluation.matchers.embedding import EmbeddingMatcher

        return EmbeddingMatcher()
    raise EvalError(f"unknown matcher {name!r}: choose one of {', '.join(MATCHERS)}")


@dataclass(frozen=True)
class EvalOutcome:
    report: EvalReport
    report_files: tuple[Path, Path]
    baseline_file: Path | None
    comparison: Comparison | None
    baseline_written: bool

    @property
    def passed(self) -> bool:
        return self.comparison is None or self.comparison.passed


def evaluate(
    suite_dir: Path,
    summarize_fn: SummarizeFn,
    matcher: FactMatcher,
    *,
    out_dir: Path,
    baselines_dir: Path,
    baseline_file: Path | None = None,
    update_baseline: bool = False,
    log_path: Path | None = None,
) -> EvalOutcome:
    """Run, report and compare with the baseline; `outcome.passed` is the gate's verdict."""
    report = run_suite(suite_dir, summarize_fn, matcher)
    files = write_report(report, out_dir)
    if log_path is not None:
        append_run_log(report, log_path)
    if report.model is None:
        raise EvalError(f"every article failed; see {files[1]}")
    path = baseline_file or baseline_path(
        baselines_dir, report.suite_id, report.model.backend, report.model.name
    )
    if update_baseline:
        previous = load_baseline(path).tolerances if path.exists() else None
        save_baseline(baseline_from(report, tolerances=previous), path)
        return EvalOutcome(report, files, path, None, baseline_written=True)
    if not path.exists():
        return EvalOutcome(report, files, None, None, baseline_written=False)
    comparison = compare(report, load_baseline(path))
    return EvalOutcome(report, files, path, comparison, baseline_written=False)
