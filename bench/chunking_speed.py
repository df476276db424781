"""Chunking speed against tiktoken itself, side by side in one run (issue 12 "Chunker", issue 11
class 8). Prints each ratio next to its target:

- split + chunk vs one tiktoken encode of a 1.8 MB article (the five seeds repeated): >= 0.5x;
- split + chunk at 18 MB vs 1.8 MB: within 12x (linear);
- whole process, `summarizer summarize ARTICLE --dry-run` on 18 MB vs a bare script that loads
  tiktoken (the same offline loader, `summarizer.tokens.get_encoding`) and counts the same text:
  <= 2x (the median of per-round ratios over --runs rounds, the two run back to back);
- pathological shapes at 1.3 MB (one line without punctuation first): split + chunk seconds and
  their ratio to prose of the same size: within 2x.

In-process timings interleave the two sides and keep the best of --repeats, so a loaded machine
slows both alike; the load average is printed with the figures.

    .venv/bin/python bench/chunking_speed.py [--repeats 5] [--runs 3] [--budget 1500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summarizer.chunking import chunk_text  # noqa: E402
from summarizer.tokens import TokenCounter  # noqa: E402
from tests.support import repeated_seeds  # noqa: E402


def no_punctuation_line(size: int) -> str:
    """Seed words without any punctuation, on one line: one 'sentence' of `size` characters."""
    words = [w.strip(".,!?;:“”\"'’") for w in repeated_seeds(20_000).split()]
    line = " ".join(w for w in words if w)
    return ((line + " ") * (size // len(line) + 1))[:size].strip()


SHAPES: dict[str, Callable[[int], str]] = {
    "one line, no punctuation": no_punctuation_line,
    "one paragraph of prose": lambda size: repeated_seeds(size).replace("\n", " "),
    "one long word": lambda size: "x" * size,
    "CJK without spaces": lambda size: ("中华人民共和国的首都是北京。" * (size // 14 + 1))[:size],
    "only spaces and newlines": lambda size: (" \n  \n\t " * (size // 7 + 1))[:size],
    "many tiny lines": lambda size: ("a\nb.\n" * (size // 5 + 1))[:size],
}


def rounds(repeats: int, *jobs: Callable[[], object]) -> list[list[float]]:
    """Wall times of each job over `repeats` rounds, the jobs interleaved within a round."""
    times: list[list[float]] = [[] for _ in jobs]
    for _ in range(repeats):
        for job, spent in zip(jobs, times, strict=True):
            started = time.perf_counter()
            job()
            spent.append(time.perf_counter() - started)
    return times


def best_of(repeats: int, *jobs: Callable[[], object]) -> list[float]:
    """Best wall time of each job over `repeats` rounds, the jobs interleaved within a round."""
    return [min(spent) for spent in rounds(repeats, *jobs)]


def process_rounds(commands: list[list[str]], runs: int, env: dict[str, str]) -> list[list[float]]:
    """Wall times of each command over `runs` rounds, the commands interleaved within a round
    (this VM's speed drifts within minutes: run back to back, the pair sees the same machine)."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for command, spent in zip(commands, times, strict=True):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
            spent.append(time.perf_counter() - started)
    return times


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="in-process rounds (best kept)")
    parser.add_argument("--runs", type=int, default=3, help="whole-process runs (median kept)")
    parser.add_argument("--budget", type=int, default=1500, help="chunk budget (the default)")
    args = parser.parse_args()
    counter = TokenCounter("cl100k_base")  # what the default local backend counts with
    budget = args.budget
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    small, large = repeated_seeds(1_800_000), repeated_seeds(18_000_000)
    small_rounds = rounds(
        args.repeats, lambda: counter.count(small), lambda: chunk_text(small, counter, budget)
    )
    encode_small, chunk_small = map(min, small_rounds)
    # Per round, both sides timed back to back: the median of those ratios is steadier on a
    # shared machine than either side's median alone.
    median_speed = statistics.median(e / c for e, c in zip(*small_rounds, strict=True))
    encode_large, chunk_large = best_of(
        max(1, args.repeats // 2),
        lambda: counter.count(large),
        lambda: chunk_text(large, counter, budget),
    )
    # The scaling the same way: 1.8 MB and 18 MB back to back in each round.
    scale_rounds = rounds(
        max(3, args.repeats // 2),
        lambda: chunk_text(small, counter, budget),
        lambda: chunk_text(large, counter, budget),
    )
    median_scaling = statistics.median(big / s for s, big in zip(*scale_rounds, strict=True))
    speed = encode_small / chunk_small
    scaling = chunk_large / chunk_small
    print(f"\nsplit + chunk at budget {budget} (best of {args.repeats}, cl100k_base)")
    print(f"{'':34}{'tiktoken encode':>16}{'split + chunk':>15}{'ratio':>9}  target")
    print(
        f"{'1.8 MB seeds':34}{encode_small:>15.3f}s{chunk_small:>14.3f}s{speed:>8.2f}x"
        f"  >= 0.5x of encode speed: {verdict(speed >= 0.5)}"
    )
    print(
        f"{'  median of per-round ratios':34}{'':31}{median_speed:>8.2f}x"
        f"  >= 0.5x: {verdict(median_speed >= 0.5)}"
    )
    print(
        f"{'18 MB seeds':34}{encode_large:>15.3f}s{chunk_large:>14.3f}s{scaling:>8.2f}x"
        f"  18 MB / 1.8 MB within 12x: {verdict(scaling <= 12)}"
        f" (tiktoken's own: {encode_large / encode_small:.2f}x)"
    )
    print(
        f"{'  median of per-round ratios':34}{'':31}{median_scaling:>8.2f}x"
        f"  within 12x: {verdict(median_scaling <= 12)}"
    )

    with tempfile.TemporaryDirectory() as scratch:
        article = Path(scratch) / "article.txt"
        article.write_text(large)
        env = {**os.environ, "SUMMARIZER_HOME": str(Path(scratch) / "home")}
        bare = (
            "import sys\nfrom summarizer.tokens import get_encoding\n"
            "text = open(sys.argv[1], encoding='utf-8').read()\n"
            "print(len(get_encoding('cl100k_base').encode_ordinary(text)))\n"
        )
        summarizer = str(Path(sys.executable).parent / "summarizer")
        dry_runs, bare_counts = process_rounds(
            [
                [summarizer, "summarize", str(article), "--dry-run"],
                [sys.executable, "-c", bare, str(article)],
            ],
            args.runs,
            env,
        )
    dry_run, bare_count = statistics.median(dry_runs), statistics.median(bare_counts)
    paired = statistics.median(d / b for d, b in zip(dry_runs, bare_counts, strict=True))
    print(f"\nwhole process on 18 MB (median of {args.runs}, the two interleaved)")
    print(
        f"{'summarize --dry-run':34}{dry_run:>15.3f}s\n{'bare tiktoken count':34}"
        f"{bare_count:>15.3f}s{'':15}{dry_run / bare_count:>8.2f}x  ratio of medians\n"
        f"{'  median of per-round ratios':34}{'':30}{paired:>8.2f}x  <= 2x: {verdict(paired <= 2)}"
    )

    size = 1_300_000
    prose = repeated_seeds(size)
    print(f"\npathological shapes at 1.3 MB, split + chunk (best of {args.repeats})")
    print(
        f"{'':34}{'tiktoken encode':>16}{'split + chunk':>15}{'vs encode':>10}{'vs prose':>9}"
        "  target"
    )
    prose_encode, prose_time = best_of(
        args.repeats, lambda: counter.count(prose), lambda: chunk_text(prose, counter, budget)
    )
    print(
        f"{'prose (seeds)':34}{prose_encode:>15.3f}s{prose_time:>14.3f}s"
        f"{prose_time / prose_encode:>9.2f}x{1:>8.2f}x"
    )
    for name, make in SHAPES.items():
        text = make(size)

        def encode_it(text: str = text) -> int:
            return counter.count(text)

        def chunk_it(text: str = text) -> object:
            return chunk_text(text, counter, budget)

        encode, chunk = best_of(max(1, args.repeats // 2), encode_it, chunk_it)
        ratio = chunk / prose_time
        print(
            f"{name:34}{encode:>15.3f}s{chunk:>14.3f}s{chunk / encode:>9.2f}x{ratio:>8.2f}x"
            f"  within 2x of prose: {verdict(ratio <= 2)}"
        )
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
