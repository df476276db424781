"""Batch throughput against a loopback OpenAI-compatible server with a fixed latency per call.

    .venv/bin/python bench/batch_throughput.py              # 16 rounds per configuration
    .venv/bin/python bench/batch_throughput.py --items 64   # the same 64 articles for every one

Each configuration summarises N distinct short articles (one model call each) into a fresh
output directory, with the cache off, through `run_batch`, the real OpenAI backend and HTTP. By
default N is 16 x concurrency, so every configuration lasts 16 rounds of calls (3.2 s at 200 ms):
with a fixed N, concurrency 32 would get 2 rounds from 64 items, and a run's fixed cost (client,
ledger, connections, results.jsonl) would be measured more than the throughput. The server runs
in its own process, as a real endpoint would, so its threads do not take the benchmark's GIL.
The bound is the best the configuration allows: `concurrency / latency` items per second, or
the RPM limit when that is lower. Achieved throughput is N over the wall time of the whole
`run_batch` call (lock, ledger, outputs, results.jsonl and report included), after one untimed
warm-up run that pays for importing the SDK. The "server span" column is the same N over the
time from the first request's arrival to the last answer, seen from the server: the run's
start-up and wind-up left out.

From the server's side the table also shows the most requests ever in flight at once (never
above the concurrency) and the most that arrived in any one-second window (about rpm / 60 under
an RPM limit: the limiter admits at most rpm / 60 + 1 per second, and scheduling jitter between
a slot and the request reaching the server can move one more into a window); a 429 would show
in the 429s column. The "bare threads" rows call `Summarizer.summarize` from plain threads with
none of the batch machinery: the ceiling that the pipeline and SDK set on this machine.

The "raw async SDK" rows are what a hand-rolled script does with the same items: one
`openai.AsyncOpenAI` client, an `asyncio.Semaphore` of the concurrency, the request body our
pipeline sends for each article (recorded beforehand, untimed: the raw script pays no prompt
building), `json.loads` of each answer and one JSON file written per item. Issue 12's target:
the batch at concurrency 8 and 32 reaches at least 0.95x of the raw SDK's items per second, in
the same run; the ratio rows print it. The configurations run one after another, and this VM's
speed drifts within seconds, so `--pairs` (default 5) also runs the batch and the raw SDK back to
back that many times per concurrency and prints the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the loopback server lives with the tests

from pydantic import SecretStr  # noqa: E402

from summarizer.batch import BatchOptions, discover, run_batch  # noqa: E402
from summarizer.config import Settings  # noqa: E402
from summarizer.llm import Completion, CompletionRequest  # noqa: E402
from summarizer.llm.factory import create_backend  # noqa: E402
from summarizer.llm.openai_backend import strict_json_schema  # noqa: E402
from summarizer.schemas import Usage  # noqa: E402
from summarizer.service import Summarizer  # noqa: E402
from tests.fakes import answer_http_request, plausible_answer  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402

TARGET = 0.95


@dataclass(frozen=True)
class Config:
    name: str
    concurrency: int
    rpm: float | None = None
    bare: bool = False
    raw: bool = False

    def items(self, rounds: int, latency: float) -> int:
        """Articles for `rounds` rounds of calls at this configuration's bound."""
        per_round = self.concurrency
        if self.rpm is not None:
            per_round = min(per_round, max(1, round(self.rpm / 60 * latency)))
        return rounds * per_round


class ArrivalLog:
    """Responder wrapper: the server calls it `latency` seconds after a request arrives."""

    def __init__(self) -> None:
        self.answered: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        now = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes on Linux
        with self._lock:
            self.answered.append(now)
        return answer_http_request(body)

    def take(self) -> list[float]:
        with self._lock:
            answered, self.answered = self.answered, []
        return answered


def serve(conn: Connection, latency: float) -> None:
    """The server process: answers HTTP, and `take` requests from the benchmark on `conn`."""
    log = ArrivalLog()
    with OpenAIServer(responder=log, latency=latency) as server:
        conn.send(server.base_url)
        while conn.recv() == "take":
            conn.send(log.take())


class ServerProcess:
    """The loopback server in its own process, as a real endpoint would be: its threads do not
    compete with the batch for this process's GIL."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child, latency), daemon=True)

    def __enter__(self) -> ServerProcess:
        self._process.start()
        self.base_url: str = self._conn.recv()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._conn.send("stop")
        self._process.join(10)
        self._conn.close()

    def take_answers(self) -> list[float]:
        """When each request since the last call was answered (it arrived `latency` earlier)."""
        self._conn.send("take")
        return sorted(self._conn.recv())


def peak_in_flight(arrivals: list[float], latency: float) -> int:
    events = sorted([(t, 1) for t in arrivals] + [(t + latency, -1) for t in arrivals])
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def peak_per_second(arrivals: list[float]) -> int:
    return max(
        (sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals), default=0
    )


def write_articles(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for number in range(count):
        (folder / f"a{number:04d}.txt").write_text(
            f"Article {number}: the council met on day {number} and approved measure {number}. "
            f"The vote passed {number + 3} to 2. The mayor called it good news.",
            encoding="utf-8",
        )


def settings_for(server: ServerProcess, work: Path) -> Settings:
    return Settings(
        backend="openai",
        model="gpt-4o-mini",
        base_url=server.base_url,
        api_key=SecretStr("sk-bench"),
        timeout=30,
        use_cache=False,
        cache_dir=work / "cache",
    )


def run_batch_config(config: Config, settings: Settings, articles: Path, work: Path) -> int:
    """The real thing; returns the 429s the run saw."""
    options = BatchOptions(
        out_dir=work / config.name, concurrency=config.concurrency, rpm=config.rpm
    )
    report = run_batch(discover([str(articles)]), settings, options)
    if report.counts.done != report.counts.total:
        raise SystemExit(f"{config.name}: only {report.counts.done} of {report.counts.total} done")
    return report.rate_limited_calls


def run_bare_threads(config: Config, settings: Settings, articles: Path) -> None:
    """The ceiling for comparison: `Summarizer.summarize` from N plain threads, and nothing else
    (no ledger, no output files, no rate limiter)."""
    sources = [item.source for item in discover([str(articles)]).items if item.source]
    service = Summarizer(settings)
    pending = iter(sources)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                source = next(pending, None)
            if source is None:
                return
            service.summarize(source)

    threads = [threading.Thread(target=work) for _ in range(config.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    service.close()


class RecordingBackend:
    """The real OpenAI backend's identity (so prompts are sized exactly as in a batch), with
    every request kept and answered in-process: how the raw rows learn the bodies to send."""

    def __init__(self, settings: Settings) -> None:
        real = create_backend(settings)
        self.identity = real.identity
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        return Completion(text=plausible_answer(request), finish_reason="stop", usage=Usage())


def request_bodies(settings: Settings, articles: Path) -> list[tuple[str, dict[str, Any]]]:
    """(article name, chat-completions body) for every article, as our pipeline sends it."""
    bodies = []
    for item in discover([str(articles)]).items:
        assert item.source is not None
        backend = RecordingBackend(settings)
        Summarizer(settings, backend=backend).summarize(item.source)
        (request,) = backend.requests  # one call per short article
        bodies.append(
            (
                item.id,
                {
                    "model": settings.model,
                    "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                    "response_format": {
                        "type": "json_schema",
                        "json_schema": {
                            "name": request.schema_name,
                            "strict": True,
                            "schema": strict_json_schema(request.json_schema),
                        },
                    },
                    "max_tokens": request.max_tokens,
                    "temperature": request.temperature,
                    "seed": request.seed,
                },
            )
        )
    return bodies


def run_raw_sdk(
    config: Config, settings: Settings, bodies: list[tuple[str, dict[str, Any]]], out: Path
) -> None:
    """The hand-rolled baseline: AsyncOpenAI, a semaphore, json.loads, a file per item."""
    import openai

    out.mkdir(parents=True)

    async def main() -> None:
        assert settings.api_key is not None
        client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            timeout=settings.timeout,
            max_retries=0,
        )
        slots = asyncio.Semaphore(config.concurrency)

        async def one(name: str, body: dict[str, Any]) -> None:
            async with slots:
                response = await client.chat.completions.create(**body)
            answer = json.loads(response.choices[0].message.content or "")
            (out / f"{name}.json").write_text(json.dumps(answer), encoding="utf-8")

        await asyncio.gather(*(one(name, body) for name, body in bodies))
        await client.close()

    asyncio.run(main())


def run_config(
    config: Config,
    server: ServerProcess,
    articles: Path,
    work: Path,
    bodies: list[tuple[str, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    settings = settings_for(server, work)
    items = len(list(articles.iterdir()))
    server.take_answers()
    started = time.perf_counter()
    rate_limited: int | None = None
    if config.raw:
        assert bodies is not None
        run_raw_sdk(config, settings, bodies, work / config.name)
    elif config.bare:
        run_bare_threads(config, settings, articles)
    else:
        rate_limited = run_batch_config(config, settings, articles, work)
    elapsed = time.perf_counter() - started
    answers = server.take_answers()
    arrivals = [t - server.latency for t in answers]
    bound = config.concurrency / server.latency
    if config.rpm is not None:
        bound = min(bound, config.rpm / 60)
    achieved = items / elapsed
    span = answers[-1] - arrivals[0]
    return {
        "config": config.name,
        "concurrency": config.concurrency,
        "rpm": config.rpm,
        "items": items,
        "seconds": round(elapsed, 3),
        "items_per_s": round(achieved, 2),
        "bound_per_s": round(bound, 2),
        "fraction": round(achieved / bound, 3),
        "server_span_s": round(span, 3),
        "server_span_fraction": round(items / span / bound, 3),
        "peak_in_flight": peak_in_flight(arrivals, server.latency),
        "peak_per_1s": peak_per_second(arrivals),
        "rate_limited_calls": rate_limited,
        "bare": config.bare or config.raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=16, help="articles = rounds x concurrency (default)"
    )
    parser.add_argument("--items", type=int, help="the same number of articles for every config")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rpm", type=float, default=600)
    parser.add_argument("--json", action="store_true", help="print rows as JSON lines")
    parser.add_argument(
        "--pairs", type=int, default=5,
        help="rounds of batch and raw SDK back to back per concurrency, for the paired ratio",
    )  # fmt: skip
    args = parser.parse_args()
    configs = [
        Config("c1", 1),
        Config("c8", 8),
        Config("c32", 32),
        Config(f"c8-rpm{args.rpm:g}", 8, rpm=args.rpm),
        Config("c8 bare threads", 8, bare=True),
        Config("c32 bare threads", 32, bare=True),
        Config("c8 raw async SDK", 8, raw=True),
        Config("c32 raw async SDK", 32, raw=True),
    ]
    with tempfile.TemporaryDirectory() as temp, ServerProcess(args.latency) as server:
        work = Path(temp)
        write_articles(work / "warmup", 2)
        run_config(Config("warmup", 2), server, work / "warmup", work)
        rows = []
        for config in configs:
            items = args.items or config.items(args.rounds, args.latency)
            articles = work / f"articles-{items}"
            if not articles.exists():
                write_articles(articles, items)
            bodies = request_bodies(settings_for(server, work), articles) if config.raw else None
            rows.append(run_config(config, server, articles, work, bodies))
        paired = {c: run_pairs(c, args, server, work) for c in (8, 32)}
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    sizes = f"{args.items} articles" if args.items else f"{args.rounds} rounds per config"
    print(
        f"{sizes}, {args.latency * 1000:g} ms per call, cache off; "
        f"target >= {TARGET:.0%} of the bound"
    )
    print(
        "| config | items | items/s | bound/s | fraction | seconds | server span | "
        "peak in flight | peak per 1 s | 429s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        verdict = "" if row["fraction"] >= TARGET else " (below target)"
        print(
            f"| {row['config']} | {row['items']} | {row['items_per_s']} | {row['bound_per_s']} | "
            f"{row['fraction']:.1%}{verdict} | {row['seconds']} | "
            f"{row['server_span_fraction']:.1%} | {row['peak_in_flight']} | "
            f"{row['peak_per_1s']} | {'-' if row['bare'] else row['rate_limited_calls']} |"
        )
    by_name = {row["config"]: row for row in rows}
    print()
    print("| batch vs raw async SDK | batch items/s | raw items/s | ratio | target |")
    print("|---|---|---|---|---|")
    for concurrency in (8, 32):
        ours, raw = by_name[f"c{concurrency}"], by_name[f"c{concurrency} raw async SDK"]
        ratio = ours["items_per_s"] / raw["items_per_s"]
        verdict = "met" if ratio >= TARGET else "missed"
        print(
            f"| concurrency {concurrency} | {ours['items_per_s']} | {raw['items_per_s']} | "
            f"{ratio:.2f}x | >= {TARGET}x: {verdict} |"
        )
    if args.pairs:
        print()
        print(
            f"Paired: {args.pairs} rounds of the batch and the raw SDK back to back per concurrency"
            " (the VM's speed drifts between configurations; a pair sees the same machine)."
        )
        print("| concurrency | per-round ratios | median | target |")
        print("|---|---|---|---|")
        for concurrency, ratios in paired.items():
            median = statistics.median(ratios)
            verdict = "met" if median >= TARGET else "missed"
            listed = ", ".join(f"{r:.2f}" for r in ratios)
            print(f"| {concurrency} | {listed} | {median:.2f}x | >= {TARGET}x: {verdict} |")


def run_pairs(
    concurrency: int, args: argparse.Namespace, server: ServerProcess, work: Path
) -> list[float]:
    """Batch over raw SDK items/s, `args.pairs` times, each pair run back to back."""
    items = args.items or Config("", concurrency).items(args.rounds, args.latency)
    articles = work / f"articles-{items}"
    if not articles.exists():
        write_articles(articles, items)
    bodies = request_bodies(settings_for(server, work), articles)
    ratios = []
    for n in range(args.pairs):
        ours = run_config(Config(f"c{concurrency}-pair{n}", concurrency), server, articles, work)
        raw = run_config(
            Config(f"c{concurrency}-raw-pair{n}", concurrency, raw=True),
            server, articles, work, bodies,
        )  # fmt: skip
        ratios.append(ours["items_per_s"] / raw["items_per_s"])
    return ratios


if __name__ == "__main__":
    main()
