"""Size metrics of the lab: geometric means, best-of-k and greedy coverage.

Units and names used throughout:

* a *size* is the ``.text + .data`` bytes of one translation unit's object
  (:func:`llmcc.llvm.objsize.object_size`), an ``int``;
* a *ratio* is a size divided by the same TU's ``clang -Oz`` size (a positive
  ``float``; below 1 is smaller than ``-Oz``); a *log ratio* is its natural log;
* a *reduction* is in percent, ``100 * (1 - ratio)``: positive when smaller than
  ``-Oz``;
* a *label* is one TU's record from ``llmcc tune broadcast`` (``OUT/labels.jsonl``,
  merged by :func:`llmcc.lab.tune.load_labels`): ``{"oz_size": bytes, "sizes":
  {pipeline: bytes, or None where the pipeline failed}}``.

The greedy coverage is the coreset choice of Liang et al. (2023) that
:mod:`llmcc.lab.tune` describes. The compile path has its own weighted, vectorized greedy
coverage (:func:`llmcc.rank.model.weighted_greedy`): with uniform weights it
gives :func:`greedy_coreset`'s order (``tests/unit/test_model.py`` checks it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def log_geomean(log_ratios: Iterable[float]) -> float:
    """Geometric mean of ratios given by their natural logs: ``exp(mean(log_ratios))``.

    Args:
        log_ratios: one log ratio per TU (floats; numpy scalars are fine).

    Returns:
        The geometric-mean ratio; 1.0 (no change) when there are none.
    """
    logs = list(log_ratios)
    return math.exp(sum(logs) / len(logs)) if logs else 1.0


def geomean(ratios: Iterable[float]) -> float:
    """Geometric mean of positive ratios (1.0 when there are none).

    Raises:
        ValueError: a ratio is zero or negative.
    """
    return log_geomean([math.log(r) for r in ratios])


def reduction(ratio: float) -> float:
    """The reduction in percent of a ratio: ``100 * (1 - ratio)``."""
    return 100.0 * (1.0 - ratio)


def geomean_reduction(ratios: Iterable[float]) -> float:
    """Geometric-mean size reduction in percent for size ratios (llmcc / ``-Oz``, one per
    TU); 0.0 when there are none. Used by ``llmcc tune report``, ``llmcc train`` and
    ``llmcc bench`` (``reduction (geomean per TU)``)."""
    return reduction(geomean(ratios))


def total_reduction(sizes: Iterable[int], oz_sizes: Iterable[int]) -> float:
    """Reduction in percent of the summed sizes against the summed ``-Oz`` sizes (bytes):
    ``100 * (1 - sum(sizes) / sum(oz_sizes))``, the "total bytes" figure."""
    return 100 * (1 - sum(sizes) / sum(oz_sizes))


def best_of(label: dict, pipelines: Iterable[str]) -> int:
    """Smallest size in bytes among ``-Oz`` and ``pipelines`` for one label.

    Pipelines that failed (None) or were not measured on the TU are ignored, so
    the result is never larger than ``label["oz_size"]``: llmcc keeps the ``-Oz``
    object when no candidate beats it.
    """
    best = label["oz_size"]
    for p in pipelines:
        s = label["sizes"].get(p)
        if s is not None and s < best:
            best = s
    return best


def best_log_ratio(log_ratios: Sequence[float], order: Sequence[int], k: int) -> float:
    """Log ratio of one TU's best object over the first ``k`` pipelines of ``order`` and
    ``-Oz`` (log ratio 0): :func:`best_of` in log space.

    Args:
        log_ratios: float [K], the TU's log ratio under each coreset pipeline (a row of
            ``llmcc train``'s neighbour table).
        order: pipeline indices, best first (a ranker's output).
        k: how many of ``order`` are tried.
    """
    return min(0.0, min(float(log_ratios[j]) for j in order[:k]))


def greedy_coreset(labels: list[dict], pipelines: list[str], k: int) -> list[str]:
    """Greedy coverage: up to ``k`` of ``pipelines``, best first.

    Repeatedly adds the pipeline that most lowers the sum over ``labels`` of
    ``log(best size / -Oz size)`` given the pipelines already chosen (ties: the
    pipeline text), and stops early when no pipeline lowers it; so every prefix
    of the result is the greedy choice for its length.
    """
    chosen: list[str] = []
    current = [lab["oz_size"] for lab in labels]
    pool = list(pipelines)
    while pool and len(chosen) < k:
        def gain(p):
            g = 0.0
            for lab, cur in zip(labels, current):
                s = lab["sizes"].get(p)
                if s is not None and s < cur and cur > 0:
                    g += math.log(cur / max(s, 1))
            return g
        scored = sorted(pool, key=lambda p: (-gain(p), p))
        best = scored[0]
        if gain(best) <= 0:
            break
        chosen.append(best)
        pool.remove(best)
        current = [min(cur, lab["sizes"].get(best) or cur) for lab, cur in zip(labels, current)]
    return chosen
