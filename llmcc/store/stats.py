"""Statistics counters, after ccache's ``-s``: hits, misses, reasons, bytes saved.

Each call appends one JSON line of increments to a journal file under
``<cache_dir>/stats/`` (one of 16, chosen by process id) with a single
``O_APPEND`` write, which needs no lock and so costs a compile almost nothing.
When a journal passes :data:`FOLD_BYTES` it is renamed aside, and renamed
journals older than :data:`SETTLE_SECONDS` (so no writer still holds them) are
folded into the shard's JSON totals under a file lock. Reading sums the totals
and every journal. Failing to record statistics never fails a compile.

The ``stats`` directory and the files in it are never reached through a
symbolic link: a link there is skipped when reading and not written through.
A line that is not a JSON object of non-negative integer counters is skipped.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import Counter

from llmcc.store import files

SHARDS = 16
FOLD_BYTES = 256 * 1024
SETTLE_SECONDS = 10.0
#: Largest counter value or increment accepted from a file; a line with a larger one is skipped.
MAX_COUNT = 2**63 - 1
#: Longest statistics file (bytes) read; a longer one is skipped.
MAX_FILE_BYTES = 64 * 1024 * 1024


def _dir(cache_dir: str) -> str:
    return os.path.join(cache_dir, "stats")


def _line_counts(line: bytes) -> dict[str, int] | None:
    """The counters of one JSON line, or ``None`` when it is not an object of
    integers in ``[0, MAX_COUNT]`` (bools, floats, ``NaN`` and infinities are not)."""
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict):
        return None
    for v in raw.values():
        if type(v) is not int or not 0 <= v <= MAX_COUNT:
            return None
    return raw


def _counts(path: str, dir_fd: int | None = None) -> Counter:
    """Totals of a JSON shard or a journal of JSON lines (``path`` relative to
    ``dir_fd`` when given). Bad lines are skipped; a file that cannot be read,
    is not a regular file (a symbolic link included) or is longer than
    :data:`MAX_FILE_BYTES` counts nothing."""
    total: Counter = Counter()
    try:
        data = files.read_nofollow(path, MAX_FILE_BYTES, dir_fd=dir_fd)
    except OSError:
        return total
    for line in data.splitlines():
        counts = _line_counts(line)
        if counts:
            total.update(counts)
    return total


def add(cache_dir: str, counts: dict[str, int]) -> None:
    """Add ``counts`` (name -> increment) to the statistics; errors are swallowed."""
    if not counts:
        return
    n = os.getpid() % SHARDS
    name = f"{n:02d}.log"
    journal = os.path.join(_dir(cache_dir), name)
    line = (json.dumps(counts, sort_keys=True) + "\n").encode()
    try:
        try:
            dfd = files.open_dir_nofollow(_dir(cache_dir))
        except FileNotFoundError:
            files.make_dirs(cache_dir, "stats")
            dfd = files.open_dir_nofollow(_dir(cache_dir))
        try:
            fd = files.open_nofollow(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666,
                                     dir_fd=dfd)
        finally:
            os.close(dfd)
        try:
            os.write(fd, line)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > FOLD_BYTES:
            _fold(cache_dir, n, journal)
    except OSError:
        pass


def _fold(cache_dir: str, n: int, journal: str) -> None:
    """Rename the journal aside and fold settled renamed journals into the shard totals."""
    d = _dir(cache_dir)
    # A random part, not the process id: containers sharing the directory reuse ids.
    aside = f"{n:02d}.{time.time_ns()}.{secrets.token_hex(8)}.settling"
    try:
        os.replace(journal, os.path.join(d, aside))
    except OSError:
        return
    shard = os.path.join(d, f"{n:02d}.json")
    try:
        with files.locked(shard + ".lock", timeout=5):
            now = time.time()
            settled = []
            with os.scandir(d) as it:
                for e in it:
                    if (e.name.startswith(f"{n:02d}.") and e.name.endswith(".settling")
                            and e.is_file(follow_symlinks=False)
                            and now - e.stat(follow_symlinks=False).st_mtime > SETTLE_SECONDS):
                        settled.append(e.path)
            if not settled:
                return
            total = _counts(shard)
            for p in settled:
                total.update(_counts(p))
            files.atomic_write(shard, json.dumps(dict(sorted(total.items()))) + "\n")
            for p in settled:
                os.unlink(p)
    except OSError:
        pass


def read(cache_dir: str) -> Counter:
    """All counters: shard totals plus every journal (empty when the ``stats``
    directory is missing, unreadable or a symbolic link). Never raises OSError."""
    total: Counter = Counter()
    try:
        dfd = files.open_dir_nofollow(_dir(cache_dir))
    except OSError:
        return total
    try:
        names = os.listdir(dfd)
    except OSError:
        names = []
    try:
        for name in names:
            if name.endswith((".json", ".log", ".settling")):
                total.update(_counts(name, dir_fd=dfd))
    finally:
        os.close(dfd)
    return total


def zero(cache_dir: str) -> None:
    """Reset every counter to zero: remove the statistics files (never through a
    symbolic link to the ``stats`` directory). Errors are ignored."""
    try:
        dfd = files.open_dir_nofollow(_dir(cache_dir))
    except OSError:
        return
    try:
        for name in os.listdir(dfd):
            if name.endswith((".json", ".log", ".settling")):
                try:
                    os.unlink(name, dir_fd=dfd)
                except OSError:
                    pass
    except OSError:
        pass
    finally:
        os.close(dfd)
