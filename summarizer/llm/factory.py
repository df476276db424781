"""Build the configured backend (and the sentence embedder), and describe the backend without
building it (for dry runs)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from summarizer.config import Settings, redact_url
from summarizer.errors import ConfigError
from summarizer.llm import Backend, BackendIdentity, Completion, CompletionRequest
from summarizer.llm.embedder import Embedder

DEFAULT_LOCAL_CONTEXT = 4096


@dataclass(frozen=True)
class BackendProfile:
    """The backend's identity plus what only the factory needs: its default mode and, for a
    local model, the verified file to load."""

    identity: BackendIdentity
    default_mode: str
    local_path: Path | None = None
    # The model's digests list claims first (`CatalogueEntry.claims_first`).
    claims_first: bool = False
    # Auto mode takes the summary text from the program's selection
    # (`CatalogueEntry.summary_from_selection`).
    summary_from_selection: bool = False


def describe_backend(settings: Settings) -> BackendProfile:
    """Everything planning needs about the backend, without importing openai or llama_cpp."""
    if settings.resolved_backend() == "local":
        from summarizer.llm.catalogue import LOCAL_TOKEN_RATIO, resolve_local_model

        resolved = resolve_local_model(
            settings.model or settings.local_model or "smollm2-135m", settings.models_dir
        )
        return BackendProfile(
            identity=BackendIdentity(
                name="local",
                model=resolved.model_id,
                context_window=settings.context_window or DEFAULT_LOCAL_CONTEXT,
                token_ratio=LOCAL_TOKEN_RATIO,
            ),
            default_mode=resolved.default_mode,
            local_path=resolved.path,
            claims_first=resolved.claims_first,
            summary_from_selection=resolved.summary_from_selection,
        )
    from summarizer.llm.openai_backend import default_context_window

    model = settings.resolved_model()
    return BackendProfile(
        identity=BackendIdentity(
            name="openai",
            model=model,
            context_window=settings.context_window or default_context_window(model),
            endpoint=redact_url(settings.base_url),  # the cache key sees no credential
        ),
        default_mode="abstractive",
    )


def create_backend(settings: Settings, profile: BackendProfile | None = None) -> Backend:
    profile = profile or describe_backend(settings)
    identity = profile.identity
    if identity.name == "local":
        from summarizer.llm.local_backend import LocalBackend

        if profile.local_path is None:
            raise ConfigError(f"no model file resolved for local model {identity.model}")
        return LocalBackend(
            model_path=profile.local_path,
            model_name=identity.model,
            n_ctx=identity.context_window,
            threads=settings.resolved_threads(),
            seed=settings.seed,
        )
    from summarizer.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(
        model=identity.model,
        base_url=settings.base_url,
        api_key=settings.api_key,
        timeout=settings.timeout,
        context_window=identity.context_window,
    )


class LazyBackend:
    """Answers `identity` from the profile; builds the real backend on the first call, so cache
    hits and dry runs never import openai or load a model."""

    def __init__(self, settings: Settings, profile: BackendProfile) -> None:
        self._settings = settings
        self._profile = profile
        self._backend: Backend | None = None
        self._build_lock = threading.Lock()

    @property
    def identity(self) -> BackendIdentity:
        return self._profile.identity

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


def create_embedder(settings: Settings) -> Embedder:
    """The offline sentence embedder (converted once into the models directory, verified)."""
    from summarizer.llm.embedder import local_embedder

    return local_embedder(settings.models_dir, threads=settings.resolved_threads())
