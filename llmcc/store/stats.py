"""Statistics counters, after ccache's ``-s``: hits, misses, reasons, bytes saved.

Each call appends one JSON line of increments to a journal file under
``<cache_dir>/stats/`` (one of 16, chosen by process id) with a single
``O_APPEND`` write, which needs no lock and so costs a compile almost nothing.
When a journal passes :data:`FOLD_BYTES` it is renamed aside, and renamed
journals older than :data:`SETTLE_SECONDS` (so no writer still holds them) are
folded into the shard's JSON totals under a file lock. Reading sums the totals
and every journal. Failing to record statistics never fails a compile.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

SHARDS = 16
FOLD_BYTES = 256 * 1024
SETTLE_SECONDS = 10.0


def _dir(cache_dir: str) -> str:
    return os.path.join(cache_dir, "stats")


def _counts(path: str) -> Counter:
    """Totals of a JSON shard or a journal of JSON lines (bad lines are skipped)."""
    total: Counter = Counter()
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return total
    for line in lines:
        try:
            total.update({k: int(v) for k, v in json.loads(line).items()})
        except (ValueError, TypeError, AttributeError):
            continue
    return total


def add(cache_dir: str, counts: dict[str, int]) -> None:
    """Add ``counts`` (name -> increment) to the statistics; errors are swallowed."""
    if not counts:
        return
    n = os.getpid() % SHARDS
    journal = os.path.join(_dir(cache_dir), f"{n:02d}.log")
    line = (json.dumps(counts, sort_keys=True) + "\n").encode()
    try:
        try:
            fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except FileNotFoundError:
            os.makedirs(_dir(cache_dir), exist_ok=True)
            fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
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
    from filelock import FileLock, Timeout
    d = _dir(cache_dir)
    try:
        os.replace(journal, os.path.join(d, f"{n:02d}.{time.time_ns()}.{os.getpid()}.settling"))
    except OSError:
        return
    shard = os.path.join(d, f"{n:02d}.json")
    try:
        with FileLock(shard + ".lock", timeout=5):
            now = time.time()
            settled = [e.path for e in os.scandir(d) if e.name.startswith(f"{n:02d}.")
                       and e.name.endswith(".settling")
                       and now - e.stat().st_mtime > SETTLE_SECONDS]
            if not settled:
                return
            total = _counts(shard)
            for p in settled:
                total.update(_counts(p))
            tmp = f"{shard}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps(dict(sorted(total.items()))) + "\n")
            os.replace(tmp, shard)
            for p in settled:
                os.unlink(p)
    except (OSError, Timeout):
        pass


def read(cache_dir: str) -> Counter:
    """All counters: shard totals plus every journal."""
    total: Counter = Counter()
    try:
        names = os.listdir(_dir(cache_dir))
    except OSError:
        return total
    for name in names:
        if name.endswith((".json", ".log", ".settling")):
            total.update(_counts(os.path.join(_dir(cache_dir), name)))
    return total


def zero(cache_dir: str) -> None:
    """Reset every counter to zero."""
    try:
        names = os.listdir(_dir(cache_dir))
    except OSError:
        return
    for name in names:
        if name.endswith((".json", ".log", ".settling")):
            try:
                os.unlink(os.path.join(_dir(cache_dir), name))
            except OSError:
                pass
