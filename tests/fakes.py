"""Scripted fake backend for pipeline tests: answers from a queue or a responder."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from summarizer.errors import BackendError
from summarizer.llm import Completion, CompletionRequest
from summarizer.schemas import Usage

Responder = Callable[[CompletionRequest], str]


def allowed_ids(request: CompletionRequest) -> list[int]:
    """The sentence ids the request's schema allows (the pipeline puts them in an enum)."""
    schema = request.json_schema
    if "$defs" in schema and "CitedClaim" in schema["$defs"]:
        items = schema["$defs"]["CitedClaim"]["properties"]["sentence_ids"]["items"]
    else:
        items = schema["properties"]["sentence_ids"]["items"]
    return list(items["enum"])


def plausible_answer(request: CompletionRequest) -> str:
    """A valid answer of the requested shape, citing real ids, derived from the request alone."""
    if request.schema_name == "ChunkDigest":
        ids = allowed_ids(request)
        claims = [
            {"text": f"Claim about sentence {i}.", "kind": "fact", "speaker": None,
             "sentence_ids": [i]}
            for i in ids[:3]
        ]  # fmt: skip
        return json.dumps(
            {"headline": f"Part from {ids[0]}", "summary": f"Sentences {ids[0]}-{ids[-1]}.",
             "key_points": [f"point {ids[0]}"], "claims": claims}
        )  # fmt: skip
    if request.schema_name == "SentenceSelection":
        ids = allowed_ids(request)
        count = request.json_schema["properties"]["sentence_ids"]["maxItems"]
        return json.dumps({"sentence_ids": ids[:count]})
    if request.schema_name == "MergedSummary":
        return json.dumps(
            {"headline": "Merged", "summary": "A merged summary.", "key_points": ["merged"]}
        )
    raise AssertionError(f"unexpected schema {request.schema_name}")


class ScriptedBackend:
    """Implements the Backend protocol; `enqueue` scripted texts or errors, else `responder`."""

    def __init__(
        self,
        responder: Responder = plausible_answer,
        *,
        name: str = "fake",
        model: str = "scripted-1",
        context_window: int = 8192,
    ) -> None:
        self.responder = responder
        self._name = name
        self._model = model
        self._context_window = context_window
        self.queue: deque[str | BackendError | tuple[str, str]] = deque()
        self.history: list[CompletionRequest] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    @property
    def context_window(self) -> int:
        return self._context_window

    def enqueue(self, *items: str | BackendError | tuple[str, str]) -> None:
        """Queue texts, errors to raise, or (text, finish_reason) pairs."""
        self.queue.extend(items)

    def complete(self, request: CompletionRequest) -> Completion:
        self.history.append(request)
        finish = "stop"
        item: Any = self.queue.popleft() if self.queue else self.responder(request)
        if isinstance(item, BackendError):
            raise item
        if isinstance(item, tuple):
            item, finish = item
        prompt = sum(len(m.content) for m in request.messages) // 4
        return Completion(
            text=item,
            finish_reason=finish,
            usage=Usage(calls=1, prompt_tokens=prompt, completion_tokens=len(item) // 4),
        )


def answer_http_request(body: dict[str, Any]) -> str:
    """A loopback-server responder: a plausible answer to an OpenAI chat-completions body."""
    spec = body["response_format"]["json_schema"]
    request = CompletionRequest(
        messages=(),
        schema_name=spec["name"],
        json_schema=spec["schema"],
        max_tokens=body.get("max_tokens") or body.get("max_completion_tokens") or 100,
    )
    return plausible_answer(request)
