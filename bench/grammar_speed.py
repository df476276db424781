"""Decoding speed with the grammar against unconstrained decoding, on the same prompt.

    .venv/bin/python bench/grammar_speed.py                          # SmolLM2
    .venv/bin/python bench/grammar_speed.py --model qwen2.5-coder-1.5b --max-tokens 96

One prompt (a map call's shape: the first `--sentences` sentences of a seed article and the
ChunkDigest schema of `summarizer/call_schemas.py`) is decoded greedily `--repeats` times in
each of three ways, interleaved so that machine load falls on all of them alike:

* `raw`: no grammar (`create_chat_completion` without `grammar=`), the reference speed;
* `full`: the grammar applied to the whole vocabulary on every step, as before
  (`LocalBackend(check_grammar_first=False)`);
* `checked`: the grammar checked on the greedy token only, the whole vocabulary masked only
  when it rejects that token (`LocalBackend`'s default, `summarizer/llm/grammar_sampling.py`).

Decoding speed is generated tokens over the call's wall time less llama.cpp's own prompt
evaluation time (so sampling, grammar and detokenizing count, the prompt does not); the median
of the repeats is reported, and each grammar mode's ratio to `raw` is printed next to the 0.85x
target, with the time per token spent in `Llama.sample` (the sampler chain, grammar included),
which the machine's load disturbs far less. `full` and `checked` must produce byte-identical
text, or the script says so and exits 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from summarizer import paths
from summarizer.call_schemas import digest_schema
from summarizer.chunking import render_sentences, split_sentences
from summarizer.llm import CompletionRequest, Message
from summarizer.llm.catalogue import resolve_local_model
from summarizer.llm.local_backend import LocalBackend
from summarizer.tokens import TokenCounter

REPO = Path(__file__).resolve().parent.parent
TARGET = 0.85


def build_request(sentences: int, max_tokens: int) -> CompletionRequest:
    (seed,) = (REPO / "evals" / "seeds" / "articles").glob("000_*.txt")
    shown = split_sentences(seed.read_text(), TokenCounter(), 200)[:sentences]
    user = (
        f"<article>\n{render_sentences(shown)}\n</article>\n\n"
        "Summarise the article: a headline, a summary and claims, each citing sentence ids."
    )
    return CompletionRequest(
        messages=(
            Message(role="system", content="You are a news editor. Answer with JSON only."),
            Message(role="user", content=user),
        ),
        schema_name="ChunkDigest",
        json_schema=digest_schema([s.id for s in shown]),
        max_tokens=max_tokens,
    )


class SamplingClock:
    """Seconds spent in `Llama.sample` (the sampler chain, grammar included), per mode: a figure
    the machine's load disturbs far less than whole-call speed."""

    def __init__(self) -> None:
        self.mode = ""
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, llama: Any) -> None:
        sample = llama.sample

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            token = sample(*args, **kwargs)
            elapsed = time.perf_counter() - started
            self.seconds[self.mode] = self.seconds.get(self.mode, 0.0) + elapsed
            self.calls[self.mode] = self.calls.get(self.mode, 0) + 1
            return token

        llama.sample = timed  # an instance attribute: `generate` calls `self.sample`

    def per_token_ms(self, mode: str) -> float:
        return 1000 * self.seconds.get(mode, 0.0) / max(self.calls.get(mode, 0), 1)


def raw_speed(backend: LocalBackend, request: CompletionRequest) -> float:
    """Unconstrained greedy decoding of the same prompt on the backend's own model."""
    import llama_cpp

    llama: Any = backend._llama  # the bench reaches past the seam: no grammar at all
    llama.reset()
    llama_cpp.llama_perf_context_reset(llama.ctx)
    started = time.perf_counter()
    llama.create_chat_completion(
        messages=[{"role": m.role, "content": m.content} for m in request.messages],
        temperature=0.0,
        max_tokens=request.max_tokens,
    )
    wall = time.perf_counter() - started
    perf = llama_cpp.llama_perf_context(llama.ctx)
    return float(perf.n_eval / (wall - perf.t_p_eval_ms / 1000))


def grammar_speed(backend: LocalBackend, request: CompletionRequest) -> tuple[float, str]:
    started = time.perf_counter()
    completion = backend.complete(request)
    wall = time.perf_counter() - started
    timings = backend.last_timings
    assert timings is not None
    return timings.generated_tokens / (wall - timings.prompt_seconds), completion.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    resolved = resolve_local_model(args.model, paths.cache_dir())
    request = build_request(args.sentences, args.max_tokens)
    # reuse_prefix=False: every call evaluates its whole prompt, as `raw_speed` does.
    full = LocalBackend.from_resolved(
        resolved, threads=args.threads, reuse_prefix=False, check_grammar_first=False
    )
    checked = LocalBackend.from_resolved(resolved, threads=args.threads, reuse_prefix=False)
    full.load()
    checked.load()
    clock = SamplingClock()
    clock.wrap(full._llama)
    clock.wrap(checked._llama)
    print(
        f"model {resolved.model_id}, {full.threads} threads, {args.max_tokens} max tokens, "
        f"{args.repeats} repeats; load average {os.getloadavg()[0]:.2f}"
    )
    speeds: dict[str, list[float]] = {"raw": [], "full": [], "checked": []}
    texts: dict[str, set[str]] = {"full": set(), "checked": set()}
    steps = rejections = 0
    for _ in range(args.repeats):
        clock.mode = "raw"
        speeds["raw"].append(raw_speed(full, request))
        for name, backend in (("full", full), ("checked", checked)):
            clock.mode = name
            speed, text = grammar_speed(backend, request)
            speeds[name].append(speed)
            texts[name].add(text)
        sampler = checked._llama.last_sampler
        steps, rejections = steps + sampler.steps, rejections + sampler.rejections
    raw = statistics.median(speeds["raw"])
    print(f"  {'raw':8} {raw:7.1f} tok/s  sampling {clock.per_token_ms('raw'):6.2f} ms/token")
    for name in ("full", "checked"):
        speed = statistics.median(speeds[name])
        verdict = "meets" if speed / raw >= TARGET else "misses"
        print(
            f"  {name:8} {speed:7.1f} tok/s  sampling {clock.per_token_ms(name):6.2f} ms/token  "
            f"{speed / raw:5.2f}x raw "
            f"(target >= {TARGET}x: {verdict})"
        )
    print(
        f"  checked: the grammar rejected the greedy token on {rejections} of {steps} steps "
        f"({rejections / max(steps, 1):.1%})"
    )
    full.close()
    checked.close()
    if len(texts["full"] | texts["checked"]) != 1:
        print("FAIL: full and checked decoding gave different text", file=sys.stderr)
        return 1
    print("  full and checked text: byte-identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
