"""`summarizer serve` (the HTTP API, docs/service.md) and `summarizer keys new NAME`."""

from __future__ import annotations

from pathlib import Path

import typer

from summarizer.cli import app
from summarizer.cli.options import model_options, notice_default_backend, settings_from

keys_app = typer.Typer(help="Make API keys for `summarizer serve`.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

KEYS_FILE = typer.Option(
    None, "--keys-file", help="name:sha256 lines of the API keys let in (default: no auth)."
)


def _missing_extra() -> None:
    from summarizer.errors import ConfigError

    raise ConfigError(
        "the HTTP service needs its extra: pip install 'summarizer[serve]' "
        "(FastAPI, uvicorn, prometheus-client)"
    )


@app.command()
@model_options
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to listen on [127.0.0.1]."),
    port: int | None = typer.Option(None, "--port", help="Port [8000]."),
    workers: int | None = typer.Option(None, "--workers", help="Worker processes [1]."),
    max_body: int | None = typer.Option(None, "--max-body", help="Largest body, bytes [8 MiB]."),
    queue_size: int | None = typer.Option(
        None, "--queue-size", help="Requests admitted at once, and jobs unfinished [64]."
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", help="Summaries with the model at once [8]."
    ),
    keys_file: Path | None = KEYS_FILE,
    rate_limit: float | None = typer.Option(
        None, "--rate-limit", help="Requests per minute per API key [600]."
    ),
    request_timeout: float | None = typer.Option(
        None, "--request-timeout", help="Seconds a synchronous request may take [300]."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Job store and job outputs."),
    rpm: float | None = typer.Option(None, "--rpm", help="Model calls per minute, in all."),
    tpm: float | None = typer.Option(None, "--tpm", help="Model tokens per minute, in all."),
    cors_origin: list[str] | None = typer.Option(
        None, "--cors-origin", help="Allow browsers from this origin (CORS is off by default)."
    ),
    no_access_log: bool = typer.Option(False, "--no-access-log", help="No access log lines."),
) -> None:
    """Serve summaries, claims, stories and jobs over HTTP (docs/service.md)."""
    try:
        from summarizer.server.run import serve as run_server
        from summarizer.server.settings import load_server_settings
    except ImportError:
        _missing_extra()
    settings = settings_from(ctx.params)
    server = load_server_settings(
        {
            "host": host, "port": port, "workers": workers, "max_body": max_body,
            "queue_size": queue_size, "concurrency": concurrency, "keys_file": keys_file,
            "rate_limit": rate_limit, "request_timeout": request_timeout, "data_dir": data_dir,
            "rpm": rpm, "tpm": tpm, "cors_origins": tuple(cors_origin) if cors_origin else None,
        }
    )  # fmt: skip
    notice_default_backend(settings)
    run_server(settings, server, access_log=not no_access_log)


@keys_app.command("new")
def new(
    name: str = typer.Argument(..., help="Who the key is for (shown in logs, never the token)."),
    keys_file: Path | None = KEYS_FILE,
) -> None:
    """Make a key: print its token once, append its hash to the keys file."""
    from summarizer.errors import ConfigError
    from summarizer.server.keys import new_key
    from summarizer.server.settings import load_server_settings

    path = keys_file or load_server_settings().keys_file
    if path is None:
        raise ConfigError("say where the keys go: --keys-file PATH or SUMMARIZER_SERVER_KEYS_FILE")
    token = new_key(path, name)
    typer.echo(token)
    typer.echo(f"added key {name!r} to {path}; the token above is shown only this once", err=True)
