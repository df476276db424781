"""Where summarizer keeps its files: one root directory, one environment override.

    user_dir()      $SUMMARIZER_HOME, else $XDG_CACHE_HOME/summarizer, else ~/.cache/summarizer
    ├── cache/      the call cache (diskcache); `--cache-dir` / SUMMARIZER_CACHE_DIR move it
    ├── models/     assembled split GGUF files and their verified-digest markers
    ├── runs/       append-only run logs (`summarizer eval`)
    └── recovered/  results that could not be written where `-o` asked (a full disk, ...)

Nothing is created here: each owner creates its folder when it first writes, so `--help` and
dry runs touch no disk. Tests point SUMMARIZER_HOME at a temporary directory (an autouse fixture).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HOME_ENV = "SUMMARIZER_HOME"


def user_dir(env: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    home = environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "summarizer"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return user_dir(env) / "cache"


def models_dir(env: Mapping[str, str] | None = None) -> Path:
    return user_dir(env) / "models"


def runs_dir(env: Mapping[str, str] | None = None) -> Path:
    return user_dir(env) / "runs"


def recovered_dir(env: Mapping[str, str] | None = None) -> Path:
    return user_dir(env) / "recovered"
