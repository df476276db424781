"""Rescore saved `summarizer summarize` outputs of seed articles at the eval's summary length.

    .venv/bin/python evals/rescore_at_length.py OUT/000.json OUT/001.json [--words 100]

Each file is a result JSON named after its seed article's id prefix (`000.json` for
`000_792d…`). The text the eval matches (headline, summary, key points, claims; one per line) is
scored with the lexical matcher twice: as written, and with the summary cut to the whole
sentences that fit in `--words` (at most 4), as `pipeline._within_budget` cuts a model's summary.
Used to compare code from before the word budget with today's at equal length
(docs/evaluation.md, the Qwen2.5-Coder-1.5B section). Reads the JSON loosely, so results of older
schema versions load too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from summarizer.chunking import split_sentences  # noqa: E402
from summarizer.evaluation.dataset import load_suite  # noqa: E402
from summarizer.evaluation.matchers import build_matcher  # noqa: E402
from summarizer.evaluation.metrics import fact_recall  # noqa: E402
from summarizer.selection import count_words, within_words  # noqa: E402
from summarizer.tokens import TokenCounter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--words", type=int, default=100)
    args = parser.parse_args()
    suite = load_suite(REPO / "evals" / "seeds")
    matcher = build_matcher("lexical")
    counter = TokenCounter()
    for path in args.results:
        result = json.loads(path.read_text(encoding="utf-8"))
        (article,) = [a for a in suite.articles if a.id.startswith(path.stem)]
        summary = result["summary"]
        claims = [claim["text"] for claim in result["claims"]]
        written = [s.text for s in split_sentences(summary["text"], counter, 10**6)]
        cut = " ".join(within_words(written, args.words)[:4])
        for label, text in (("as written", summary["text"]), (f"cut to {args.words} words", cut)):
            parts = [summary["headline"], text, *summary["key_points"], *claims]
            matched = "\n".join(part.strip() for part in parts if part.strip())
            recall = fact_recall(article.facts.facts, matched, matcher)
            core = f"{recall.core:.0%}" if recall.core is not None else "-"
            print(
                f"{path.stem} {label}: summary {count_words(text)} words, {len(claims)} claims, "
                f"core {core}, all {recall.all:.0%}"
            )


if __name__ == "__main__":
    main()
