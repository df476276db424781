"""Load test of `summarizer serve` on loopback: cache hits, and model calls against a slow backend.

    .venv/bin/python bench/service_load.py                 # 10 rounds per concurrency
    .venv/bin/python bench/service_load.py --rounds 4      # quicker, noisier

Bounded: a fixed number of requests per configuration, then it stops. Everything listens on
127.0.0.1 only. The model backend is the loopback OpenAI server (tests/openai_server.py) in its
own process with a fixed latency per call (200 ms by default); the service is a real
`summarizer serve` subprocess (one worker, an API key, cache on a fresh directory); the load
comes from client threads in this process, one keep-alive connection each.

1. Cache hits: 8 articles summarised once (untimed), then `--cached` requests for them from
   1 client, then from 8. Reported: requests/s, the client's p50/p95/p99, and the time inside the
   server (from the service's own access log: request in to response out, HTTP parsing aside).
2. Model calls: at concurrency 8 and 32, `rounds x concurrency` distinct articles (one model
   call each), cache off, three ways over the same articles and the same backend:
     service  POST /v1/summaries from C client threads, the server at --concurrency C
     batch    `run_batch` at --concurrency C (as `summarizer batch`), the CLI's machinery
     direct   `Summarizer.summarize` from C plain threads: no HTTP, no ledger
   Reported: items/s for each, the service's latency percentiles, and service / batch.

Targets (issue 13): cached p50 inside the server < 10 ms; service >= 0.9x batch.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the loopback server lives with the tests

import httpx2 as httpx  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from summarizer.batch import BatchOptions, run_batch  # noqa: E402
from summarizer.batch.inputs import Discovery  # noqa: E402
from summarizer.config import Settings  # noqa: E402
from summarizer.server.jobs import job_items  # noqa: E402
from summarizer.server.keys import new_key  # noqa: E402
from summarizer.server.models import JobArticle  # noqa: E402
from summarizer.service import Summarizer  # noqa: E402
from tests.fakes import answer_http_request  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402
from tests.server.support import free_port  # noqa: E402

ACCESS = re.compile(r"access POST /v1/summaries 200 ([0-9.]+)ms")


def backend_process(conn: Connection, latency: float) -> None:
    with OpenAIServer(responder=answer_http_request, latency=latency) as server:
        conn.send(server.base_url)
        conn.recv()


class Backend:
    """The loopback model endpoint in its own process, as a real endpoint would be."""

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=backend_process, args=(child, latency), daemon=True)

    def __enter__(self) -> Backend:
        self._process.start()
        self.base_url: str = self._conn.recv()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._conn.send("stop")
        self._process.join(10)


def article(number: int) -> str:
    return (
        f"Article {number}: the council met on day {number} and approved measure {number}. "
        f"The vote passed {number + 3} to 2. The mayor called it good news."
    )


class Service:
    """`summarizer serve` as a subprocess; its access log goes to a file we read afterwards."""

    def __init__(self, backend: Backend, work: Path, *, concurrency: int, cache: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        keys = work / "keys"
        self.token = new_key(keys, f"bench{self.port}")
        self.log_path = work / f"serve-{self.port}.log"
        command = [
            sys.executable, "-m", "summarizer", "serve", "--port", str(self.port),
            "--backend", "openai", "--base-url", backend.base_url, "--model", "gpt-4o-mini",
            "--data-dir", str(work / "data"), "--keys-file", str(keys),
            "--concurrency", str(concurrency), "--queue-size", str(4 * concurrency),
            "--rate-limit", "1000000", "--cache-dir", str(work / f"cache-{self.port}"),
            *([] if cache else ["--no-cache"]),
        ]  # fmt: skip
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "SUMMARIZER_HOME": str(work)}
        self._log = self.log_path.open("w")
        self.clients: list[httpx.Client] = []
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=self._log)

    def __enter__(self) -> Service:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit(f"the service did not start: {self.log_path.read_text()}")

    def __exit__(self, *_exc: object) -> None:
        for client in self.clients:
            client.close()
        self.process.terminate()
        self.process.wait(30)
        self._log.close()

    def server_ms(self) -> list[float]:
        return [float(m.group(1)) for m in ACCESS.finditer(self.log_path.read_text())]


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2), "p99": round(cuts[98], 2)}


def load(service: Service, texts: list[str], concurrency: int) -> tuple[float, list[float]]:
    """POST every text once from `concurrency` threads; return (seconds, latencies in ms).
    The threads' clients exist (and have connected, in the warm-up) before the clock starts."""
    while len(service.clients) < concurrency:
        headers = {"Authorization": f"Bearer {service.token}"}
        service.clients.append(httpx.Client(base_url=service.url, headers=headers, timeout=60))
    pending = iter(texts)
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def work(client: httpx.Client) -> None:
        while True:
            with lock:
                text = next(pending, None)
            if text is None:
                return
            started = time.perf_counter()
            response = client.post("/v1/summaries", json={"text": text})
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    seconds = timed_threads([functools.partial(work, c) for c in service.clients[:concurrency]])
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return seconds, latencies


def timed_threads(works: list[Callable[[], None]]) -> float:
    threads = [threading.Thread(target=work) for work in works]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def settings_for(backend: Backend, work: Path) -> Settings:
    return Settings(
        backend="openai", model="gpt-4o-mini", base_url=backend.base_url,
        api_key=SecretStr("sk-bench"), timeout=30, use_cache=False, cache_dir=work / "cache",
    )  # fmt: skip


def batch_seconds(texts: list[str], settings: Settings, out: Path, concurrency: int) -> float:
    items = job_items([JobArticle(text=text, id=f"a{n}") for n, text in enumerate(texts)])
    started = time.perf_counter()
    report = run_batch(
        Discovery(items=items), settings, BatchOptions(out_dir=out, concurrency=concurrency)
    )
    seconds = time.perf_counter() - started
    if report.counts.summarized != len(texts):
        raise SystemExit(f"batch: {report.counts.summarized} of {len(texts)} summarised")
    return seconds


def direct_seconds(texts: list[str], settings: Settings, concurrency: int) -> float:
    service = Summarizer(settings)
    sources = iter(job_items([JobArticle(text=text) for text in texts]))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                item = next(sources, None)
            if item is None or item.source is None:
                return
            service.summarize(item.source)

    try:
        return timed_threads([work] * concurrency)
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.2, help="backend seconds per call")
    parser.add_argument("--rounds", type=int, default=10, help="articles per concurrency slot")
    parser.add_argument("--cached", type=int, default=400, help="cache-hit requests")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    report: dict[str, Any] = {"latency_s": args.latency, "rounds": args.rounds}
    report["load_average_before"] = [round(x, 1) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as temp, Backend(args.latency) as backend:
        work = Path(temp)
        warm = [article(n) for n in range(8)]
        with Service(backend, work, concurrency=8, cache=True) as service:
            load(service, warm, 8)  # fills the cache: 8 model calls, untimed
            for clients in (1, 8):
                skip = len(service.server_ms())
                texts = [warm[n % len(warm)] for n in range(args.cached)]
                seconds, client_ms = load(service, texts, clients)
                time.sleep(0.3)  # the last access lines reach the log
                server_ms = service.server_ms()[skip:]
                report[f"cached_c{clients}"] = {
                    "requests": len(texts), "concurrency": clients,
                    "requests_per_s": round(len(texts) / seconds, 1),
                    "client_ms": percentiles(client_ms), "server_ms": percentiles(server_ms),
                }  # fmt: skip
                print(json.dumps(report[f"cached_c{clients}"]), file=sys.stderr)

        settings = settings_for(backend, work)
        direct_seconds([article(10_000 + n) for n in range(8)], settings, 8)  # imports, warm-up
        for concurrency in args.concurrency:
            count = args.rounds * concurrency
            base = 100_000 * concurrency
            batch = count / batch_seconds(
                [article(base + n) for n in range(count)], settings,
                work / f"batch-{concurrency}", concurrency,
            )  # fmt: skip
            direct = count / direct_seconds(
                [article(base + count + n) for n in range(count)], settings, concurrency
            )
            with Service(backend, work, concurrency=concurrency, cache=False) as service:
                # Untimed, as the batch's and the threads' warm-up: the SDK import and the
                # connection pool's first connections.
                load(
                    service,
                    [article(base + 3 * count + n) for n in range(concurrency)],
                    concurrency,
                )
                texts = [article(base + 2 * count + n) for n in range(count)]
                seconds, client_ms = load(service, texts, concurrency)
            served = count / seconds
            row = {
                "concurrency": concurrency, "articles": count,
                "bound_per_s": round(concurrency / args.latency, 1),
                "service_per_s": round(served, 1), "batch_per_s": round(batch, 1),
                "direct_per_s": round(direct, 1),
                "service_vs_batch": round(served / batch, 3),
                "service_vs_direct": round(served / direct, 3),
                "client_ms": percentiles(client_ms),
            }  # fmt: skip
            report[f"model_c{concurrency}"] = row
            print(json.dumps(row), file=sys.stderr)
    report["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
