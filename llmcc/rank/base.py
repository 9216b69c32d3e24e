"""The ranker interface, the coreset and the static order.

Rankers propose pass pipelines for one translation unit, best first.

A ranker never decides correctness or the final choice: the driver measures
every proposed candidate for real and keeps the smallest object, with clang's
``-Oz`` pipeline always among the candidates.
"""

from __future__ import annotations

import functools

from llmcc.llvm.passes import OZ

#: The starter set of the ``static`` ranker, in fixed order. Each is clang's own
#: ``-Oz`` pipeline followed by size-oriented clean-up passes that ``-Oz`` does
#: not run, or runs only once, at that point (LLVM 19 ``PassBuilderPipelines.cpp``):
#:
#: 1. a second ``-Oz`` round: after the first, inlining and IPSCCP see simplified
#:    callees and often remove more (the LLM Compiler paper's autotuned lists
#:    frequently repeat ``default<Oz>``-like sequences, section 3.1);
#: 2. ``mergefunc``: merges functions that are identical after optimization
#:    (used by Swift's and Rust's size pipelines);
#: 3. ``simplifycfg`` with common-instruction hoisting and sinking enabled and
#:    ``instcombine``: the ``-Oz`` pipeline disables both except once late;
#: 4. ``gvn-sink``/``gvn-hoist``: merge equivalent instructions across branches;
#: 5. ``iroutliner``: outlines similar IR regions into shared functions, a size
#:    pass that no default pipeline enables (Kelley & Boddicker, LLVM Dev 2020);
#: 6. ``default<Os>``: the ``-Os`` pipeline (differential testing found it
#:    byte-identical to ``-Oz`` on most IR lowered at ``-Oz``, whose functions
#:    carry ``minsize``; kept as a cheap baseline variant until a tuned coreset);
#: 7. ``-Oz`` with a loop-rotation-free clean-up (``loop-deletion``, ``dse``, ``adce``);
#: 8. ``-Oz`` then ``deadargelim``, ``globaldce``, ``constmerge``.
#: Each is checked against ``opt-19`` by ``tests/e2e/test_integrations.py``. The shipped
#: coreset (``llmcc/data/coreset.json``, made by ``llmcc tune coreset``) replaces this list
#: when present; it stays the fallback and the baseline the coreset was compared with.
STARTER_PIPELINES: tuple[str, ...] = (
    "default<Oz>,default<Oz>",
    "default<Oz>,mergefunc",
    "default<Oz>,function(simplifycfg<hoist-common-insts;sink-common-insts>,instcombine)",
    "default<Oz>,function(gvn-sink,gvn-hoist,simplifycfg)",
    "default<Oz>,iroutliner",
    "default<Os>",
    "default<Oz>,function(loop(loop-deletion),dse,adce,simplifycfg)",
    "default<Oz>,deadargelim,globaldce,constmerge",
)


@functools.lru_cache(maxsize=1)
def _shipped_coreset_doc() -> dict:
    """``llmcc/data/coreset.json``, read once per process (callers only read it).

    Raises:
        OSError, ValueError: it cannot be read or parsed."""
    import json
    from importlib import resources
    return json.loads(resources.files("llmcc").joinpath("data/coreset.json").read_text())


def load_coreset(path: str | None = None) -> tuple[str, ...]:
    """The shipped coreset (``llmcc/data/coreset.json``, written by ``llmcc tune coreset``)
    in prefix-gain order, or :data:`STARTER_PIPELINES` when none is shipped or
    ``path`` cannot be read."""
    import json
    try:
        if path:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        else:
            doc = _shipped_coreset_doc()
        pipelines = tuple(str(p) for p in doc["pipelines"])
        return pipelines or STARTER_PIPELINES
    except (OSError, ValueError, KeyError, TypeError):
        return STARTER_PIPELINES


@functools.lru_cache(maxsize=1)
def reproducible_pipelines() -> frozenset[str]:
    """The shipped coreset's pipelines that ``llmcc tune reproducible`` found to give
    the same object bytes when compiled twice, on every corpus TU it checked
    (``reproducible`` in ``llmcc/data/coreset.json``); empty when not recorded.

    The driver compiles a winning pipeline a second time to check that a rebuild
    gives the same bytes, except for these (docs/design.md, "Determinism")."""
    try:
        return frozenset(str(p) for p in _shipped_coreset_doc()["reproducible"]["pipelines"])
    except (OSError, ValueError, KeyError, TypeError):
        return frozenset()


def load_large_order(pipelines: tuple[str, ...],
                     doc: dict | None = None) -> tuple[int, tuple[str, ...]] | None:
    """The order of ``pipelines`` for large translation units: ``(min_ir_bytes,
    order)`` from ``large_tus`` of the shipped coreset file (or of ``doc``),
    written by ``llmcc tune large-order``. A TU whose ranked IR (debug records
    stripped, bytes of text) exceeds ``min_ir_bytes`` gets ``order``: the recorded
    order's pipelines that are in ``pipelines``, then the others of ``pipelines``
    in their own order. None when no such order is recorded or it cannot be read.

    The model is trained on TUs up to 256 KB of IR, and the coreset order is
    chosen on them; on larger TUs, which hold most object bytes, an order chosen
    on large training TUs does better (``corpus/tuning/README.md``)."""
    try:
        if doc is None:
            doc = _shipped_coreset_doc()
        large = doc["large_tus"]
        limit = int(large["min_ir_bytes"])
        recorded = [str(p) for p in large["pipelines"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if limit < 0:
        return None
    first = [p for p in dict.fromkeys(recorded) if p in pipelines]
    if not first:
        return None
    return limit, tuple(first + [p for p in pipelines if p not in first])


def large_order_identity(large: tuple[int, tuple[str, ...]]) -> str:
    """A digest of an order for large TUs (its limit and pipelines), for a ranker's
    identity: the ranking, and so the cache key, changes with it."""
    import xxhash
    text = f"large>{large[0]}:\n" + "\n".join(large[1])
    return xxhash.xxh3_64_hexdigest(text.encode())


def ir_size(ir_text: str) -> int:
    """Bytes of ``ir_text`` (UTF-8), the size the rankers compare with their limits."""
    return len(ir_text.encode("utf-8", "surrogateescape"))


class Ranker:
    """Interface of a ranker.

    Attributes:
        name: the name users select with ``LLMCC_RANKER``.
        identity: a string that changes whenever the ranking could change
            (it enters the cache key).
    """

    name = "base"
    identity = "base"

    def rank(self, ir_text: str) -> list[str]:
        """Pipelines for the unoptimized IR ``ir_text``, best first (``OZ`` excluded)."""
        raise NotImplementedError


class StaticRanker(Ranker):
    """The same pipelines in the same order for every translation unit, and, for a
    TU whose IR exceeds ``large[0]`` bytes, in the order ``large[1]``.

    Args:
        pipelines: the coreset in order (default: the shipped coreset).
        large: ``(min_ir_bytes, order)`` as :func:`load_large_order` gives it
            (default: the shipped coreset's, when ``pipelines`` is not given;
            none otherwise).
    """

    name = "static"

    def __init__(self, pipelines: tuple[str, ...] | None = None,
                 large: tuple[int, tuple[str, ...]] | None = None):
        shipped = pipelines is None
        if shipped:
            pipelines = load_coreset()
        self.pipelines = tuple(p for p in pipelines if p != OZ)
        if large is None and shipped:
            large = load_large_order(self.pipelines)
        self.large = large
        import xxhash
        self.identity = "static:" + xxhash.xxh3_64_hexdigest("\n".join(self.pipelines).encode())
        if large is not None:
            self.identity += ":" + large_order_identity(large)

    def rank(self, ir_text: str) -> list[str]:
        if self.large is not None and ir_size(ir_text) > self.large[0]:
            return list(self.large[1])
        return list(self.pipelines)
