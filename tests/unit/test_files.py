"""Store file primitives: atomic writes, no-follow opens, confined removal, the lock."""

import errno
import os
import stat

import pytest

from llmcc.store import files
from tests.conftest import deadline


def _tmp_names(d):
    return [p.name for p in d.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_replaces_with_umask_mode_and_leaves_nothing(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    files.atomic_write(str(path), "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    files.atomic_write(str(path), b"\x00bytes", mode=0o640)
    assert path.read_bytes() == b"\x00bytes"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert _tmp_names(tmp_path) == []


def test_atomic_write_temporary_is_unique_and_in_the_same_directory(tmp_path, monkeypatch):
    seen = []
    real = files.tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        seen.append(name)
        return fd, name

    monkeypatch.setattr(files.tempfile, "mkstemp", spy)
    # Another writer's temporary under the PID-based name must not matter.
    (tmp_path / f"a.json.{os.getpid()}.tmp").mkdir()
    files.atomic_write(str(tmp_path / "a.json"), "x")
    files.atomic_write(str(tmp_path / "a.json"), "y")
    assert len(set(seen)) == 2
    for name in seen:
        assert os.path.dirname(name) == str(tmp_path)
        assert os.path.basename(name).startswith(".llmcc-") and name.endswith(".tmp")


def test_atomic_write_removes_its_temporary_when_the_disk_is_full(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    path.write_text("old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    with pytest.raises(OSError) as e:
        files.atomic_write(str(path), "new")
    assert e.value.errno == errno.ENOSPC
    assert path.read_text() == "old"
    assert _tmp_names(tmp_path) == []


def test_atomic_write_removes_its_temporary_when_the_rename_fails(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError(errno.EXDEV, "rename failed")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError):
        files.atomic_write(str(tmp_path / "a.json"), "new")
    assert list(tmp_path.iterdir()) == []


def test_reads_refuse_symlinks_fifos_and_oversized_files(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("do not read")
    (tmp_path / "link").symlink_to(secret)
    with pytest.raises(OSError) as e:
        files.read_nofollow(str(tmp_path / "link"))
    assert e.value.errno == errno.ELOOP
    os.mkfifo(tmp_path / "fifo")
    with deadline(5), pytest.raises(OSError) as e:  # must not wait for a writer
        files.read_nofollow(str(tmp_path / "fifo"))
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        files.read_nofollow(str(tmp_path))
    assert files.read_nofollow(str(secret), max_bytes=11) == b"do not read"
    with pytest.raises(OSError) as e:
        files.read_nofollow(str(secret), max_bytes=10)
    assert e.value.errno == errno.EFBIG
    with pytest.raises(FileNotFoundError):
        files.read_nofollow(str(tmp_path / "missing"))


def test_append_through_a_symlink_is_refused(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep\n")
    (tmp_path / "j.log").symlink_to(target)
    with pytest.raises(OSError):
        files.open_nofollow(str(tmp_path / "j.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    assert target.read_text() == "keep\n"


def test_make_dirs_refuses_a_symlinked_component(tmp_path):
    base = tmp_path / "cache"
    assert files.make_dirs(str(base), os.path.join("entries", "ab")) == str(base / "entries" / "ab")
    outside = tmp_path / "outside"
    outside.mkdir()
    (base / "entries" / "cd").symlink_to(outside)
    with pytest.raises(OSError) as e:
        files.make_dirs(str(base), os.path.join("entries", "cd", "x"))
    assert e.value.errno == errno.ELOOP
    assert list(outside.iterdir()) == []
    (base / "entries" / "ef").write_text("")
    with pytest.raises(OSError):
        files.make_dirs(str(base), os.path.join("entries", "ef"))


def test_remove_files_stays_inside_the_directory(tmp_path):
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "keep.json").write_text("1")
    (outside / "sub" / "keep.json").write_text("2")
    d = tmp_path / "d"
    (d / "ab").mkdir(parents=True)
    (d / "ab" / "x.json").write_text("x")
    (d / "ab" / ".llmcc-1.tmp").write_text("t")
    (d / "y.txt").write_text("y")
    (d / "file-link.json").symlink_to(outside / "keep.json")
    (d / "dir-link").symlink_to(outside)
    (d / "ab" / "dir-link").symlink_to(outside / "sub")
    assert files.remove_files(str(d)) == 6
    assert not d.exists()
    assert (outside / "keep.json").read_text() == "1"
    assert (outside / "sub" / "keep.json").read_text() == "2"
    # A symlinked directory itself is not emptied.
    link = tmp_path / "link"
    link.symlink_to(outside)
    assert files.remove_files(str(link)) == 0
    assert (outside / "keep.json").exists() and link.is_symlink()
    assert files.remove_files(str(tmp_path / "missing")) == 0


def test_lock_excludes_times_out_and_never_follows_a_symlink(tmp_path):
    import fcntl
    lock = tmp_path / "x.lock"
    with files.locked(str(lock), timeout=1):
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(TimeoutError):
                with files.locked(str(lock), timeout=0.05):
                    pass
        finally:
            os.close(fd)
    with files.locked(str(lock), timeout=0):
        pass
    target = tmp_path / "target"
    target.write_text("keep")
    (tmp_path / "y.lock").symlink_to(target)
    with pytest.raises(OSError):
        with files.locked(str(tmp_path / "y.lock"), timeout=0):
            pass
    assert target.read_text() == "keep"
