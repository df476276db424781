"""LLM-judge matcher: asks the configured backend one yes/no question per (fact, summary).

The most expensive matcher and the only one that understands paraphrase and negation; use it
to spot-check the lexical matcher, not in CI. Calls go through `complete_structured`, so they
are retried and re-asked like every other call, and their usage is added up in `usage`.
The question is a versioned prompt file (`summarizer/templates/judge_fact.toml`), whose hash is in
`info.version` so judgements from different prompts never mix.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers.base import MatcherInfo, MatchResult
from summarizer.llm import Backend, CompletionRequest
from summarizer.llm.retry import RetryPolicy
from summarizer.llm.structured import complete_structured
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
        self.policy = policy or RetryPolicy()
        self.max_tokens = max_tokens
        self.usage = Usage()

    @property
    def info(self) -> MatcherInfo:
        return MatcherInfo(
            name=f"judge:{self.backend.name}:{self.backend.model}",
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
        judgement, spent = complete_structured(
            self.backend, request, FactJudgement, policy=self.policy
        )
        self.usage = self.usage + spent
        score = 1.0 if judgement.present else 0.0
        evidence = judgement.evidence if judgement.present else None
        return MatchResult(score=score, present=judgement.present, evidence=evidence)

    def match_many(self, pairs: Sequence[tuple[Fact, str]]) -> list[MatchResult]:
        return [self.matches(fact, text) for fact, text in pairs]
