"""How fast the local models run, and what our backend adds on top of raw llama-cpp-python.

For every installed catalogued model (or those named with --model) this measures the load time,
then, for each seed article, one grammar-constrained structured call made twice: through
`LocalBackend.complete` and through `Llama.create_chat_completion` on a second, raw `Llama`
with the same prompt, schema and sampling parameters (`response_format` with the schema, as
llama-cpp-python documents it). Both sides reset their KV cache first, so both evaluate the
whole prompt; their outputs must be byte-identical, or the comparison would be meaningless.

Timings on a shared 2-core machine vary by tens of percent, so each call is repeated and the
fastest run is compared (the least disturbed one); the median is shown too.

    .venv/bin/python bench/local_speed.py --seeds evals/seeds/articles
    .venv/bin/python bench/local_speed.py --model qwen2.5-coder-1.5b --limit 1 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer import paths
from summarizer.call_schemas import digest_schema, plain_schema, sentence_id_field
from summarizer.chunking import render_sentences, split_sentences
from summarizer.llm import CompletionRequest, Message
from summarizer.llm.catalogue import ResolvedModel, installed_entries, resolve_local_model
from summarizer.llm.local_backend import EvalTimings, LocalBackend
from summarizer.replies import SentenceSelection
from summarizer.tokens import TokenCounter

SYSTEM = "You are a careful news editor. Answer with one JSON object and nothing else."
SELECT = "Return the ids of the 3 to 6 sentences that best summarise the article."
DIGEST = (
    "Write a headline, a two-sentence summary, key points, and claims; every claim cites the "
    "ids of the sentences that support it."
)


@dataclass(frozen=True)
class Run:
    wall: float
    timings: EvalTimings
    text: str
    completion_tokens: int

    @property
    def sampled_tokens_per_second(self) -> float:
        """Generated tokens per second of everything after the prompt: decoding, grammar,
        sampling and detokenizing (llama.cpp's own generation figure counts decoding only)."""
        return self.completion_tokens / (self.wall - self.timings.prompt_seconds)


@dataclass(frozen=True)
class Row:
    model: str
    article: str
    prompt_tokens: int
    completion_tokens: int
    ours: list[Run]
    raw: list[Run]

    @property
    def paired_overhead(self) -> float:
        """Median of (ours / raw - 1) over back-to-back pairs: slow drifts in the machine's load
        hit both halves of a pair alike, and the median drops the pairs a burst split."""
        return statistics.median(
            o.wall / r.wall - 1 for o, r in zip(self.ours, self.raw, strict=True)
        )

    @property
    def own_seconds(self) -> float:
        """Median time `LocalBackend.complete` spends outside llama-cpp-python: measured
        directly, so it does not drown in the machine's noise as the A/B difference does."""
        return statistics.median(r.wall - r.timings.llama_seconds for r in self.ours)


def build_request(text: str, task: str, max_tokens: int) -> CompletionRequest:
    sentences = split_sentences(text, TokenCounter(), 200)
    ids = [s.id for s in sentences]
    if task == "select":
        schema = plain_schema(SentenceSelection)
        sentence_id_field(schema)["items"] = {"type": "integer", "enum": ids}
        name, instruction = "SentenceSelection", SELECT
    else:
        schema = digest_schema(ids)
        name, instruction = "ChunkDigest", DIGEST
    user = (
        f"Article, one numbered sentence per line:\n{render_sentences(sentences)}\n\n{instruction}"
    )
    return CompletionRequest(
        messages=(Message(role="system", content=SYSTEM), Message(role="user", content=user)),
        schema_name=name,
        json_schema=schema,
        max_tokens=max_tokens,
    )


class RawLlama:
    """Plain llama-cpp-python, used the way its documentation shows."""

    def __init__(self, resolved: ResolvedModel, n_ctx: int, threads: int, seed: int) -> None:
        import llama_cpp

        self._llama_cpp = llama_cpp
        started = time.perf_counter()
        self.llama = llama_cpp.Llama(
            model_path=str(resolved.path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=seed,
            verbose=False,
        )
        self.load_seconds = time.perf_counter() - started

    def complete(self, request: CompletionRequest) -> Run:
        llama: Any = self.llama  # its stubs are partial (untyped reset, strict message dicts)
        started = time.perf_counter()
        llama.reset()
        self._llama_cpp.llama_perf_context_reset(llama.ctx)
        response: Any = llama.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in request.messages],
            response_format={"type": "json_object", "schema": request.json_schema},
            temperature=request.temperature,
            seed=request.seed,
            max_tokens=request.max_tokens,
        )
        wall = time.perf_counter() - started
        perf = self._llama_cpp.llama_perf_context(llama.ctx)
        timings = EvalTimings(
            prompt_tokens=perf.n_p_eval,
            prompt_seconds=perf.t_p_eval_ms / 1000,
            generated_tokens=perf.n_eval,
            generation_seconds=perf.t_eval_ms / 1000,
            llama_seconds=wall,
        )
        text = response["choices"][0]["message"]["content"]
        return Run(wall, timings, text, response["usage"]["completion_tokens"])


def run_ours(backend: LocalBackend, request: CompletionRequest) -> Run:
    started = time.perf_counter()
    completion = backend.complete(request)
    wall = time.perf_counter() - started
    assert backend.last_timings is not None
    return Run(wall, backend.last_timings, completion.text, completion.usage.completion_tokens)


def bench_model(resolved: ResolvedModel, articles: list[Path], args: argparse.Namespace) -> None:
    task = (
        args.task
        if args.task != "auto"
        else ("select" if resolved.default_mode == "extractive" else "digest")
    )
    backend = LocalBackend.from_resolved(resolved, n_ctx=args.n_ctx, threads=args.threads, seed=0)
    started = time.perf_counter()
    backend.load()
    our_load = time.perf_counter() - started
    raw = RawLlama(resolved, args.n_ctx, backend.threads, seed=0)
    print(
        f"\n### {resolved.model_id} ({task}, n_ctx={args.n_ctx}, threads={backend.threads})\n\n"
        f"load: LocalBackend {our_load:.2f} s, raw Llama {raw.load_seconds:.2f} s\n",
        flush=True,
    )
    rows = []
    for article in articles:
        request = build_request(article.read_text(), task, args.max_tokens)
        our_runs: list[Run] = []
        raw_runs: list[Run] = []
        for repeat in range(args.repeats):
            # Back-to-back pairs, in alternating order, so neither side always runs first.
            if repeat % 2:
                raw_runs.append(raw.complete(request))
                our_runs.append(run_ours(backend, request))
            else:
                our_runs.append(run_ours(backend, request))
                raw_runs.append(raw.complete(request))
        if {r.text for r in our_runs + raw_runs} != {our_runs[0].text}:
            sys.exit(f"{article.name}: outputs differ between runs or paths; not comparable")
        first = our_runs[0]
        rows.append(
            Row(resolved.model_id, article.name, first.timings.prompt_tokens,
                first.completion_tokens, our_runs, raw_runs)
        )  # fmt: skip
        print(f"  {article.name}: {our_runs[0].text[:100]}", file=sys.stderr, flush=True)
    print_table(rows)
    backend.close()
    raw.llama.close()


def print_table(rows: list[Row]) -> None:
    print(
        "| article | prompt tok | out tok | prompt tok/s | decode tok/s | gen tok/s incl. grammar "
        "| LocalBackend s (min / median) | raw llama-cpp s (min / median) | A/B overhead "
        "| own time in LocalBackend |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        best = min(row.ours, key=lambda r: r.wall)
        print(
            f"| {row.article[:3]} | {row.prompt_tokens} | {row.completion_tokens} "
            f"| {best.timings.prompt_tokens_per_second:.0f} "
            f"| {best.timings.generation_tokens_per_second:.0f} "
            f"| {best.sampled_tokens_per_second:.0f} "
            f"| {_walls(row.ours)} | {_walls(row.raw)} | {row.paired_overhead:+.1%} "
            f"| {row.own_seconds * 1000:.1f} ms ({row.own_seconds / best.wall:.2%}) |"
        )
    pairs = [o.wall / r.wall - 1 for row in rows for o, r in zip(row.ours, row.raw, strict=True)]
    own = statistics.median(r.wall - r.timings.llama_seconds for row in rows for r in row.ours)
    share = statistics.median(
        (r.wall - r.timings.llama_seconds) / r.wall for row in rows for r in row.ours
    )
    prompt, out = sum(r.prompt_tokens for r in rows), sum(r.completion_tokens for r in rows)
    print(
        f"| **all** | {prompt} | {out} | | | | | "
        f"| {statistics.median(pairs):+.1%} | {own * 1000:.1f} ms ({share:.2%}) |",
        flush=True,
    )


def _walls(runs: list[Run]) -> str:
    walls = [r.wall for r in runs]
    return f"{min(walls):.2f} / {statistics.median(walls):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, default=Path("evals/seeds/articles"))
    parser.add_argument("--model", action="append", help="catalogue name (default: all installed)")
    parser.add_argument("--task", choices=["auto", "select", "digest"], default="auto")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--models-dir", type=Path, default=paths.models_dir())
    args = parser.parse_args()

    articles = sorted(args.seeds.glob("*.txt"))[: args.limit]
    if not articles:
        sys.exit(f"no *.txt articles in {args.seeds}")
    names = args.model or [entry.name for entry in installed_entries(args.models_dir)]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    for name in names:
        bench_model(resolve_local_model(name, args.models_dir), articles, args)
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
