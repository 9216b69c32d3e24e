"""``llmcc corpus``: the recorded corpus of unoptimized IR (docs/design.md, "Data rules").

    llmcc corpus build    [build_corpus.py options]   build Debian source packages with
                                                      LLMCC_RECORD (llmcc.lab.corpus_build)
    llmcc corpus manifest --corpus DIR [--out corpus/manifest.jsonl.gz]
    llmcc corpus stats    --corpus DIR

The manifest names, for every unique TU, its package, Debian version, file
(relative to the unpacked source), codegen flags, IR hash and IR size; it is
committed, the corpus is not (``llmcc corpus build`` rebuilds it).
"""

from __future__ import annotations

import argparse
import gzip
import os
from collections import Counter

from llmcc.compile.cmdline import is_build_probe
from llmcc.lab.jsonl import dumps_line, iter_jsonl


def _relative_source(path: str, package: str) -> str:
    parts = path.split(os.sep)
    if package in parts:
        i = len(parts) - 1 - parts[::-1].index(package)
        return "/".join(parts[i + 1:])
    return os.path.basename(path)


def unique_records(corpus: str, probes: bool = False):
    """Yield ``(record, ir_path, ir_bytes)`` for the first record of each IR hash in
    ``corpus/records.jsonl`` whose IR file exists (unreadable lines are skipped, see
    :func:`llmcc.lab.jsonl.iter_jsonl`; a missing file raises :class:`FileNotFoundError`).

    Build-system probes (:func:`is_build_probe`) are left out unless ``probes``.
    """
    seen: set[str] = set()
    for r in iter_jsonl(os.path.join(corpus, "records.jsonl"), missing_ok=False):
        h = r.get("ir_hash")
        if h is None or h in seen:
            continue
        seen.add(h)
        if not probes and is_build_probe(r.get("source", ""), r.get("cwd", "")):
            continue
        path = os.path.join(corpus, "ir", h[:2], h + ".ll")
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        yield r, path, size


def manifest(corpus: str) -> list[dict]:
    """One record per unique IR hash (first occurrence), sorted by package and file."""
    out = [{"package": r.get("package", ""), "version": r.get("version", ""),
            "file": _relative_source(r["source"], r.get("package", "")),
            "flags": r.get("codegen_args", []), "language": r.get("language", ""),
            "ir_hash": r["ir_hash"], "ir_bytes": size, "oz_size": r.get("oz_size")}
           for r, _, size in unique_records(corpus)]
    return sorted(out, key=lambda m: (m["package"], m["file"], m["ir_hash"]))


def stats_lines(records: list[dict]) -> list[str]:
    """Corpus size: packages, unique TUs and IR bytes."""
    pk = Counter(m["package"] for m in records)
    ir = sum(m["ir_bytes"] for m in records)
    return [f"packages: {len(pk)}", f"unique TUs: {len(records)}",
            f"IR: {ir / 1e6:.1f} MB (textual, unoptimized)"] + [
        f"  {p}: {n}" for p, n in sorted(pk.items())]


def main(argv: list[str]) -> int:
    """Entry point of ``llmcc corpus``."""
    if argv and argv[0] == "build":
        from llmcc.lab import corpus_build
        return corpus_build.main(argv[1:])
    p = argparse.ArgumentParser(prog="llmcc corpus", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("manifest")
    m.add_argument("--corpus", required=True)
    m.add_argument("--out", required=True, help="manifest to write (.jsonl.gz)")
    s = sub.add_parser("stats")
    s.add_argument("--corpus", required=True)
    ns = p.parse_args(argv)
    records = manifest(ns.corpus)
    if ns.cmd == "manifest":
        with gzip.GzipFile(ns.out, "wb", mtime=0) as f:
            for r in records:
                f.write(dumps_line(r).encode())
        print(f"{len(records)} TUs -> {ns.out}")
    else:
        print("\n".join(stats_lines(records)))
    return 0
