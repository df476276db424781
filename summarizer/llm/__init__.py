"""The backend seam: one protocol, `Backend.complete(request) -> Completion`.

Two implementations live beside this file: `openai_backend` (any OpenAI-compatible endpoint,
through the `openai` SDK) and `local_backend` (in-process GGUF models through llama-cpp-python,
grammar-constrained). Nothing outside this package imports either library, and both imports
are deferred until a backend is built, so `--help`, cache hits and dry runs never pay for them.

A backend makes exactly one attempt per call. Retrying transient failures (`retry.py`) and
re-asking after invalid output (`structured.py`) are built on top, once, for every backend.
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


@runtime_checkable
class Backend(Protocol):
    """A model behind one method. `name` is the backend kind, `model` the model's name."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    def complete(self, request: CompletionRequest) -> Completion: ...


__all__ = ["Backend", "Completion", "CompletionRequest", "Message"]
