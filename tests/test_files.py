"""`write_output` against real files, links, FIFOs, devices and file systems (issue 11, class 1)."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from summarizer.errors import OutputError
from summarizer.files import STALE_AFTER_S, check_output, write_atomic, write_output
from tests.filesystems import device, null_device, read_only_dir, tmpfs


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- what is there decides the write ----------------------------------------------------------


def test_a_regular_file_is_replaced_atomically_keeping_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(0o600)
    write_output(out, "new\n")
    assert out.read_text() == "new\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert listing(tmp_path) == ["out.json"]


def test_a_missing_file_is_created_with_its_directories(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out.json"
    write_output(out, "x")
    assert out.read_text() == "x" and stat.S_IMODE(out.stat().st_mode) == 0o644


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "data" / "real.json"
    real.parent.mkdir()
    real.write_text("old")
    middle = tmp_path / "middle"
    middle.symlink_to("data/real.json")  # relative, and a chain of two
    link = tmp_path / "link.json"
    link.symlink_to(middle)
    write_output(link, "new")
    assert link.is_symlink() and middle.is_symlink()
    assert real.read_text() == "new" and not real.is_symlink()
    assert listing(real.parent) == ["real.json"]


def test_a_dangling_symlink_into_an_existing_directory_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "target.json")
    write_output(link, "x")
    assert link.is_symlink() and (tmp_path / "target.json").read_text() == "x"


def test_a_dangling_symlink_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "missing" / "target.json")
    with pytest.raises(OutputError, match=r"symlink to .*directory does not exist"):
        write_output(link, "x")
    assert link.is_symlink() and not (tmp_path / "missing").exists()


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OutputError, match="symbolic links"):
        write_output(tmp_path / "a", "x")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_a_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "keep").write_text("k")
    for target in (folder, tmp_path / "to-dir"):
        if target != folder:
            target.symlink_to(folder)
        with pytest.raises(OutputError, match="is a directory"):
            write_output(target, "x")
    assert listing(folder) == ["keep"]


def test_a_path_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("f")
    with pytest.raises(OutputError, match=r"[Nn]ot a directory"):
        write_output(tmp_path / "file" / "out.json", "x")
    assert (tmp_path / "file").read_text() == "f"


def test_a_character_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    null = null_device(tmp_path)
    write_output(null, "discarded")
    assert stat.S_ISCHR(null.stat().st_mode)


def test_a_full_device_is_an_output_error(tmp_path: Path) -> None:
    full = device(tmp_path, "full", 1, 7)
    with pytest.raises(OutputError, match="No space left on device"):
        write_output(full, "x" * 100_000)
    assert stat.S_ISCHR(full.stat().st_mode)


def test_a_block_device_is_refused_without_opening_it(tmp_path: Path) -> None:
    disk = device(tmp_path, "disk", 7, 200, block=True)  # a loop device number nobody uses
    with pytest.raises(OutputError, match="is a block device"):
        write_output(disk, "x")
    assert stat.S_ISBLK(disk.stat().st_mode)


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(OutputError, match="is a socket"):
            write_output(path, "x")


def test_a_fifo_is_written_through_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, "through the pipe\n")
    reader.join(5)
    assert received == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode) and listing(tmp_path) == ["fifo"]


def test_dev_fd_of_a_pipe_is_written_through(tmp_path: Path) -> None:
    # What a shell's `-o >(wc -c)` passes: /dev/fd/N, a pipe.
    read_end, write_end = os.pipe()
    try:
        write_output(Path(f"/dev/fd/{write_end}"), "process substitution")
        os.close(write_end)
        assert os.read(read_end, 100) == b"process substitution"
    finally:
        os.close(read_end)


def test_a_pipe_whose_reader_left_is_an_output_error() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with pytest.raises(OutputError, match="Broken pipe"):
            write_output(Path(f"/dev/fd/{write_end}"), "x")
    finally:
        os.close(write_end)


def test_a_read_only_directory_is_refused_before_writing(tmp_path: Path) -> None:
    with read_only_dir(tmp_path) as read_only:
        with pytest.raises(OutputError, match="not writable"):
            check_output(read_only / "out.json")
        with pytest.raises(OutputError):
            write_output(read_only / "sub" / "out.json", "x")
        assert listing(read_only) == []


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small") as small:
        out = small / "out.json"
        out.write_text("old")
        with pytest.raises(OutputError, match="No space left on device"):
            write_output(out, "x" * 200_000)
        assert out.read_text() == "old" and listing(small) == ["out.json"]


def test_a_failing_write_anywhere_is_an_output_error_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same fault without root: the file system says ENOSPC at fsync.
    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    out = tmp_path / "out.json"
    with pytest.raises(OutputError, match=r"cannot write .*out.json: No space left"):
        write_output(out, "x")
    assert listing(tmp_path) == []


# --- temp files of killed writes ----------------------------------------------------------------


def test_stale_temp_files_of_ours_are_swept_and_nothing_else(tmp_path: Path) -> None:
    old = time.time() - STALE_AFTER_S - 5
    names = {
        ".out.json.ab12_x9z.tmp": True,  # ours, stale: swept
        ".out.json.fresh123.tmp": False,  # ours but fresh: a concurrent write's
        ".out.json.toolong12.tmp": False,  # not mkstemp's 8 characters
        ".out.json.ABCDEFGH.tmp": False,  # mkstemp draws lower case only
        ".out.json.abcdefgh.tmp.bak": False,
        ".other.json.abcdefgh.tmp": False,  # another target's
        "out.json.abcdefgh.tmp": False,  # not hidden: not ours
    }
    for name, stale in names.items():
        path = tmp_path / name
        path.write_text(name)
        if stale or name != ".out.json.fresh123.tmp":
            os.utime(path, (old, old))
    (tmp_path / ".out.json.dir12345.tmp").mkdir()  # a directory is never removed
    os.utime(tmp_path / ".out.json.dir12345.tmp", (old, old))
    write_atomic(tmp_path / "out.json", "x")
    kept = {name for name, stale in names.items() if not stale}
    assert set(listing(tmp_path)) == kept | {"out.json", ".out.json.dir12345.tmp"}
