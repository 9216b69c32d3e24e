"""``llmcc cache``: export, import and merge pinned caches (see :mod:`llmcc.store.pinned`).

    llmcc cache export FILE [--since STAMP]   decisions of the local cache for this toolchain
    llmcc cache import FILE                   pinned decisions into the local cache
    llmcc cache merge A B [-o OUT]            union of two pinned files (OUT defaults to A)
"""

from __future__ import annotations

import argparse
import os
import sys

from llmcc.store import cache as cache_mod
from llmcc import config as config_mod
from llmcc.store import pinned as pinned_mod
from llmcc.errors import LlmccError


def _toolchain(env: dict[str, str]):
    from llmcc.compile.toolchain import self_paths
    from llmcc.compile.toolchain import resolve
    return resolve(False, self_paths(), env, None)


def export(cfg: config_mod.Config, path: str, since: str | None, env: dict[str, str],
           from_url: str | None = None) -> int:
    """Write the local cache's decisions for the current toolchain to ``path``;
    return the number of entries. With ``since`` (a file), only entries written
    or hit after that file's modification time (the decisions of one build).
    With ``from_url`` (``redis://...``), the shared store's decisions instead.

    Raises:
        OSError: the shared store cannot be read.
    """
    tc = _toolchain(env)
    newer = os.stat(since).st_mtime_ns if since else 0
    out = pinned_mod.Pinned(tc.version, tc.identity)
    if from_url:
        from llmcc.store.remote import RemoteStore
        entries = RemoteStore(from_url, timeout=5.0).items()
    else:
        entries = cache_mod.Store(cfg.cache_dir).items(newer_than_ns=newer)
    for key, entry in entries:
        if entry.toolchain == tc.identity:
            out.entries[key] = cache_mod.Entry(entry.pipeline, entry.size, entry.oz_size)
    pinned_mod.write(path, out)
    return len(out.entries)


def import_(cfg: config_mod.Config, path: str, env: dict[str, str]) -> int:
    """Store the decisions of pinned file ``path`` in the local cache; return how many.

    Raises:
        PinnedFormatError: bad header, or made with another toolchain.
    """
    tc = _toolchain(env)
    p = pinned_mod.read(path)
    if p.toolchain != tc.identity:
        raise pinned_mod.PinnedFormatError(
            f"{path} was made with clang {p.version}, this is clang {tc.version}")
    store = cache_mod.Store(cfg.cache_dir, cfg.max_entries)
    for key, e in p.entries.items():
        store.put(key, cache_mod.Entry(e.pipeline, e.size, e.oz_size, cache_mod.IMPORTED,
                                       tc.identity))
    return len(p.entries)


def main(argv: list[str]) -> int:
    """Entry point of ``llmcc cache``."""
    p = argparse.ArgumentParser(prog="llmcc cache", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="write this toolchain's decisions to a pinned file")
    e.add_argument("file")
    e.add_argument("--since", help="only decisions written or used after this file's mtime")
    e.add_argument("--from", dest="from_url", metavar="URL",
                   help="export the shared store at URL (redis://...) instead of the local cache")
    i = sub.add_parser("import", help="load a pinned file into the local cache")
    i.add_argument("file")
    m = sub.add_parser("merge", help="merge two pinned files")
    m.add_argument("a")
    m.add_argument("b")
    m.add_argument("-o", "--output")
    ns = p.parse_args(argv)
    env = dict(os.environ)
    try:
        cfg = config_mod.load(env)
        if ns.cmd == "export":
            n = export(cfg, ns.file, ns.since, env, ns.from_url)
            print(f"exported {n} decisions to {ns.file}")
        elif ns.cmd == "import":
            n = import_(cfg, ns.file, env)
            print(f"imported {n} decisions into {cfg.cache_dir}")
        else:
            a, b = pinned_mod.read(ns.a), pinned_mod.read(ns.b)
            out = pinned_mod.merge(a, b)
            pinned_mod.write(ns.output or ns.a, out)
            rejected = a.rejected + b.rejected
            for line in rejected:
                print(f"llmcc: ignored {line}", file=sys.stderr)
            print(f"merged: {len(out.entries)} decisions -> {ns.output or ns.a}")
    except (LlmccError, OSError) as err:
        print(f"llmcc cache: error: {err}", file=sys.stderr)
        return 1
    return 0
