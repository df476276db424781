"""The library's front door: settings in, results out, shared by the CLI, batch jobs and evals.

`Summarizer` holds what should live once per process: the backend (built lazily, on the first
call that misses the cache), the call cache and the prompt library. It is constructed complete:
a caller that needs another retry policy (a cancellable sleep), a wrapped backend or a shared
one passes it in, and says whether `close()` should release it.
"""

from __future__ import annotations

from dataclasses import dataclass

from summarizer.cache import CallCache
from summarizer.config import Settings
from summarizer.errors import ConfigError
from summarizer.llm import Backend
from summarizer.llm.calls import RetryPolicy, UsageMeter
from summarizer.llm.factory import BackendProfile, LazyBackend, describe_backend
from summarizer.pipeline import Mode, PipelineOptions, Plan, plan, summarize
from summarizer.pricing import estimate_cost
from summarizer.prompts import PromptLibrary
from summarizer.schemas import SummaryResult
from summarizer.sources import Source, read_source


@dataclass(frozen=True)
class PlanReport:
    source: str
    plan: Plan
    backend: str
    model: str
    estimated_cost_usd: float | None


class Summarizer:
    """Summarise sources with one configured backend, cache and prompt library.

    `backend` defaults to the configured one, built on first use; `owns_backend` (default: True
    exactly when the backend was built here) says whether `close()` closes it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend | None = None,
        profile: BackendProfile | None = None,
        prompts: PromptLibrary | None = None,
        retry: RetryPolicy | None = None,
        owns_backend: bool | None = None,
    ) -> None:
        self.settings = settings
        self.profile = profile or describe_backend(settings)
        self.backend: Backend = backend or LazyBackend(settings, self.profile)
        self.owns_backend = backend is None if owns_backend is None else owns_backend
        self.prompts = prompts or PromptLibrary()
        self.cache = CallCache(settings.cache_dir) if settings.use_cache else None
        self.options = PipelineOptions(
            mode=self.mode,
            max_chunk_tokens=settings.max_chunk_tokens,
            chunk_overlap=settings.chunk_overlap,
            max_output_tokens=settings.max_output_tokens,
            temperature=settings.temperature,
            seed=settings.seed,
            max_reasks=settings.max_reasks,
            retry=retry or RetryPolicy(max_attempts=settings.max_retries),
            map_concurrency=(settings.concurrency if self.profile.identity.name == "openai" else 1),
        )

    @property
    def mode(self) -> Mode:
        chosen = self.settings.mode
        if chosen == "auto":
            chosen = "extractive" if self.profile.default_mode == "extractive" else "abstractive"
        if chosen not in ("abstractive", "extractive"):
            raise ConfigError(f"unknown mode {chosen!r}")
        return chosen

    def summarize(self, source: Source, *, meter: UsageMeter | None = None) -> SummaryResult:
        """Summarise `source`. Pass a `meter` to watch usage while the run is under way (a
        batch item that times out still reports what it spent)."""
        return summarize(
            source,
            self.backend,
            self.options,
            cache=self.cache,
            refresh=self.settings.refresh_cache,
            prompts=self.prompts,
            meter=meter,
        )

    def summarize_path(self, path: str) -> SummaryResult:
        return self.summarize(read_source(path))

    def plan(self, source: Source) -> PlanReport:
        identity = self.profile.identity
        estimate = plan(source, self.options, identity=identity, prompts=self.prompts)
        return PlanReport(
            source=source.path,
            plan=estimate,
            backend=identity.name,
            model=identity.model,
            estimated_cost_usd=estimate_cost(
                identity.name,
                identity.model,
                estimate.prompt_tokens,
                estimate.completion_tokens,
            ),
        )

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        if self.owns_backend:
            close = getattr(self.backend, "close", None)
            if callable(close):
                close()
