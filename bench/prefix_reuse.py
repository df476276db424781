"""Prompt tokens llama.cpp evaluates per document, with and without shared-prefix reuse.

    .venv/bin/python bench/prefix_reuse.py                  # SmolLM2, extractive
    .venv/bin/python bench/prefix_reuse.py --chunk-tokens 250 --documents 2

A document of about `--chunks` map chunks (seed articles joined, the default chunk budget cut to
`--chunk-tokens` so that it splits that often) is summarised through `Summarizer` with the
cache off, twice per document: on a `LocalBackend(reuse_prefix=False)` (a reset and the whole
prompt before every call, as before) and on one with reuse (`LocalBackend`'s default). Each call's
evaluated prompt tokens come from llama.cpp's own counter (`last_timings.prompt_tokens`). The
outputs must be byte-identical, document by document, or the script says so and exits 1; the
second document runs on the same reusing backend, so it also starts from the first's prefix.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from summarizer import paths
from summarizer.config import Settings
from summarizer.llm import Completion, CompletionRequest
from summarizer.llm.catalogue import resolve_local_model
from summarizer.llm.factory import describe_backend
from summarizer.llm.local_backend import LocalBackend
from summarizer.service import Summarizer
from summarizer.sources import source_from_text

REPO = Path(__file__).resolve().parent.parent


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--seeds", type=Path, default=REPO / "evals" / "seeds" / "articles")
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--documents", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    resolved = resolve_local_model(args.model, paths.models_dir())
    seeds = [p.read_text() for p in sorted(args.seeds.glob("*.txt"))]
    settings = Settings(
        backend="local",
        model=args.model,
        use_cache=False,
        max_chunk_tokens=args.chunk_tokens,
        threads=args.threads,
    )
    profile = describe_backend(settings)
    sides = {
        "before (reset per call)": Counting(
            LocalBackend.from_resolved(resolved, threads=args.threads, reuse_prefix=False)
        ),
        "after (prefix reused)": Counting(
            LocalBackend.from_resolved(resolved, threads=args.threads)
        ),
    }
    services = {
        name: Summarizer(settings, backend=side, profile=profile) for name, side in sides.items()
    }
    print(f"{resolved.model_id}, chunk budget {args.chunk_tokens} tokens, cache off")
    print("\n| document | side | calls | prompt tokens | evaluated | per call | seconds |")
    print("|---|---|---:|---:|---:|---:|---:|")
    identical = True
    for number in range(args.documents):
        # Different seeds in a different order per document: its own text, the same templates.
        text = "\n\n".join(seeds[number:] + seeds[:number])
        source = source_from_text(text, path=f"document-{number}")
        outputs = {}
        for name, service in services.items():
            side = sides[name]
            before = len(side.evaluated)
            started = time.perf_counter()
            result = service.summarize(source)
            seconds = time.perf_counter() - started
            calls = len(side.evaluated) - before
            evaluated = sum(side.evaluated[before:])
            prompt = sum(side.prompt[before:])
            outputs[name] = result.model_dump_json(exclude={"usage"})
            print(
                f"| {number} | {name} | {calls} | {prompt} | {evaluated} | "
                f"{evaluated / max(calls, 1):.0f} | {seconds:.1f} |",
                flush=True,
            )
        same = len(set(outputs.values())) == 1
        identical &= same
        print(f"| {number} | outputs | | | | {'byte-identical' if same else 'DIFFER'} | |")
    before_side, after_side = sides.values()
    ratio = sum(after_side.evaluated) / max(sum(before_side.evaluated), 1)
    print(
        f"\nevaluated prompt tokens, after / before: {ratio:.2f} "
        f"({sum(after_side.evaluated)} / {sum(before_side.evaluated)})"
    )
    if not identical:
        print("outputs differ between the two sides")
        return 1
    print("outputs byte-identical on every document")
    return 0


if __name__ == "__main__":
    sys.exit(main())
