"""The backend seam: one protocol, `Backend.complete(request) -> Completion`.

Two implementations live beside this file: `openai_backend` (any OpenAI-compatible endpoint,
through the `openai` SDK) and `local_backend` (in-process GGUF models through llama-cpp-python,
grammar-constrained). Nothing outside this package imports either library, and both imports
are deferred until a backend is built, so `--help`, cache hits and dry runs never pay for them.

A backend makes exactly one attempt per call. The cache, retrying transient failures,
re-asking after invalid output, the truncation retry and usage accounting are built on top, once,
for every backend, in `calls.py`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from summarizer.schemas import Usage


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class CompletionRequest(BaseModel):
    """Everything that determines a model's answer (and so everything in the cache key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: tuple[Message, ...]
    schema_name: str
    json_schema: dict[str, Any]
    max_tokens: int
    temperature: float = 0.0
    seed: int = 0


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    finish_reason: str | None = None
    usage: Usage


class BackendIdentity(BaseModel):
    """What a backend is, in one value that wrappers pass on unchanged.

    `name` is the backend kind, `model` the model's name (for local models `name@sha256-prefix`,
    so caches never mix two files), `context_window` its tokens, `token_ratio` how many of its
    own tokens it may spend per tiktoken token (budgets are computed with tiktoken), and
    `endpoint` the configured base URL (part of the cache key; `None` for the default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: str
    context_window: int
    token_ratio: float = 1.0
    endpoint: str | None = None


@runtime_checkable
class Backend(Protocol):
    """A model behind one method, and the identity that goes into plans and cache keys."""

    @property
    def identity(self) -> BackendIdentity: ...

    def complete(self, request: CompletionRequest) -> Completion: ...


__all__ = ["Backend", "BackendIdentity", "Completion", "CompletionRequest", "Message"]
