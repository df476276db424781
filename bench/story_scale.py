"""How the story step grows with the number of articles: model calls, prompt tokens, wall time.

For each size (2, 5, 10, 25, 50 articles) a synthetic story is built from the seed articles
(`evals/seeds/articles/*.txt`, five outlets on one event), each copy edited so that no two
articles are alike: sentences after the lead shuffled, synonyms swapped, sentences dropped,
numbers changed. The articles are summarised first (abstractive, through the real OpenAI backend
and HTTP, against the loopback server in `tests/openai_server.py` with no latency), so that what
is measured is the story step alone: `Summarizer.story(articles, results=...)`, whose model calls
are the batched relation judgements (`GROUPS_PER_CALL` groups a call).

The server answers every schema plausibly (`tests/fakes.py` `quoting_answer`: digest
claims quote the sentences they cite, as a faithful model's would; every relation is "same").
Prompt tokens are counted with tiktoken over the relation requests as sent (the server's own
usage figure is a 4-characters-a-token estimate). The embedder is the real offline MiniLM
(`create_embedder`), timed through a wrapper, so the table shows embedding throughput and the
step's wall time with and without embedding; model latency is zero, so no wall time is waiting.

Least-squares fits of calls and prompt tokens against the number of articles, with R², show
whether growth is linear.

    .venv/bin/python bench/story_scale.py               # sizes 2 5 10 25 50, ~2 minutes
    .venv/bin/python bench/story_scale.py --sizes 2 5   # a quick look
    .venv/bin/python bench/story_scale.py --threads 1   # on a busy machine
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the loopback server and its responder live with the tests

from pydantic import SecretStr  # noqa: E402

from summarizer.chunking import split_sentences  # noqa: E402
from summarizer.config import Settings  # noqa: E402
from summarizer.llm.embedder import Embedder, EmbedderIdentity, Vector  # noqa: E402
from summarizer.llm.factory import create_embedder  # noqa: E402
from summarizer.service import Summarizer  # noqa: E402
from summarizer.sources import source_from_text  # noqa: E402
from summarizer.story import StoryArticle  # noqa: E402
from summarizer.story.relations import GROUPS_PER_CALL  # noqa: E402
from summarizer.tokens import TokenCounter  # noqa: E402
from tests.fakes import answer_quoting_http_request  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402

SEEDS = REPO / "evals" / "seeds" / "articles"
MODEL = "gpt-4o-mini"
SYNONYMS = {
    "said": "stated", "signed": "inked", "treaty": "pact", "visit": "trip",
    "leaders": "heads of state", "agreement": "accord", "country": "nation",
    "weapons": "arms", "support": "backing", "meeting": "talks", "first": "initial",
    "capital": "city", "president": "leader", "military": "armed forces",
}  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?”\"])\s+(?=[A-Z“\"])")
_NUMBER = re.compile(r"\b\d+\b")


def edited(text: str, variant: int) -> str:
    """The seed `text`, edited as copy number `variant` (0 is the seed itself)."""
    if variant == 0:
        return text
    rng = random.Random(variant)
    paragraphs = []
    for n, paragraph in enumerate(p for p in text.split("\n\n") if p.strip()):
        sentences = _SENTENCE_END.split(paragraph.strip())
        if n > 0:  # the lead stays; later paragraphs are shuffled and thinned
            rng.shuffle(sentences)
            if len(sentences) > 2 and rng.random() < 0.5:
                sentences.pop(rng.randrange(len(sentences)))
        paragraphs.append(" ".join(sentences))
    if len(paragraphs) > 3:
        paragraphs.insert(1, paragraphs.pop(rng.randrange(2, len(paragraphs))))
    out = "\n\n".join(paragraphs)
    for word, synonym in SYNONYMS.items():
        if rng.random() < 0.4:
            out = re.sub(rf"\b{word}\b", synonym, out)
    out = _NUMBER.sub(lambda m: str(int(m.group()) + rng.choice((0, 0, 1, 2))), out)
    return out + f"\n\nThis report was filed by correspondent number {variant}."


def synthetic_story(size: int) -> list[StoryArticle]:
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    return [
        StoryArticle(
            source_from_text(edited(seeds[n % len(seeds)], n // len(seeds)), path=f"a{n:02d}"),
            outlet=f"outlet {n}",
        )
        for n in range(size)
    ]


class TimedEmbedder:
    """The real embedder, with the texts it embedded and the seconds it took."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts = 0
        self.seconds = 0.0

    @property
    def identity(self) -> EmbedderIdentity:
        return self.inner.identity

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        start = time.perf_counter()
        vectors = self.inner.embed(texts)
        self.seconds += time.perf_counter() - start
        self.texts += len(texts)
        return vectors


@dataclass(frozen=True)
class Row:
    articles: int
    sentences: int
    groups_judged: int
    calls: int
    prompt_tokens: int
    embedded: int
    embed_s: float
    step_s: float

    @property
    def per_s(self) -> float:
        return self.embedded / self.embed_s if self.embed_s else 0.0


def measure(size: int, server: OpenAIServer, settings: Settings, embedder: TimedEmbedder) -> Row:
    articles = synthetic_story(size)
    service = Summarizer(settings, embedder=embedder)
    counter = TokenCounter.for_model(MODEL)
    try:
        results = [service.summarize(a.source) for a in articles]
        before, texts, seconds = len(server.requests), embedder.texts, embedder.seconds
        start = time.perf_counter()
        service.story(articles, results=results)
        step = time.perf_counter() - start
    finally:
        service.close()
    asked = server.requests[before:]
    assert all(b["response_format"]["json_schema"]["name"] == "RelationBatch" for b in asked)
    prompt = sum(counter.count(m["content"]) for b in asked for m in b["messages"])
    sentences = sum(len(split_sentences(a.source.text, counter, 100_000)) for a in articles)
    return Row(
        articles=size,
        sentences=sentences,
        groups_judged=sum(len(_group_numbers(b)) for b in asked),
        calls=len(asked),
        prompt_tokens=prompt,
        embedded=embedder.texts - texts,
        embed_s=embedder.seconds - seconds,
        step_s=step,
    )


def _group_numbers(body: dict[str, Any]) -> list[int]:
    schema = body["response_format"]["json_schema"]["schema"]
    numbers: list[int] = schema["$defs"]["GroupVerdict"]["properties"]["group"]["enum"]
    return numbers


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares y = slope * x + intercept; returns (slope, intercept, R²)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    total = sum((y - my) ** 2 for y in ys)
    residual = sum((y - slope * x - intercept) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, intercept, 1 - residual / total if total else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 5, 10, 25, 50])
    parser.add_argument(
        "--threads", type=int, default=None, help="embedder threads (default: its own choice)"
    )
    args = parser.parse_args()
    rows = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        OpenAIServer(responder=answer_quoting_http_request) as server,
    ):
        settings = Settings(
            backend="openai", model=MODEL, api_key=SecretStr("sk-bench"),
            base_url=server.base_url, mode="abstractive", cache_dir=Path(scratch) / "cache",
            threads=args.threads,
        )  # fmt: skip
        embedder = TimedEmbedder(create_embedder(settings))
        embedder.embed(["warm-up"])  # loading the model is not the step's work
        for size in args.sizes:
            rows.append(measure(size, server, settings, embedder))
            print(f"  {size} articles done", file=sys.stderr)
    print(
        f"GROUPS_PER_CALL = {GROUPS_PER_CALL}; model latency 0; embedder {embedder.identity.model}"
    )
    print()
    print(
        "| articles | sentences | groups judged | story-step calls | prompt tokens | "
        "tokens/article | texts embedded | embedding/s | step wall s | step s without embedding |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.articles} | {r.sentences} | {r.groups_judged} | {r.calls} | {r.prompt_tokens} "
            f"| {r.prompt_tokens / r.articles:.0f} | {r.embedded} | {r.per_s:.1f} "
            f"| {r.step_s:.2f} | {r.step_s - r.embed_s:.2f} |"
        )
    if len(rows) >= 3:
        xs = [float(r.articles) for r in rows]
        print()
        for name, ys in (
            ("calls", [float(r.calls) for r in rows]),
            ("prompt tokens", [float(r.prompt_tokens) for r in rows]),
            ("step s without embedding", [r.step_s - r.embed_s for r in rows]),
        ):
            slope, intercept, r2 = fit(xs, ys)
            print(f"- {name} = {slope:.2f} × articles {intercept:+.1f}  (R² = {r2:.4f})")
        # The step's own CPU: alignment compares every sentence with every other one.
        slope, intercept, r2 = fit([x * x for x in xs], [r.step_s - r.embed_s for r in rows])
        print(
            f"- step s without embedding = {slope:.4f} × articles² {intercept:+.2f}"
            f"  (R² = {r2:.4f})"
        )
        total_texts = sum(r.embedded for r in rows)
        total_s = sum(r.embed_s for r in rows)
        print(f"- embedding: {total_texts} texts in {total_s:.1f} s, {total_texts / total_s:.1f}/s")


if __name__ == "__main__":
    main()
