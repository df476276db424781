"""The service under a real uvicorn on a loopback port, for tests and benchmarks.

`RunningService` runs uvicorn on a thread of this process (real sockets, real HTTP), with the
app built by `create_app` exactly as `summarizer serve` builds it; `free_port` finds a port for
a server started as a subprocess.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from summarizer.config import Settings, load_settings
from summarizer.llm import Backend
from summarizer.server import ApiKeys, ServerSettings, create_app
from summarizer.server.keys import token_hash

TOKEN = "sk-sum-test-token-alice"
OTHER_TOKEN = "sk-sum-test-token-bob"
KEYS = ApiKeys((("alice", token_hash(TOKEN)), ("bob", token_hash(OTHER_TOKEN))))
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def openai_settings(base_url: str, home: Path, **overrides: Any) -> Settings:
    """Settings for the OpenAI backend at `base_url`; the cache and the user dir (the story
    embedder's converted model) under `home`, never the host's."""
    flags = {
        "backend": "openai", "base_url": base_url, "model": "gpt-4o-mini",
        "cache_dir": home / "cache", "max_retries": 1, "timeout": 10.0, **overrides,
    }  # fmt: skip
    return load_settings(flags, env={"SUMMARIZER_HOME": str(home / "home")}, dotenv_path=None)


class RunningService:
    """`with RunningService(settings, server) as service:` then `service.url`."""

    def __init__(
        self,
        settings: Settings,
        server: ServerSettings,
        *,
        backend: Backend | None = None,
        keys: ApiKeys | None = KEYS,
    ) -> None:
        self.app = create_app(settings, server, backend=backend, keys=keys)
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
            lifespan="on",
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningService:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=20)
