from __future__ import annotations

import json
from collections import deque

import pytest

from summarizer.errors import StructuredOutputError
from summarizer.evaluation.matchers import FactMatcher
from summarizer.evaluation.matchers.judge import JudgeMatcher
from summarizer.llm import Backend, BackendIdentity, Completion, CompletionRequest
from summarizer.llm.calls import RetryPolicy
from summarizer.schemas import Usage
from tests.evaluation.builders import fact


class ScriptedJudge:
    """Implements the Backend protocol with queued answers; records every request."""

    identity = BackendIdentity(name="fake", model="judge-1", context_window=4096)

    def __init__(self, *answers: str) -> None:
        self.answers = deque(answers)
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return Completion(
            text=self.answers.popleft(),
            finish_reason="stop",
            usage=Usage(calls=1, prompt_tokens=40, completion_tokens=8),
        )


NO_WAIT = RetryPolicy(sleep=lambda _: None)


def yes(evidence: str) -> str:
    return json.dumps({"present": True, "evidence": evidence})


NO = json.dumps({"present": False, "evidence": None})


def test_fake_backend_satisfies_the_protocol() -> None:
    assert isinstance(ScriptedJudge(), Backend)
    assert isinstance(JudgeMatcher(ScriptedJudge(), policy=NO_WAIT), FactMatcher)


def test_judge_asks_about_the_fact_and_the_summary_and_reads_the_verdict() -> None:
    backend = ScriptedJudge(yes("signed a pact"), NO)
    judge = JudgeMatcher(backend, policy=NO_WAIT)
    summary = "Putin and Kim signed a pact."
    results = judge.match_many(
        [(fact("Putin and Kim signed a treaty."), summary), (fact("It rained."), summary)]
    )
    assert [(r.present, r.score, r.evidence) for r in results] == [
        (True, 1.0, "signed a pact"),
        (False, 0.0, None),
    ]
    prompt = backend.requests[0].messages[-1].content
    assert "Putin and Kim signed a treaty." in prompt and summary in prompt
    assert backend.requests[0].schema_name == "FactJudgement"
    assert judge.usage.calls == 2 and judge.usage.prompt_tokens == 80


def test_invalid_answer_is_re_asked_and_counted() -> None:
    backend = ScriptedJudge("yes it is", yes("pact"))
    judge = JudgeMatcher(backend, policy=NO_WAIT)
    assert judge.matches(fact("A pact was signed."), "A pact was signed.").present
    assert len(backend.requests) == 2
    assert "not valid" in backend.requests[1].messages[-1].content
    assert judge.usage.calls == 2


def test_judge_gives_up_with_a_typed_error() -> None:
    judge = JudgeMatcher(ScriptedJudge("no", "nope", "never"), policy=NO_WAIT)
    with pytest.raises(StructuredOutputError):
        judge.matches(fact("A pact was signed."), "Nothing happened.")


def test_matcher_info_names_backend_model_and_prompt_hash() -> None:
    judge = JudgeMatcher(ScriptedJudge(), policy=NO_WAIT)
    assert judge.info.name == "judge:fake:judge-1"
    assert judge.info.version.startswith("1-") and len(judge.info.version) == 14
