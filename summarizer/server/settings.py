"""The server's own settings, with the CLI's precedence: flags > environment > `.env` > defaults.

The model settings (`summarizer.config.Settings`) are loaded exactly as for every other command;
these are the ones only `summarizer serve` has. Like `load_settings`, nothing is read at import
time: `load_server_settings` is called once, at the edge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer import paths
from summarizer.errors import ConfigError

LOOPBACK = "127.0.0.1"

# environment variable -> server setting
SERVER_ENV_VARS: dict[str, str] = {
    "SUMMARIZER_SERVER_HOST": "host",
    "SUMMARIZER_SERVER_PORT": "port",
    "SUMMARIZER_SERVER_WORKERS": "workers",
    "SUMMARIZER_SERVER_MAX_BODY": "max_body",
    "SUMMARIZER_SERVER_QUEUE_SIZE": "queue_size",
    "SUMMARIZER_SERVER_CONCURRENCY": "concurrency",
    "SUMMARIZER_SERVER_KEYS_FILE": "keys_file",
    "SUMMARIZER_SERVER_RATE_LIMIT": "rate_limit",
    "SUMMARIZER_SERVER_REQUEST_TIMEOUT": "request_timeout",
    "SUMMARIZER_SERVER_DATA_DIR": "data_dir",
}


class ServerSettings(BaseModel):
    """`concurrency`: summaries with the model at once (each synchronous request, and each job's
    items); `queue_size`: synchronous requests admitted at once (running or waiting) and jobs
    not yet finished; past either, 429 with Retry-After. `rate_limit`: requests per minute per
    API key. `data_dir` holds the job store and one batch directory per job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = LOOPBACK
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body: int = Field(default=8 * 1024 * 1024, ge=1024)
    queue_size: int = Field(default=64, ge=1)
    concurrency: int = Field(default=8, ge=1, le=1024)
    keys_file: Path | None = None
    rate_limit: float | None = Field(default=600.0, gt=0)
    request_timeout: float = Field(default=300.0, gt=0)
    data_dir: Path = Field(default_factory=lambda: paths.user_dir() / "server")
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    cors_origins: tuple[str, ...] = ()

    @property
    def exposed(self) -> bool:
        """Listening beyond this machine's loopback interface."""
        return self.host not in (LOOPBACK, "localhost", "::1") and not self.host.startswith("127.")


def load_server_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> ServerSettings:
    """Merge flags > environment > .env > defaults; a bad value is one ConfigError line."""
    environ = os.environ if env is None else env
    from_dotenv: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        from dotenv import dotenv_values

        from_dotenv = _from_env(dotenv_values(dotenv_path))
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    merged: dict[str, Any] = {**from_dotenv, **_from_env(environ), **given}
    merged.setdefault("data_dir", paths.user_dir(environ) / "server")
    try:
        return ServerSettings(**merged)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid server setting {field}: {first['msg']}") from None


def _from_env(values: Mapping[str, str | None]) -> dict[str, str]:
    return {field: value for var, field in SERVER_ENV_VARS.items() if (value := values.get(var))}
