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
import math
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
    return _agreement(name, pairs, predicted, scores, thresholds, best_threshold(scores, gold))


def learned_agreement(
    name: str, pairs: Sequence[JudgedPair], rows: Sequence[Sequence[float]]
) -> tuple[Agreement, LogisticModel]:
    """Cross-validated agreement of a logistic combination of `rows` (one feature row a pair).

    For each fold the weights *and* the threshold are fitted on the other fold only; the
    returned model is fitted on all pairs (what a matcher would ship).
    """
    if len(rows) != len(pairs):
        raise EvalError(f"{len(rows)} feature rows for {len(pairs)} pairs")
    gold = [p.human for p in pairs]
    folds = [fold_of(p.doc_id) for p in pairs]
    thresholds: list[float] = []
    predicted = [False] * len(pairs)
    held_out = [0.0] * len(pairs)
    for fold in (0, 1):
        train = [i for i, f in enumerate(folds) if f != fold]
        model = fit_logistic([rows[i] for i in train], [gold[i] for i in train])
        threshold = best_threshold([model.score(rows[i]) for i in train], [gold[i] for i in train])
        thresholds.append(threshold)
        for i, f in enumerate(folds):
            if f == fold:
                held_out[i] = model.score(rows[i])
                predicted[i] = held_out[i] >= threshold
    final = fit_logistic(rows, gold)
    threshold_all = best_threshold([final.score(r) for r in rows], gold)
    result = _agreement(name, pairs, predicted, held_out, thresholds, threshold_all)
    return result, final


def _agreement(
    name: str,
    pairs: Sequence[JudgedPair],
    predicted: Sequence[bool],
    scores: Sequence[float],
    thresholds: Sequence[float],
    threshold_all: float,
) -> Agreement:
    gold = [p.human for p in pairs]
    return Agreement(
        matcher=name,
        pairs=len(pairs),
        balanced_accuracy=round(balanced_accuracy(predicted, gold), 4),
        f1=round(f1_score(predicted, gold), 4),
        roc_auc=round(roc_auc(scores, gold), 4),
        system_spearman=round(_system_spearman(pairs, predicted), 4),
        fold_thresholds=(thresholds[0], thresholds[1]),
        threshold_all_data=threshold_all,
    )


# --- logistic regression, small enough for plain Python ------------------------------------


@dataclass(frozen=True)
class LogisticModel:
    coefficients: tuple[float, ...]
    intercept: float

    def score(self, row: Sequence[float]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.coefficients, row, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def fit_logistic(
    rows: Sequence[Sequence[float]], labels: Sequence[bool], *, l2: float = 1e-3, steps: int = 25
) -> LogisticModel:
    """L2-regularised logistic regression by Newton's method on standardised features.

    A handful of features and some thousand rows: exact Newton steps converge in a few
    iterations, with no numeric library needed at run time.
    """
    if not rows or len(rows) != len(labels):
        raise EvalError(f"{len(rows)} rows for {len(labels)} labels")
    n, k = len(rows), len(rows[0])
    means = [sum(r[j] for r in rows) / n for j in range(k)]
    scales = [(sum((r[j] - means[j]) ** 2 for r in rows) / n) ** 0.5 or 1.0 for j in range(k)]
    x = [[1.0, *((r[j] - means[j]) / scales[j] for j in range(k))] for r in rows]
    y = [1.0 if label else 0.0 for label in labels]
    w = [0.0] * (k + 1)
    for _ in range(steps):
        gradient = [l2 * w[j] if j else 0.0 for j in range(k + 1)]
        hessian = [[l2 if (a == b and a) else 0.0 for b in range(k + 1)] for a in range(k + 1)]
        for xi, yi in zip(x, y, strict=True):
            z = max(min(sum(a * b for a, b in zip(w, xi, strict=True)), 50.0), -50.0)
            p = 1.0 / (1.0 + math.exp(-z))
            weight = p * (1.0 - p) / n
            for a in range(k + 1):
                gradient[a] += (p - yi) * xi[a] / n
                row = hessian[a]
                xa = xi[a] * weight
                for b in range(a, k + 1):
                    row[b] += xa * xi[b]
        for a in range(k + 1):
            for b in range(a):
                hessian[a][b] = hessian[b][a]
        step = _solve(hessian, gradient)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    coefficients = tuple(w[j + 1] / scales[j] for j in range(k))
    intercept = w[0] - sum(c * m for c, m in zip(coefficients, means, strict=True))
    return LogisticModel(coefficients, intercept)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the matrix is small and well-conditioned)."""
    size = len(vector)
    a = [[*row, v] for row, v in zip(matrix, vector, strict=True)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            raise EvalError("logistic regression: singular system (a constant feature?)")
        for r in range(col + 1, size):
            factor = a[r][col] / a[col][col]
            for c in range(col, size + 1):
                a[r][c] -= factor * a[col][c]
    solution = [0.0] * size
    for r in range(size - 1, -1, -1):
        solution[r] = (a[r][size] - sum(a[r][c] * solution[c] for c in range(r + 1, size))) / a[r][
            r
        ]
    return solution


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
