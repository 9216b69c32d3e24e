"""Statistics counters, after ccache's ``-s``: hits, misses, reasons, bytes saved.

Counters live in 16 shard files under ``<cache_dir>/stats/`` (chosen by
process id) so parallel builds rarely contend; each update is a locked
read-modify-write. Failing to record statistics never fails a compile.
"""

from __future__ import annotations

import json
import os
from collections import Counter


SHARDS = 16


def _shard(cache_dir: str, n: int) -> str:
    return os.path.join(cache_dir, "stats", f"{n:02d}.json")


def _read(path: str) -> Counter:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return Counter({k: int(v) for k, v in data.items()})
    except (OSError, ValueError, TypeError, AttributeError):
        return Counter()


def add(cache_dir: str, counts: dict[str, int]) -> None:
    """Add ``counts`` (name -> increment) to the statistics; errors are swallowed."""
    if not counts:
        return
    from filelock import FileLock, Timeout
    path = _shard(cache_dir, os.getpid() % SHARDS)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with FileLock(path + ".lock", timeout=5):
            total = _read(path)
            total.update(counts)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(dict(sorted(total.items())), f)
            os.replace(tmp, path)
    except (OSError, Timeout):
        pass


def read(cache_dir: str) -> Counter:
    """All counters summed over the shards."""
    total: Counter = Counter()
    for n in range(SHARDS):
        total.update(_read(_shard(cache_dir, n)))
    return total


def zero(cache_dir: str) -> None:
    """Reset every counter to zero."""
    from filelock import FileLock, Timeout
    for n in range(SHARDS):
        path = _shard(cache_dir, n)
        try:
            with FileLock(path + ".lock", timeout=5):
                os.unlink(path)
        except (FileNotFoundError, Timeout):
            pass
