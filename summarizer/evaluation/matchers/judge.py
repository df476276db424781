"""LLM-judge matcher: asks the configured backend one yes/no question per (fact, summary).

The most expensive matcher and the only one that understands paraphrase and negation; use it
to spot-check the lexical matcher, not in CI. Calls go through the call layer (`llm/calls.py`),
so they are retried and re-asked like every other call; every attempt is counted in `usage`.
The question is a versioned prompt file (`summarizer/templates/judge_fact.toml`), whose hash is in
`info.version` so judgements from different prompts never mix.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers.base import MatcherInfo, MatchResult
from summarizer.llm import Backend, CompletionRequest
from summarizer.llm.calls import CallLayer, RetryPolicy, UsageMeter
from summarizer.prompts import PromptTemplate, load_template, shipped_templates
from summarizer.schemas import Usage

DEFAULT_PROMPT = shipped_templates() / "judge_fact.toml"


class FactJudgement(BaseModel):
    """What the judge is asked to return."""

    model_config = ConfigDict(extra="forbid")

    present: bool = Field(description="Whether the summary states the fact.")
    evidence: str | None = Field(description="The words of the summary that state it, or null.")


class JudgeMatcher:
    def __init__(
        self,
        backend: Backend,
        *,
        template: PromptTemplate | None = None,
        policy: RetryPolicy | None = None,
        max_tokens: int = 256,
    ) -> None:
        self.backend = backend
        self.template = template or load_template(DEFAULT_PROMPT)
        self.calls = CallLayer(backend, retry=policy or RetryPolicy())
        self.max_tokens = max_tokens
        self._meter = UsageMeter()

    @property
    def usage(self) -> Usage:
        """Every judging attempt so far, failed ones included."""
        return self._meter.total

    @property
    def info(self) -> MatcherInfo:
        return MatcherInfo(
            name=f"judge:{self.backend.identity.name}:{self.backend.identity.model}",
            version=f"{self.template.version}-{self.template.sha256[:12]}",
            threshold=0.5,
        )

    def matches(self, fact: Fact, summary_text: str) -> MatchResult:
        messages = self.template.render({"fact": fact.text, "summary": summary_text})
        request = CompletionRequest(
            messages=messages,
            schema_name="FactJudgement",
            json_schema=FactJudgement.model_json_schema(),
            max_tokens=self.max_tokens,
        )
        judgement = self.calls.call(
            request, FactJudgement, self._meter, prompt_sha256=self.template.sha256
        )
        score = 1.0 if judgement.present else 0.0
        evidence = judgement.evidence if judgement.present else None
        return MatchResult(score=score, present=judgement.present, evidence=evidence)

    def match_many(self, pairs: Sequence[tuple[Fact, str]]) -> list[MatchResult]:
        return [self.matches(fact, text) for fact, text in pairs]
