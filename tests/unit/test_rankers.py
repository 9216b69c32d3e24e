"""The static order and the order for large TUs (``large_tus`` of the coreset file)."""

import pytest

from llmcc.rank.base import StaticRanker, ir_size, load_large_order

CORESET = ("default<Oz>,mergefunc", "default<Oz>,globaldce", "default<Oz>,constmerge")


@pytest.mark.parametrize("large, expected", [
    # recorded order first, then the coreset's others in coreset order
    ({"min_ir_bytes": 100, "pipelines": ["default<Oz>,constmerge"]},
     (100, ("default<Oz>,constmerge", "default<Oz>,mergefunc", "default<Oz>,globaldce"))),
    # pipelines the coreset lacks are dropped, repeats count once
    ({"min_ir_bytes": 5, "pipelines": ["x", "default<Oz>,globaldce", "default<Oz>,globaldce"]},
     (5, ("default<Oz>,globaldce", "default<Oz>,mergefunc", "default<Oz>,constmerge"))),
    # nothing usable: no order
    ({"min_ir_bytes": 5, "pipelines": ["x"]}, None),
    ({"min_ir_bytes": -1, "pipelines": list(CORESET)}, None),
    ({"min_ir_bytes": "many", "pipelines": list(CORESET)}, None),
    ({"pipelines": list(CORESET)}, None),
    ({"min_ir_bytes": 5, "pipelines": 7}, None),
    (None, None),
])
def test_the_large_order_is_read_as_a_permutation_of_the_coreset(large, expected):
    doc = {"pipelines": list(CORESET)} if large is None else {"large_tus": large}
    assert load_large_order(CORESET, doc) == expected


def test_a_large_tu_is_ranked_by_the_order_for_large_tus():
    large = (1000, ("default<Oz>,constmerge", "default<Oz>,mergefunc", "default<Oz>,globaldce"))
    ranker = StaticRanker(CORESET, large=large)
    small, big = "x" * 1000, "x" * 1001
    assert ranker.rank(small) == list(CORESET)
    assert ranker.rank(big) == list(large[1])
    assert ir_size("é" * 501) == 1002 and ranker.rank("é" * 501) == list(large[1])
    # the order enters the identity (and so the cache key); no order, no change
    plain = StaticRanker(CORESET)
    assert plain.identity != ranker.identity
    assert StaticRanker(CORESET, large=(999, large[1])).identity != ranker.identity
    assert plain.rank(big) == list(CORESET)


def test_the_model_ranks_a_large_tu_by_the_order_for_large_tus():
    from llmcc.rank.model import ModelRanker
    model = ModelRanker()
    order = tuple(reversed(model.pipelines))
    ir = "define void @f() {\n  ret void\n}\n"
    model.large = (ir_size(ir) - 1, order)
    assert model.rank(ir) == list(order)
    model.large = (ir_size(ir), order)
    assert model.rank(ir) != list(order)
