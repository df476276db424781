"""What the library returns: the documented JSON contract (see README).

*Results* (`SummaryResult`, `ClaimsResult`): the program fills in every claim's verbatim
`evidence` and its `[start, end)` span from the sentence ids the model cited. What a model is
asked to return is `replies.py`, kept apart so that reading a cached result builds only these.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RESULT_SCHEMA_VERSION: Literal["2"] = "2"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimKind(StrEnum):
    FACT = "fact"
    QUOTE = "quote"
    OPINION = "opinion"
    ALLEGATION = "allegation"
    PREDICTION = "prediction"


class Usage(Strict):
    """Counts of every attempt, failed ones included; `cached_calls` were answered by the cache."""

    calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            cached_calls=self.cached_calls + other.cached_calls,
            failed_calls=self.failed_calls + other.failed_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


# --- what the library returns --------------------------------------------------------------


class SourceInfo(Strict):
    path: str
    sha256: str
    chars: int
    tokens: int


class Summary(Strict):
    headline: str
    text: str
    key_points: list[str]


class SupportVerdict(StrEnum):
    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"
    UNCHECKED = "unchecked"


class Support(Strict):
    """Whether a claim's cited sentences say what the claim says, and how that was decided.

    `score` is 0-1 (higher is better supported), None when unchecked; `method` names the
    checker: "verbatim" (the claim is its evidence), "lexical", "combined", "judge" or "off".
    """

    verdict: SupportVerdict
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    method: str


UNCHECKED = Support(verdict=SupportVerdict.UNCHECKED, method="off")


class Claim(Strict):
    id: str
    text: str
    kind: ClaimKind
    speaker: str | None
    evidence: str = Field(description="Verbatim source text, equal to source_text[start:end].")
    span: tuple[int, int]
    sentence_ids: list[int]
    support: Support = UNCHECKED


class ModelRef(Strict):
    backend: str
    name: str


class PromptRef(Strict):
    name: str
    version: str
    sha256: str


class SummaryResult(Strict):
    schema_version: Literal["2"] = RESULT_SCHEMA_VERSION
    source: SourceInfo
    mode: Literal["abstractive", "extractive"]
    summary: Summary
    claims: list[Claim]
    model: ModelRef
    prompts: list[PromptRef]
    chunks: int
    # The word budget the summary was made for (None: a result from before budgets existed).
    summary_words: int | None = None
    usage: Usage
    warnings: list[str]


class ClaimsResult(Strict):
    schema_version: Literal["2"] = RESULT_SCHEMA_VERSION
    source: SourceInfo
    claims: list[Claim]
    model: ModelRef
    prompts: list[PromptRef]
    usage: Usage
    warnings: list[str]

    @classmethod
    def from_summary(cls, result: SummaryResult) -> ClaimsResult:
        return cls(
            source=result.source,
            claims=result.claims,
            model=result.model,
            prompts=result.prompts,
            usage=result.usage,
            warnings=result.warnings,
        )
