from __future__ import annotations

import subprocess
import sys

import summarizer.evaluation as evaluation


def test_public_api_is_pinned() -> None:
    assert set(evaluation.__all__) == {
        "ArticleFacts", "ArticleMetrics", "Baseline", "Comparison", "EvalRegression",
        "EvalReport", "Fact", "FactMatcher", "LabelledSuite", "LexicalMatcher", "MatchResult",
        "MatcherInfo", "OverlapMatcher", "Story", "StoryMetrics", "Suite", "append_run_log",
        "article_metrics",
        "baseline_from", "baseline_path", "check", "compare", "load_baseline", "load_facts",
        "load_suite", "matched_text", "run_suite", "save_baseline", "story_metrics",
        "write_eval_report",
    }  # fmt: skip
    for name in evaluation.__all__:
        assert getattr(evaluation, name) is not None


def test_importing_the_harness_loads_no_optional_heavyweights() -> None:
    code = (
        "import sys, summarizer.evaluation, summarizer.evaluation.matchers.embedding;"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'openai', 'llama_cpp')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
