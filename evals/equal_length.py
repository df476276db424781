"""Summary-only core fact recall on the seed suite, ours against lead-5 at the same length.

    .venv/bin/python evals/equal_length.py [--words 65,100]

For each budget, every seed article is summarised by the embedded tier (extractive, no model
call) and lead-5 (the first five sentences) is cut to the same number of words as our summary,
mid-sentence where that falls. Only the summary text is scored (no headline, key points or
claims), with the default lexical matcher; the figure is matched core facts over all core facts
(a micro-average, as `summarizer eval` reports it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from summarizer.config import load_settings
from summarizer.evaluation.dataset import load_suite
from summarizer.evaluation.matchers import LexicalMatcher
from summarizer.evaluation.realsumm import cut_words, lead
from summarizer.selection import count_words
from summarizer.service import Summarizer
from summarizer.sources import read_source

SEEDS = Path(__file__).resolve().parent / "seeds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--words", default="65,100", help="comma-separated budgets")
    budgets = [int(w) for w in parser.parse_args().words.split(",")]
    suite = load_suite(SEEDS)
    matcher = LexicalMatcher()
    print("| words | ours: core recall (summary only) | lead-5 at our length | mean words |")
    print("|---|---|---|---|")
    for words in budgets:
        settings = load_settings(
            {"backend": "local", "use_cache": False, "summary_words": words, "mode": "extractive"}
        )
        service = Summarizer(settings)
        ours = theirs = total = used = 0
        try:
            for article in suite.articles:
                summary = service.summarize(read_source(str(article.path))).summary.text
                length = count_words(summary)
                baseline = cut_words(lead(article.text, 5), length)
                core = [f for f in article.facts.facts if f.importance == "core"]
                for text, bump in ((summary, "ours"), (baseline, "lead")):
                    found = sum(r.present for r in matcher.match_many([(f, text) for f in core]))
                    if bump == "ours":
                        ours += found
                    else:
                        theirs += found
                total += len(core)
                used += length
        finally:
            service.close()
        mean = used / len(suite.articles)
        print(f"| {words} | {ours / total:.0%} ({ours}/{total}) | "
              f"{theirs / total:.0%} ({theirs}/{total}) | {mean:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
