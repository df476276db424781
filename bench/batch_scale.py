"""How a batch's cost grows with its size: peak memory, a rerun over done items, CPU per item.

    .venv/bin/python bench/batch_scale.py                       # 2,000 and 10,000 items
    .venv/bin/python bench/batch_scale.py --sizes 10000 --profile /tmp/batch.prof

For each size, one JSONL file of distinct short articles is summarised by `summarizer batch`
(the real CLI in a fresh process, `--quiet`, concurrency 8, cache off) against the loopback
OpenAI-compatible server (`tests/openai_server.py`, zero latency, in its own process), then the
same command is run again over the finished directory: every item is skipped. Each process's
peak RSS comes from `os.wait4`, its wall time from a clock around it. With `--profile`, the
first run of the last size is run once more under cProfile (in-process) and the functions with
the most cumulative time are printed, for the per-item CPU breakdown.

Targets (issue 12, "Batch at scale"): peak RSS < 200 MB at 10,000 items, flat in the number of
items; the rerun over 10,000 done items < 2.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from batch_throughput import ServerProcess  # noqa: E402

RSS_TARGET_MB = 200.0
RERUN_TARGET_S = 2.5


def write_jsonl(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            text = (
                f"Article {number}: the council met on day {number} and approved measure "
                f"{number}. The vote passed {number + 3} to 2. The mayor called it good news."
            )
            out.write(json.dumps({"id": f"a{number:05d}", "text": text}) + "\n")


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one `summarizer` process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "summarizer", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 and process.stderr is not None:
        sys.stderr.write(process.stderr.read().decode(errors="replace")[-2000:])
    if process.stderr is not None:
        process.stderr.close()
    return wall, usage.ru_maxrss / 1024, process.returncode


def profile_run(jsonl: Path, out_dir: Path, base_url: str, work: Path, target: Path) -> None:
    import cProfile
    import pstats

    from pydantic import SecretStr

    from summarizer.batch import BatchOptions, discover, run_batch
    from summarizer.config import Settings

    settings = Settings(
        backend="openai",
        model="gpt-4o-mini",
        base_url=base_url,
        api_key=SecretStr("sk-bench"),
        use_cache=False,
        cache_dir=work / "cache",
    )
    profiler = cProfile.Profile()
    profiler.enable()
    run_batch(discover([str(jsonl)]), settings, BatchOptions(out_dir=out_dir, concurrency=8))
    profiler.disable()
    profiler.dump_stats(target)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--reruns", type=int, default=3, help="reruns per size (median)")
    parser.add_argument("--profile", type=Path, help="cProfile the last size's first run here")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as temp, ServerProcess(0.0) as server:
        work = Path(temp)
        env = {
            **os.environ,
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "SUMMARIZER_BACKEND": "openai",
            "SUMMARIZER_MODEL": "gpt-4o-mini",
            "SUMMARIZER_CACHE_DIR": str(work / "cache"),
        }
        for size in args.sizes:
            jsonl = work / f"articles-{size}.jsonl"
            write_jsonl(jsonl, size)
            out_dir = work / f"out-{size}"
            command = ["batch", str(jsonl), "--out", str(out_dir), "--quiet", "--no-cache"]
            command += ["--concurrency", str(args.concurrency)]
            first = run_cli(command, env)
            server.take_answers()
            reruns = [run_cli(command, env) for _ in range(args.reruns)]
            report = json.loads((out_dir / "report.json").read_text())
            if first[2] != 0 or any(r[2] != 0 for r in reruns):
                print(f"{size}: a run failed (exit {first[2]}, {[r[2] for r in reruns]})")
                return 1
            if report["counts"]["skipped"] != size:
                print(f"{size}: the rerun skipped {report['counts']['skipped']}, not {size}")
                return 1
            reruns.sort()
            rows.append((size, first, reruns[len(reruns) // 2]))
            print(
                f"{size} items: first run {first[0]:.2f} s ({first[1]:.0f} MB), rerun "
                f"{reruns[len(reruns) // 2][0]:.2f} s ({reruns[len(reruns) // 2][1]:.0f} MB)",
                flush=True,
            )
        if args.profile:
            size = args.sizes[-1]
            profile_run(
                work / f"articles-{size}.jsonl",
                work / "profiled",
                server.base_url,
                work,
                args.profile,
            )

    print("\n| items | first run s | ms per item | peak RSS MB | rerun s (median) | rerun RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size, first, rerun in rows:
        print(
            f"| {size} | {first[0]:.2f} | {first[0] / size * 1000:.2f} | {first[1]:.0f} | "
            f"{rerun[0]:.2f} | {rerun[1]:.0f} |"
        )
    largest, first, rerun = rows[-1]
    peak = max(first[1], rerun[1])
    print(
        f"\npeak RSS at {largest}: {peak:.0f} MB, target < {RSS_TARGET_MB:.0f} MB: "
        f"{'met' if peak < RSS_TARGET_MB else 'MISSED'}"
    )
    if len(rows) > 1:
        smallest = rows[0]
        growth = peak / max(smallest[1][1], smallest[2][1])
        print(
            f"peak RSS {smallest[0]} -> {largest} items: {growth:.2f}x "
            f"(flat means near 1x; items grew {largest / smallest[0]:.0f}x)"
        )
    print(
        f"rerun over {largest} done items: {rerun[0]:.2f} s, target < {RERUN_TARGET_S} s: "
        f"{'met' if rerun[0] < RERUN_TARGET_S else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
