"""Start the server: uvicorn with the app built here (one worker) or built by each of several
worker processes (`--workers N`), which share the job store and the cache on disk.

uvicorn's own access log is off: it would print query strings. Ours (`app.py`) goes to stderr
when `access_log` is on.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from summarizer.config import Settings, load_settings
from summarizer.server.settings import ServerSettings

# How the parent hands its resolved settings to worker processes. Never the API key: each
# worker reads that from the environment or .env itself, as the parent did.
SETTINGS_ENV = "SUMMARIZER_SERVE_SETTINGS"


def exposure_warning(server: ServerSettings) -> str | None:
    if server.exposed and server.keys_file is None:
        return (
            f"listening on {server.host} without authentication: anyone who can reach this "
            "port can spend your model budget; pass --keys-file (summarizer keys new NAME)"
        )
    return None


def serve(
    settings: Settings,
    server: ServerSettings,
    *,
    access_log: bool = True,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> None:
    import uvicorn

    warning = exposure_warning(server)
    if warning is not None:
        say(f"warning: {warning}")
    if access_log:
        _log_access()
    auth = f"keys from {server.keys_file}" if server.keys_file else "off"
    say(
        f"summarizer serve: http://{server.host}:{server.port} ({server.workers} worker"
        f"{'s' * (server.workers != 1)}, auth {auth}, backend {settings.resolved_backend()})"
    )
    options: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 10,
    }
    if server.workers == 1:
        from summarizer.server.app import create_app

        uvicorn.run(create_app(settings, server), **options)
        return
    os.environ[SETTINGS_ENV] = json.dumps(
        {
            "model": settings.model_dump(mode="json", exclude={"api_key"}),
            "server": server.model_dump(mode="json"),
            "access_log": access_log,
        }
    )
    uvicorn.run(
        "summarizer.server.run:app_from_environment",
        factory=True,
        workers=server.workers,
        **options,
    )


def app_from_environment() -> Any:
    """The app of one worker process, from the settings the parent left in SETTINGS_ENV."""
    from summarizer.server.app import create_app

    handed = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
    if handed.get("access_log", True):
        _log_access()
    key = load_settings().api_key
    settings = Settings(**{**handed.get("model", {}), "api_key": key})
    return create_app(settings, ServerSettings(**handed.get("server", {})))


def _log_access() -> None:
    logger = logging.getLogger("summarizer.server.access")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s access %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
