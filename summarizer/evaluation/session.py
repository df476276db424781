"""One eval session end to end: score the suite, write the report, log the run, apply the gate.

This is what `summarizer eval` calls. The gate compares against the baseline for the run's
backend and model (or an explicit file) and passes with a note when no baseline exists yet;
`outcome.passed` is its verdict and `outcome.comparison` names every metric that fell,
every fact lost and every story item lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from summarizer.errors import EvalError
from summarizer.evaluation.gate import (
    Comparison,
    baseline_from,
    baseline_path,
    compare,
    load_baseline,
    save_baseline,
)
from summarizer.evaluation.matchers import FactMatcher
from summarizer.evaluation.runner import (
    EvalReport,
    StoryFn,
    SummarizeFn,
    append_run_log,
    run_suite,
    write_eval_report,
)


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
    story_fn: StoryFn | None = None,
    out_dir: Path,
    baselines_dir: Path | None = None,
    baseline_file: Path | None = None,
    update_baseline: bool = False,
    log_path: Path | None = None,
) -> EvalOutcome:
    """Run, report and compare with the baseline; `outcome.passed` is the gate's verdict.

    The baseline is `baseline_file`, else the one for the run's backend and model under
    `baselines_dir`; one of the two must be given. With `story_fn` the suite's story is built
    from the same per-article results, scored and gated too.
    """
    report = run_suite(suite_dir, summarize_fn, matcher, story_fn=story_fn)
    files = write_eval_report(report, out_dir)
    if log_path is not None:
        append_run_log(report, log_path)
    if report.model is None:
        raise EvalError(f"every article failed; see {files[1]}")
    if baseline_file is not None:
        path = baseline_file
    elif baselines_dir is not None:
        model = report.model
        path = baseline_path(baselines_dir, report.suite_id, model.backend, model.name)
    else:
        raise EvalError("no baseline to compare with: give a baseline file or a baselines folder")
    if update_baseline:
        previous = load_baseline(path).tolerances if path.exists() else None
        save_baseline(baseline_from(report, tolerances=previous), path)
        return EvalOutcome(report, files, path, None, baseline_written=True)
    if not path.exists():
        return EvalOutcome(report, files, None, None, baseline_written=False)
    comparison = compare(report, load_baseline(path))
    return EvalOutcome(report, files, path, comparison, baseline_written=False)
