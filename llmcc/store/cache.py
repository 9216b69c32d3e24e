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

from llmcc.errors import PipelineError
from llmcc.llvm.ir import normalize_ir  # noqa: F401  (re-exported for callers)
from llmcc.llvm.passes import check_pipeline

FORMAT = 1
SHARD_COUNT = 256

def cache_key(normalized_ir: str, *parts: str) -> str:
    """xxh3-128 hex key of the normalized IR and the identity ``parts``
    (toolchain identity, codegen flags). The ranker and k are not part of the
    key but of the entry (:attr:`Entry.source`), so pinned decisions share it."""
    h = xxhash.xxh3_128()
    h.update(normalized_ir.encode())
    for p in parts:
        h.update(b"\0" + p.encode())
    return h.hexdigest()


#: ``Entry.source`` of decisions imported from a pinned file: valid for any ranker.
IMPORTED = "imported"


@dataclass(frozen=True)
class Entry:
    """A cached decision for one key (normalized IR + toolchain + codegen flags).

    Attributes:
        pipeline: the winning pipeline (``default<Oz>`` for the baseline).
        size: the winner's ``.text + .data`` in bytes.
        oz_size: the ``-Oz`` object's ``.text + .data`` in bytes.
        source: identity of the ranker and k that made the decision
            (``"static:abcd/k=2"``), or :data:`IMPORTED`.
        toolchain: identity of the toolchain it was measured with.
    """

    pipeline: str
    size: int
    oz_size: int
    source: str = IMPORTED
    toolchain: str = ""

    def valid_for(self, source: str) -> bool:
        """True when this decision answers a search by ``source`` (same ranker
        and k, or imported from a pinned file)."""
        return self.source in (source, IMPORTED)


class Store:
    """Decision cache rooted at ``cache_dir/kind``; ``max_entries`` bounds its size.

    ``kind`` is ``"entries"`` (keyed by IR, exported to pinned files) or
    ``"preprocessed"`` (keyed by preprocessed source, a local shortcut only).
    """

    def __init__(self, cache_dir: str, max_entries: int = 200000, kind: str = "entries"):
        self.root = os.path.join(cache_dir, kind)
        self.max_entries = max_entries
        self.corrupt = 0
        self.rejected = 0

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key + ".json")

    def get(self, key: str, touch: bool = True) -> Entry | None:
        """The entry for ``key``, or ``None`` (missing, corrupt or disallowed);
        ``touch`` refreshes its LRU time."""
        path = self._path(key)
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
            if raw.get("format") != FORMAT:
                raise ValueError("format")
            entry = Entry(pipeline=str(raw["pipeline"]), size=int(raw["size"]),
                          oz_size=int(raw["oz_size"]), source=str(raw["source"]),
                          toolchain=str(raw.get("toolchain", "")))
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
        if touch:
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

    def items(self, newer_than_ns: int = 0):
        """Yield (key, Entry) for every readable entry, in key order; with
        ``newer_than_ns``, only entries written or hit after that time."""
        if not os.path.isdir(self.root):
            return
        for d in sorted(os.listdir(self.root)):
            try:
                names = sorted(os.listdir(os.path.join(self.root, d)))
            except OSError:
                continue
            for name in names:
                if name.endswith(".json"):
                    key = name[:-5]
                    if newer_than_ns:
                        try:
                            st = os.stat(os.path.join(self.root, d, name))
                        except OSError:
                            continue
                        if st.st_mtime_ns <= newer_than_ns:
                            continue
                    entry = self.get(key, touch=False)
                    if entry is not None:
                        yield key, entry

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
