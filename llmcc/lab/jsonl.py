"""The lab's JSON files: JSON-lines records and pipeline lists.

The offline tools keep their state in append-only JSON-lines files
(``search.jsonl``, ``labels.jsonl``, ``failures.jsonl``, ``rechecks.jsonl`` of
``llmcc tune``; ``progress.jsonl`` of ``llmcc difftest``; the corpus's
``records.jsonl``). A run that is interrupted can leave a line cut short, so
every reader skips lines that are blank or not a JSON object; a file that does
not exist yet reads as no records.

Pipeline lists are coreset-style JSON objects with a ``pipelines`` list
(``llmcc/data/coreset.json``, ``llmcc tune coreset --write``, ``broadcast.json``),
read by :func:`load_pipelines` and, for command-line tools, :func:`read_pipelines`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO


def iter_jsonl(path: str, *, missing_ok: bool = True) -> Iterator[dict]:
    """The JSON objects of a JSON-lines file, in file order, read lazily.

    Blank lines, lines that are not JSON (cut short, invalid UTF-8, nested too
    deeply) and JSON values that are not objects are skipped.

    Args:
        path: the file.
        missing_ok: a file (or directory) that does not exist yields nothing;
            otherwise its :class:`FileNotFoundError` is raised at the first ``next``.

    Raises:
        OSError: the file exists but cannot be read.
    """
    try:
        f = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError):
        if missing_ok:
            return
        raise
    with f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(rec, dict):
                yield rec


def read_jsonl(path: str) -> list[dict]:
    """Every JSON object of a JSON-lines file (see :func:`iter_jsonl`); a missing file is []."""
    return list(iter_jsonl(path))


def dumps_line(record: dict, *, sort_keys: bool = True) -> str:
    """One JSON line (with its newline) for ``record``."""
    return json.dumps(record, sort_keys=sort_keys) + "\n"


def append_jsonl(dest: str | TextIO, records: Iterable[dict], *, sort_keys: bool = True) -> None:
    """Append ``records`` to a JSON-lines file, one line each, and flush.

    Args:
        dest: a path (opened for appending, created if missing, closed again) or a
            text file already open for writing (flushed, left open: a stream of
            results written as they come).
        records: the records; none still creates the file.
        sort_keys: write keys sorted (False: in the records' own order).
    """
    if isinstance(dest, str):
        with open(dest, "a", encoding="utf-8") as f:
            append_jsonl(f, records, sort_keys=sort_keys)
        return
    for rec in records:
        dest.write(dumps_line(rec, sort_keys=sort_keys))
    dest.flush()


def load_pipelines(path: str, *, any_format: bool = False) -> list[str]:
    """The pipelines listed in a file, in file order, each as text.

    By default the file is a coreset-style JSON object and its ``pipelines`` list is
    returned. With ``any_format`` (``llmcc difftest --pipelines``) it may also be a
    bare JSON list, or, when it is not JSON, text with one pipeline per line (blank
    lines and ``#`` comments skipped); each item is then stripped of spaces.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not JSON (without ``any_format``).
        KeyError: a JSON object without ``pipelines`` (without ``any_format``).
        TypeError: JSON of another shape.
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not any_format:
        return [str(p) for p in json.loads(text)["pipelines"]]
    try:
        doc = json.loads(text)
    except ValueError:
        lines = [ln.strip() for ln in text.splitlines()]
        return [ln for ln in lines if ln and not ln.startswith("#")]
    if isinstance(doc, dict):
        doc = doc.get("pipelines")
    if not isinstance(doc, list):
        raise TypeError("expected a JSON list of pipelines")
    return [str(p).strip() for p in doc]


def read_pipelines(path: str, error: str, check: bool = False) -> list[str]:
    """The ``pipelines`` list of a coreset-style JSON file (:func:`load_pipelines`),
    canonicalized by :func:`llmcc.llvm.passes.check_pipeline` when ``check``.

    Args:
        path: the file.
        error: what the command was doing, e.g. ``"llmcc tune report: cannot use coreset"``.
        check: check every pipeline against the pass allowlist.

    Raises:
        SystemExit: ``"{error} {path}: {why}"`` when the file cannot be read or
            parsed, or (with ``check``) a pipeline fails the allowlist.
    """
    from llmcc.llvm.passes import check_pipeline
    try:
        pipelines = load_pipelines(path)
        return [check_pipeline(p) for p in pipelines] if check else pipelines
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"{error} {path}: {e}")
