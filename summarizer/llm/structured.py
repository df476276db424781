"""Call, parse, validate, re-ask with the validation error: one short loop for every backend."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from summarizer.errors import BackendError, OutputTruncated, StructuredOutputError
from summarizer.llm import Backend, CompletionRequest, Message
from summarizer.llm.retry import RetryPolicy, complete_with_retries
from summarizer.schemas import Usage

T = TypeVar("T", bound=BaseModel)

REASK_TEMPLATE = (
    "Your previous answer was not valid: {error}\n"
    "Answer again with only a JSON object that follows the schema exactly."
)


def complete_structured(
    backend: Backend,
    request: CompletionRequest,
    output_type: type[T],
    *,
    policy: RetryPolicy,
    max_reasks: int = 2,
) -> tuple[T, Usage]:
    """Return the validated output and the usage of every attempt (failed ones included).

    Raises StructuredOutputError, carrying the attempts, the last output and the usage, when
    `max_reasks` re-asks still give nothing valid. The caller's request is never mutated: each
    re-ask builds a new message tuple.
    """
    spent = Usage()
    current = request
    last_text: str | None = None
    for attempt in range(1, max_reasks + 2):
        try:
            completion = complete_with_retries(backend, current, policy)
        except BackendError as error:
            error.usage = spent + (error.usage or Usage())
            raise
        spent = spent + completion.usage
        last_text = completion.text
        if completion.finish_reason == "length":
            # A cut-off answer is never repaired by guessing; the caller decides (bigger budget
            # or smaller chunk).
            raise OutputTruncated(
                f"output hit the {request.max_tokens}-token limit",
                attempts=attempt,
                usage=spent,
                last_output=last_text,
            )
        try:
            return output_type.model_validate(json.loads(completion.text)), spent
        except (json.JSONDecodeError, ValidationError) as error:
            problem = _describe(error)
        current = current.model_copy(
            update={
                "messages": (
                    *request.messages,
                    Message(role="assistant", content=completion.text),
                    Message(role="user", content=REASK_TEMPLATE.format(error=problem)),
                )
            }
        )
    raise StructuredOutputError(
        f"no valid {output_type.__name__} after {max_reasks + 1} attempts: {problem}",
        attempts=max_reasks + 1,
        usage=spent,
        last_output=last_text,
    )


def _describe(error: json.JSONDecodeError | ValidationError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON ({error.msg} at char {error.pos})"
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()[:5]
    ]
    return "; ".join(parts)
