"""The matcher seam: what every matcher returns and the protocol it implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from summarizer.evaluation.dataset import Fact


@dataclass(frozen=True)
class MatchResult:
    score: float
    present: bool
    evidence: str | None = None


class MatcherInfo(BaseModel):
    """What goes into reports and the run log, so scores from different matchers never mix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    threshold: float


@runtime_checkable
class FactMatcher(Protocol):
    @property
    def info(self) -> MatcherInfo: ...

    def matches(self, fact: Fact, summary_text: str) -> MatchResult: ...

    def match_many(self, pairs: Sequence[tuple[Fact, str]]) -> list[MatchResult]: ...
