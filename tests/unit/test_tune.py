"""Autotuner pieces: rendering pass lists, seeds, the coreset command, successive halving
(the metrics it uses are tested in test_metrics.py)."""

import random

import pytest

from llmcc.llvm.passes import check_pipeline
from llmcc.lab.tune import (SEARCH_EXCLUDED, flatten, load_seeds, mutate, random_list, render,
                            search_alphabet)


def test_render_groups_neighbours_under_adaptors():
    assert render([("instcombine", "function"), ("licm", "loop-mssa"), ("loop-rotate", "loop-mssa"),
                   ("indvars", "loop"), ("inline", "cgscc"), ("globalopt", "module"),
                   ("default<Oz>", "module")]) == (
        "function(instcombine,loop-mssa(licm,loop-rotate),loop(indvars)),cgscc(inline),"
        "globalopt,default<Oz>")


def test_random_lists_pass_the_allowlist():
    rng = random.Random(0)
    alphabet = search_alphabet()
    names = {n for n, _ in alphabet}
    assert "default<Oz>" in names and "attributor" not in names and "default" not in names
    for _ in range(300):
        lst = random_list(rng, alphabet)
        assert 1 <= len(lst) <= 50
        assert check_pipeline(render(lst))


def test_flatten_inverts_render_and_edits_stay_in_the_allowlist():
    rng = random.Random(1)
    alphabet = search_alphabet()
    changed = 0
    for _ in range(200):
        lst = random_list(rng, alphabet)
        assert flatten(render(lst)) == lst
        edited = mutate(rng, lst, alphabet)
        assert 1 <= len(edited) <= 50
        assert check_pipeline(render(edited))
        changed += edited != lst
    assert changed > 180  # an edit may happen to undo itself, rarely


def test_search_leaves_out_passes_validation_rejected():
    names = {n for n, _ in search_alphabet()}
    assert SEARCH_EXCLUDED and not names & set(SEARCH_EXCLUDED)
    # still allowlisted: a user may pin them
    assert check_pipeline("default<Oz>,function(gvn-sink)")
    assert flatten("default<Oz>,function(gvn-sink)") is None
    assert flatten("default<Oz>,function(lower-switch)") == [("default<Oz>", "module"),
                                                             ("lower-switch", "function")]


def test_seeds_come_from_a_coreset_file_and_skip_what_the_search_cannot_draw(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"pipelines": ["default<Oz>", "default<Oz>,function(gvn-sink)", '
                 '"default<Oz>,function(lower-switch)"]}')
    assert load_seeds(str(f)) == [[("default<Oz>", "module"), ("lower-switch", "function")]]
    assert load_seeds(None)  # the shipped coreset
    with pytest.raises(SystemExit, match="cannot use seeds"):
        load_seeds(str(tmp_path / "missing.json"))


def test_build_probes_are_recognised():
    from llmcc.compile.cmdline import is_build_probe
    assert is_build_probe("/b/pkg/conftest.c", "/b/pkg")
    assert is_build_probe("/b/pkg/conftest2.cpp")
    assert is_build_probe("/b/pkg/build/CMakeFiles/CMakeScratch/TryCompile-x/src.c")
    assert is_build_probe("src.c", "/b/build/CMakeFiles/CMakeTmp")
    assert not is_build_probe("/b/pkg/lib/sh/tmpfile.c", "/b/pkg/lib/sh")
    assert not is_build_probe("/b/pkg/src/conftest_helpers.c")
    assert is_build_probe("/b/zlib/ztest31337.c", "/b/zlib")  # zlib's configure
    assert not is_build_probe("/b/zlib/test/ztest.c")
    assert is_build_probe("/b/build/meson-private/tmpab12cd/testfile.c")


def test_coreset_pool_drops_rejected_and_ignores_partly_labelled_tus(tmp_path):
    import json
    from llmcc.lab.tune import main
    a, b, c = "function(sroa)", "function(dce)", "function(gvn)"
    labels = [
        # fully labelled training TUs: b helps most, a a little, c is rejected
        {"ir_hash": "1", "split": "train", "oz_size": 100, "sizes": {a: 99, b: 90, c: 50}},
        {"ir_hash": "2", "split": "train", "oz_size": 100, "sizes": {a: 98, b: 100, c: 50}},
        # labelled with `a` only: must not make `a` look better than `b`
        {"ir_hash": "3", "split": "train", "oz_size": 100, "sizes": {a: 10}},
    ]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    (tmp_path / "failures.jsonl").write_text(
        json.dumps({"ir_hash": "9", "pipeline": c, "error": "opt failed"}) + "\n")
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps({"pipelines": [a, b, c]}))
    out = tmp_path / "coreset.json"
    assert main(["coreset", "--out", str(tmp_path), "--pool", str(pool), "--k", "8",
                 "--write", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["pipelines"] == [b, a]
    assert doc["train_tus"] == 2 and doc["rejected"] == [c]


def _tu(h, split="train"):
    from llmcc.lab.tune import TU
    return TU(h, f"/nonexistent/{h}.ll", (), "pkg", split, 100)


def _write_search(tmp_path, records):
    import json
    with open(tmp_path / "search.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def test_successive_halving_promotes_the_largest_gains_and_resumes(tmp_path):
    from llmcc.lab.tune import promote, search_results, successive_halving
    tus = [_tu(h) for h in ("a", "b", "c", "d")]
    rungs = [10, 30]
    rung, todo = successive_halving(tus, rungs, 0.5, str(tmp_path))
    assert rung == 0 and [t.ir_hash for t, _, _ in todo] == ["a", "b", "c", "d"]
    assert all(extra == 10 and inc is None for _, extra, inc in todo)
    # rung 0 done: b and d found the largest relative gains
    recs = [{"ir_hash": h, "split": "train", "oz_size": 100, "best_size": s,
             "best_pipeline": "function(instcombine)", "compiles": 10}
            for h, s in (("a", 100), ("b", 90), ("c", 99), ("d", 95))]
    _write_search(tmp_path, recs[:3])
    rung, todo = successive_halving(tus, rungs, 0.5, str(tmp_path))
    assert rung == 0 and [t.ir_hash for t, _, _ in todo] == ["d"]  # rung 1 waits for rung 0
    _write_search(tmp_path, recs)
    rung, todo = successive_halving(tus, rungs, 0.5, str(tmp_path))
    assert rung == 1 and [t.ir_hash for t, _, _ in todo] == ["b", "d"]
    assert all(extra == 20 and inc == [("instcombine", "function")] for _, extra, inc in todo)
    # b's rung 1 record (worse than its rung 0) is resumed past; d remains
    _write_search(tmp_path, recs + [{**recs[1], "best_size": 92, "rung": 1, "compiles": 20,
                                     "best_pipeline": "function(sroa)"}])
    rung, todo = successive_halving(tus, rungs, 0.5, str(tmp_path))
    assert rung == 1 and [t.ir_hash for t, _, _ in todo] == ["d"]
    merged = search_results(str(tmp_path))["b"]
    assert (merged["best_size"], merged["compiles"], merged["rung"]) == (90, 30, 1)
    assert promote(list(search_results(str(tmp_path)).values()), 0.25) == ["b"]


def test_promotion_counts_searched_tus_missing_from_the_corpus(tmp_path):
    from llmcc.lab.tune import successive_halving
    recs = [{"ir_hash": h, "split": "train", "oz_size": 100, "best_size": s,
             "best_pipeline": "function(instcombine)", "compiles": 10}
            for h, s in (("a", 100), ("b", 90), ("c", 99), ("d", 95))]
    _write_search(tmp_path, recs + [{**recs[0], "ir_hash": "v", "split": "validation",
                                     "best_size": 50}])
    # only a and d are recorded so far: b and d are promoted, d is the only work now
    rung, todo = successive_halving([_tu("a"), _tu("d")], [10, 30], 0.5, str(tmp_path), "train")
    assert rung == 1 and [t.ir_hash for t, _, _ in todo] == ["d"]
    # d done: rung 1 still waits for b, whose IR is missing, before rung 2 starts
    _write_search(tmp_path, recs + [{**recs[3], "rung": 1, "best_size": 80}])
    rung, todo = successive_halving([_tu("a"), _tu("d")], [10, 30, 60], 0.5, str(tmp_path),
                                    "train")
    assert rung == 1 and todo == []


def test_rung_lines_report_what_a_deeper_rung_added(tmp_path):
    from llmcc.lab.tune import rung_lines
    base = {"split": "train", "oz_size": 100, "best_pipeline": "function(sroa)", "compiles": 10}
    _write_search(tmp_path, [dict(base, ir_hash="a", best_size=90),
                             dict(base, ir_hash="b", best_size=95),
                             dict(base, ir_hash="a", best_size=80, rung=1, compiles=20),
                             dict(base, ir_hash="b", best_size=97, rung=1, compiles=20)])
    (line,) = rung_lines(str(tmp_path))
    assert "rung 1 (2 TUs, 40 more compiles)" in line and "1 TUs smaller" in line
    assert "7.53% -> 12.82%" in line  # geomean of (0.90, 0.95), then of (0.80, 0.95)


def _m(h, file, oz=100, flags=("-g",), package="p"):
    return {"package": package, "version": "1", "file": file, "flags": list(flags),
            "language": "c", "oz_size": oz, "ir_hash": h}


def test_hash_moves_match_one_to_one_and_leave_the_rest():
    from llmcc.lab.tune import hash_moves
    old = [_m("a0", "a.c"), _m("b0", "b.c"), _m("same", "s.c"),
           _m("d1", "d.c", flags=("-g", "-DX")), _m("d2", "d.c", flags=("-g", "-DX")),
           _m("e0", "e.c", oz=100), _m("gone", "g.c")]
    new = [_m("a1", "a.c"), _m("b1", "b.c", oz=101), _m("same", "s.c"),
           _m("d3", "d.c", flags=("-g", "-DX")), _m("e1", "e.c", oz=100, package="q")]
    # a.c moved; b.c's -Oz size changed (another TU); s.c kept its hash; d.c is
    # two TUs on the old side (ambiguous); e.c is another package's; g.c is gone
    assert hash_moves(old, new) == {"a0": "a1"}


@pytest.mark.parametrize("records, expected, tus", [
    # equal bytes on every TU it compiled on: listed; a failure to compile is no
    # evidence, so q counts one TU
    ([{"ir_hash": "a", "same": {"p": True, "q": True}},
      {"ir_hash": "b", "same": {"p": True, "q": None}}], ["p", "q"], 1),
    # different bytes once: never listed, whatever other TUs say
    ([{"ir_hash": "a", "same": {"p": True, "q": False}},
      {"ir_hash": "b", "same": {"p": True, "q": True}}], ["p"], 2),
    # never compiled anywhere: no evidence, not listed
    ([{"ir_hash": "a", "same": {"p": None, "q": True}}], ["q"], 1),
    # a TU finished later, in a second record, counts once
    ([{"ir_hash": "a", "same": {"p": True}}, {"ir_hash": "a", "same": {"q": True}}],
     ["p", "q"], 1),
])
def test_reproducible_pipelines_need_equal_bytes_on_every_tu(tmp_path, records, expected, tus):
    import json
    from llmcc.lab.tune import reproducible_pipelines
    with open(tmp_path / "reproducible.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    same, n = reproducible_pipelines(str(tmp_path), ["p", "q"])
    assert same == expected and n == tus


def test_reproducible_jobs_finish_checked_tus_before_new_ones():
    """TUs checked before get only the pipelines they lack; new TUs fill up to the
    limit, spread over the corpus order."""
    import types
    from llmcc.lab.tune import reproducible_jobs
    tus = [types.SimpleNamespace(ir_hash=h) for h in "abcdefgh"]
    records = [{"ir_hash": "b", "same": {"p": True}},
               {"ir_hash": "c", "same": {"p": True, "q": True}},
               {"ir_hash": "gone", "same": {"p": True}}]
    jobs = [(t.ir_hash, ps) for t, ps in reproducible_jobs(tus, records, ["p", "q"], 4)]
    assert jobs == [("b", ["q"]), ("a", ["p", "q"]), ("f", ["p", "q"])]
    assert reproducible_jobs(tus, records, ["p"], 2) == []
