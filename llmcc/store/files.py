"""File primitives of the store: atomic writes, reads and appends that never
follow a symbolic link, a lock file, and removal that stays inside a directory.

A cache directory may be shared (by parallel builds, by users, by containers
mounting it), so anything found in it is untrusted: a name that should be a
regular file may be a symbolic link, a FIFO or a directory. These helpers open
the last component of a path with ``O_NOFOLLOW`` and accept regular files only;
the directories above it are the caller's to check (:func:`make_dirs`).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)

#: Directory levels :func:`remove_files` descends below its argument.
REMOVE_DEPTH = 4


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # briefly stricter, never looser, for other threads
    os.umask(mask)
    return mask


def open_nofollow(path: str, flags: int, mode: int = 0o666, *,
                  dir_fd: int | None = None) -> int:
    """``os.open`` of a regular file that refuses a symbolic link as the last component.

    Args:
        path: the file (relative to ``dir_fd`` when given).
        flags: ``os.O_*`` flags (``O_RDONLY``, ``O_WRONLY | O_APPEND | O_CREAT``...);
            ``O_NOFOLLOW``, ``O_CLOEXEC`` and ``O_NONBLOCK`` are added (the last so
            a FIFO cannot block the open; it has no effect on a regular file).
        mode: permission bits of a created file, before the umask.
        dir_fd: a directory descriptor ``path`` is relative to.

    Returns:
        An open descriptor the caller must close.

    Raises:
        OSError: as ``os.open`` (``ELOOP`` for a symbolic link, ``ENOENT``
            for a missing file), or ``EINVAL`` when it is not a regular file.
    """
    fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC | _NONBLOCK, mode, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_nofollow(path: str, max_bytes: int | None = None, *,
                  dir_fd: int | None = None) -> bytes:
    """The whole content of the regular file ``path``, never through a symbolic link.

    Args:
        path: the file (relative to ``dir_fd`` when given).
        max_bytes: refuse files longer than this many bytes (``None``: no limit).
        dir_fd: a directory descriptor ``path`` is relative to.

    Raises:
        OSError: as :func:`open_nofollow`, a read error, or ``EFBIG`` when the
            file is longer than ``max_bytes``.
    """
    fd = open_nofollow(path, os.O_RDONLY, dir_fd=dir_fd)
    try:
        chunks = []
        n = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            n += len(chunk)
            if max_bytes is not None and n > max_bytes:
                raise OSError(errno.EFBIG, f"longer than {max_bytes} bytes", path)
            chunks.append(chunk)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new
    content, never a part.

    The data go to a uniquely named temporary (``.llmcc-*.tmp``) in the same
    directory, which is renamed over ``path`` (a symbolic link at ``path`` is
    replaced, not followed). On any failure, including an interruption, the
    temporary is removed. No ``fsync``: a crash may lose the write, never tear it.

    Args:
        path: the destination file.
        data: the content; a ``str`` is encoded as UTF-8.
        mode: permission bits of the file; ``None`` gives ``0o666`` minus the
            umask, as ``open(path, "w")`` would create it.

    Raises:
        OSError: the directory is missing or not writable, the disk is full...
            (``path`` is then unchanged).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".llmcc-", suffix=".tmp",
                               dir=os.path.dirname(path) or ".")
    try:
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(errno.EIO, "write made no progress", tmp)
                view = view[n:]
            os.fchmod(fd, (0o666 & ~_umask()) if mode is None else mode)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def is_real_dir(path: str) -> bool:
    """True when ``path`` is a directory and not a symbolic link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def make_dirs(base: str, rel: str) -> str:
    """Create ``base/rel`` and return it, refusing symbolic links below ``base``.

    ``base`` itself may be a symbolic link (a user's choice of cache location)
    and is created if missing; every component of ``rel`` must be a real
    directory, created if missing.

    Raises:
        OSError: ``ELOOP`` when a component of ``rel`` is a symbolic link,
            ``ENOTDIR`` when it is another kind of file, or as ``os.mkdir``.
    """
    os.makedirs(base, exist_ok=True)
    path = base
    for part in rel.split(os.sep):
        if not part:
            continue
        path = os.path.join(path, part)
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise OSError(errno.ELOOP, "symbolic link in the cache directory", path)
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, "not a directory", path)
    return path


def open_dir_nofollow(path: str, *, dir_fd: int | None = None) -> int:
    """A descriptor of the directory ``path``, refusing a symbolic link.

    Raises:
        OSError: ``ENOENT`` when missing, ``ELOOP``/``ENOTDIR`` when not a
            real directory, or as ``os.open``.
    """
    return os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)


def remove_files(directory: str) -> int:
    """Remove the files under ``directory``, staying inside it; return how many.

    Regular files and symbolic links (the links themselves) are unlinked;
    subdirectories are descended into without following links, up to
    :data:`REMOVE_DEPTH` levels, and removed once empty, as is ``directory``.
    Other kinds of files (FIFOs, sockets) are left. If ``directory`` is itself a
    symbolic link or missing, nothing is removed. Errors are ignored.
    """
    try:
        fd = open_dir_nofollow(directory)
    except OSError:
        return 0
    try:
        n = _remove_below(fd, REMOVE_DEPTH)
    finally:
        os.close(fd)
    try:
        os.rmdir(directory)
    except OSError:
        pass
    return n


def _remove_below(dir_fd: int, depth: int) -> int:
    n = 0
    try:
        entries = list(os.scandir(dir_fd))
    except OSError:
        return 0
    for e in entries:
        try:
            if e.is_symlink() or e.is_file(follow_symlinks=False):
                os.unlink(e.name, dir_fd=dir_fd)
                n += 1
            elif e.is_dir(follow_symlinks=False) and depth > 0:
                sub = open_dir_nofollow(e.name, dir_fd=dir_fd)
                try:
                    n += _remove_below(sub, depth - 1)
                finally:
                    os.close(sub)
                os.rmdir(e.name, dir_fd=dir_fd)
        except OSError:
            continue
    return n


@contextmanager
def locked(path: str, timeout: float) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the lock file ``path`` for the ``with`` body.

    The lock file is created if missing and never opened through a symbolic
    link; it is left in place afterwards.

    Args:
        path: the lock file.
        timeout: seconds to wait for another holder to release it.

    Raises:
        TimeoutError: still held elsewhere after ``timeout`` seconds.
        OSError: the lock file cannot be opened (a symbolic link, not writable...).
    """
    import fcntl
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(errno.ETIMEDOUT, "lock held elsewhere", path) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)
