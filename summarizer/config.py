"""Settings: flags > environment > `.env` > defaults, read once at the edge.

Nothing here runs at import time; `load_settings` is called by the CLI (or by a library user who
wants the same precedence) and the resulting `Settings` is passed down explicitly.

**Trust model for `.env`.** A `.env` is read from the working directory, which may be a checkout
of someone else's repository. It is trusted to configure the run, but not silently to decide
where the user's own key goes: when `.env` sets the endpoint (`OPENAI_BASE_URL`) while the API
key came from the environment or a flag, a warning (stderr, once per `load_settings`) names the
endpoint the key will be sent to. A key that `.env` itself supplies goes wherever that `.env`
says, without a warning: nothing of the user's leaves. `SUMMARIZER_BACKEND` in `.env` cannot
redirect a key (it only chooses openai or local; the endpoint stays what the user set), so it
gets no warning.

**Base URLs** are checked here (`check_base_url`): http or https, a host, no whitespace or
control characters (a newline would otherwise become a traceback, and `ftp://` five retries).
Credentials in a URL (`http://user:pass@host`, `?api-key=…`, `?key=…`, `?token=…`) never leave
this process in readable form: `redact_url` is what errors, logs, ledgers, reports and the cache
key see. So two URLs differing only in their credentials share cache entries, exactly as two
API keys do: credentials authorise a call, they do not change its answer (a proxy that picks
a different model by credential should be given a different `--model` or path).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from summarizer import paths
from summarizer.errors import ConfigError

BackendName = Literal["openai", "local"]
Mode = Literal["auto", "abstractive", "extractive"]
# How each claim is checked against its evidence (see summarizer.support).
CheckMethod = Literal["off", "lexical", "combined", "judge"]
# The offline checker's version (`summarizer/support/checker.py`): bump when its signals or
# weights change. Part of the document cache key, so kept here, where a cache hit can read it
# without importing the checker.
CHECKER_VERSION = "1"

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_LOCAL_MODEL = "smollm2-135m"
# The summary's length bound in words (`--words`), on every tier; about four news sentences.
DEFAULT_SUMMARY_WORDS = 100
MIN_SUMMARY_WORDS = 10

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
    "SUMMARIZER_CHECK_CLAIMS": "check_claims",
    "SUMMARIZER_MIN_SUPPORT": "min_support",
    "SUMMARIZER_WORDS": "summary_words",
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
    summary_words: int = Field(default=DEFAULT_SUMMARY_WORDS, ge=MIN_SUMMARY_WORDS)
    context_window: int | None = Field(default=None, ge=512)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=1)
    max_reasks: int = Field(default=2, ge=0)
    threads: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    temperature: float = 0.0
    seed: int = 0
    check_claims: CheckMethod = "lexical"
    min_support: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("base_url")
    @classmethod
    def _valid_base_url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value)

    def resolved_backend(self) -> BackendName:
        """Explicit choice, else OpenAI when a key or base URL is configured, else local."""
        if self.backend is not None:
            return self.backend
        if self.api_key is not None or self.base_url is not None:
            return "openai"
        return "local"

    def resolved_threads(self) -> int:
        """`threads` when set (`SUMMARIZER_THREADS`, `--threads`), else what `auto_threads`
        picks for this process now; call it once, where a backend is built."""
        return self.threads or auto_threads(available_cores(), current_load())

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
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Merge flags > environment > .env file > defaults into one validated `Settings`.

    `warn` receives the trust warning described in the module docstring (default: logged).
    """
    environ = os.environ if env is None else env
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    from_env = _from_env(environ)
    from_dotenv: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        from dotenv import dotenv_values

        from_dotenv = _from_env(dotenv_values(dotenv_path))
    merged: dict[str, Any] = {**from_dotenv, **from_env, **given}
    merged.setdefault("cache_dir", paths.cache_dir(environ))
    merged.setdefault("models_dir", paths.models_dir(environ))
    try:
        settings = Settings(**merged)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {field}: {message}") from None
    key_is_users = "api_key" in given or "api_key" in from_env
    endpoint_from_dotenv = (
        "base_url" in from_dotenv and settings.base_url == from_dotenv["base_url"]
    )
    if key_is_users and endpoint_from_dotenv and settings.resolved_backend() == "openai":
        (warn or _log_warning)(
            f"{dotenv_path} sets OPENAI_BASE_URL={redact_url(settings.base_url)}: your API key "
            "from the environment will be sent there. If you did not choose that server, remove "
            "the line or set OPENAI_BASE_URL yourself"
        )
    return settings


def _from_env(values: Mapping[str, str | None]) -> dict[str, str]:
    return {field: value for var, field in ENV_VARS.items() if (value := values.get(var))}


def _log_warning(message: str) -> None:
    logging.getLogger(__name__).warning(message)


# --- threads for in-process models ---------------------------------------------------------

# More threads than this buys nothing on a small model and starves the rest of the machine.
MAX_AUTO_THREADS = 4


def auto_threads(available: int, load: float) -> int:
    """llama.cpp threads for a process allowed `available` cores on a machine whose 1-minute
    load average is `load`: the cores nobody else is using, rounded, at least 1.

    llama.cpp's threads spin at a barrier after every layer, so one thread that has to wait for
    a core stalls all of them: on the 2-core VM, 2 threads at load ~2 decode 3-10x slower than
    1 (docs/benchmarks.md, "Threads"). A thread too few costs at most the parallel speed-up.
    """
    spare = int(available - load + 0.5)
    return max(1, min(available, MAX_AUTO_THREADS, spare))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and `taskset` narrow),
    not the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no sched_getaffinity on macOS and Windows
        return os.cpu_count() or 1


def current_load(window: float = 0.1) -> float:
    """How many cores are busy now: the machine's busy share over `window` seconds (from
    /proc/stat) times its core count; the 1-minute load average where /proc/stat is missing.

    Not the load average itself: it lags by a minute and counts this process's own work just
    before (a benchmark's previous cell, a build), so on an idle 2-core machine it read 1.9 and
    the rule chose 1 thread where 2 were 1.8x faster (docs/benchmarks.md, "Threads"). This
    process sleeps through the window, so it is not counted.
    """
    first = _cpu_times()
    if first is None:
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    time.sleep(window)
    second = _cpu_times()
    if second is None:
        return 0.0
    cores, total, idle = first[0], second[1] - first[1], second[2] - first[2]
    return cores * (total - idle) / total if total > 0 else 0.0


def _cpu_times() -> tuple[int, int, int] | None:
    """(cores, total jiffies, idle + iowait jiffies) from /proc/stat, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            lines = stat.read().splitlines()
    except OSError:
        return None
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    fields = lines[0].split() if lines else []
    if cores == 0 or len(fields) < 6 or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return cores, sum(values), values[3] + values[4]


# --- base URLs ------------------------------------------------------------------------------

# Query parameters that carry credentials: api-key (Azure), key (Google), token, sig (SAS)...
_SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session", re.I)
_REDACTED = "***"
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def check_base_url(url: str) -> str:
    """`url` if it can name an OpenAI-compatible endpoint, else ValueError (message redacted)."""
    bad = _UNPRINTABLE.search(url)
    if bad is not None:
        what = "a newline" if bad.group() in "\r\n" else f"the character {bad.group()!r}"
        raise ValueError(f"the base URL contains {what}; give it on one line, without spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        raise ValueError(f"not a valid URL: {redact_url(url)}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"the base URL must be http:// or https:// and name a host, e.g. "
            f"http://127.0.0.1:8000/v1 (got {redact_url(url)})"
        )
    return url


def redact_url(url: str | None) -> str | None:
    """`url` with its credentials replaced by `***`: the user info, and secret query values."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{_REDACTED}@{host}" if "@" in parts.netloc else parts.netloc
        query = urlencode(
            [
                (name, _REDACTED if _SECRET_PARAM.search(name) else value)
                for name, value in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="*",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "[unparsable URL]"


def url_secrets(url: str | None) -> tuple[str, ...]:
    """Every credential in `url`, raw and percent-decoded, longest first: what to scrub from
    text (a server's or a library's message) that might quote the URL."""
    if not url:
        return ()
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return (url,)
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    found = {userinfo, *userinfo.split(":")}
    found |= {value for name, value in pairs if _SECRET_PARAM.search(name)}
    raw_query = (pair.partition("=") for pair in parts.query.split("&"))
    found |= {value for name, _, value in raw_query if _SECRET_PARAM.search(unquote(name))}
    found |= {unquote(secret) for secret in found}
    # Shorter strings would scrub ordinary words from messages ("v1", "a").
    return tuple(sorted((s for s in found if len(s) >= 3), key=len, reverse=True))
