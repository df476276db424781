"""Real file systems for tests: device nodes, a tiny tmpfs, a read-only directory.

Devices are made with mknod inside the test's directory when we are root (a root test must never
aim at the real /dev/null: if the writer regressed, it would replace the machine's device);
without root, the real /dev/null and /dev/full are safe to use, since only root could replace
them. Mounting needs root; tests that need a mount skip without it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = os.geteuid() == 0


def device(tmp_path: Path, name: str, major: int, minor: int, *, block: bool = False) -> Path:
    """A device node of our own (root), for a test that must not aim at the machine's."""
    if not ROOT:
        pytest.skip("making a device node needs root")
    path = tmp_path / name
    kind = stat.S_IFBLK if block else stat.S_IFCHR
    try:
        os.mknod(path, 0o666 | kind, os.makedev(major, minor))
    except PermissionError:
        pytest.skip("mknod is not permitted here")
    return path


def null_device(tmp_path: Path) -> Path:
    """A device that takes any write: our own node as root, else /dev/null."""
    return device(tmp_path, "null", 1, 3) if ROOT else Path("/dev/null")


def full_device(tmp_path: Path) -> Path:
    """A device where every write fails with ENOSPC: our own node as root, else /dev/full."""
    return device(tmp_path, "full", 1, 7) if ROOT else Path("/dev/full")


@contextlib.contextmanager
def tmpfs(where: Path, *options: str, size: str = "64k") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (root with mount rights only), unmounted after."""
    where.mkdir()
    if not ROOT:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}", *options)), "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr!r}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@contextlib.contextmanager
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can write: a read-only tmpfs as root (root ignores mode bits)."""
    if ROOT:
        with tmpfs(tmp_path / "ro", "ro") as where:
            yield where
    else:
        where = tmp_path / "ro"
        where.mkdir()
        where.chmod(0o555)
        yield where
        where.chmod(0o755)
