"""`summarizer serve`: the same `Summarizer` behind an authenticated, bounded, durable HTTP API.

    settings.ServerSettings      host, port, workers, limits, keys file, data dir (flags > env)
    keys.ApiKeys                 bearer tokens checked against SHA-256 hashes, constant time
    app.create_app               the FastAPI app: routes, auth, problems, access log, metrics
      limits                     bounded work queue, per-key rate, body size and type
      problems                   the library's errors as problem documents, in one place
      metrics                    Prometheus counters in the app's own registry
      jobs.JobRunner             jobs on the batch machinery (ledger, throttle, retries)
      store.JobStore             the small interface over the job table (SQLite WAL)
    run.serve                    uvicorn with one worker (the app built here) or several

Importing this package needs the `serve` extra (FastAPI, uvicorn, prometheus-client); nothing
else in summarizer imports it, so the CLI stays light without it.
"""

from __future__ import annotations

from summarizer.server.app import create_app
from summarizer.server.keys import ApiKeys, new_key
from summarizer.server.settings import ServerSettings, load_server_settings

__all__ = ["ApiKeys", "ServerSettings", "create_app", "load_server_settings", "new_key"]
