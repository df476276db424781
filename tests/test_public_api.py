from __future__ import annotations

import subprocess
import sys

import summarizer


def test_public_api_is_pinned() -> None:
    assert summarizer.__all__ == [
        "Claim", "ClaimsResult", "PipelineOptions", "Settings", "Summarizer", "SummarizerError",
        "SummaryResult", "Usage", "load_settings", "plan", "read_source", "source_from_text",
        "summarize",
    ]  # fmt: skip
    for name in summarizer.__all__:
        assert getattr(summarizer, name) is not None


def test_importing_the_package_loads_no_backend_library() -> None:
    script = (
        "import sys, summarizer\n"
        "from summarizer import Summarizer, summarize\n"
        "print(sorted(m for m in ('openai', 'llama_cpp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
