"""Build the configured backend, and describe it without building it (for dry runs)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from summarizer.config import Settings
from summarizer.errors import ConfigError
from summarizer.llm import Backend, Completion, CompletionRequest

log = logging.getLogger(__name__)

DEFAULT_LOCAL_CONTEXT = 4096
# llama.cpp tokenizers spend more tokens than tiktoken on the same English text (measured on the
# seed articles: SmolLM2 1.06-1.12x cl100k, Qwen2.5 1.02-1.04x); budgets computed with tiktoken
# are scaled by this, and LocalBackend still refuses a prompt that would overflow its context.
LOCAL_TOKEN_RATIO = 1.15


@dataclass(frozen=True)
class BackendProfile:
    backend: str
    model: str
    context_window: int
    token_ratio: float
    default_mode: str
    endpoint: str | None
    local_path: Path | None = None


def describe_backend(settings: Settings) -> BackendProfile:
    """Everything planning needs about the backend, without importing openai or llama_cpp."""
    if settings.resolved_backend() == "local":
        from summarizer.llm.catalogue import resolve_local_model

        resolved = resolve_local_model(
            settings.model or settings.local_model or "smollm2-135m", settings.models_dir
        )
        return BackendProfile(
            backend="local",
            model=resolved.model_id,
            context_window=settings.context_window or DEFAULT_LOCAL_CONTEXT,
            token_ratio=LOCAL_TOKEN_RATIO,
            default_mode=resolved.default_mode,
            endpoint=None,
            local_path=resolved.path,
        )
    from summarizer.llm.openai_backend import default_context_window

    model = settings.resolved_model()
    return BackendProfile(
        backend="openai",
        model=model,
        context_window=settings.context_window or default_context_window(model),
        token_ratio=1.0,
        default_mode="abstractive",
        endpoint=settings.base_url,
    )


def create_backend(settings: Settings, profile: BackendProfile | None = None) -> Backend:
    profile = profile or describe_backend(settings)
    if profile.backend == "local":
        from summarizer.llm.local_backend import LocalBackend

        if profile.local_path is None:
            raise ConfigError(f"no model file resolved for local model {profile.model}")
        return LocalBackend(
            model_path=profile.local_path,
            model_name=profile.model,
            n_ctx=profile.context_window,
            threads=settings.threads,
            seed=settings.seed,
        )
    from summarizer.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(
        model=profile.model,
        base_url=settings.base_url,
        api_key=settings.api_key,
        timeout=settings.timeout,
        context_window=profile.context_window,
    )


class LazyBackend:
    """Answers `name`, `model` and `context_window` from the profile; builds the real backend on
    the first call, so cache hits and dry runs never import openai or load a model."""

    def __init__(self, settings: Settings, profile: BackendProfile) -> None:
        self._settings = settings
        self._profile = profile
        self._backend: Backend | None = None
        self._build_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._profile.backend

    @property
    def model(self) -> str:
        return self._profile.model

    @property
    def context_window(self) -> int:
        return self._profile.context_window

    @property
    def built(self) -> bool:
        return self._backend is not None

    def close(self) -> None:
        """Release the built backend's resources (HTTP connections, the loaded model)."""
        with self._build_lock:
            backend, self._backend = self._backend, None
        close = getattr(backend, "close", None)
        if callable(close):
            close()

    def complete(self, request: CompletionRequest) -> Completion:
        with self._build_lock:  # batch jobs call from many threads; build exactly once
            if self._backend is None:
                self._backend = create_backend(self._settings, self._profile)
            backend = self._backend
        return backend.complete(request)
