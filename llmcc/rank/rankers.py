"""The rankers users choose with ``LLMCC_RANKER``: ``static`` and ``model``.

A ranker never decides correctness or the final choice: the driver measures
every proposed candidate for real and keeps the smallest object, with clang's
``-Oz`` pipeline always among the candidates. The model is imported only when
it is asked for (numpy and onnxruntime are not needed on cache hits).
"""

from __future__ import annotations

from llmcc.rank.base import STARTER_PIPELINES, Ranker, StaticRanker, load_coreset

__all__ = ["RANKERS", "STARTER_PIPELINES", "Ranker", "StaticRanker", "load_coreset",
           "load_ranker"]


def _model_ranker() -> Ranker:
    import os
    from llmcc.rank.model import ModelRanker
    return ModelRanker(os.environ.get("LLMCC_MODEL_DIR") or None)


RANKERS = {"static": StaticRanker, "model": _model_ranker}


def load_ranker(name: str) -> Ranker:
    """The ranker called ``name``.

    Raises:
        KeyError: no such ranker.
        OSError, ValueError: its artifacts cannot be loaded (callers fall back to ``static``).
    """
    return RANKERS[name]()
