"""From a `Source` to a `SummaryResult`: chunk, map, reduce, resolve evidence.

One call when the article fits the chunk budget. Otherwise each chunk is mapped to a typed
partial result (claims plus a partial summary, or selected sentences), claims are merged and
de-duplicated, and the partial summaries are reduced in groups that fit the budget, level by
level, until one is left. Every call's prompt plus its output budget fits the backend's context
window, whatever the document's length, and the number of levels is bounded.

Two modes: *abstractive* (the model writes a summary and claims that cite sentence ids, by the
structure above) and *extractive* (for tiny local models that cannot paraphrase: the program
chooses whole sentences by `summarizer.selection` and quotes them; no model is called, because
the tiny model's choice measured no better than the first sentences, docs/evaluation.md).

Both honour `PipelineOptions.summary_words` by construction, never cutting a sentence: the
extractive choice is made under it, and an abstractive summary keeps the whole sentences that
fit (`_within_budget`, the one place it is applied).
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from summarizer.cache import CallCache
from summarizer.call_schemas import digest_schema, merge_schema
from summarizer.chunking import (
    Chunk,
    Sentence,
    chunk_sentences,
    render_sentences,
    split_counted,
    split_sentences,
)
from summarizer.errors import PlanError
from summarizer.evidence import (
    ResolvedClaim,
    claim_from_sentence,
    merge_claims,
    resolve_claim,
    verify_claims,
)
from summarizer.headlines import headline
from summarizer.llm import Backend, BackendIdentity, CompletionRequest
from summarizer.llm.calls import CallLayer, UsageMeter, metered

# Re-exported: the options and mode are the pipeline's API; they live apart (see options.py).
from summarizer.options import Mode as Mode
from summarizer.options import PipelineOptions as PipelineOptions
from summarizer.prompts import PromptLibrary, PromptTemplate
from summarizer.replies import ChunkDigest, MergedSummary
from summarizer.schemas import ModelRef, SourceInfo, Summary, SummaryResult
from summarizer.selection import (
    count_words,
    rank_rest,
    select_sentences,
    within_words,
)
from summarizer.sources import Source
from summarizer.text import word_count
from summarizer.tokens import TokenCounter
from summarizer.wellformed import Tidied, claim_range, describe, digest_problems, tidy

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

# Chat formats add a few tokens per message around the text we count.
MESSAGE_OVERHEAD_TOKENS = 8
MAX_REDUCE_LEVELS = 8


@dataclass(frozen=True)
class Plan:
    """What a document will cost, computed without calling a model (see `--dry-run`)."""

    mode: Mode
    source_tokens: int
    sentences: int
    chunks: int
    chunk_budget: int
    context_window: int
    map_calls: int
    reduce_calls: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def calls(self) -> int:
        return self.map_calls + self.reduce_calls


# --- planning ----------------------------------------------------------------------------------


def _template_overhead(template: PromptTemplate, counter: TokenCounter) -> int:
    key = (template.sha256, counter.encoding_name)
    if key not in _OVERHEADS:  # every run of a batch renders and counts the same templates
        empty = dict.fromkeys(template.variables, "")
        system, user = template.render(empty)
        shown = counter.count(system.content) + counter.count(user.content)
        _OVERHEADS[key] = shown + 2 * MESSAGE_OVERHEAD_TOKENS
    return _OVERHEADS[key]


# A template's own tokens, by its content hash and the encoding that counted them.
_OVERHEADS: dict[tuple[str, str], int] = {}


def chunk_budget(options: PipelineOptions, identity: BackendIdentity, overhead: int) -> int:
    """Tokens of numbered article text one call may carry (in tiktoken tokens)."""
    context_window = identity.context_window
    room = context_window - options.max_output_tokens - overhead - 16  # ids in the variables
    budget = min(options.max_chunk_tokens, math.floor(room / identity.token_ratio))
    if budget < 64:
        raise PlanError(
            f"context window {context_window} leaves only {budget} tokens for text after "
            f"{options.max_output_tokens} output tokens; lower --max-output-tokens or use a "
            "model with a larger context"
        )
    return budget


def _template_budget(
    template: PromptTemplate,
    options: PipelineOptions,
    identity: BackendIdentity,
    counter: TokenCounter,
) -> tuple[int, int]:
    """(overhead, budget): the template's own tokens, and the text tokens a call may add."""
    overhead = _template_overhead(template, counter)
    return overhead, chunk_budget(options, identity, overhead)


def _map_template_name(mode: Mode) -> str:
    return "summarize" if mode == "abstractive" else "extract"


def _split(
    text: str,
    template: PromptTemplate,
    options: PipelineOptions,
    identity: BackendIdentity,
    counter: TokenCounter,
) -> tuple[int, int, list[Sentence], list[Chunk], int]:
    """The one split that both the plan and the run use.

    Returns overhead, budget, sentences, chunks and the whole text's token count, which comes
    from the same encode as the sentences' counts (`split_counted`) rather than a second one.
    """
    overhead, budget = _template_budget(template, options, identity, counter)
    sentences, source_tokens = split_counted(text, counter, budget)
    chunks = chunk_sentences(sentences, counter, budget, options.chunk_overlap)
    return overhead, budget, sentences, chunks, source_tokens


def plan(
    source: Source,
    options: PipelineOptions,
    *,
    identity: BackendIdentity,
    prompts: PromptLibrary | None = None,
) -> Plan:
    library = prompts or PromptLibrary()
    counter = TokenCounter.for_model(identity.model)
    template = library.get(_map_template_name(options.mode))
    overhead, budget, sentences, chunks, source_tokens = _split(
        source.text, template, options, identity, counter
    )
    if options.mode == "extractive":  # the program chooses the sentences: no call at all
        map_calls = reduce_calls = prompt_tokens = completion = 0
    else:
        map_calls = len(chunks)
        map_prompt = sum(c.tokens for c in chunks) + overhead * len(chunks)
        # Estimate the reduce tree from typical partial sizes (actual sizes are known only later).
        partial_tokens = min(options.max_output_tokens, 250)
        merge_overhead, merge_budget = _template_budget(
            library.get("merge"), options, identity, counter
        )
        reduce_calls, reduce_prompt = _estimate_reduce(len(chunks), partial_tokens, merge_budget)
        prompt_tokens = map_prompt + reduce_prompt + merge_overhead * reduce_calls
        completion = (len(chunks) + reduce_calls) * min(options.max_output_tokens, 400)
    return Plan(
        mode=options.mode,
        source_tokens=source_tokens,
        sentences=len(sentences),
        chunks=len(chunks),
        chunk_budget=budget,
        context_window=identity.context_window,
        map_calls=map_calls,
        reduce_calls=reduce_calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
    )


def _estimate_reduce(items: int, item_tokens: int, budget: int) -> tuple[int, int]:
    per_group = max(2, budget // max(1, item_tokens))
    calls = prompt = 0
    while items > 1:
        groups = math.ceil(items / per_group)
        calls += groups
        prompt += items * item_tokens
        items = groups
    return calls, prompt


# --- running -----------------------------------------------------------------------------------


def summarize(
    source: Source,
    backend: Backend,
    options: PipelineOptions | None = None,
    *,
    cache: CallCache | None = None,
    refresh: bool = False,
    prompts: PromptLibrary | None = None,
    meter: UsageMeter | None = None,
) -> SummaryResult:
    """Summarise one source; see the module docstring. Raises SummarizerError subclasses.

    Every model attempt is counted once, in `meter` (a fresh one unless given): the result's
    `usage`, or the raised error's, is its total.
    """
    options = options or PipelineOptions()
    calls = CallLayer(
        backend, cache=cache, refresh=refresh, retry=options.retry, max_reasks=options.max_reasks
    )
    with metered(meter) as run_meter:
        return _Run(source, calls, options, prompts or PromptLibrary(), run_meter).execute()


class _Run:
    """One document's map/reduce; every model call goes through the call layer."""

    def __init__(
        self,
        source: Source,
        calls: CallLayer,
        options: PipelineOptions,
        prompts: PromptLibrary,
        meter: UsageMeter,
    ) -> None:
        self.source = source
        self.calls = calls
        self.identity = calls.backend.identity
        self.options = options
        self.prompts = prompts
        self.meter = meter
        self.counter = TokenCounter.for_model(self.identity.model)
        self.warnings: list[str] = list(source.warnings)
        self.used_templates: dict[str, PromptTemplate] = {}

    def execute(self) -> SummaryResult:
        template = self.prompts.get(_map_template_name(self.options.mode))
        _, budget, sentences, chunks, source_tokens = _split(
            self.source.text, template, self.options, self.identity, self.counter
        )
        if self.options.mode == "abstractive":
            summary, resolved = self._abstractive(chunks, budget)
            if self.options.summary_from_selection:
                summary = self._selected_text(summary, sentences)
            else:
                summary = self._within_budget(summary, sentences)
        else:
            summary, resolved = self._extractive(sentences)
        claims = merge_claims(resolved, self.source.text)
        problems = verify_claims(claims, self.source.text)
        if problems:  # unreachable by construction; refuse to emit rather than mislead
            raise PlanError("; ".join(problems))
        return SummaryResult(
            source=SourceInfo(
                path=self.source.path,
                sha256=self.source.sha256,
                chars=len(self.source.text),
                tokens=source_tokens,
            ),
            mode=self.options.mode,
            summary=summary,
            claims=claims,
            model=ModelRef(backend=self.identity.name, name=self.identity.model),
            prompts=[t.ref for t in self.used_templates.values()],
            chunks=len(chunks),
            summary_words=self.options.summary_words,
            usage=self.meter.total,
            warnings=self.warnings,
        )

    # abstractive ---------------------------------------------------------------------------

    def _abstractive(
        self, chunks: Sequence[Chunk], budget: int
    ) -> tuple[Summary, list[ResolvedClaim]]:
        template = self.prompts.get("summarize")

        def digest(chunk: Chunk) -> Tidied:
            texts = [s.text for s in chunk.sentences]
            claims = claim_range(
                sum(word_count(t) for t in texts), self.options.max_claims, len(texts)
            )
            raw = self._call(
                template,
                {
                    "sentences": render_sentences(chunk.sentences),
                    "min_claims": str(claims[0]),
                    "max_claims": str(claims[1]),
                },
                ChunkDigest,
                digest_schema(
                    [s.id for s in chunk.sentences], claims, claims_first=self.options.claims_first
                ),
                check=lambda d: describe(digest_problems(d, texts, claims)),
            )
            return tidy(raw, texts, claims)

        digests = self._map(digest, chunks)
        resolved: list[ResolvedClaim] = []
        dropped = 0
        for chunk, digest_ in zip(chunks, digests, strict=True):
            self.warnings.extend(digest_.warnings)
            visible = {s.id: s for s in chunk.sentences}
            for cited in digest_.claims:
                claim = resolve_claim(cited, visible)
                if claim is None:
                    dropped += 1
                else:
                    resolved.append(claim)
        if dropped:
            self.warnings.append(
                f"dropped {dropped} claim(s) citing no sentence of the text they were drawn from"
            )
        partials = [
            MergedSummary(headline=d.headline, summary=d.summary, key_points=d.key_points)
            for d in digests
        ]
        merged = partials[0] if len(partials) == 1 else self._reduce_summaries(partials)
        return (
            Summary(
                headline=merged.headline,
                text=" ".join(s.strip() for s in merged.summary),
                key_points=merged.key_points,
            ),
            resolved,
        )

    def _reduce_summaries(self, partials: list[MergedSummary]) -> MergedSummary:
        template = self.prompts.get("merge")
        _, budget = _template_budget(template, self.options, self.identity, self.counter)

        def render(items: Sequence[MergedSummary]) -> str:
            return "\n\n".join(
                f"[{n}] headline: {p.headline}\nsummary: {' '.join(p.summary)}\n"
                f"key points: {'; '.join(p.key_points)}"
                for n, p in enumerate(items, start=1)
            )

        def merge(group: Sequence[MergedSummary]) -> MergedSummary:
            raw = self._call(
                template,
                {"partials": render(group)},
                MergedSummary,
                merge_schema(),
                check=lambda m: describe(digest_problems(m)),
            )
            tidied = tidy(raw)
            self.warnings.extend(tidied.warnings)
            return MergedSummary(
                headline=tidied.headline, summary=tidied.summary, key_points=tidied.key_points
            )

        return _reduce_levels(partials, lambda group: self._fits(render(group), budget), merge)[0]

    # extractive ----------------------------------------------------------------------------

    def _selection(self, sentences: Sequence[Sentence]) -> list[Sentence]:
        """The program's choice of the article's sentences for the word budget."""
        words = self.options.summary_words
        chosen = select_sentences(sentences, words)
        if not chosen:
            raise PlanError(
                f"no sentence of the article fits in {words} words; raise --words "
                f"(the shortest has {min((count_words(s.text) for s in sentences), default=0)})"
            )
        return chosen

    def _extractive(self, sentences: Sequence[Sentence]) -> tuple[Summary, list[ResolvedClaim]]:
        chosen = self._selection(sentences)
        # Each part earns its place: a headline cut to a clause, key points the summary lacks.
        points = rank_rest(sentences, chosen, self.options.extract_count)
        summary = Summary(
            headline=headline(_without_dateline(chosen[0].text)),
            text=" ".join(s.text for s in chosen),
            key_points=[s.text for s in sorted(points, key=lambda s: s.id)],
        )
        quoted = sorted([*chosen, *points], key=lambda s: s.id)
        return summary, [claim_from_sentence(s) for s in quoted]

    def _selected_text(self, summary: Summary, sentences: Sequence[Sentence]) -> Summary:
        """The model's headline and key points over the program's selection of the article's
        sentences (auto mode, for a model whose own summaries measured below the selection)."""
        chosen = self._selection(sentences)
        self.warnings.append(
            f"summary text: the program's choice of the article's sentences, since "
            f"{self.identity.model}'s own summaries cover fewer facts at equal length "
            "(auto mode; --mode abstractive keeps the model's)"
        )
        return summary.model_copy(update={"text": " ".join(s.text for s in chosen)})

    def _within_budget(self, summary: Summary, sentences: Sequence[Sentence]) -> Summary:
        """The model's summary, keeping the whole sentences that fit the word budget; when none
        does, the extractive choice of the article's own sentences, with a warning."""
        words = self.options.summary_words
        written = [s.text for s in split_sentences(summary.text, self.counter, 10**6)]
        kept = within_words(written, words)
        if len(kept) == len(written):
            return summary
        if kept:
            self.warnings.append(
                f"kept {len(kept)} of the summary's {len(written)} sentences to fit {words} words"
            )
            return summary.model_copy(update={"text": " ".join(kept)})
        chosen = select_sentences(sentences, words)
        if not chosen:
            raise PlanError(f"no sentence of the summary or the article fits in {words} words")
        self.warnings.append(
            f"no sentence of the model's summary fits in {words} words; "
            "the summary quotes the article's sentences instead"
        )
        return summary.model_copy(update={"text": " ".join(s.text for s in chosen)})

    # calls ---------------------------------------------------------------------------------

    def _map(self, work: Callable[[Chunk], R], chunks: Sequence[Chunk]) -> list[R]:
        """Apply `work` to every chunk, in order; concurrently when the options allow."""
        if self.options.map_concurrency <= 1 or len(chunks) <= 1:
            return [work(chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=self.options.map_concurrency) as pool:
            # Each task runs in a copy of the caller's context, so cancellation and timeouts
            # that a batch job keeps in context variables reach the chunk threads too.
            futures = [pool.submit(contextvars.copy_context().run, work, c) for c in chunks]
            return [future.result() for future in futures]

    def _fits(self, text: str, budget: int) -> bool:
        return self.counter.count(text) <= budget

    def _call(
        self,
        template: PromptTemplate,
        values: dict[str, str],
        output_type: type[T],
        schema: dict[str, Any],
        *,
        check: Callable[[T], str | None] | None = None,
    ) -> T:
        self.used_templates.setdefault(template.name, template)
        request = CompletionRequest(
            messages=template.render(values),
            schema_name=output_type.__name__,
            json_schema=schema,
            max_tokens=self.options.max_output_tokens,
            temperature=self.options.temperature,
            seed=self.options.seed,
        )
        return self.calls.call(
            request,
            output_type,
            self.meter,
            prompt_sha256=template.sha256,
            warn=self.warnings.append,
            check=check,
        )


# --- helpers -----------------------------------------------------------------------------------

Item = TypeVar("Item")


_DATELINE = re.compile(
    r"^\s*(?:[A-Z][\w .,'-]{0,40}\s)?(?:\(\s*cnn\s*\)|-lrb-\s*cnn\s*-rrb-)\s*(?:--|-|,)?\s*",
    re.IGNORECASE,
)


def _without_dateline(text: str) -> str:
    """'(CNN) -- Two heroes ...' -> 'Two heroes ...': an agency tag is not a headline."""
    rest = _DATELINE.sub("", text, count=1)
    return rest[:1].upper() + rest[1:] if rest else text


def _pack(items: Sequence[Item], fits: Callable[[Sequence[Item]], bool]) -> list[list[Item]]:
    """Greedy consecutive groups, each as large as `fits` allows (at least one item)."""
    groups: list[list[Item]] = []
    for item in items:
        if groups and fits([*groups[-1], item]):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _reduce_levels(
    items: list[Item],
    fits: Callable[[Sequence[Item]], bool],
    merge: Callable[[Sequence[Item]], Item],
) -> list[Item]:
    level = 0
    while len(items) > 1:
        level += 1
        groups = _pack(items, fits)
        if level > MAX_REDUCE_LEVELS or all(len(g) == 1 for g in groups):
            raise PlanError(
                "partial summaries are too long to merge within the context budget; "
                "lower --max-output-tokens or raise --max-chunk-tokens"
            )
        items = [merge(g) if len(g) > 1 else g[0] for g in groups]
    return items
