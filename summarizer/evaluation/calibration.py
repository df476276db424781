"""How far a matcher agrees with people: REALSumm's human verdicts of "does this summary state
this fact?", scored with the matcher and compared.

Data (shared/data/realsumm-dev, see its README for origin and licence): Bhandari et al.,
"Re-evaluating Evaluation in Text Summarization", EMNLP 2020, github.com/neulab/REALSumm,
CC BY 4.0.

Honesty rules, because a threshold tuned on the data it is scored on flatters any matcher:

* documents are split in two folds by a hash of their id; the threshold that maximises balanced
  accuracy on one fold labels the other, and the reported accuracy and F1 are over these
  out-of-fold labels (2-fold cross-validation by document);
* ROC AUC needs no threshold and is computed over all pairs;
* the system-level Spearman correlation compares, for each of the 25 systems, the mean share of
  facts the matcher finds (out-of-fold labels) with the mean share people found.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer.errors import EvalError
from summarizer.evaluation.dataset import Fact, describe_validation_error
from summarizer.evaluation.matchers.base import FactMatcher

THRESHOLD_GRID = tuple(i / 100 for i in range(101))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScuJudgement(_Strict):
    scu_global_id: int
    scu: str
    present_votes: int = Field(ge=0)
    n_votes: int = Field(ge=1)
    present: Literal[0, 1]


class JudgedSummary(_Strict):
    doc_id: str
    system: str
    summary: str
    scus: list[ScuJudgement]
    scu_recall: float


def load_judgements(directory: Path) -> list[JudgedSummary]:
    """Read `scu_presence.jsonl`; a bad line raises EvalError with its line number."""
    path = directory / "scu_presence.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise EvalError(f"{path}: cannot read: {error.strerror}") from None
    rows: list[JudgedSummary] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(JudgedSummary.model_validate(json.loads(line)))
        except json.JSONDecodeError as error:
            raise EvalError(f"{path}:{number}: not valid JSON: {error.msg}") from None
        except ValidationError as error:
            raise EvalError(f"{path}:{number}: {describe_validation_error(error)}") from None
    if not rows:
        raise EvalError(f"{path}: no judgements")
    return rows


@dataclass(frozen=True)
class JudgedPair:
    doc_id: str
    system: str
    fact: Fact
    summary: str
    human: bool


def judged_pairs(rows: Sequence[JudgedSummary]) -> list[JudgedPair]:
    return [
        JudgedPair(
            doc_id=row.doc_id,
            system=row.system,
            fact=Fact(id=f"scu-{scu.scu_global_id}", text=scu.scu),
            summary=row.summary,
            human=bool(scu.present),
        )
        for row in rows
        for scu in row.scus
    ]


# --- agreement statistics ------------------------------------------------------------------


def balanced_accuracy(predicted: Sequence[bool], gold: Sequence[bool]) -> float:
    """Mean of the recall on positives and on negatives; 0.5 is chance whatever the balance."""
    tp = sum(p and g for p, g in zip(predicted, gold, strict=True))
    tn = sum(not p and not g for p, g in zip(predicted, gold, strict=True))
    positives = sum(gold)
    negatives = len(gold) - positives
    if positives == 0 or negatives == 0:
        raise EvalError("balanced accuracy needs both positive and negative labels")
    return (tp / positives + tn / negatives) / 2


def f1_score(predicted: Sequence[bool], gold: Sequence[bool]) -> float:
    tp = sum(p and g for p, g in zip(predicted, gold, strict=True))
    fp = sum(p and not g for p, g in zip(predicted, gold, strict=True))
    fn = sum(g and not p for p, g in zip(predicted, gold, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def roc_auc(scores: Sequence[float], gold: Sequence[bool]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    ranks = _ranks(scores)
    positives = sum(gold)
    negatives = len(gold) - positives
    if positives == 0 or negatives == 0:
        raise EvalError("ROC AUC needs both positive and negative labels")
    rank_sum = sum(r for r, g in zip(ranks, gold, strict=True) if g)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson correlation of the ranks (ties get their average rank)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise EvalError("spearman needs two equally long sequences of at least two values")
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5 if vx and vy else 0.0


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def best_threshold(scores: Sequence[float], gold: Sequence[bool]) -> float:
    """The grid threshold with the best balanced accuracy (the lowest one on ties)."""
    best, best_value = THRESHOLD_GRID[0], -1.0
    for threshold in THRESHOLD_GRID:
        value = balanced_accuracy([s >= threshold for s in scores], gold)
        if value > best_value:
            best, best_value = threshold, value
    return best


# --- the report ----------------------------------------------------------------------------


class Agreement(_Strict):
    matcher: str
    pairs: int
    balanced_accuracy: float
    f1: float
    roc_auc: float
    system_spearman: float
    fold_thresholds: tuple[float, float]
    threshold_all_data: float


def fold_of(doc_id: str) -> int:
    """A stable split: the same document is always in the same fold, whatever the file order."""
    return hashlib.sha256(doc_id.encode("utf-8")).digest()[0] % 2


def agreement(name: str, pairs: Sequence[JudgedPair], scores: Sequence[float]) -> Agreement:
    """Cross-validated agreement of `scores` (one per pair) with the human labels."""
    if len(scores) != len(pairs):
        raise EvalError(f"{len(scores)} scores for {len(pairs)} pairs")
    gold = [p.human for p in pairs]
    folds = [fold_of(p.doc_id) for p in pairs]
    thresholds: list[float] = []
    predicted = [False] * len(pairs)
    for fold in (0, 1):
        train = [i for i, f in enumerate(folds) if f != fold]
        threshold = best_threshold([scores[i] for i in train], [gold[i] for i in train])
        thresholds.append(threshold)
        for i, f in enumerate(folds):
            if f == fold:
                predicted[i] = scores[i] >= threshold
    return Agreement(
        matcher=name,
        pairs=len(pairs),
        balanced_accuracy=round(balanced_accuracy(predicted, gold), 4),
        f1=round(f1_score(predicted, gold), 4),
        roc_auc=round(roc_auc(scores, gold), 4),
        system_spearman=round(_system_spearman(pairs, predicted), 4),
        fold_thresholds=(thresholds[0], thresholds[1]),
        threshold_all_data=best_threshold(scores, gold),
    )


def _system_spearman(pairs: Sequence[JudgedPair], predicted: Sequence[bool]) -> float:
    # Recall per summary first, then the mean per system, as REALSumm computes its scores.
    per_summary: dict[tuple[str, str], list[tuple[bool, bool]]] = defaultdict(list)
    for pair, guess in zip(pairs, predicted, strict=True):
        per_summary[(pair.system, pair.doc_id)].append((guess, pair.human))
    machine: dict[str, list[float]] = defaultdict(list)
    human: dict[str, list[float]] = defaultdict(list)
    for (system, _), labels in per_summary.items():
        machine[system].append(sum(g for g, _ in labels) / len(labels))
        human[system].append(sum(h for _, h in labels) / len(labels))
    systems = sorted(machine)
    return spearman(
        [sum(machine[s]) / len(machine[s]) for s in systems],
        [sum(human[s]) / len(human[s]) for s in systems],
    )


def evaluate_matcher(name: str, matcher: FactMatcher, pairs: Sequence[JudgedPair]) -> Agreement:
    results = matcher.match_many([(p.fact, p.summary) for p in pairs])
    return agreement(name, pairs, [r.score for r in results])
