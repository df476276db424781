"""The story result: one account of several articles on the same event (`schema_version` "1").

Every statement points back into the articles: a story claim's `support` lists, per article
that states it, the verbatim evidence and its `[start, end)` span of that article's text
(`evidence == text[start:end]`, checked before a result is returned), and the article's own
claim when its single-article run produced one. Variants and disagreements cite spans the same
way. `relations_checked` says how each relation was decided: by the backend's model, or by the
deterministic rules alone (the embedded tiny model cannot judge relations).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from summarizer.schemas import ClaimKind, ModelRef, PromptRef, Usage

STORY_SCHEMA_VERSION: Literal["1"] = "1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Coverage(StrEnum):
    ALL = "all"  # every article of the story states it
    SEVERAL = "several"  # two or more, not all
    SINGLE = "single"  # one article only


class Cell(StrEnum):
    STATES = "states"
    NOT_MENTIONED = "not_mentioned"
    CONTRADICTS = "contradicts"


class Checked(StrEnum):
    MODEL = "model"  # the backend's model judged it
    RULES = "rules"  # deterministic rules only (near-duplicates, quotes, numbers)


class StorySource(_Strict):
    id: str = Field(description="Short id used everywhere in this result (a1, a2, ...).")
    path: str
    outlet: str | None = None
    title: str | None = None
    url: str | None = None
    sha256: str
    chars: int
    claims: int = Field(description="Claims the article's own run produced.")


class Span(_Strict):
    """A verbatim stretch of one article."""

    source: str = Field(description="A StorySource id.")
    evidence: str
    span: tuple[int, int]


class Support(Span):
    claim_id: str | None = Field(
        description="The article's own claim (from its single-article result) that states it, "
        "or null when the statement was found in a sentence the article's run did not claim."
    )
    claim_text: str | None
    score: float = Field(description="How closely this evidence matches the story claim (0-1).")


class StoryClaim(_Strict):
    id: str
    text: str
    kind: ClaimKind
    speaker: str | None
    coverage: Coverage
    support: list[Support]
    checked: Checked


class Wording(Span):
    text: str = Field(description="The differing words (the quotation or the figure).")


class Variant(_Strict):
    """One remark or figure worded differently across articles."""

    id: str
    claim_id: str = Field(description="The story claim the wordings belong to.")
    kind: Literal["quote", "figure"]
    speaker: str | None
    wordings: list[Wording]
    checked: Checked


class Position(_Strict):
    statement: str
    spans: list[Span]


class Disagreement(_Strict):
    """Articles that contradict each other on one point: each position with its spans."""

    id: str
    topic: str
    claim_ids: list[str]
    positions: list[Position] = Field(min_length=2)
    checked: Checked


class SummarySentence(_Strict):
    text: str
    claim_ids: list[str] = Field(min_length=1)


class StorySummary(_Strict):
    headline: str
    sentences: list[SummarySentence]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


class MatrixRow(_Strict):
    claim_id: str
    cells: dict[str, Cell] = Field(description="StorySource id -> what that article does.")


class StoryResult(_Strict):
    schema_version: Literal["1"] = STORY_SCHEMA_VERSION
    sources: list[StorySource]
    claims: list[StoryClaim]
    variants: list[Variant]
    disagreements: list[Disagreement]
    summary: StorySummary
    matrix: list[MatrixRow]
    model: ModelRef
    embedder: str | None = Field(description="The sentence embedder that proposed the matches.")
    prompts: list[PromptRef]
    relations_checked: Checked = Field(
        description="'model' when the backend's model decided the relations, 'rules' when only "
        "the deterministic rules did (the embedded model; see each item's `checked`)."
    )
    usage: Usage = Field(description="Every call of the story and of its articles' runs.")
    warnings: list[str]
