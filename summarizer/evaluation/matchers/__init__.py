"""Does a summary state a fact? One protocol, several judges of differing cost and accuracy.

    FactMatcher.matches(fact, summary_text) -> MatchResult(score, present, evidence)
    FactMatcher.match_many([(fact, summary_text), ...]) -> [MatchResult, ...]

* `OverlapMatcher`: plain word overlap, the baseline every other matcher must beat.
* `LexicalMatcher`: offline and deterministic; the default (see docs/evaluation.md for how it
  agrees with people).
* `LearnedMatcher` (`summarizer.evaluation.matchers.learned`): opt-in logistic combination of
  lexical signals, weights fitted on human verdicts.
* `EmbeddingMatcher` (optional extra, `summarizer.evaluation.matchers.embedding`): cosine
  similarity of sentence embeddings; imports torch only when built.
* `JudgeMatcher` (`summarizer.evaluation.matchers.judge`): asks the configured LLM backend.

`score` is in [0, 1] and comparable across calls of one matcher only; `present` applies the
matcher's threshold (calibrated on human judgements) and any hard requirement of the fact
(`must_include`). `evidence` is the part of the summary that matched best, when known.

`build_matcher(name)` makes the offline ones by name (`summarizer eval --matcher`,
`evals/calibrate.py`); the judge needs a backend and is built by hand.
"""

from __future__ import annotations

from summarizer.errors import EvalError
from summarizer.evaluation.matchers.base import FactMatcher, MatcherInfo, MatchResult
from summarizer.evaluation.matchers.learned import LearnedMatcher
from summarizer.evaluation.matchers.lexical import LexicalMatcher
from summarizer.evaluation.matchers.overlap import OverlapMatcher

__all__ = [
    "MATCHER_NAMES",
    "FactMatcher",
    "LexicalMatcher",
    "MatchResult",
    "MatcherInfo",
    "OverlapMatcher",
    "build_matcher",
]

MATCHER_NAMES = ("lexical", "learned", "overlap", "embedding")


def build_matcher(name: str) -> FactMatcher:
    if name == "lexical":
        return LexicalMatcher()
    if name == "overlap":
        return OverlapMatcher()
    if name == "learned":
        return LearnedMatcher()
    if name == "embedding":
        # Deferred: torch is an optional extra and takes seconds to import.
        from summarizer.evaluation.matchers.embedding import EmbeddingMatcher

        return EmbeddingMatcher()
    raise EvalError(f"unknown matcher {name!r}: choose one of {', '.join(MATCHER_NAMES)}")
