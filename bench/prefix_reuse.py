"""Prompt tokens llama.cpp evaluates per document, with and without shared-prefix reuse.

    .venv/bin/python bench/prefix_reuse.py --chunks 10        # SmolLM2, one 10-chunk document
    .venv/bin/python bench/prefix_reuse.py --chunk-tokens 250 --documents 2

A document (seed articles joined, rotated per document) is planned by the real pipeline in
abstractive mode with the chunk budget cut to `--chunk-tokens` (or, with `--chunks N`, the
largest budget that still gives N map chunks): its map requests are recorded in-process from
`Summarizer` (a recording backend answers them plausibly, so the merge requests follow too),
exactly as a run would send them. Each request is then evaluated on a
`LocalBackend(reuse_prefix=False)` (a reset and the whole prompt before every call, as before) and
on one with reuse (`LocalBackend`'s default), in the same order, with the answer capped at
`--max-tokens` (the saving is in the prompt; the extractive tier, the embedded model's own, makes
no call at all, and a 135M model asked for a whole digest runs to its output limit). llama.cpp's
own counter (`last_timings.prompt_tokens`) says how many prompt tokens each call evaluated. The
answers must be byte-identical call by call, or the script says so and exits 1; the second
document runs on the same reusing backend, so it also starts from the first's prefix.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.fakes answers the recorded requests

from summarizer import paths  # noqa: E402
from summarizer.config import Settings  # noqa: E402
from summarizer.llm import BackendIdentity, Completion, CompletionRequest  # noqa: E402
from summarizer.llm.catalogue import resolve_local_model  # noqa: E402
from summarizer.llm.factory import describe_backend  # noqa: E402
from summarizer.llm.local_backend import LocalBackend  # noqa: E402
from summarizer.schemas import Usage  # noqa: E402
from summarizer.service import Summarizer  # noqa: E402
from summarizer.sources import Source, source_from_text  # noqa: E402
from tests.fakes import plausible_answer  # noqa: E402


class Counting:
    """The backend, counting the prompt tokens llama.cpp evaluated on each call."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.evaluated: list[int] = []
        self.prompt: list[int] = []

    @property
    def identity(self):  # type: ignore[no-untyped-def]
        return self.backend.identity

    def complete(self, request: CompletionRequest) -> Completion:
        completion = self.backend.complete(request)
        timings = self.backend.last_timings
        assert timings is not None
        self.evaluated.append(timings.prompt_tokens)
        self.prompt.append(completion.usage.prompt_tokens)
        return completion


class Recording:
    """A backend with the local model's identity that keeps every request and answers it
    plausibly, so the pipeline goes on to the requests that follow (merges)."""

    def __init__(self, identity: BackendIdentity) -> None:
        self.identity = identity
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return Completion(text=plausible_answer(request), finish_reason="stop", usage=Usage())


def recorded_requests(settings: Settings, source: Source) -> list[CompletionRequest]:
    profile = describe_backend(settings)
    recording = Recording(profile.identity)
    Summarizer(settings, backend=recording, profile=profile).summarize(source)
    return recording.requests


def document(seeds: list[str], number: int) -> Source:
    """Different seeds in a different order per document: its own text, the same templates."""
    return source_from_text("\n\n".join(seeds[number:] + seeds[:number]), path=f"document-{number}")


def settings_for(model: str, chunk_tokens: int, threads: int | None) -> Settings:
    return Settings(
        backend="local", model=model, mode="abstractive", use_cache=False,
        max_chunk_tokens=chunk_tokens, threads=threads,
    )  # fmt: skip


def budget_for_chunks(model: str, seeds: list[str], chunks: int, threads: int | None) -> int:
    """The largest chunk budget at which the first document still splits into `chunks`."""
    source = document(seeds, 0)
    low, high = 60, 4000
    while low < high:
        middle = (low + high + 1) // 2
        plan = Summarizer(settings_for(model, middle, threads)).plan(source).plan
        if plan.chunks >= chunks:
            low = middle
        else:
            high = middle - 1
    return low


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--seeds", type=Path, default=REPO / "evals" / "seeds" / "articles")
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--chunks", type=int, help="pick the budget that gives this many chunks")
    parser.add_argument("--documents", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=16, help="answer cap per call")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    resolved = resolve_local_model(args.model, paths.models_dir())
    seeds = [p.read_text() for p in sorted(args.seeds.glob("*.txt"))]
    budget = args.chunk_tokens
    if args.chunks:
        budget = budget_for_chunks(args.model, seeds, args.chunks, args.threads)
    settings = settings_for(args.model, budget, args.threads)
    sides = {
        "before (reset per call)": Counting(
            LocalBackend.from_resolved(resolved, threads=args.threads, reuse_prefix=False)
        ),
        "after (prefix reused)": Counting(
            LocalBackend.from_resolved(resolved, threads=args.threads)
        ),
    }
    print(
        f"{resolved.model_id}, chunk budget {budget} tokens, answers capped at "
        f"{args.max_tokens} tokens"
    )
    columns = "document | side | calls (map + merge) | prompt tokens | evaluated | per call"
    print(f"\n| {columns} | seconds |")
    print("|---|---|---|---:|---:|---:|---:|")
    identical = True
    for number in range(args.documents):
        requests = recorded_requests(settings, document(seeds, number))
        maps = sum(1 for r in requests if r.schema_name == "ChunkDigest")
        capped = [r.model_copy(update={"max_tokens": args.max_tokens}) for r in requests]
        outputs = {}
        for name, side in sides.items():
            before = len(side.evaluated)
            started = time.perf_counter()
            outputs[name] = [side.complete(request).text for request in capped]
            seconds = time.perf_counter() - started
            evaluated = sum(side.evaluated[before:])
            prompt = sum(side.prompt[before:])
            print(
                f"| {number} | {name} | {len(capped)} ({maps} + {len(capped) - maps}) | {prompt} | "
                f"{evaluated} | {evaluated / max(len(capped), 1):.0f} | {seconds:.1f} |",
                flush=True,
            )
        same = len({tuple(texts) for texts in outputs.values()}) == 1
        identical &= same
        print(f"| {number} | answers | | | | {'byte-identical' if same else 'DIFFER'} | |")
    before_side, after_side = sides.values()
    ratio = sum(after_side.evaluated) / max(sum(before_side.evaluated), 1)
    print(
        f"\nevaluated prompt tokens, after / before: {ratio:.2f} "
        f"({sum(after_side.evaluated)} / {sum(before_side.evaluated)})"
    )
    if not identical:
        print("answers differ between the two sides")
        return 1
    print("answers byte-identical on every call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
