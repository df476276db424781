"""API keys for the service's callers: bearer tokens, stored hashed.

The keys file has one `name:sha256-hex-of-token` line per caller (blank lines and `#` comments
are ignored), so it holds no secret: a leaked copy lets nobody in. `new_key` makes a token,
appends its line and returns the token, which is shown once and stored nowhere.

A presented token is hashed and compared with every stored hash in constant time
(`hmac.compare_digest`, no early exit on the first match), so the time taken says nothing about
which key or how much of one matched. Names are what logs and metrics see; tokens never are.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from summarizer.errors import ConfigError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEX = re.compile(r"[0-9a-f]{64}")
TOKEN_PREFIX = "sk-sum-"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKeys:
    """The callers allowed in: name -> SHA-256 of their token."""

    hashes: tuple[tuple[str, str], ...]

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ConfigError(f"cannot read keys file {path}: {reason}") from None
        entries: list[tuple[str, str]] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            name, _, digest = line.partition(":")
            if not _NAME.fullmatch(name) or not _HEX.fullmatch(digest):
                # The line is not quoted back: it might be a token pasted by mistake.
                raise ConfigError(
                    f"keys file {path} line {number}: expected name:sha256-hex "
                    "(make lines with `summarizer keys new NAME`)"
                )
            entries.append((name, digest))
        return cls(tuple(entries))

    def authenticate(self, token: str) -> str | None:
        """The name of the key whose token this is, or None."""
        presented = token_hash(token).encode("ascii")
        found: str | None = None
        for name, digest in self.hashes:
            if hmac.compare_digest(presented, digest.encode("ascii")) and found is None:
                found = name
        return found


def new_key(path: Path, name: str) -> str:
    """Append a fresh key named `name` to the keys file (created 0600) and return its token."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid key name {name!r}: letters, digits, '.', '_' or '-', at most 64 characters"
        )
    if path.exists() and any(entry == name for entry, _ in ApiKeys.load(path).hashes):
        raise ConfigError(f"a key named {name!r} is already in {path}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as error:
        raise ConfigError(f"cannot write keys file {path}: {error.strerror}") from None
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(f"{name}:{token_hash(token)}\n")
    return token
