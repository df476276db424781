"""One run per output directory, enforced with `flock` on `DIR/.lock`.

The kernel drops an flock when its holder dies, even by `kill -9`, so a crashed run never leaves
a stale lock behind (a pid file alone would). The file is never deleted: unlinking a lock file
lets a third process lock a new inode while the second still holds the old one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from summarizer.errors import ConfigError

LOCK_NAME = ".lock"


class BatchLocked(ConfigError):
    """Another run holds the output directory (a usage error: exit 2)."""

    def __init__(self, directory: Path, *, holder: str | None) -> None:
        self.directory = directory
        self.holder = holder
        who = f" (pid {holder})" if holder else ""
        super().__init__(
            f"another batch run{who} is using {directory}; wait for it to finish, "
            "or use a different --out directory"
        )


@contextmanager
def exclusive_lock(directory: Path) -> Iterator[None]:
    """Hold the directory's lock for the block; raise BatchLocked at once if it is taken."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or None
            raise BatchLocked(directory, holder=holder) from None
        # The pid is for the message above only; the flock is what excludes.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock
