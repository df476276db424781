"""llama.cpp with 1 and 2 threads, on an idle machine and under a load this script makes itself.

    .venv/bin/python bench/threads_speed.py                 # SmolLM2, 3 calls per cell
    .venv/bin/python bench/threads_speed.py --busy 2 --repeats 5

One grammar-constrained `SentenceSelection` call on the first seed article (the extractive
default's own call shape, `bench/local_speed.py`'s request) through `LocalBackend`, for every
(threads, load) cell: "idle" is the machine as it is (its load average is printed; on a shared
machine other jobs count), "loaded" adds `--busy` processes that spin in pure Python, i.e. what
another job using a core looks like to llama.cpp. Cells alternate, so slow drifts in the
machine's own load hit all of them; each prints the median wall time of the call and llama.cpp's
prompt and decode rates. The outputs must be byte-identical across thread counts (the cache key
does not include threads), or the script says so and exits 1.

Last, the script prints what `summarizer.config.auto_threads` picks for each load it saw, next
to the thread count that was fastest there: the rule is right where the two agree.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from local_speed import build_request  # noqa: E402

from summarizer import paths  # noqa: E402
from summarizer.config import auto_threads, available_cores, current_load  # noqa: E402
from summarizer.llm.catalogue import resolve_local_model  # noqa: E402
from summarizer.llm.local_backend import LocalBackend  # noqa: E402


def spin() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--seeds", type=Path, default=REPO / "evals" / "seeds" / "articles")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=available_cores(), help="spinning processes")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    resolved = resolve_local_model(args.model, paths.models_dir())
    article = sorted(args.seeds.glob("*.txt"))[0]
    request = build_request(article.read_text(), "select", args.max_tokens)
    backends = {n: LocalBackend.from_resolved(resolved, threads=n) for n in (1, 2)}
    for backend in backends.values():
        backend.load()
    print(f"{resolved.model_id}, {article.name}, {available_cores()} cores available")

    walls: dict[tuple[str, int], list[float]] = {}
    rates: dict[tuple[str, int], list[tuple[float, float]]] = {}
    loads: dict[str, list[float]] = {"idle": [], "loaded": []}
    outputs: set[str] = set()
    for _ in range(args.repeats):
        for condition in ("idle", "loaded"):
            spinners = []
            if condition == "loaded":
                spinners = [
                    multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)
                ]
                for process in spinners:
                    process.start()
                time.sleep(1.0)  # let them reach the run queue
            try:
                for threads, backend in backends.items():
                    loads[condition].append(current_load())
                    started = time.perf_counter()
                    completion = backend.complete(request)
                    walls.setdefault((condition, threads), []).append(time.perf_counter() - started)
                    timing = backend.last_timings
                    assert timing is not None
                    rates.setdefault((condition, threads), []).append(
                        (timing.prompt_tokens_per_second, timing.generation_tokens_per_second)
                    )
                    outputs.add(completion.text)
            finally:
                for process in spinners:
                    process.kill()
                    process.join()

    print(
        "\n| load | busy processes | busy cores seen | threads | median call s | "
        "prompt tok/s | decode tok/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    fastest: dict[str, int] = {}
    for condition in ("idle", "loaded"):
        medians = {t: statistics.median(walls[(condition, t)]) for t in backends}
        fastest[condition] = min(medians, key=lambda t: medians[t])
        for threads in backends:
            prompt = statistics.median(r[0] for r in rates[(condition, threads)])
            decode = statistics.median(r[1] for r in rates[(condition, threads)])
            busy = args.busy if condition == "loaded" else 0
            seen = f"{min(loads[condition]):.1f}-{max(loads[condition]):.1f}"
            print(
                f"| {condition} | {busy} | {seen} | {threads} | {medians[threads]:.2f} | "
                f"{prompt:.0f} | {decode:.0f} |"
            )
        ratio = medians[2] / medians[1]
        print(f"| {condition}: 2 threads / 1 thread | | | | **{ratio:.2f}x** | | |")

    print("\nrule (summarizer.config.auto_threads) vs fastest:")
    idle_load = statistics.median(loads["idle"])
    # The 1-minute average lags a load that started seconds ago; in steady state it is the idle
    # machine's plus the spinners.
    steady = {"idle": idle_load, "loaded": idle_load + args.busy}
    for condition in ("idle", "loaded"):
        load = steady[condition]
        picked = auto_threads(available_cores(), load)
        verdict = "agrees" if picked == fastest[condition] else "DISAGREES"
        print(
            f"  {condition}: load {load:.1f} -> rule picks {picked}, fastest was "
            f"{fastest[condition]}: {verdict}"
        )
    if len(outputs) != 1:
        print(f"outputs differ across thread counts or loads: {sorted(outputs)}")
        return 1
    print(f"output identical in every cell: {outputs.pop()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
