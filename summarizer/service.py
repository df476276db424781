"""The library's front door: settings in, results out, shared by the CLI, batch jobs and evals.

`Summarizer` holds what should live once per process: the backend (built lazily, on the first
call that misses the cache), the call cache and the prompt library. It is constructed complete:
a caller that needs another retry policy (a cancellable sleep), a wrapped backend or a shared
one passes it in, and says whether `close()` should release it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from summarizer.cache import CallCache, document_key
from summarizer.config import CHECKER_VERSION, Settings
from summarizer.errors import BackendUnavailable, ConfigError
from summarizer.llm import Backend, BackendIdentity, Completion, CompletionRequest
from summarizer.llm.calls import CallLayer, RetryPolicy, UsageMeter, metered
from summarizer.llm.factory import BackendProfile, LazyBackend, describe_backend
from summarizer.options import Mode, PipelineOptions
from summarizer.pricing import estimate_cost
from summarizer.prompts import PromptLibrary
from summarizer.schemas import ModelRef, SummaryResult, Support, Usage
from summarizer.sources import Source, read_source

T = TypeVar("T", bound=BaseModel)

if TYPE_CHECKING:
    from summarizer.llm.embedder import Embedder
    from summarizer.pipeline import Plan
    from summarizer.replies import RelationBatch
    from summarizer.story import StoryArticle, StoryResult
    from summarizer.support.judge import ClaimJudgements


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
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.profile = profile or describe_backend(settings)
        self.backend: Backend = backend or LazyBackend(settings, self.profile)
        self.owns_backend = backend is None if owns_backend is None else owns_backend
        self.prompts = prompts or PromptLibrary()
        self.cache = CallCache(settings.cache_dir) if settings.use_cache else None
        # Story mode's sentence embedder: built on the first story unless one is passed in.
        self._embedder = embedder
        self._owns_embedder = embedder is None
        self.options = PipelineOptions(
            mode=self.mode,
            max_chunk_tokens=settings.max_chunk_tokens,
            chunk_overlap=settings.chunk_overlap,
            max_output_tokens=settings.max_output_tokens,
            summary_words=settings.summary_words,
            temperature=settings.temperature,
            seed=settings.seed,
            max_reasks=settings.max_reasks,
            retry=retry or RetryPolicy(max_attempts=settings.max_retries),
            map_concurrency=(settings.concurrency if self.profile.identity.name == "openai" else 1),
            claims_first=self.profile.claims_first,
            summary_from_selection=(
                settings.mode == "auto" and self.profile.summary_from_selection
            ),
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
        batch item that times out still reports what it spent).

        With the cache on, a document summarised before with the same settings is answered
        by one lookup of its whole result, before any tokenising (no encoder is built, no
        backend imported); `usage.cached_calls` says how many model calls it stands for.
        """
        key = self._document_key(source) if self.cache is not None else None
        if key is not None and self.cache is not None and not self.settings.refresh_cache:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    stored = SummaryResult.model_validate(hit.get("result"))
                    calls = int(hit.get("calls", 0))
                except (ValidationError, TypeError, ValueError):
                    stored = None  # an entry of another shape: summarise afresh, overwrite it
                if stored is not None:
                    usage = Usage(cached_calls=calls)
                    if meter is not None:
                        meter.add(usage)
                    return stored.model_copy(
                        update={
                            "source": stored.source.model_copy(update={"path": source.path}),
                            "usage": usage,
                        }
                    )
        from summarizer.pipeline import summarize  # not needed for a document-cache hit

        with metered(meter) as run_meter:
            result = summarize(
                source,
                self.backend,
                self.options,
                cache=self.cache,
                refresh=self.settings.refresh_cache,
                prompts=self.prompts,
                meter=run_meter,
            )
            result = self._with_support(result, run_meter)
        if key is not None and self.cache is not None:
            answered = result.usage.calls - result.usage.failed_calls + result.usage.cached_calls
            self.cache.set(key, {"result": result.model_dump(mode="json"), "calls": answered})
        return result

    def check_support(
        self, pairs: Sequence[tuple[str, str]], *, meter: UsageMeter | None = None
    ) -> tuple[list[Support], list[str]]:
        """Each (claim, evidence) pair checked by the configured method (`--check-claims`);
        the judge's calls go through the call layer (cached) and are counted in `meter`."""
        from summarizer.support import check_support  # not needed for a document-cache hit

        method = self.settings.check_claims
        with metered(meter) as meter:
            return check_support(
                pairs,
                method,
                embedder=lambda: self.embedder,
                ask=self._claim_judge(meter) if method == "judge" else None,
            )

    def _with_support(self, result: SummaryResult, meter: UsageMeter) -> SummaryResult:
        from summarizer.support import with_support

        supports, warnings = self.check_support(
            [(c.text, c.evidence) for c in result.claims], meter=meter
        )
        claims, dropped = with_support(result.claims, supports, self.settings.min_support)
        prompts = list(result.prompts)
        if any(s.method == "judge" for s in supports):
            prompts.append(self.prompts.get("check_claims").ref)
        return result.model_copy(
            update={
                "claims": claims,
                "prompts": prompts,
                "usage": meter.total,
                "warnings": [*result.warnings, *warnings, *dropped],
            }
        )

    def _support_key(self) -> dict[str, object]:
        """What decides the claims' support, for the document key: a changed method, threshold,
        checker or embedder must not be answered by a result checked another way."""
        method = self.settings.check_claims
        embedder = None
        if method == "combined":
            if self._embedder is not None:
                embedder = self._embedder.identity.model
            else:
                from summarizer.llm.catalogue import DEFAULT_EMBEDDING_MODEL, embedding_entry

                embedder = embedding_entry(DEFAULT_EMBEDDING_MODEL).sha256
        return {
            "method": method,
            "min_support": self.settings.min_support,
            "checker": CHECKER_VERSION,
            "embedder": embedder,
        }

    def _document_key(self, source: Source) -> str:
        options: dict[str, object] = {
            name: value
            for name, value in dataclasses.asdict(self.options).items()
            if name not in ("retry", "map_concurrency")  # how calls are made, not what they ask
        }
        options["support"] = self._support_key()
        names: tuple[str, ...] = (
            ("summarize", "merge") if self.mode == "abstractive" else ("extract",)
        )
        if self.settings.check_claims == "judge":
            names = (*names, "check_claims")
        return document_key(
            identity=self.backend.identity.model_dump(mode="json"),
            options=options,
            prompt_sha256=[self.prompts.get(name).sha256 for name in names],
            text_sha256=source.sha256,
            source_warnings=source.warnings,
        )

    def story(
        self,
        articles: Sequence[StoryArticle],
        *,
        results: Sequence[SummaryResult] | None = None,
        meter: UsageMeter | None = None,
    ) -> StoryResult:
        """One account of several articles on the same event (see `summarizer.story`).

        Each article's own result comes from `summarize` (so from the cache when the articles
        were summarised before); only the story step is new work. A capable backend (abstractive
        mode) judges the relations in batched calls; the embedded model leaves them to the rules.

        `results`: the articles' own results, already computed (a batch's `items/`), in the
        order of `articles`; they are used as they are, not summarised again. `meter` receives
        the story step's calls (not the articles' runs) as they end.
        """
        from summarizer.story import build_story, distinct

        known = (
            {a.source.sha256: r for a, r in zip(articles, results, strict=True)} if results else {}
        )
        unique, warnings = distinct(articles)
        results = [
            known.get(article.source.sha256) or self.summarize(article.source) for article in unique
        ]
        identity = self.profile.identity
        used = {ref.sha256: ref for result in results for ref in result.prompts}
        with metered(meter) as meter:
            ask = None
            if self.mode == "abstractive":
                template = self.prompts.get("relate")
                used[template.sha256] = template.ref
                ask = self._relation_judge(meter)
            story = build_story(
                unique,
                results,
                self.embedder,
                model=ModelRef(backend=identity.name, name=identity.model),
                prompts=list(used.values()),
                ask=ask,
            )
        usage = sum((r.usage for r in results), meter.total)
        return story.model_copy(update={"usage": usage, "warnings": warnings + story.warnings})

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from summarizer.llm.factory import create_embedder

            self._embedder = create_embedder(self.settings)
        return self._embedder

    def _relation_judge(
        self, meter: UsageMeter
    ) -> Callable[[str, Sequence[int], Sequence[str]], RelationBatch]:
        from summarizer.call_schemas import relation_schema
        from summarizer.replies import RelationBatch

        call = self._template_call("relate", RelationBatch, meter)
        return lambda groups, numbers, ids: call({"groups": groups}, relation_schema(numbers, ids))

    def _claim_judge(self, meter: UsageMeter) -> Callable[[str, Sequence[int]], ClaimJudgements]:
        from summarizer.support.judge import ClaimJudgements, judgement_schema

        call = self._template_call("check_claims", ClaimJudgements, meter)
        return lambda claims, numbers: call({"claims": claims}, judgement_schema(numbers))

    def _template_call(
        self, name: str, output_type: type[T], meter: UsageMeter
    ) -> Callable[[dict[str, str], dict[str, Any]], T]:
        """One model call per use of template `name`, through the call layer (cached, retried,
        re-asked) with this service's options; the story and claim judges share it."""
        template = self.prompts.get(name)
        calls = CallLayer(
            self.backend,
            cache=self.cache,
            refresh=self.settings.refresh_cache,
            retry=self.options.retry,
            max_reasks=self.options.max_reasks,
        )

        def ask(values: dict[str, str], schema: dict[str, Any]) -> T:
            request = CompletionRequest(
                messages=template.render(values),
                schema_name=output_type.__name__,
                json_schema=schema,
                max_tokens=self.options.max_output_tokens,
                temperature=self.options.temperature,
                seed=self.options.seed,
            )
            return calls.call(request, output_type, meter, prompt_sha256=template.sha256)

        return ask

    def summarize_path(self, path: str) -> SummaryResult:
        return self.summarize(read_source(path))

    def plan(self, source: Source) -> PlanReport:
        from summarizer.pipeline import plan

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

    def cache_only(self) -> Summarizer:
        """This service as one that answers from the cache and never calls the model (a miss
        raises BackendUnavailable): replaying a run on it proves a rerun would cost nothing.
        Close it after use; it shares nothing that `close` releases."""
        return Summarizer(
            self.settings.model_copy(update={"use_cache": True, "refresh_cache": False}),
            backend=_NoCalls(self.backend.identity),
            profile=self.profile,
            prompts=self.prompts,
            retry=RetryPolicy(max_attempts=1),
            owns_backend=False,
            embedder=self._embedder,
        )

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        for owned, resource in (
            (self.owns_backend, self.backend),
            (self._owns_embedder, self._embedder),
        ):
            close = getattr(resource, "close", None)
            if owned and callable(close):
                close()


class _NoCalls:
    """A backend with another's identity (so the same cache keys) that refuses every call."""

    def __init__(self, identity: BackendIdentity) -> None:
        self._identity = identity

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    def complete(self, request: CompletionRequest) -> Completion:
        raise BackendUnavailable("not in the cache")
