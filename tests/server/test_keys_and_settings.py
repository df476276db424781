"""API keys (hashed, constant-time, made by `summarizer keys new`) and the server's settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from summarizer.errors import ConfigError
from summarizer.server import ApiKeys, load_server_settings, new_key
from summarizer.server.keys import token_hash
from summarizer.server.limits import KeyRateLimiter
from summarizer.server.run import exposure_warning
from tests.support import run_summarizer


def test_keys_new_prints_the_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = run_summarizer("keys", "new", "newsroom", "--keys-file", str(keys))
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("sk-sum-") and len(token) > 40
    stored = keys.read_text()
    assert token not in stored and stored == f"newsroom:{token_hash(token)}\n"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert ApiKeys.load(keys).authenticate(token) == "newsroom"
    again = run_summarizer("keys", "new", "newsroom", "--keys-file", str(keys))
    assert again.returncode == 2 and "already in" in again.stderr


def test_authenticate_matches_whole_tokens_only(tmp_path: Path) -> None:
    first = new_key(tmp_path / "keys", "a")
    second = new_key(tmp_path / "keys", "b")
    keys = ApiKeys.load(tmp_path / "keys")
    assert keys.authenticate(first) == "a" and keys.authenticate(second) == "b"
    for wrong in ("", first[:-1], first + "x", token_hash(first), first.upper()):
        assert keys.authenticate(wrong) is None


def test_a_malformed_keys_file_is_one_line_that_never_quotes_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# comment\n\nalice:sk-sum-a-pasted-token\n")
    with pytest.raises(ConfigError) as error:
        ApiKeys.load(path)
    assert "line 3" in str(error.value) and "sk-sum-a-pasted-token" not in str(error.value)
    with pytest.raises(ConfigError, match="cannot read keys file"):
        ApiKeys.load(tmp_path / "missing")


def test_server_settings_flags_beat_environment_beat_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SUMMARIZER_SERVER_PORT=7000\nSUMMARIZER_SERVER_QUEUE_SIZE=5\n"
                      "SUMMARIZER_SERVER_KEYS_FILE=/from/dotenv\n")  # fmt: skip
    env = {"SUMMARIZER_SERVER_PORT": "7100", "SUMMARIZER_HOME": str(tmp_path)}
    loaded = load_server_settings({"port": 7200}, env=env, dotenv_path=dotenv)
    assert loaded.port == 7200 and loaded.queue_size == 5
    assert loaded.keys_file == Path("/from/dotenv") and loaded.data_dir == tmp_path / "server"
    assert load_server_settings({}, env=env, dotenv_path=dotenv).port == 7100
    assert load_server_settings({}, env={}, dotenv_path=None).host == "127.0.0.1"
    with pytest.raises(ConfigError, match="invalid server setting port"):
        load_server_settings({"port": 70000}, env={}, dotenv_path=None)


def test_exposed_without_auth_warns(tmp_path: Path) -> None:
    def settings(host: str, keys: Path | None) -> str | None:
        flags = {"host": host, "keys_file": keys}
        return exposure_warning(load_server_settings(flags, env={}, dotenv_path=None))

    assert settings("127.0.0.1", None) is None
    assert settings("0.0.0.0", tmp_path / "keys") is None
    warning = settings("0.0.0.0", None)
    assert warning is not None and "without authentication" in warning


def test_the_per_key_rate_refills_over_time() -> None:
    now = [0.0]
    limiter = KeyRateLimiter(60.0, burst=2, clock=lambda: now[0])
    assert limiter.admit("a") is None and limiter.admit("a") is None
    wait = limiter.admit("a")
    assert wait == pytest.approx(1.0)
    assert limiter.admit("b") is None  # keys do not share a bucket
    now[0] += 1.0
    assert limiter.admit("a") is None and limiter.admit("a") is not None


def test_serve_without_its_extra_says_how_to_install_it(tmp_path: Path) -> None:
    blocker = tmp_path / "block" / "fastapi"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no fastapi here')\n")
    ran = run_summarizer("serve", env={"PYTHONPATH": str(tmp_path / "block")})
    assert ran.returncode == 2
    assert "pip install 'summarizer[serve]'" in ran.stderr and "Traceback" not in ran.stderr
