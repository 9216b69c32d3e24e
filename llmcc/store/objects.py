"""Stored winning objects: a warm rebuild costs no lowering, ``opt`` or codegen.

ccache's preprocessor mode applied to llmcc's output. Under the key of a TU's
preprocessed source, its toolchain and codegen flags
(:func:`llmcc.compile.driver.preprocessed_key`), the store keeps the object file
llmcc produced, the compiler's stdout and stderr to replay, the decision's
identity and its sizes. A rebuild of an unchanged TU preprocesses it (which also
writes its dependency file) and installs the stored object.

Layout: ``<cache_dir>/objects/<k[0:2]>/<k>.obj``. A record is a header line
(``llmcc-object 1 <json>``) and a zlib-compressed payload (object, stdout,
stderr); the header holds the payload's lengths and the xxh3-64 of the
uncompressed bytes. A record that is truncated, garbled or does not match its
checksum is never installed: it is counted as corrupt and removed. The store
is bounded like the decision cache (least recently used first) and written
atomically, so parallel builds share it safely.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass

import xxhash

from llmcc.store import files
from llmcc.store.cache import Store

MAGIC = b"llmcc-object 1 "
#: Largest record read (bytes); a larger one is corrupt.
MAX_RECORD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    """One stored compile result.

    Attributes:
        obj: the object file's bytes.
        stdout, stderr: what the compile printed, replayed on a hit.
        size, oz_size: ``.text + .data`` of the object and of ``-Oz``'s, in bytes.
        source: identity of the decision it came from (see ``Entry.source``).
    """

    obj: bytes
    stdout: bytes
    stderr: bytes
    size: int
    oz_size: int
    source: str


class ObjectStore(Store):
    """Objects keyed by preprocessed source; ``max_entries`` bounds how many are kept."""

    SUFFIX = ".obj"

    def __init__(self, cache_dir: str, max_entries: int = 20000):
        super().__init__(cache_dir, max_entries, "objects")

    def get(self, key: str, touch: bool = True) -> StoredObject | None:  # type: ignore[override]
        """The stored object for ``key``; None when missing or corrupt (counted in
        :attr:`corrupt` and removed)."""
        path = self._path(key)
        try:
            data = files.read_nofollow(path, MAX_RECORD_BYTES)
        except FileNotFoundError:
            return None
        except OSError:
            self.corrupt += 1
            self._discard(path)
            return None
        try:
            rec = decode(data)
        except (ValueError, TypeError, KeyError, zlib.error, RecursionError):
            self.corrupt += 1
            self._discard(path)
            return None
        if touch:
            try:
                os.utime(path, follow_symlinks=os.utime not in os.supports_follow_symlinks)
            except (OSError, NotImplementedError):
                pass
        return rec

    def put(self, key: str, rec: StoredObject) -> None:  # type: ignore[override]
        """Store ``rec`` atomically and evict beyond the budget.

        Raises:
            OSError: the cache is not writable (callers ignore it).
        """
        shard = files.make_dirs(self.cache_dir, os.path.join(self.kind, key[:2]))
        files.atomic_write(os.path.join(shard, key + self.SUFFIX), encode(rec))
        self._evict(shard)


def encode(rec: StoredObject) -> bytes:
    raw = rec.obj + rec.stdout + rec.stderr
    header = {"obj": len(rec.obj), "stdout": len(rec.stdout), "stderr": len(rec.stderr),
              "xxh3": xxhash.xxh3_64_hexdigest(raw), "size": rec.size,
              "oz_size": rec.oz_size, "source": rec.source}
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + zlib.compress(raw, 6)


def decode(data: bytes) -> StoredObject:
    if not data.startswith(MAGIC):
        raise ValueError("not an llmcc object record")
    line, sep, payload = data[len(MAGIC):].partition(b"\n")
    if not sep:
        raise ValueError("truncated header")
    h = json.loads(line)
    lengths = [h["obj"], h["stdout"], h["stderr"]]
    if not all(type(n) is int and n >= 0 for n in lengths + [h["size"], h["oz_size"]]):
        raise ValueError("bad lengths")
    if not isinstance(h["source"], str) or not isinstance(h["xxh3"], str):
        raise ValueError("bad header")
    d = zlib.decompressobj()
    raw = d.decompress(payload, sum(lengths) + 1)
    if len(raw) != sum(lengths) or not d.eof or xxhash.xxh3_64_hexdigest(raw) != h["xxh3"]:
        raise ValueError("payload does not match its header")
    a, b = lengths[0], lengths[0] + lengths[1]
    return StoredObject(raw[:a], raw[a:b], raw[b:], h["size"], h["oz_size"], h["source"])
