"""Run an eval suite, write report.json / report.md, gate against the baseline, log the run.

    .venv/bin/python evals/run_suite.py --summaries DIR        # scored results you already have
    .venv/bin/python evals/run_suite.py --live                 # summarise now with your settings
        [--suite evals/seeds] [--matcher lexical] [--out out/eval]
        [--baselines evals/baselines] [--update-baseline] [--log evals/runs.jsonl]

`--summaries DIR` reads `DIR/<article-id>.json`, each a SummaryResult as the CLI's JSON output
writes it. `--live` builds the library's `Summarizer` from flags > environment > .env, the
same settings the CLI uses. Exit status: 0 when the gate passes (or there is no baseline yet),
1 on a regression or an error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from summarizer.errors import EvalError, SummarizerError
from summarizer.evaluation.dataset import load_model
from summarizer.evaluation.matchers import FactMatcher, LexicalMatcher, OverlapMatcher
from summarizer.evaluation.runner import (
    EvalRegression,
    append_run_log,
    baseline_from,
    baseline_path,
    check,
    load_baseline,
    run_suite,
    save_baseline,
)
from summarizer.schemas import SummaryResult

EVALS = Path(__file__).resolve().parent


def build_matcher(name: str) -> FactMatcher:
    if name == "lexical":
        return LexicalMatcher()
    if name == "overlap":
        return OverlapMatcher()
    if name == "embedding":
        from summarizer.evaluation.matchers.embedding import EmbeddingMatcher

        return EmbeddingMatcher()
    raise EvalError(f"unknown matcher {name!r}: choose lexical, overlap or embedding")


def from_directory(directory: Path) -> Callable[[Path], SummaryResult]:
    def summarize(article: Path) -> SummaryResult:
        return load_model(directory / f"{article.stem}.json", SummaryResult)

    return summarize


def live() -> Callable[[Path], SummaryResult]:
    # Deferred: building a backend reads settings and may load a model.
    from summarizer.config import load_settings
    from summarizer.service import Summarizer

    service = Summarizer(load_settings())
    return lambda article: service.summarize_path(str(article))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an eval suite and gate on its baseline.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--summaries", type=Path, help="folder of <article-id>.json results")
    source.add_argument("--live", action="store_true", help="summarise with current settings")
    parser.add_argument("--suite", type=Path, default=EVALS / "seeds")
    parser.add_argument("--matcher", default="lexical")
    parser.add_argument("--out", type=Path, default=Path("out") / "eval")
    parser.add_argument("--baselines", type=Path, default=EVALS / "baselines")
    parser.add_argument("--update-baseline", action="store_true")
    parser.add_argument("--log", type=Path, default=EVALS / "runs.jsonl")
    args = parser.parse_args(argv)
    try:
        summarize = from_directory(args.summaries) if args.summaries else live()
        report = run_suite(args.suite, summarize, build_matcher(args.matcher), out_dir=args.out)
        append_run_log(report, args.log)
        a = report.aggregate
        print(
            f"core recall {a.fact_recall_core:.0%}, all {a.fact_recall_all:.0%}, "
            f"unsupported specifics {a.unsupported_specifics}; report in {args.out}"
        )
        if report.model is None:
            raise EvalError("every article failed; see the report")
        path = baseline_path(
            args.baselines, report.suite_id, report.model.backend, report.model.name
        )
        if args.update_baseline:
            previous = load_baseline(path).tolerances if path.exists() else None
            save_baseline(baseline_from(report, tolerances=previous), path)
            print(f"baseline written: {path}")
            return 0
        if not path.exists():
            print(f"no baseline at {path}; run with --update-baseline to create one")
            return 0
        comparison = check(report, load_baseline(path), baseline_file=path)
        print("gate passed" + (f"\n{comparison.describe()}" if comparison.describe() else ""))
        return 0
    except EvalRegression as regression:
        print(str(regression), file=sys.stderr)
        return 1
    except SummarizerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
