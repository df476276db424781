"""Measure how far each claim-support checker agrees with people on SummEdits (news, dev half).

    .venv/bin/python evals/calibrate_support.py [--method lexical,embedding,combined,judge]
                                                [--data evals/summedits] [--fit]
                                                [--model qwen2.5-coder-1.5b] [--items N]

Prints one Markdown table row per method: balanced accuracy, F1 (of the "consistent" class,
and of the "inconsistent" one) and ROC AUC against the human labels, pooled over a
leave-one-article-out cross-validation: weights are fitted on the other 12 articles and
applied to the held-out one, so no article is scored by weights that saw it. `--fit` also
prints the weights fitted on all 13 articles, which `summarizer/support/checker.py` ships.

How a SummEdits item becomes claims and evidence: each (article, summary) pair is one item;
each sentence of the summary is one claim, and its evidence is the article sentences that best
cover the item's *seed* summary (`original_summary`, the consistent one that the edits were made
from; greedily, by shared content words, up to three). That stands in for the sentences a model
would cite: an edited summary keeps its seed's citation, as a model's wrong claim keeps the ids
it cited. (Choosing evidence for the edited summary itself finds the swapped-in name elsewhere
in the article and hides the error.) An item is scored by its worst claim (a summary is
consistent only if every sentence is).

Data: SummEdits (Laban et al., EMNLP 2023, github.com/salesforce/factualNLG), news domain,
development half, Apache-2.0; see evals/summedits/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from summarizer.evaluation.calibration import balanced_accuracy, f1_score, fit_logistic, roc_auc
from summarizer.llm.embedder import Embedder, EmbedderIdentity, Vector
from summarizer.support.checker import (
    COMBINED_FEATURES,
    LEXICAL_FEATURES,
    THRESHOLD,
    Weights,
    feature_vector,
)
from summarizer.support.signals import Signals, lexical_signals, with_similarity
from summarizer.text import content_tokens, split_sentences

DEFAULT_DATA = Path(__file__).resolve().parent / "summedits"
MAX_EVIDENCE = 3


@dataclass(frozen=True)
class Item:
    article: int
    label: bool
    claims: tuple[tuple[str, str], ...]  # (claim, evidence)
    edits: tuple[str, ...] = ()


def load(path: Path, articles: int | None) -> list[Item]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    doc_ids: dict[str, int] = {}
    sentences: dict[int, list[str]] = {}
    items = []
    for row in rows:
        article = doc_ids.setdefault(row["doc"], len(doc_ids))
        if articles is not None and article >= articles:
            continue
        if article not in sentences:
            sentences[article] = split_sentences(row["doc"])
        # The sentences the seed summary was drawn from: what a model that wrote it would cite.
        # An edit keeps that citation, as a model's wrong claim keeps its ids.
        seed = row.get("original_summary") or row["summary"]
        evidence = " ".join(best_evidence(seed, sentences[article]))
        claims = tuple(
            (claim, evidence) for claim in split_sentences(row["summary"]) or [row["summary"]]
        )
        edits = tuple(row.get("edit_types") or ())
        items.append(Item(article=article, label=row["label"] == 1, claims=claims, edits=edits))
    return items


def best_evidence(claim: str, sentences: Sequence[str]) -> list[str]:
    """Up to MAX_EVIDENCE sentences, each chosen for the most claim words not yet covered."""
    wanted = {t.norm for t in content_tokens(claim)}
    words = [{t.norm for t in content_tokens(s)} for s in sentences]
    chosen: list[int] = []
    covered: set[str] = set()
    for _ in range(MAX_EVIDENCE):
        gains = [(len((wanted - covered) & w), -i) for i, w in enumerate(words) if i not in chosen]
        if not gains:
            break
        gain, negative_index = max(gains)
        if gain == 0 and chosen:
            break
        chosen.append(-negative_index)
        covered |= words[-negative_index] & wanted
    return [sentences[i] for i in sorted(chosen)]


def worst(signals: Sequence[Signals]) -> Signals:
    """The item's signals: each one at its worst over the item's claims."""
    similarities = [s.similarity for s in signals if s.similarity is not None]
    return Signals(
        coverage=min(s.coverage for s in signals),
        missing_numbers=max(s.missing_numbers for s in signals),
        missing_entities=max(s.missing_entities for s in signals),
        negation_differs=max(s.negation_differs for s in signals),
        similarity=min(similarities) if similarities else None,
    )


class MemoEmbedder:
    """The embedder with each distinct text embedded once: the edits of one seed summary share
    most of their evidence sentences."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.vectors: dict[str, Vector] = {}

    @property
    def identity(self) -> EmbedderIdentity:
        return self.inner.identity

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        self.vectors.update(zip(new, self.inner.embed(new), strict=True))
        return [self.vectors[t] for t in texts]


@dataclass(frozen=True)
class Row:
    method: str
    balanced_accuracy: float
    f1_consistent: float
    f1_inconsistent: float
    auc: float
    seconds: float
    caught: dict[str, float]


def cross_validate(
    items: Sequence[Item],
    signals: Sequence[Signals],
    features: tuple[str, ...],
    *,
    any_sign: bool = False,
) -> tuple[list[float], list[bool]]:
    """Out-of-fold scores: for each article, weights fitted on the other articles."""
    scores = [0.0] * len(items)
    for article in sorted({i.article for i in items}):
        train = [k for k, i in enumerate(items) if i.article != article]
        weights = balanced_fit(
            [signals[k] for k in train],
            [items[k].label for k in train],
            features,
            any_sign=any_sign,
        )
        for k, item in enumerate(items):
            if item.article == article:
                scores[k] = weights.score(signals[k])
    return scores, [s >= THRESHOLD for s in scores]


# +1: the signal speaks for the claim; -1: against it.
SIGNS = {
    "coverage": 1,
    "similarity": 1,
    "missing_numbers": -1,
    "missing_entities": -1,
    "negation_differs": -1,
}


def balanced_fit(
    signals: Sequence[Signals],
    labels: Sequence[bool],
    features: tuple[str, ...],
    *,
    any_sign: bool = False,
) -> Weights:
    """Logistic regression with its intercept moved to equal class priors, so 0.5 is the
    boundary that weighs a missed error and a false alarm alike (balanced accuracy). Scored by
    the checker's own `Weights.score` (coverage floor included).

    Each weight must point the way its signal does (more coverage or similarity never counts
    against a claim, a missing number never for it); a feature fitted the other way is left out
    and the rest refitted. SummEdits' inconsistent summaries are minimal edits while its
    consistent ones are often paraphrases, so there coverage is slightly *higher* for the
    inconsistent ones; a checker that rewarded words the evidence lacks would be wrong on a
    model's own claims.
    """
    rows = [feature_vector(s, features) for s in signals]
    kept = list(range(len(features)))
    while True:
        model = fit_logistic([[r[j] for j in kept] for r in rows], labels)
        wrong = [
            j for j, c in zip(kept, model.coefficients, strict=True) if c * SIGNS[features[j]] < 0
        ]
        if any_sign or not wrong or len(kept) == 1:
            break
        kept = [j for j in kept if j not in wrong]
    coefficients = [0.0] * len(features)
    for j, c in zip(kept, model.coefficients, strict=True):
        coefficients[j] = c
    positives = sum(labels)
    shift = math.log((len(labels) - positives) / positives)
    return Weights(
        bias=model.intercept + shift, coefficients=tuple(coefficients), features=features
    )


def agreement(
    method: str,
    scores: Sequence[float],
    predicted: Sequence[bool],
    gold: Sequence[bool],
    seconds: float,
    items: Sequence[Item],
) -> Row:
    # Of the inconsistent items with each kind of edit, the share flagged unsupported.
    caught: dict[str, float] = {}
    for kind in sorted({e for i in items for e in i.edits}):
        flags = [
            not p for p, i in zip(predicted, items, strict=True) if not i.label and kind in i.edits
        ]
        caught[kind] = sum(flags) / len(flags)
    return Row(
        method=method,
        balanced_accuracy=balanced_accuracy(predicted, gold),
        f1_consistent=f1_score(predicted, gold),
        f1_inconsistent=f1_score([not p for p in predicted], [not g for g in gold]),
        auc=roc_auc(scores, gold),
        seconds=seconds,
        caught=caught,
    )


def judge_scores(items: Sequence[Item], model: str) -> list[float]:
    """The backend's model as judge (`--check-claims judge`), every claim of every item in
    the service's batches, through its cached call layer; an item scores its worst claim."""
    from summarizer.config import load_settings
    from summarizer.service import Summarizer

    flags = {"model": model, "mode": "abstractive", "check_claims": "judge"}
    service = Summarizer(load_settings(flags, dotenv_path=None))
    try:
        pairs = [pair for item in items for pair in item.claims]
        supports, warnings = service.check_support(pairs)
    finally:
        service.close()
    for warning in warnings:
        print(f"judge: {warning}", file=sys.stderr)
    scores = iter(s.score if s.score is not None else 0.5 for s in supports)
    return [min(next(scores) for _ in item.claims) for item in items]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default="lexical,embedding,combined")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--items",
        type=int,
        default=None,
        help="report on the first N items only (for the slow judge); the offline methods are "
        "still fitted on the other articles",
    )
    parser.add_argument("--fit", action="store_true", help="print the all-article weights")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="the judge's model")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.method.split(",") if m.strip()]

    started = time.monotonic()
    items = load(args.data / "summedits_news_dev.jsonl", None)
    gold = [i.label for i in items]
    shown = len(items) if args.items is None else args.items
    lexical = [[lexical_signals(c, e) for c, e in i.claims] for i in items]
    prepared = time.monotonic() - started
    signals = lexical
    if {"embedding", "combined"} & set(methods):
        from summarizer.config import load_settings
        from summarizer.llm.factory import create_embedder

        started = time.monotonic()
        embedder = MemoEmbedder(create_embedder(load_settings(dotenv_path=None)))
        signals = [
            with_similarity(s, [c for c, _ in i.claims], [e for _, e in i.claims], embedder)
            for s, i in zip(lexical, items, strict=True)
        ]
        embedded = time.monotonic() - started
    per_item = [worst(s) for s in signals]

    report: list[Row] = []
    fits: list[str] = []
    for method in methods:
        started = time.monotonic()
        if method == "judge":
            scores = judge_scores(items[:shown], args.model)
            predicted = [s >= 0.5 for s in scores]
            seconds = time.monotonic() - started
        else:
            features: tuple[str, ...] = {
                "lexical": LEXICAL_FEATURES,
                "lexical-any-sign": LEXICAL_FEATURES,
                "embedding": ("similarity",),
                "combined": COMBINED_FEATURES,
            }[method]
            any_sign = method == "lexical-any-sign"
            scores, predicted = cross_validate(items, per_item, features, any_sign=any_sign)
            seconds = time.monotonic() - started + prepared
            if method in ("embedding", "combined"):
                seconds += embedded
            if args.fit:
                weights = balanced_fit(per_item, gold, features, any_sign=any_sign)
                coefficients = ", ".join(f"{c:.4f}" for c in weights.coefficients)
                fits.append(
                    f"{method}, fitted on all articles: bias={weights.bias:.4f}, "
                    f"coefficients=({coefficients}), features={features}"
                )
        report.append(
            agreement(
                method, scores[:shown], predicted[:shown], gold[:shown], seconds, items[:shown]
            )
        )

    items, gold = items[:shown], gold[:shown]
    articles = len({i.article for i in items})
    print(
        f"{len(items)} items ({sum(gold)} consistent) over {articles} articles, "
        f"leave-one-article-out\n"
    )
    print("| method | balanced acc. | F1 consistent | F1 inconsistent | ROC AUC | seconds |")
    print("|---|---|---|---|---|---|")
    for row in report:
        print(
            f"| {row.method} | {row.balanced_accuracy:.3f} | {row.f1_consistent:.3f} "
            f"| {row.f1_inconsistent:.3f} | {row.auc:.3f} | {row.seconds:.0f} |"
        )
    kinds = sorted({k for row in report for k in row.caught})
    counts = {k: sum(1 for i in items if not i.label and k in i.edits) for k in kinds}
    print("\nInconsistent items flagged, by kind of edit (an item may have several):\n")
    print("| method | " + " | ".join(f"{k} ({counts[k]})" for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for row in report:
        print(f"| {row.method} | " + " | ".join(f"{row.caught[k]:.2f}" for k in kinds) + " |")
    sys.stdout.flush()
    for fit in fits:
        print(fit, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
