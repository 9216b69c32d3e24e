"""The lab's size metrics (llmcc.lab.metrics): geometric means, best-of-k, greedy coverage."""

import math

import pytest

from llmcc.lab.metrics import (best_log_ratio, best_of, geomean, geomean_reduction, greedy_coreset,
                               log_geomean, reduction, total_reduction)


def _label(oz, **sizes):
    return {"oz_size": oz, "sizes": sizes}


@pytest.mark.parametrize("ratios, mean, red", [
    ([], 1.0, 0.0),                       # nothing measured: no change
    ([1.0, 1.0], 1.0, 0.0),
    ([0.9, 0.9], 0.9, 10.0),
    ([0.81, 1.0], 0.9, 10.0),             # geometric, not arithmetic (0.905)
    ([0.5, 2.0], 1.0, 0.0),               # halving one TU and doubling another cancel
    ([1.25], 1.25, -25.0),                # larger than -Oz: a negative reduction
])
def test_geomean_and_its_reduction(ratios, mean, red):
    assert geomean(ratios) == pytest.approx(mean)
    assert geomean_reduction(ratios) == pytest.approx(red)
    assert log_geomean([math.log(r) for r in ratios]) == pytest.approx(mean)
    assert reduction(geomean(ratios)) == pytest.approx(red)


def test_geomean_reduction_matches_the_formula_to_the_bit():
    # the figure tune, train and bench printed before the metric was shared
    ratios = [0.93, 0.871, 1.0, 0.999, 0.5, 1.1]
    assert geomean_reduction(ratios) == 100.0 * (
        1.0 - math.exp(sum(math.log(r) for r in ratios) / len(ratios)))


def test_geomean_rejects_a_zero_ratio():
    with pytest.raises(ValueError):
        geomean([0.0])


@pytest.mark.parametrize("sizes, oz, red", [
    ([90, 100], [100, 100], 5.0),
    ([100], [100], 0.0),
    ([50, 1000], [100, 1000], 100 * (1 - 1050 / 1100)),  # bytes weigh, not TUs
])
def test_total_reduction(sizes, oz, red):
    assert total_reduction(sizes, oz) == pytest.approx(red)


@pytest.mark.parametrize("pipelines, best", [
    (["a", "b", "c"], 90),
    (["b", "c"], 100),      # b failed, c is larger than -Oz: -Oz is kept
    ([], 100),
    (["z"], 100),           # never measured on this TU
    (["c", "a"], 90),       # order does not matter
])
def test_best_of_ignores_failures_and_never_exceeds_oz(pipelines, best):
    assert best_of(_label(100, a=90, b=None, c=120), pipelines) == best


@pytest.mark.parametrize("order, k, best", [
    ([0, 1, 2], 1, -0.1),
    ([1, 0, 2], 1, 0.0),    # the first pipeline is no better than -Oz
    ([1, 0, 2], 2, -0.1),
    ([1, 0, 2], 3, -0.3),
    ([2], 5, -0.3),          # k beyond the order: all of it
])
def test_best_log_ratio_over_the_first_k(order, k, best):
    assert best_log_ratio([-0.1, 0.2, -0.3], order, k) == pytest.approx(best)


@pytest.mark.parametrize("labels, pipelines, k, chosen", [
    # a: two TUs at 0.9 beat c: one TU at 0.85 (2 log(100/90) > log(100/85));
    # b adds nothing after a and c
    ([_label(100, a=90, b=95, c=100), _label(100, a=100, b=95, c=85),
      _label(100, a=90, b=100, c=100)], ["a", "b", "c"], 3, ["a", "c"]),
    ([_label(100, a=90, b=95, c=100), _label(100, a=100, b=95, c=85),
      _label(100, a=90, b=100, c=100)], ["a", "b", "c"], 1, ["a"]),
    # nothing helps: stop at once
    ([_label(100, a=100, b=None)], ["a", "b"], 5, []),
    # equal gains: the pipeline text decides
    ([_label(100, b=90, a=90)], ["b", "a"], 2, ["a"]),
    # gains are relative: 10% on a small TU beats 1% on a large one
    ([_label(100, a=90, b=100), _label(10000, a=10000, b=9900)], ["a", "b"], 1, ["a"]),
    ([], ["a"], 3, []),
])
def test_greedy_coreset(labels, pipelines, k, chosen):
    assert greedy_coreset(labels, pipelines, k) == chosen
