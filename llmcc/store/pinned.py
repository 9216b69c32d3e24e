"""Pinned caches: a plain, sorted, diff-friendly file of decisions a project commits.

Format (``cache/FORMAT.md`` documents it for users)::

    # llmcc pinned cache: IR key -> winning pass pipeline
    format 1
    toolchain <clang version> <toolchain identity>
    <key> <size> <oz_size> <pipeline>
    ...

Lines after the header are sorted by key; ``#`` starts a comment; the
pipeline is the rest of the line. ``key`` is the driver's cache key (xxh3-128
of the normalized IR, the toolchain identity and the codegen flags), sizes
are ``.text + .data`` bytes. With ``LLMCC_PINNED=FILE`` the driver reads
decisions only from such a file: no ranker, no model, no writes anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llmcc.store.cache import Entry, IMPORTED
from llmcc.store.files import atomic_write
from llmcc.errors import LlmccError, PipelineError
from llmcc.llvm.passes import check_pipeline

FORMAT = 1
_KEY_RE = re.compile(r"^[0-9a-f]{32}$")


class PinnedFormatError(LlmccError, ValueError):
    """The pinned file's header is missing or of an unknown format."""


@dataclass
class Pinned:
    """Decisions of one pinned file.

    Attributes:
        version: clang version the decisions were made with.
        toolchain: toolchain identity (hex digest) they were made with.
        entries: key -> :class:`Entry`.
        rejected: lines dropped (bad shape or pipeline outside the allowlist), with reasons.
    """

    version: str
    toolchain: str
    entries: dict[str, Entry] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


def read(path: str) -> Pinned:
    """Parse the pinned file at ``path``; malformed or disallowed lines are
    dropped and listed in :attr:`Pinned.rejected`.

    Raises:
        OSError: the file cannot be read.
        PinnedFormatError: no ``format``/``toolchain`` header, or another format.
    """
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    fmt = None
    pinned = None
    for n, raw_bytes in enumerate(lines, 1):
        try:  # one undecodable line is rejected alone, not the whole file
            line = raw_bytes.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            if pinned is None:
                raise PinnedFormatError(f"{path}:{n}: not UTF-8 in the header ({e})") from e
            pinned.rejected.append(f"{path}:{n}: not UTF-8 ({e.reason} at byte {e.start})")
            continue
        if not line or line.startswith("#"):
            continue
        if fmt is None:
            parts = line.split()
            if len(parts) != 2 or parts[0] != "format" or parts[1] != str(FORMAT):
                raise PinnedFormatError(f"{path}:{n}: expected 'format {FORMAT}'")
            fmt = FORMAT
            continue
        if pinned is None:
            parts = line.split()
            if len(parts) != 3 or parts[0] != "toolchain":
                raise PinnedFormatError(f"{path}:{n}: expected 'toolchain VERSION IDENTITY'")
            pinned = Pinned(version=parts[1], toolchain=parts[2])
            continue
        parts = line.split(None, 3)
        try:
            key, size, oz_size, pipeline = parts
            if not _KEY_RE.match(key):
                raise ValueError("bad key")
            entry = Entry(check_pipeline(pipeline), int(size), int(oz_size), IMPORTED)
        except (ValueError, PipelineError) as e:
            pinned.rejected.append(f"{path}:{n}: {e}")
            continue
        pinned.entries[key] = entry
    if pinned is None:
        raise PinnedFormatError(f"{path}: no header")
    return pinned


def write(path: str, pinned: Pinned) -> None:
    """Write ``pinned`` to ``path`` atomically, entries sorted by key."""
    out = ["# llmcc pinned cache: IR key -> winning pass pipeline (see cache/FORMAT.md)",
           f"format {FORMAT}", f"toolchain {pinned.version} {pinned.toolchain}"]
    for key in sorted(pinned.entries):
        e = pinned.entries[key]
        out.append(f"{key} {e.size} {e.oz_size} {e.pipeline}")
    atomic_write(path, "\n".join(out) + "\n")


def merge(a: Pinned, b: Pinned) -> Pinned:
    """Union of two pinned files of the same toolchain; on a conflicting key the
    smaller object wins, then the lexically smaller pipeline (deterministic).

    Raises:
        PinnedFormatError: the files are for different toolchains.
    """
    if a.toolchain != b.toolchain:
        raise PinnedFormatError(
            f"cannot merge decisions of toolchain {a.version} ({a.toolchain[:12]}) "
            f"with {b.version} ({b.toolchain[:12]})")
    out = Pinned(a.version, a.toolchain, dict(a.entries))
    for k, e in b.entries.items():
        cur = out.entries.get(k)
        if cur is None or (e.size, e.pipeline) < (cur.size, cur.pipeline):
            out.entries[k] = e
    return out
