"""The library's front door: settings in, results out, shared by the CLI, batch jobs and evals.

`Summarizer` holds what should live once per process: the backend (built lazily, on the first
call that misses the cache), the call cache and the prompt library.
"""

from __future__ import annotations

from dataclasses import dataclass

from summarizer.cache import CallCache
from summarizer.config import Settings
from summarizer.errors import ConfigError
from summarizer.llm import Backend
from summarizer.llm.factory import BackendProfile, LazyBackend, describe_backend
from summarizer.llm.retry import RetryPolicy
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
    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend | None = None,
        profile: BackendProfile | None = None,
        prompts: PromptLibrary | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.profile = profile or describe_backend(settings)
        self.backend: Backend = backend or LazyBackend(settings, self.profile)
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
            token_ratio=self.profile.token_ratio,
            encoding_model=self.profile.model,
            endpoint=self.profile.endpoint,
            map_concurrency=settings.concurrency if self.profile.backend == "openai" else 1,
        )

    @property
    def mode(self) -> Mode:
        chosen = self.settings.mode
        if chosen == "auto":
            chosen = "extractive" if self.profile.default_mode == "extractive" else "abstractive"
        if chosen not in ("abstractive", "extractive"):
            raise ConfigError(f"unknown mode {chosen!r}")
        return chosen

    def summarize(self, source: Source) -> SummaryResult:
        return summarize(
            source,
            self.backend,
            self.options,
            cache=self.cache,
            refresh=self.settings.refresh_cache,
            prompts=self.prompts,
        )

    def summarize_path(self, path: str) -> SummaryResult:
        return self.summarize(read_source(path))

    def plan(self, source: Source) -> PlanReport:
        estimate = plan(
            source,
            self.options,
            context_window=self.profile.context_window,
            prompts=self.prompts,
        )
        return PlanReport(
            source=source.path,
            plan=estimate,
            backend=self.profile.backend,
            model=self.profile.model,
            estimated_cost_usd=estimate_cost(
                self.profile.backend,
                self.profile.model,
                estimate.prompt_tokens,
                estimate.completion_tokens,
            ),
        )

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        if isinstance(self.backend, LazyBackend):
            self.backend.close()
