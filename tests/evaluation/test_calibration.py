from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarizer.errors import EvalError
from summarizer.evaluation.calibration import (
    JudgedPair,
    agreement,
    balanced_accuracy,
    best_threshold,
    f1_score,
    fit_logistic,
    fold_of,
    judged_pairs,
    learned_agreement,
    load_judgements,
    roc_auc,
    spearman,
)
from summarizer.evaluation.matchers import build_matcher
from tests.evaluation.builders import fact

# Four articles of REALSumm's dev half, unchanged (see its README for origin and licence).
REALSUMM_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "realsumm-dev-sample"


def test_balanced_accuracy_ignores_class_imbalance() -> None:
    gold = [True] + [False] * 9
    always_no = [False] * 10
    assert balanced_accuracy(always_no, gold) == 0.5
    assert balanced_accuracy(gold, gold) == 1.0
    assert balanced_accuracy([True, True] + [False] * 8, gold) == pytest.approx((1 + 8 / 9) / 2)


def test_f1() -> None:
    assert f1_score([True, True, False, False], [True, False, True, False]) == 0.5
    assert f1_score([False, False], [True, False]) == 0.0


def test_roc_auc_counts_ties_as_half() -> None:
    assert roc_auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.1, 0.9], [True, False]) == 0.0


def test_spearman_uses_ranks() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [1, 1, 2]) == pytest.approx(1.0)
    with pytest.raises(EvalError):
        spearman([1], [1])


def test_best_threshold_maximises_balanced_accuracy() -> None:
    scores = [0.1, 0.2, 0.35, 0.7, 0.8]
    gold = [False, False, False, True, True]
    assert 0.35 < best_threshold(scores, gold) <= 0.7


def pairs_for(doc_ids: list[str]) -> list[JudgedPair]:
    return [
        JudgedPair(
            doc_id=d, system=f"sys{i % 3}", fact=fact("a fact"), summary="s", human=i % 2 == 0
        )
        for i, d in enumerate(doc_ids)
    ]


def test_agreement_chooses_each_folds_threshold_on_the_other_fold() -> None:
    docs = [f"doc{i}" for i in range(40)]
    assert {fold_of(d) for d in docs} == {0, 1}
    pairs = pairs_for(docs)
    # Separable in fold 0 at 0.3 and in fold 1 at 0.7: each fold's threshold, learnt on the
    # other, misplaces some of its pairs, so cross-validated accuracy is below 1.
    scores = [
        (0.4 if p.human else 0.2) if fold_of(p.doc_id) == 0 else (0.8 if p.human else 0.6)
        for p in pairs
    ]
    result = agreement("toy", pairs, scores)
    assert result.fold_thresholds[0] > 0.6 and result.fold_thresholds[1] <= 0.4
    assert result.balanced_accuracy < 1.0
    assert result.roc_auc < 1.0
    assert result.pairs == 40


def test_agreement_is_perfect_for_a_perfect_scorer() -> None:
    pairs = pairs_for([f"doc{i}" for i in range(40)])
    result = agreement("oracle", pairs, [1.0 if p.human else 0.0 for p in pairs])
    assert result.balanced_accuracy == 1.0 and result.f1 == 1.0 and result.roc_auc == 1.0


def test_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    def row(present: int) -> dict[str, object]:
        scu = {"scu_global_id": 1, "scu": "A fact.", "present_votes": 2, "n_votes": 3}
        return {
            "doc_id": "d1",
            "system": "s",
            "summary": "text",
            "scus": [{**scu, "present": present}],
            "scu_recall": 1.0,
        }

    good, bad = row(1), row(2)
    (tmp_path / "scu_presence.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8"
    )
    with pytest.raises(EvalError, match=r"scu_presence\.jsonl:2: scus\[0\]\.present"):
        load_judgements(tmp_path)


def test_realsumm_sample_loads_with_its_documented_shape() -> None:
    rows = load_judgements(REALSUMM_SAMPLE)
    systems: dict[str, set[str]] = {}
    for row in rows:
        systems.setdefault(row.doc_id, set()).add(row.system)
        # The file's recall is the share of SCUs people marked present.
        assert row.scu_recall == pytest.approx(sum(s.present for s in row.scus) / len(row.scus))
    assert len(rows) == 100
    assert len(set().union(*systems.values())) == 25
    assert all(len(s) == 25 for s in systems.values())  # every system summarised every article
    assert {fold_of(doc) for doc in systems} == {0, 1}
    assert len(judged_pairs(rows)) == 675


@pytest.mark.parametrize("name", ["overlap", "lexical", "learned"])
def test_shipped_matchers_agree_with_people_on_real_judgements(name: str) -> None:
    # Four articles are too few to rank the matchers (docs/evaluation.md has the full-data
    # numbers), but enough to catch a broken threshold, stemmer or typography rule: each
    # matcher scores about 0.77 balanced accuracy at its shipped threshold here.
    pairs = judged_pairs(load_judgements(REALSUMM_SAMPLE))
    gold = [p.human for p in pairs]
    results = build_matcher(name).match_many([(p.fact, p.summary) for p in pairs])
    assert balanced_accuracy([r.present for r in results], gold) >= 0.75
    assert roc_auc([r.score for r in results], gold) >= 0.8


def test_fit_logistic_recovers_the_direction_of_a_signal() -> None:
    rows = [[x / 20, x % 2] for x in range(40)]
    # The first feature decides, up to a few flipped labels; the second is noise.
    labels = [(x >= 20) != (x in {5, 6, 33, 34}) for x in range(40)]
    model = fit_logistic(rows, labels)
    assert model.coefficients[0] > 2 * abs(model.coefficients[1])
    assert model.score([1.9, 0.5]) > 0.9 > 0.1 > model.score([0.1, 0.5])


def test_learned_agreement_fits_weights_and_threshold_on_the_other_fold() -> None:
    pairs = pairs_for([f"doc{i}" for i in range(40)])
    # The signal points one way in fold 0 and the other way in fold 1: weights learnt on
    # one fold are wrong on the other, so held-out agreement must be poor.
    rows = [
        [(1.0 if p.human else 0.0) if fold_of(p.doc_id) == 0 else (0.0 if p.human else 1.0)]
        for p in pairs
    ]
    result, _ = learned_agreement("flip", pairs, rows)
    assert result.balanced_accuracy < 0.2
    consistent = [[1.0 if p.human else 0.0] for p in pairs]
    good, model = learned_agreement("same", pairs, consistent)
    assert good.balanced_accuracy == 1.0 and model.coefficients[0] > 0
