"""What a model is asked to return: each call's output model.

`ChunkDigest`, `SentenceSelection`, `MergedSummary` (summaries) and `RelationBatch` (story
relations). Claims cite sentence ids, never copy text, so evidence is verifiable by
construction; each call's schema narrows these further (`call_schemas.py`).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from summarizer.schemas import ClaimKind, Strict


class CitedClaim(Strict):
    text: str = Field(description="One atomic, checkable statement, in your own words.")
    kind: ClaimKind
    speaker: str | None = Field(
        description="Who asserts it, or null when the article states it in its own voice."
    )
    sentence_ids: list[int] = Field(
        min_length=1, max_length=3, description="Ids of the sentences that support the claim."
    )


class ChunkDigest(Strict):
    """Abstractive output for one chunk (or a whole short article).

    The summary is a list of sentences that the program joins, so its length is a count the
    schema can bound. The limits here are loose on purpose: each call's schema narrows them
    (`call_schemas.py`), and what breaks the narrower shape is re-asked and then tidied with a
    warning (`wellformed.py`) rather than failing the whole article.
    """

    headline: str
    summary: list[str] = Field(min_length=1, max_length=8)
    key_points: list[str] = Field(min_length=1, max_length=8)
    claims: list[CitedClaim] = Field(min_length=1, max_length=12)


class SentenceSelection(Strict):
    """Extractive output: the ids of the sentences that best summarise the text."""

    sentence_ids: list[int] = Field(min_length=1, max_length=6)


class MergedSummary(Strict):
    """Reduce output: one summary made from several partial summaries."""

    headline: str
    summary: list[str] = Field(min_length=1, max_length=8)
    key_points: list[str] = Field(min_length=1, max_length=8)


class Relation(StrEnum):
    """How a statement relates to a story claim."""

    SAME = "same"
    VARIANT = "variant"
    CONTRADICTS = "contradicts"
    UNRELATED = "unrelated"


class StatementVerdict(Strict):
    article: str
    relation: Relation


class GroupVerdict(Strict):
    group: int
    statements: list[StatementVerdict]


class RelationBatch(Strict):
    """Story mode: what the model says of one batch of groups of statements."""

    groups: list[GroupVerdict] = Field(min_length=1)
