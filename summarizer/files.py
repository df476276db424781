"""Writes that never leave a half-written file, and never destroy what a path names.

`write_atomic(path, text)` is for files we own (a batch directory's items, reports): temp file in
the same directory, fsync, rename. `write_output(path, text)` is for a path a user gave (`-o`),
which may name anything; it decides by what is there:

    a regular file, or nothing     atomic replace (as above), keeping an existing file's mode
    a symlink                      followed: its final target is replaced atomically, the link
                                   stays a link; one into a missing directory is refused
    a character device or a FIFO   written through, never replaced (/dev/null, /dev/stdout, a
    (/dev/fd/N included)           named pipe, a shell's `>(cmd)`); a FIFO waits for its reader
    a directory, a block device,   refused with OutputError before anything is written
    a socket, a symlink loop

`check_output(path)` makes the same decision without writing, so a command can refuse a bad
target before it spends anything on model calls.

A process killed mid-write (`kill -9`) leaves its temp file `.NAME.XXXXXXXX.tmp`. Every write
sweeps the temp files of ours next to its target that are older than `STALE_AFTER_S`: only our
exact pattern, and only old ones, because a concurrent writer of the same target may be in the
middle of its own (a live write takes milliseconds). SIGINT and SIGTERM need no sweep: the CLI
turns both into exceptions (`cli/__init__.py`), and the write removes its temp file on the way out.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from summarizer.errors import OutputError

STALE_AFTER_S = 60.0
_TEMP_SUFFIX = ".tmp"
# mkstemp's random part: 8 characters of [a-z0-9_].
_TEMP_RANDOM = re.compile(r"[a-z0-9_]{8}")


def write_atomic(
    path: Path, text: str | Iterable[str], *, mode: int = 0o644, sweep: bool = True
) -> None:
    """Replace the regular file `path` (or create it) with `text` (a string, or pieces written
    one after another so the whole need never be in memory), all or nothing; the caller owns
    `path`. `sweep=False` skips the stale temp file sweep, for a caller that swept the directory
    itself under a lock (a batch run writing thousands of items into one directory, where a
    sweep per write would list the directory per write). Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        _sweep_stale_temp_files(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        # mkstemp makes owner-only files; results are ordinary files, readable like any other.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                handle.writelines(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class OutputTarget:
    """What a user's output path comes to: the file to replace, or a stream to write through."""

    given: Path
    path: Path  # the symlinks' final target, or `given` when it is no link
    stream: bool  # write through (a device or a FIFO) instead of replacing
    mode: int  # the mode a replaced file keeps


def check_output(path: Path) -> OutputTarget:
    """Decide how `path` can be written (see the module docstring); raise OutputError if it
    cannot be written safely. Creates nothing."""
    try:
        info = os.stat(path)  # follows symlinks, /dev/fd/N included
    except FileNotFoundError:
        info = None
    except OSError as error:  # a symlink loop, a file used as a directory, no permission
        raise OutputError(_reason(error), path=path) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
            return OutputTarget(given=path, path=path, stream=True, mode=0)
        raise OutputError(f"is {_kind(info.st_mode)}; give a file name", path=path)
    # A regular file or nothing there: replace the symlinks' final target, if any.
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    parent = real.parent
    if real != path and not parent.is_dir():
        raise OutputError(f"is a symlink to {real}, whose directory does not exist", path=path)
    existing = _nearest_existing(parent)
    if not existing.is_dir():
        raise OutputError(f"{existing} is not a directory", path=path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"directory {existing} is not writable", path=path)
    file_mode = stat.S_IMODE(info.st_mode) if info is not None else 0o644
    return OutputTarget(given=path, path=real, stream=False, mode=file_mode)


def write_output(path: Path, text: str) -> None:
    """Write `text` where a user asked (see the module docstring). Raises OutputError."""
    target = check_output(path)
    try:
        if target.stream:
            _write_through(target.path, text)
        else:
            write_atomic(target.path, text, mode=target.mode)
    except OSError as error:
        raise OutputError(_reason(error), path=path) from None


def _write_through(path: Path, text: str) -> None:
    # No O_CREAT, no O_TRUNC: the thing at `path` is written, never made or emptied.
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _sweep_stale_temp_files(path: Path) -> None:
    """Remove `.NAME.XXXXXXXX.tmp` files next to `path` left by killed writes (older than
    STALE_AFTER_S, so a concurrent write's live temp file is left alone)."""
    prefix = f".{path.name}."
    cutoff = time.time() - STALE_AFTER_S
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return  # the write that follows reports what is wrong with the directory
    for entry in entries:
        name = entry.name
        middle = name[len(prefix) : -len(_TEMP_SUFFIX)]
        if not (
            name.startswith(prefix)
            and name.endswith(_TEMP_SUFFIX)
            and _TEMP_RANDOM.fullmatch(middle)
        ):
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                os.unlink(entry.path)


def _nearest_existing(directory: Path) -> Path:
    """`directory`, or its nearest ancestor that exists (the one the write will create in)."""
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
