"""Settings: flags > environment > `.env` > defaults, read once at the edge.

Nothing here runs at import time; `load_settings` is called by the CLI (or by a library user who
wants the same precedence) and the resulting `Settings` is passed down explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from summarizer import paths
from summarizer.errors import ConfigError

BackendName = Literal["openai", "local"]
Mode = Literal["auto", "abstractive", "extractive"]

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_LOCAL_MODEL = "smollm2-135m"

# environment variable -> settings field
ENV_VARS: dict[str, str] = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "SUMMARIZER_BACKEND": "backend",
    "SUMMARIZER_MODEL": "model",
    "SUMMARIZER_LOCAL_MODEL": "local_model",
    "SUMMARIZER_CACHE_DIR": "cache_dir",
    "SUMMARIZER_MODE": "mode",
    "SUMMARIZER_MAX_CHUNK_TOKENS": "max_chunk_tokens",
    "SUMMARIZER_CHUNK_OVERLAP": "chunk_overlap",
    "SUMMARIZER_MAX_OUTPUT_TOKENS": "max_output_tokens",
    "SUMMARIZER_CONTEXT_WINDOW": "context_window",
    "SUMMARIZER_TIMEOUT": "timeout",
    "SUMMARIZER_MAX_RETRIES": "max_retries",
    "SUMMARIZER_MAX_REASKS": "max_reasks",
    "SUMMARIZER_THREADS": "threads",
    "SUMMARIZER_SEED": "seed",
    "SUMMARIZER_CONCURRENCY": "concurrency",
}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: BackendName | None = None
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    local_model: str | None = None
    cache_dir: Path = Field(default_factory=paths.cache_dir)
    models_dir: Path = Field(default_factory=paths.models_dir)
    use_cache: bool = True
    refresh_cache: bool = False
    mode: Mode = "auto"
    max_chunk_tokens: int = Field(default=1500, ge=64)
    chunk_overlap: int = Field(default=0, ge=0)
    max_output_tokens: int = Field(default=800, ge=16)
    context_window: int | None = Field(default=None, ge=512)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=1)
    max_reasks: int = Field(default=2, ge=0)
    threads: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    temperature: float = 0.0
    seed: int = 0

    def resolved_backend(self) -> BackendName:
        """Explicit choice, else OpenAI when a key or base URL is configured, else local."""
        if self.backend is not None:
            return self.backend
        if self.api_key is not None or self.base_url is not None:
            return "openai"
        return "local"

    def resolved_model(self) -> str:
        if self.model:
            return self.model
        if self.resolved_backend() == "local":
            return self.local_model or DEFAULT_LOCAL_MODEL
        return DEFAULT_OPENAI_MODEL


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = Path(".env"),
) -> Settings:
    """Merge flags > environment > .env file > defaults into one validated `Settings`."""
    environ = os.environ if env is None else env
    merged: dict[str, Any] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        from dotenv import dotenv_values

        merged.update(_from_env(dotenv_values(dotenv_path)))
    merged.update(_from_env(environ))
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    merged.setdefault("cache_dir", paths.cache_dir(environ))
    merged.setdefault("models_dir", paths.models_dir(environ))
    try:
        return Settings(**merged)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {field}: {first['msg']}") from None


def _from_env(values: Mapping[str, str | None]) -> dict[str, str]:
    return {field: value for var, field in ENV_VARS.items() if (value := values.get(var))}
