"""The local decision cache: normalized-IR key -> winning pass pipeline.

Layout: ``<cache_dir>/entries/<k[0:2]>/<k>.json``, one small JSON object per
translation unit. Writes are atomic (temporary file + ``os.replace``), so
parallel builds (``make -j``) sharing the directory never see a torn entry.
The size is bounded by a count of entries: when a shard directory holds more
than its share (``max_entries / 256``), its least recently used entries (by
modification time, refreshed on every hit) are evicted, as ccache's cleanup does.
An entry that does not parse, has the wrong shape, or names a pipeline outside
the allowlist is ignored, counted and removed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass

import xxhash

from .errors import PipelineError
from .ir import normalize_ir  # noqa: F401  (re-exported for callers)
from .passes import check_pipeline

FORMAT = 1
SHARD_COUNT = 256

def cache_key(normalized_ir: str, *parts: str) -> str:
    """xxh3-128 hex key of the normalized IR and the identity ``parts``
    (toolchain, codegen flags, ranker, k)."""
    h = xxhash.xxh3_128()
    h.update(normalized_ir.encode())
    for p in parts:
        h.update(b"\0" + p.encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """A cached decision.

    Attributes:
        pipeline: the winning pipeline (``default<Oz>`` for the baseline).
        size: the winner's ``.text + .data`` in bytes.
        oz_size: the ``-Oz`` object's ``.text + .data`` in bytes.
    """

    pipeline: str
    size: int
    oz_size: int


class Store:
    """Decision cache rooted at ``cache_dir``; ``max_entries`` bounds its size."""

    def __init__(self, cache_dir: str, max_entries: int = 200000):
        self.root = os.path.join(cache_dir, "entries")
        self.max_entries = max_entries
        self.corrupt = 0
        self.rejected = 0

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key + ".json")

    def get(self, key: str) -> Entry | None:
        """The entry for ``key``, or ``None`` (missing, corrupt or disallowed)."""
        path = self._path(key)
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
            if raw.get("format") != FORMAT:
                raise ValueError("format")
            entry = Entry(pipeline=str(raw["pipeline"]), size=int(raw["size"]),
                          oz_size=int(raw["oz_size"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            self.corrupt += 1
            self._discard(path)
            return None
        try:
            check_pipeline(entry.pipeline)
        except PipelineError:
            self.rejected += 1
            self._discard(path)
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Store ``entry`` atomically; evict old entries of the shard when over budget.

        Raises:
            OSError: the directory is not writable (callers ignore it).
        """
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(dict(asdict(entry), format=FORMAT), f, sort_keys=True)
        os.replace(tmp, path)
        self._evict(os.path.dirname(path))

    def _evict(self, shard: str) -> None:
        budget = max(1, self.max_entries // SHARD_COUNT)
        try:
            items = [e for e in os.scandir(shard) if e.name.endswith(".json")]
        except OSError:
            return
        if len(items) <= budget:
            return
        items.sort(key=lambda e: (e.stat().st_mtime_ns, e.name))
        for e in items[: len(items) - budget]:
            self._discard(e.path)

    @staticmethod
    def _discard(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def count(self) -> int:
        """Number of entries stored."""
        n = 0
        if os.path.isdir(self.root):
            for d in os.scandir(self.root):
                if d.is_dir():
                    n += sum(1 for e in os.scandir(d.path) if e.name.endswith(".json"))
        return n

    def clear(self) -> None:
        """Remove every entry."""
        shutil.rmtree(self.root, ignore_errors=True)
