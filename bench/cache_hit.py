"""Whole-process wall time of a fully cached `summarize` against `summarizer --help`.

Issue 12's target: a repeat summary answered from the cache costs at most 1.5x `--help`, in
the same run on the same machine. The first `summarize` fills a fresh cache (embedded model,
offline; it also writes our modules' bytecode, as an install would); then both commands run
`--runs` times each, interleaved, and the medians are compared.

    .venv/bin/python bench/cache_hit.py            # 15 runs each
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "evals" / "seeds" / "articles" / "000_792d328d63c8fd01.txt"
TARGET = 1.5


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    command = [sys.executable, "-m", "summarizer"]
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SUMMARIZER_HOME": home}
        env.pop("OPENAI_API_KEY", None)
        env.pop("OPENAI_BASE_URL", None)
        # An installed package has its bytecode compiled (pip compiles at install time); with
        # PYTHONDONTWRITEBYTECODE set (as on the development VMs) every run of a checkout would
        # compile our modules from source again, which is not what a user's run pays.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        fill = timed([*command, "summarize", str(SEED)], env)
        hits, helps = [], []
        for _ in range(args.runs):
            hits.append(timed([*command, "summarize", str(SEED)], env))
            helps.append(timed([*command, "--help"], env))
    hit, help_ = statistics.median(hits), statistics.median(helps)
    # Each hit against the --help run right after it: neighbours on a shared machine slow both
    # alike, so the median of the pairs' ratios is steadier than the ratio of the medians.
    paired = statistics.median(h / p for h, p in zip(hits, helps, strict=True))
    print(f"load average {os.getloadavg()[0]:.2f}; first (uncached) run {fill:.2f} s")
    print(f"cached summarize {hit:.3f} s, --help {help_:.3f} s (medians of {args.runs})")
    print(f"ratio {hit / help_:.2f}x of the medians, {paired:.2f}x median of paired runs")
    print(f"(target <= {TARGET}x)")


if __name__ == "__main__":
    main()
