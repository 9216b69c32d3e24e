"""The local decision cache: normalized-IR key -> winning pass pipeline.

Layout: ``<cache_dir>/entries/<k[0:2]>/<k>.json``, one small JSON object per
translation unit. Writes are atomic (:func:`llmcc.store.files.atomic_write`), so
parallel builds (``make -j``) sharing the directory never see a torn entry.
The size is bounded by a count of entries: when a shard directory holds more
than its share (``max_entries / 256``), its least recently used entries (by
modification time, refreshed on every hit) are evicted, as ccache's cleanup does.
An entry that does not parse, has the wrong shape or types, or names a
pipeline outside the allowlist is ignored, counted and removed; so is a name
that is not a regular file (a symbolic link is never followed). Eviction and
clearing remove only files inside the cache directory.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import xxhash

from llmcc.errors import PipelineError
from llmcc.llvm.ir import normalize_ir  # noqa: F401  (re-exported for callers)
from llmcc.llvm.passes import check_pipeline
from llmcc.store import files

FORMAT = 1
SHARD_COUNT = 256
#: Largest size (bytes) an entry may record; a larger one is corrupt.
MAX_SIZE = 2**63 - 1
#: Longest entry file (bytes) read; a longer one is corrupt.
MAX_ENTRY_BYTES = 64 * 1024
#: Subdirectories of the cache directory that ``llmcc -C`` empties: the two
#: decision stores and the memo files of clang's ``-Oz`` pipeline and of the
#: toolchain probe. Statistics (``stats/``) are kept, as ccache's ``-C`` does.
CLEARED_DIRS = ("entries", "preprocessed", "objects", "pipelines", "toolchain")
_UTIME_NOFOLLOW = os.utime in os.supports_follow_symlinks


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
#: Source prefix of decisions written by ``llmcc autotune`` (``autotune budget=N seed=S``).
TUNED = "autotune"


def answers(entry_source: str, source: str) -> bool:
    """True when a decision (or stored object) made by ``entry_source`` answers a
    compile whose ranker and k are ``source``: the same ranker and k, a decision
    imported from a pinned file, or one found by ``llmcc autotune`` (a measured
    search of this very TU, which no ranker change makes stale)."""
    return entry_source in (source, IMPORTED) or entry_source.startswith(TUNED)


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

    @classmethod
    def from_json(cls, data: bytes | str) -> Entry:
        """Parse a stored entry: a JSON object with ``format`` (:data:`FORMAT`),
        ``pipeline``, ``source`` and optionally ``toolchain`` strings, and
        ``size``, ``oz_size`` integers in ``[0, MAX_SIZE]`` (a bool, a float,
        ``NaN`` or an infinity is not one). Other keys are ignored.

        Raises:
            ValueError: anything else, including bytes that are not UTF-8 and
                JSON nested too deeply to parse.
        """
        try:
            raw = json.loads(data)
        except RecursionError:
            raise ValueError("entry nested too deeply") from None
        if not isinstance(raw, dict):
            raise ValueError("entry is not a JSON object")
        fmt = raw.get("format")
        if type(fmt) is not int or fmt != FORMAT:
            raise ValueError(f"entry format {fmt!r}")
        return cls(pipeline=_field(raw, "pipeline", str), size=_size(raw, "size"),
                   oz_size=_size(raw, "oz_size"), source=_field(raw, "source", str),
                   toolchain=_field(raw, "toolchain", str, ""))

    def valid_for(self, source: str) -> bool:
        """True when this decision answers a search by ``source`` (same ranker
        and k), or was imported from a pinned file or found by ``llmcc autotune``
        (a measured search of this very TU, which no ranker change makes stale)."""
        return answers(self.source, source)


_MISSING = object()


def _field(raw: dict, name: str, kind: type, default=_MISSING):
    value = raw.get(name, default)
    if value is _MISSING:
        raise ValueError(f"entry has no {name!r}")
    if type(value) is not kind:
        raise ValueError(f"entry {name!r} is {type(value).__name__}, not {kind.__name__}")
    return value


def _size(raw: dict, name: str) -> int:
    value = _field(raw, name, int)
    if not 0 <= value <= MAX_SIZE:
        raise ValueError(f"entry {name!r} = {value} is out of range")
    return value


class Store:
    """Decision cache rooted at ``cache_dir/kind``; ``max_entries`` bounds its size.

    ``kind`` is ``"entries"`` (keyed by IR, exported to pinned files) or
    ``"preprocessed"`` (keyed by preprocessed source, a local shortcut only).
    """

    #: File name suffix of the store's records.
    SUFFIX = ".json"

    def __init__(self, cache_dir: str, max_entries: int = 200000, kind: str = "entries"):
        self.cache_dir = cache_dir
        self.kind = kind
        self.root = os.path.join(cache_dir, kind)
        self.max_entries = max_entries
        self.corrupt = 0
        self.rejected = 0

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key + self.SUFFIX)

    def get(self, key: str, touch: bool = True) -> Entry | None:
        """The entry for ``key``, or ``None`` (missing, corrupt or disallowed);
        ``touch`` refreshes its LRU time. A corrupt entry (unreadable, not a
        regular file, longer than :data:`MAX_ENTRY_BYTES`, or rejected by
        :meth:`Entry.from_json`) adds one to :attr:`corrupt`, a pipeline outside
        the allowlist to :attr:`rejected`; either is removed if the directory
        is writable."""
        path = self._path(key)
        try:
            entry = Entry.from_json(files.read_nofollow(path, MAX_ENTRY_BYTES))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
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
                os.utime(path, follow_symlinks=not _UTIME_NOFOLLOW)
            except OSError:
                pass
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Store ``entry`` atomically; evict old entries of the shard when over budget.

        Raises:
            OSError: the directory is not writable, or a directory below the
                cache directory is a symbolic link (callers ignore it).
        """
        shard = files.make_dirs(self.cache_dir, os.path.join(self.kind, key[:2]))
        files.atomic_write(os.path.join(shard, key + self.SUFFIX),
                           json.dumps(dict(asdict(entry), format=FORMAT), sort_keys=True))
        self._evict(shard)

    def _evict(self, shard: str) -> None:
        """Remove the least recently used regular ``.json`` files of ``shard``
        beyond its budget (symbolic links are neither counted nor followed)."""
        budget = max(1, self.max_entries // SHARD_COUNT)
        items = []
        try:
            with os.scandir(shard) as it:
                for e in it:
                    if e.name.endswith(self.SUFFIX) and e.is_file(follow_symlinks=False):
                        try:
                            items.append((e.stat(follow_symlinks=False).st_mtime_ns,
                                          e.name, e.path))
                        except OSError:
                            continue
        except OSError:
            return
        if len(items) <= budget:
            return
        items.sort()
        for _, _, path in items[: len(items) - budget]:
            self._discard(path)

    @staticmethod
    def _discard(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def items(self, newer_than_ns: int = 0):
        """Yield (key, Entry) for every readable entry, in key order; with
        ``newer_than_ns``, only entries written or hit after that time.
        Symbolic links to directories are not followed."""
        for shard in self._shards():
            try:
                with os.scandir(shard) as it:
                    names = sorted(e.name for e in it if e.name.endswith(self.SUFFIX))
            except OSError:
                continue
            for name in names:
                key = name[:-len(self.SUFFIX)]
                if newer_than_ns:
                    try:
                        st = os.stat(os.path.join(shard, name), follow_symlinks=False)
                    except OSError:
                        continue
                    if st.st_mtime_ns <= newer_than_ns:
                        continue
                entry = self.get(key, touch=False)
                if entry is not None:
                    yield key, entry

    def _shards(self) -> list[str]:
        """Paths of the real shard directories, in name order."""
        if not files.is_real_dir(self.root):
            return []
        try:
            with os.scandir(self.root) as it:
                return sorted(e.path for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            return []

    def count(self) -> int:
        """Number of entries stored (regular ``.json`` files in real shard directories)."""
        n = 0
        for shard in self._shards():
            try:
                with os.scandir(shard) as it:
                    n += sum(1 for e in it
                             if e.name.endswith(self.SUFFIX) and e.is_file(follow_symlinks=False))
            except OSError:
                continue
        return n

    def remove(self, key: str) -> bool:
        """Remove the entry for ``key`` if there is one; return whether it was there.

        Raises:
            OSError: it exists but cannot be removed.
        """
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            return False
        return True

    def clear(self) -> int:
        """Remove every entry (and any other file under the store's directory,
        never following a symbolic link); return the number of files removed."""
        return files.remove_files(self.root)


def clear_cache_dir(cache_dir: str) -> int:
    """Empty the cache directory ``cache_dir`` for ``llmcc -C``: the files under
    each of :data:`CLEARED_DIRS`, never following a symbolic link out of it.
    Statistics are kept. Errors are ignored.

    Returns:
        The number of files removed.
    """
    return sum(files.remove_files(os.path.join(cache_dir, d)) for d in CLEARED_DIRS)
