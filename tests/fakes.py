"""Scripted fake backend for pipeline tests: answers from a queue or a responder."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from summarizer.call_schemas import sentence_id_field
from summarizer.errors import BackendError
from summarizer.llm import BackendIdentity, Completion, CompletionRequest, Message
from summarizer.llm.embedder import EmbedderIdentity
from summarizer.schemas import Usage
from summarizer.text import content_tokens
from summarizer.wellformed import cut_short

Responder = Callable[[CompletionRequest], str]


def allowed_ids(request: CompletionRequest) -> list[int]:
    """The sentence ids the request's schema allows (the pipeline puts them in an enum)."""
    return list(sentence_id_field(request.json_schema)["items"]["enum"])


def least_claims(request: CompletionRequest) -> int:
    """The fewest claims a digest request's schema allows."""
    return int(request.json_schema["properties"]["claims"].get("minItems", 1))


def plausible_answer(request: CompletionRequest) -> str:
    """A valid answer of the requested shape, citing real ids, derived from the request alone."""
    if request.schema_name == "ChunkDigest":
        ids = allowed_ids(request)
        cited = [ids[n % len(ids)] for n in range(max(3, least_claims(request)))]
        claims = [
            {"text": f"Claim {n} about sentence {i}.", "kind": "fact", "speaker": None,
             "sentence_ids": [i]}
            for n, i in enumerate(cited, start=1)
        ]  # fmt: skip
        return json.dumps(
            {"headline": f"Part from {ids[0]}",
             "summary": [f"Sentences {ids[0]}-{ids[-1]}.", "End."],
             "key_points": [f"P{ids[0]}.", "Q.", "R."], "claims": claims}
        )  # fmt: skip
    if request.schema_name == "SentenceSelection":
        ids = allowed_ids(request)
        count = sentence_id_field(request.json_schema)["maxItems"]
        return json.dumps({"sentence_ids": ids[:count]})
    if request.schema_name == "MergedSummary":
        return json.dumps(
            {"headline": "Merged", "summary": ["A merged summary.", "It has two sentences."],
             "key_points": ["Merged one.", "Merged two.", "Merged three."]}
        )  # fmt: skip
    if request.schema_name == "RelationBatch":
        # Every statement of every group shown is "same"; without the prompt (no messages),
        # every article the schema allows.
        definitions = request.json_schema["$defs"]
        numbers = definitions["GroupVerdict"]["properties"]["group"]["enum"]
        articles = definitions["StatementVerdict"]["properties"]["article"]["enum"]
        shown = shown_groups(request)
        return json.dumps(
            {"groups": [
                {"group": n, "statements": [
                    {"article": a, "relation": "same"} for a in shown.get(n, articles)
                ]}
                for n in numbers
            ]}
        )  # fmt: skip
    raise AssertionError(f"unexpected schema {request.schema_name}")


_GROUP_HEADER = re.compile(r"^\[(\d+)\] claim:", re.MULTILINE)
_STATEMENT = re.compile(r"^  \(([^)\s]+)\) ", re.MULTILINE)


def shown_groups(request: CompletionRequest) -> dict[int, list[str]]:
    """The articles listed under each numbered group of a relation prompt."""
    text = "\n".join(message.content for message in request.messages)
    headers = list(_GROUP_HEADER.finditer(text))
    shown: dict[int, list[str]] = {}
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        block = text[header.end() : following.start() if following else len(text)]
        shown[int(header.group(1))] = list(dict.fromkeys(_STATEMENT.findall(block)))
    return shown


class ScriptedBackend:
    """Implements the Backend protocol; `enqueue` scripted texts or errors, else `responder`."""

    def __init__(
        self,
        responder: Responder = plausible_answer,
        *,
        name: str = "fake",
        model: str = "scripted-1",
        context_window: int = 8192,
        token_ratio: float = 1.0,
    ) -> None:
        self.responder = responder
        self.identity = BackendIdentity(
            name=name, model=model, context_window=context_window, token_ratio=token_ratio
        )
        self.queue: deque[str | BackendError | tuple[str, str]] = deque()
        self.history: list[CompletionRequest] = []

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


def request_from_body(body: dict[str, Any]) -> CompletionRequest:
    """The request an OpenAI chat-completions body carries (for loopback-server responders)."""
    spec = body["response_format"]["json_schema"]
    return CompletionRequest(
        messages=tuple(Message(role=m["role"], content=m["content"]) for m in body["messages"]),
        schema_name=spec["name"],
        json_schema=spec["schema"],
        max_tokens=body.get("max_tokens") or body.get("max_completion_tokens") or 100,
    )


def answer_http_request(body: dict[str, Any]) -> str:
    """A loopback-server responder: a plausible answer to an OpenAI chat-completions body."""
    return plausible_answer(request_from_body(body))


class WordsEmbedder:
    """A deterministic stand-in for the sentence embedder: content words hashed into a
    fixed-size unit vector, so texts sharing words are close and others are not."""

    dimensions = 256

    @property
    def identity(self) -> EmbedderIdentity:
        return EmbedderIdentity(model="words-hash", dimensions=self.dimensions, max_tokens=10_000)

    def embed(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        vectors = []
        for text in texts:
            counts = [0.0] * self.dimensions
            for token in content_tokens(text):
                digest = hashlib.sha256(token.norm.encode()).digest()
                counts[int.from_bytes(digest[:4], "big") % self.dimensions] += 1.0
            norm = math.sqrt(sum(c * c for c in counts)) or 1.0
            vectors.append(tuple(c / norm for c in counts))
        return vectors


_NUMBERED = re.compile(r"^\[(\d+)\] (.+)$", re.MULTILINE)


def quoting_answer(request: CompletionRequest) -> str:
    """`plausible_answer`, except that a digest's claims quote the sentences they cite, as a
    faithful model's would: story mode can then align them across articles."""
    if request.schema_name != "ChunkDigest":
        return plausible_answer(request)
    text = "\n".join(message.content for message in request.messages)
    shown = {int(number): sentence for number, sentence in _NUMBERED.findall(text)}
    claims = [
        {"text": _as_sentence(shown.get(i, f"Sentence {i}.")), "kind": "fact", "speaker": None,
         "sentence_ids": [i]}
        for i in allowed_ids(request)[:8]
    ]  # fmt: skip
    return json.dumps(
        {"headline": "Digest", "summary": ["The article in short.", "Nothing more."],
         "key_points": ["Point one.", "Point two.", "Point three."], "claims": claims}
    )  # fmt: skip


def _as_sentence(text: str) -> str:
    """A quoted title line ends with a full stop, as a claim the pipeline would not re-ask."""
    return text if cut_short(text, sentence=True) is None else f"{text.rstrip(' :')}."


def answer_quoting_http_request(body: dict[str, Any]) -> str:
    """`quoting_answer` for the loopback server."""
    return quoting_answer(request_from_body(body))
