"""What many tests (and benchmarks) share: running the CLI as a user does, in a subprocess,
and long texts made of the seed articles."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

SEEDS = Path(__file__).resolve().parent.parent / "evals" / "seeds" / "articles"

# Variables from the host that would point a child at a real endpoint, another backend, other
# templates, or (for an installed copy under test) back at the source tree.
_HOST_ONLY = (
    "OPENAI_", "SUMMARIZER_BACKEND", "SUMMARIZER_MODEL", "SUMMARIZER_LOCAL_MODEL",
    "SUMMARIZER_PROMPTS_DIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
)  # fmt: skip


def run_summarizer(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    python: str = sys.executable,
    command: Sequence[str | os.PathLike[str]] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python -m summarizer ARGS` (or `command ARGS`) in the current directory, with the test's
    environment (its SUMMARIZER_HOME included) less host credentials, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_HOST_ONLY)}
    environment.update(env or {})
    argv = [*map(str, command or (python, "-m", "summarizer")), *args]
    return subprocess.run(
        argv, capture_output=True, text=True, env=environment, cwd=os.getcwd(), input=stdin,
        timeout=timeout, check=False,
    )  # fmt: skip


def run_python(
    code: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -c CODE ARGS` with the same environment as `run_summarizer`."""
    return run_summarizer(*args, env=env, command=(sys.executable, "-c", code), timeout=timeout)


def repeated_seeds(size: int) -> str:
    """The five seed articles over and over, paragraphs apart, until `size` characters."""
    texts = [path.read_text() for path in sorted(SEEDS.glob("*.txt"))]
    parts: list[str] = []
    total = 0
    for text in itertools.cycle(texts):
        if total >= size:
            break
        parts.append(text)
        total += len(text) + 2
    return "\n\n".join(parts)
