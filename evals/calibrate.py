"""Measure how far each fact matcher agrees with people on REALSumm (dev half).

    .venv/bin/python evals/calibrate.py [--matcher overlap,lexical,learned,embedding]
                                        [--data ../shared/data/realsumm-dev] [--json out.json]

Prints one Markdown table row per matcher: balanced accuracy and F1 against the crowd's
`present` labels (2-fold cross-validation by document: the threshold is chosen on one half of
the documents and applied to the other), ROC AUC, and the Spearman correlation between the
matcher's and the people's mean fact recall for each of the 25 systems.

Data: REALSumm (Bhandari et al., EMNLP 2020, github.com/neulab/REALSumm), CC BY 4.0; cased
article text from github.com/neulab/BARTScore (Apache-2.0). See the data folder's README.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from summarizer.errors import SummarizerError
from summarizer.evaluation.calibration import (
    Agreement,
    JudgedPair,
    evaluate_matcher,
    judged_pairs,
    learned_agreement,
    load_judgements,
)
from summarizer.evaluation.matchers import build_matcher
from summarizer.evaluation.matchers.learned import LearnedMatcher

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "realsumm-dev"


def evaluate(name: str, pairs: list[JudgedPair]) -> Agreement:
    if name != "learned":
        return evaluate_matcher(name, build_matcher(name), pairs)
    # Weights and threshold are refitted inside each training fold; the all-data fit is what
    # learned.py ships, printed so it can be pasted there.
    rows = LearnedMatcher().feature_rows([(p.fact, p.summary) for p in pairs])
    result, model = learned_agreement(name, pairs, rows)
    coefficients = ", ".join(f"{c:.4f}" for c in model.coefficients)
    print(
        f"learned, fitted on all pairs: INTERCEPT = {model.intercept:.4f}, "
        f"COEFFICIENTS = ({coefficients}), DEFAULT_THRESHOLD = {result.threshold_all_data}",
        file=sys.stderr,
    )
    return result


def render(rows: list[tuple[Agreement, float]]) -> str:
    lines = [
        "| matcher | balanced acc. | F1 | ROC AUC | system Spearman "
        "| thresholds (fold 0, fold 1; all) | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for a, seconds in rows:
        lines.append(
            f"| {a.matcher} | {a.balanced_accuracy:.3f} | {a.f1:.3f} | {a.roc_auc:.3f} "
            f"| {a.system_spearman:.3f} | {a.fold_thresholds[0]:.2f}, {a.fold_thresholds[1]:.2f}; "
            f"{a.threshold_all_data:.2f} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--matcher", default="overlap,lexical", help="comma-separated names")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="realsumm-dev folder")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    try:
        pairs = judged_pairs(load_judgements(args.data))
        rows: list[tuple[Agreement, float]] = []
        for name in [n.strip() for n in args.matcher.split(",") if n.strip()]:
            started = time.perf_counter()
            result = evaluate(name, pairs)
            rows.append((result, time.perf_counter() - started))
            print(f"{name}: done in {rows[-1][1]:.0f} s", file=sys.stderr)
    except SummarizerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(pairs)} human judgements from {args.data}\n")
    print(render(rows))
    if args.json:
        args.json.write_text(
            json.dumps([a.model_dump() for a, _ in rows], indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
