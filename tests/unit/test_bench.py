"""Bench figures from builds: pure functions, table-driven."""

import pytest

from llmcc.lab.bench import (TU, Build, max_rss_mb, phase_seconds, summarize, total_summary,
                             tradeoff)


@pytest.mark.parametrize("counters,expected", [
    ({}, []),
    ({"bytes with k=0": 0}, []),
    ({"bytes with k=0": 200, "bytes with k=1": 190, "bytes with k=2": 180, "other": 5},
     [(0, 1, 200, 0.0), (1, 2, 190, 5.0), (2, 3, 180, 10.0)]),
    ({"bytes with k=0": 100, "bytes with k=x": 1}, [(0, 1, 100, 0.0)]),
])
def test_tradeoff_points_over_k(counters, expected):
    got = [(p["k"], p["compiles_per_tu"], p["bytes"], round(p["reduction_pct"], 6))
           for p in tradeoff(counters)]
    assert got == expected


def test_phases_and_peak_memory_from_counters():
    c = {"cpu ms: opt": 1500, "cpu ms: codegen": 250, "cache hits": 3,
         "processes with peak RSS up to MB: 64": 2, "processes with peak RSS up to MB: 128": 1,
         "processes with peak RSS up to MB: 256": 0}
    assert phase_seconds(c) == {"codegen": 0.25, "opt": 1.5}
    assert max_rss_mb(c) == 128 and max_rss_mb({}) is None


def _build(variant, wall, cpu, stats=None):
    return Build(variant=variant, configure_s=0.0, build_s=wall, cpu_s=cpu, test_passed=True,
                 test_s=0.0, objects={}, digests={}, stats=stats or {})


def test_summary_of_one_project_and_the_total():
    tus = [TU("a.o", 100, 90, 90), TU("b.o", 50, 50, 50), TU("c.o", 10, 10, 10)]
    builds = {"oz": _build("oz", 10.0, 8.0),
              "cold": _build("cold", 40.0, 30.0, {"cache misses": 3, "cpu ms: opt": 2000}),
              "warm": _build("warm", 9.0, 8.0, {"cache hits": 3})}
    s = summarize(tus, builds)
    assert (s["tus"], s["bytes_oz"], s["bytes_llmcc"]) == (3, 160, 150)
    assert (s["improved"], s["equal"], s["regressed"]) == (1, 2, 0)
    assert s["reduction_total_pct"] == pytest.approx(6.25)
    assert s["reduction_geomean_pct"] == pytest.approx(100 * (1 - 0.9 ** (1 / 3)))
    assert s["cold_wall_ratio"] == 4.0 and s["warm_wall_ratio"] == 0.9
    assert s["warm_hit_rate"] == 1.0 and s["cold_hit_rate"] == 0.0
    assert s["phases"]["cold"] == {"opt": 2.0}
    project = {"name": "p", "summary": s, "tus": [dict(t.__dict__) for t in tus],
               "builds": {"warm": {"stats": {"cache hits": 3}}}}
    t = total_summary([project, {"name": "broken", "error": "no source"}])
    assert t["bytes_llmcc"] == 150 and t["failed_projects"] == ["broken"]
    assert t["cold_wall_ratio"] == 4.0 and t["warm_hit_rate"] == 1.0


@pytest.mark.parametrize("text, expected", [("50", (50,)), ("200,50,100", (50, 100, 200)),
                                            ("50,50", (50,))])
def test_autotune_budgets_are_sorted_and_unique(text, expected):
    from llmcc.lab.benchcmd import _budgets
    assert _budgets(text) == expected


@pytest.mark.parametrize("text", ["", "0,50", "fifty", "-5"])
def test_autotune_budgets_must_be_positive_numbers(text):
    import argparse
    from llmcc.lab.benchcmd import _budgets
    with pytest.raises(argparse.ArgumentTypeError):
        _budgets(text)


def test_steps_are_compared_with_the_same_step_of_the_oz_build():
    from llmcc.lab.bench import step_lines, step_ratio

    def project(name, oz, cold, ccache=None):
        builds = {"oz": {"configure_s": oz[0], "build_s": oz[1]},
                  "cold": {"configure_s": cold[0], "build_s": cold[1]}}
        if ccache:
            builds["ccache"] = {"configure_s": ccache[0], "build_s": ccache[1]}
        return {"name": name, "summary": {}, "builds": builds}

    a = project("a", (10.0, 20.0), (12.0, 50.0), (11.0, 2.0))
    b = project("b", (0.0, 30.0), (0.0, 60.0))  # no configure step, no ccache build
    assert step_ratio([a], "cold", "build_s") == 2.5
    assert step_ratio([a, b], "cold", "build_s") == pytest.approx(110 / 50)
    assert step_ratio([a, b], "ccache", "build_s") == pytest.approx(2 / 20)  # a only
    assert step_ratio([b], "cold", "configure_s") is None
    total = [line for line in step_lines([a, b]) if line.startswith("total")][0].split()
    assert total[1:5] == ["10.0", "50.0", "2.20x", "-"]
