"""The autotuner end to end on a small recorded corpus."""

import json

from tests.conftest import run
from tests.e2e.project import write_project


def _record_demo(llmcc, llmcc_env, tmp_path):
    """Build the generated project with IR recording; return (project, corpus, env)."""
    proj = tmp_path / "proj"
    write_project(proj)
    rec = tmp_path / "rec"
    env = dict(llmcc_env, LLMCC_RECORD=str(rec), LLMCC_RECORD_PACKAGE="demo",
               LLMCC_CANDIDATES="0")
    assert run(["make", "-j2", f"CC={llmcc}"], env=env, cwd=proj).returncode == 0
    return proj, rec, env


def test_record_search_broadcast_coreset_report(llmcc, llmcc_env, tmp_path):
    _, rec, _ = _record_demo(llmcc, llmcc_env, tmp_path)
    out = tmp_path / "tune"
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsource = "demo"\nsplit = "validation"\n')
    args = ["--corpus", str(rec), "--out", str(out), "--packages", str(pk), "--jobs", "2"]
    r = run([llmcc, "tune", "search", "--budget", "6", "--limit", "4"] + args, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    results = [json.loads(x) for x in (out / "search.jsonl").read_text().splitlines()]
    assert len(results) == 4
    for res in results:
        assert res["best_size"] <= res["oz_size"] and res["compiles"] <= 7
    # resumable: a rerun does nothing
    r = run([llmcc, "tune", "search", "--budget", "6", "--limit", "4"] + args, env=llmcc_env)
    assert b"every rung done" in r.stderr
    assert len((out / "search.jsonl").read_text().splitlines()) == 4

    r = run([llmcc, "tune", "broadcast", "--limit", "4", "--add", "default<Oz>,mergefunc"] + args,
            env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    labels = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    assert len(labels) == 4 and all("default<Oz>,mergefunc" in lab["sizes"] for lab in labels)

    r = run([llmcc, "tune", "report", "--out", str(out)], env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert b"autotuner (validation, 4 TUs)" in r.stdout
    # the shipped coreset was not labelled here: the report says so instead of guessing
    assert b"no validation TU is labelled with all" in r.stdout
    cs = tmp_path / "coreset.json"
    cs.write_text(json.dumps({"pipelines": ["default<Oz>,mergefunc"]}))
    r = run([llmcc, "tune", "report", "--out", str(out), "--coreset", str(cs)], env=llmcc_env)
    assert b"validation TUs labelled with the coreset: 4" in r.stdout
    assert b"static ranker k=1" in r.stdout
    r = run([llmcc, "tune", "report", "--out", str(out), "--coreset", str(tmp_path / "no.json")],
            env=llmcc_env)
    assert r.returncode == 1 and b"llmcc tune report: cannot use coreset" in r.stderr


def test_label_given_pipelines_skips_probes_and_repeated_codegen(llmcc, llmcc_env, tmp_path):
    proj, rec, env = _record_demo(llmcc, llmcc_env, tmp_path)
    # a configure probe compiled to an object: clang alone compiles it, nothing recorded
    (proj / "conftest.c").write_text("int probe_only(int x) { return x * 3; }\n")
    assert run([llmcc, "-O2", "-c", "conftest.c", "-o", "conftest.o"], env=env,
               cwd=proj).returncode == 0
    assert "conftest.c" not in (rec / "records.jsonl").read_text()
    from llmcc.lab.corpus import unique_records
    sources = [r["source"] for r, _, _ in unique_records(str(rec))]
    assert sources

    pipes = tmp_path / "pipes.json"
    same = ["function(instcombine)", "function(instcombine,instcombine)"]
    pipes.write_text(json.dumps({"pipelines": same + ["function(sroa)"]}))
    out = tmp_path / "tune"
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsplit = "train"\n')
    r = run([llmcc, "tune", "broadcast", "--corpus", str(rec), "--out", str(out), "--packages",
             str(pk), "--jobs", "1", "--pipelines", str(pipes)], env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    labels = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    assert len(labels) == len(sources)
    for lab in labels:
        assert set(lab["sizes"]) == set(same + ["function(sroa)"])
        assert lab["compiles"] == 4
    # instcombine twice gives the same bitcode as once on these TUs: no second codegen
    assert sum(lab["codegens_saved"] for lab in labels) >= 1
    assert all(lab["sizes"][same[0]] == lab["sizes"][same[1]] for lab in labels
               if lab["codegens_saved"])

    pipes.write_text("{not json")
    r = run([llmcc, "tune", "broadcast", "--corpus", str(rec), "--out", str(out), "--packages",
             str(pk), "--pipelines", str(pipes)], env=llmcc_env)
    assert r.returncode != 0 and b"cannot use" in r.stderr


def test_recheck_clears_failures_that_now_compile(llmcc, llmcc_env, tmp_path):
    from llmcc.lab.tune import rejected_pipelines
    _, rec, _ = _record_demo(llmcc, llmcc_env, tmp_path)
    from llmcc.lab.corpus import unique_records
    h = next(iter(unique_records(str(rec))))[0]["ir_hash"]
    out = tmp_path / "tune"
    out.mkdir()
    # one failure recorded by an older driver that now compiles, one that still fails
    (out / "failures.jsonl").write_text(
        json.dumps({"ir_hash": h, "pipeline": "function(instcombine)",
                    "error": "opt failed with exit code -6"}) + "\n" +
        json.dumps({"ir_hash": h, "pipeline": "function(no-such-pass)",
                    "error": "opt failed with exit code 1"}) + "\n")
    assert set(rejected_pipelines(str(out))) == {"function(instcombine)", "function(no-such-pass)"}
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsplit = "train"\n')
    r = run([llmcc, "tune", "recheck", "--corpus", str(rec), "--out", str(out), "--packages",
             str(pk)], env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert b"2 recorded failures measured again, 1 now compile, 1 still fail" in r.stdout
    assert set(rejected_pipelines(str(out))) == {"function(no-such-pass)"}


def test_seeded_search_then_labels_only_on_tus_not_searched(llmcc, llmcc_env, tmp_path):
    _, rec, _ = _record_demo(llmcc, llmcc_env, tmp_path)
    from llmcc.lab.corpus import unique_records
    n_tus = len(list(unique_records(str(rec))))
    assert n_tus >= 3
    out = tmp_path / "tune"
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsplit = "train"\n')
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps({"pipelines": ["default<Oz>,function(lower-switch)"]}))
    args = ["--corpus", str(rec), "--out", str(out), "--packages", str(pk), "--jobs", "2"]
    r = run([llmcc, "tune", "search", "--budget", "8", "--limit", "2", "--seeds", str(seeds)]
            + args, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert b"1 seed pass lists" in r.stderr
    searched = {json.loads(x)["ir_hash"] for x in (out / "search.jsonl").read_text().splitlines()}
    assert len(searched) == 2

    r = run([llmcc, "tune", "broadcast", "--exclude-searched", "--top", "4"] + args,
            env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    labelled = {json.loads(x)["ir_hash"] for x in (out / "labels.jsonl").read_text().splitlines()}
    assert len(labelled) == n_tus - 2 and not labelled & searched

    # a second broadcast set, screened only where the first one is known:
    # the first set's file is kept, the new pipeline reaches only labelled TUs
    first = (out / "broadcast.json").read_text()
    r = run([llmcc, "tune", "broadcast", "--labelled-only", "--set", "round2.json", "--top", "4",
             "--add", "default<Oz>,mergefunc"] + args, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert (out / "broadcast.json").read_text() == first and (out / "round2.json").exists()
    merged = {}
    for x in (out / "labels.jsonl").read_text().splitlines():
        rec = json.loads(x)
        merged.setdefault(rec["ir_hash"], {}).update(rec["sizes"])
    with_new = {h for h, sizes in merged.items() if "default<Oz>,mergefunc" in sizes}
    assert with_new == labelled

    r = run([llmcc, "tune", "search", "--seeds", str(tmp_path / "none.json")] + args,
            env=llmcc_env)
    assert r.returncode != 0 and b"cannot use seeds" in r.stderr


def test_migrate_carries_labels_to_a_corpus_rebuilt_elsewhere(llmcc, llmcc_env, tmp_path):
    """-g IR names its build directory: rebuilt elsewhere, each TU has a new hash;
    migrate measures some again and carries the state over to the new hashes."""
    from llmcc.lab.corpus import manifest
    recs = {}
    for where in ("first/build", "second/elsewhere"):
        proj = tmp_path / where
        write_project(proj)
        rec = tmp_path / (where.split("/")[0] + "-rec")
        env = dict(llmcc_env, LLMCC_RECORD=str(rec), LLMCC_RECORD_PACKAGE="demo",
                   LLMCC_CANDIDATES="0")
        r = run(["make", "-j2", f"CC={llmcc}", "CFLAGS=-Oz -g"], env=env, cwd=proj)
        assert r.returncode == 0, r.stderr.decode()
        recs[where] = rec
    first, second = recs.values()
    old, new = manifest(str(first)), manifest(str(second))
    assert not {m["ir_hash"] for m in old} & {m["ir_hash"] for m in new}
    import gzip
    man = tmp_path / "manifest.jsonl.gz"
    with gzip.open(man, "wt") as f:
        f.writelines(json.dumps(m) + "\n" for m in old)
    out = tmp_path / "tune"
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsplit = "train"\n')
    common = ["--out", str(out), "--packages", str(pk)]
    r = run([llmcc, "tune", "broadcast", "--corpus", str(first), "--jobs", "2",
             "--add", "default<Oz>,mergefunc", "--limit", "3"] + common, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    labelled = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    r = run([llmcc, "tune", "migrate", "--corpus", str(second), "--manifest", str(man),
             "--verify", "2"] + common, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert b"0 differ" in r.stderr
    moved = {m["file"]: m["ir_hash"] for m in new}
    by_file = {m["ir_hash"]: m["file"] for m in old}
    after = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    carried = {x["ir_hash"]: x["sizes"] for x in after[len(labelled):]}
    assert carried == {moved[by_file[x["ir_hash"]]]: x["sizes"] for x in labelled}
    # once: a second run carries nothing more
    r = run([llmcc, "tune", "migrate", "--corpus", str(second), "--manifest", str(man),
             "--verify", "0"] + common, env=llmcc_env)
    assert len((out / "labels.jsonl").read_text().splitlines()) == len(after)


TABLE_C = """static int table[64] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4,
    6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5, 0, 2, 8, 8, 4, 1, 9, 7, 1, 6, 9, 3, 9, 9, 3, 7, 5, 1,
    0, 5, 8, 2, 0, 9, 7, 4, 9, 4, 4, 5, 9, 2};
int lookup(int i) { return table[i & 63]; }
"""


def _record_table(llmcc, llmcc_env, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "table.c").write_text(TABLE_C)
    rec = tmp_path / "rec"
    env = dict(llmcc_env, LLMCC_RECORD=str(rec), LLMCC_RECORD_PACKAGE="demo",
               LLMCC_CANDIDATES="0")
    assert run([llmcc, "-Oz", "-c", "table.c"], env=env, cwd=proj).returncode == 0
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsplit = "validation"\n')
    return rec, pk


def test_a_pipeline_that_needs_more_ram_than_oz_counts_as_its_ram_repair(llmcc, llmcc_env,
                                                                         tmp_path):
    """Without globalopt the read-only table stays in .data: the same .text + .data as
    -Oz, 256 bytes more RAM. The labels say so; coverage and search count the
    pipeline as what the driver compiles in its place, the pipeline with clang's
    global clean-up appended, which keeps the table constant."""
    from llmcc.lab import tune
    from llmcc.llvm.passes import RAM_REPAIR
    rec, pk = _record_table(llmcc, llmcc_env, tmp_path)
    pipes = tmp_path / "pipes.json"
    pipes.write_text(json.dumps({"pipelines": ["function(instcombine)", "globalopt"]}))
    out = tmp_path / "tune"
    r = run([llmcc, "tune", "broadcast", "--corpus", str(rec), "--out", str(out), "--packages",
             str(pk), "--jobs", "1", "--pipelines", str(pipes)], env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    (raw,) = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    assert raw["more_ram"] == ["function(instcombine)"]
    assert raw["sizes"]["function(instcombine)"] is not None  # measured, as it is

    (tu,) = tune.load_corpus(str(rec), str(pk), 1 << 62)
    ev = tune.Evaluator(str(tmp_path / "ev"), 60.0)
    ev.select(tu)
    fix = f"function(instcombine),{RAM_REPAIR}"
    fixed_size, fixed_ram = ev.measured(fix)
    assert fixed_ram <= ev.measured(tune.OZ)[1] < ev.measured("function(instcombine)")[1]
    assert raw["repaired"] == {"function(instcombine)": fixed_size}
    (label,) = tune.load_labels(str(out)).values()
    assert label["sizes"]["function(instcombine)"] == fixed_size
    assert label["sizes"]["globalopt"] is not None
    r = run([llmcc, "tune", "report", "--out", str(out), "--coreset", str(pipes)], env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert (b"not counted: 1 (TU, pipeline) pairs on 1 TUs need more .data + .bss than -Oz, "
            b"1 of them counted with their RAM repair") in r.stdout

    ev.select(tu)
    assert ev.size("function(instcombine)") == fixed_size and not ev.failures
    assert ev.decision("function(instcombine)") == fix
    assert ev.measured("function(instcombine)")[0] == raw["sizes"]["function(instcombine)"]
    assert ev.more_ram == {"function(instcombine)"}
    # a pipeline whose bitcode is byte-identical skips code generation, not the rule
    twice = "function(instcombine),function(instcombine)"
    assert ev.size(twice) == fixed_size and ev.codegens_saved >= 1
    assert ev.measured(twice) == ev.measured("function(instcombine)")
    assert ev.more_ram == {"function(instcombine)", twice}


def test_a_pipeline_whose_ram_repair_fails_covers_nothing(tmp_path):
    """Labels with a RAM repair that did not help (null), or written before repairs
    were measured (no ``repaired``), count the pipeline as covering nothing; those
    written before ``more_ram`` keep their sizes."""
    from llmcc.lab import tune
    rows = [{"ir_hash": "a", "split": "train", "oz_size": 100, "sizes": {"p": 90, "q": 95},
             "more_ram": ["p", "q"], "repaired": {"p": None, "q": 97}},
            {"ir_hash": "b", "split": "train", "oz_size": 100, "sizes": {"p": 90},
             "more_ram": ["p"]},
            {"ir_hash": "c", "split": "train", "oz_size": 100, "sizes": {"p": 90}}]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    labels = tune.load_labels(str(tmp_path))
    assert labels["a"]["sizes"] == {"p": None, "q": 97}
    assert labels["b"]["sizes"] == {"p": None}
    assert labels["c"]["sizes"] == {"p": 90}
    assert tune.load_labels(str(tmp_path), ram_rule=False)["a"]["sizes"] == {"p": 90, "q": 95}


def test_the_driver_compiles_the_ram_repair_of_a_candidate_that_needs_more_ram(
        llmcc, llmcc_env, tmp_path):
    """A proposed candidate whose object needs more .data + .bss than -Oz's never wins;
    the driver compiles it with the global clean-up appended, which competes as any
    candidate does, and counts both."""
    import types
    from llmcc.compile import driver
    from llmcc.lab import tune
    from llmcc.llvm.passes import RAM_REPAIR
    rec, pk = _record_table(llmcc, llmcc_env, tmp_path)
    (tu,) = tune.load_corpus(str(rec), str(pk), 1 << 62)
    ev = tune.Evaluator(str(tmp_path / "ev"), 60.0)
    ev.select(tu)
    from llmcc.compile import cmdline
    ranker = types.SimpleNamespace(name="test", rank=lambda ir: ["function(instcombine)"])
    comp = cmdline.classify(["-Oz", "-c", str(tmp_path / "proj" / "table.c")])
    work = tmp_path / "work"
    work.mkdir()
    winner, oz_size = driver.search(ev.ctx, comp, tu.ir_path, ev.ir_text, ranker, 1,
                                    str(work), comp.units[0])
    counts = ev.ctx.counts
    assert counts["candidates needing more RAM than -Oz"] == 1
    assert counts["RAM repairs eligible"] == 1
    repaired = ev.measured(f"function(instcombine),{RAM_REPAIR}")
    assert winner.size == min(oz_size, repaired[0])
    assert winner.pipeline != "function(instcombine)"
    assert winner.ram <= ev.measured(tune.OZ)[1]


def test_reproducible_checks_the_ram_repairs_and_finishes_checked_tus(llmcc, llmcc_env,
                                                                     tmp_path):
    """``tune reproducible --repairs`` compiles each pipeline's RAM repair twice as well
    and lists it for the driver; a TU checked before is compiled again only with the
    pipelines it lacks, and a rerun compiles nothing."""
    from llmcc.llvm.passes import ram_repaired
    rec, pk = _record_table(llmcc, llmcc_env, tmp_path)
    pk.write_text('[demo]\nsplit = "train"\n')
    cs = tmp_path / "coreset.json"
    cs.write_text(json.dumps({"pipelines": ["function(instcombine)"]}))
    out = tmp_path / "tune"
    args = [llmcc, "tune", "reproducible", "--corpus", str(rec), "--out", str(out),
            "--packages", str(pk), "--pipelines", str(cs), "--jobs", "1", "--write"]

    def checked():
        return [sorted(json.loads(x)["same"]) for x in
                (out / "reproducible.jsonl").read_text().splitlines()]

    r = run(args, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert checked() == [["function(instcombine)"]]
    fix = ram_repaired("function(instcombine)")
    r = run(args + ["--repairs"], env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    assert b"1 TUs to compile (1 TU x pipeline pairs)" in r.stderr
    assert checked() == [["function(instcombine)"], [fix]]
    doc = json.loads(cs.read_text())
    assert doc["reproducible"]["pipelines"] == ["function(instcombine)", fix]
    assert doc["reproducible"]["tus"] == 1
    r = run(args + ["--repairs"], env=llmcc_env)
    assert b"0 TUs to compile" in r.stderr and len(checked()) == 2


def test_broadcast_labels_only_the_tus_in_the_size_band(llmcc, llmcc_env, tmp_path):
    """``--min-ir-bytes``/``--max-ir-bytes`` bound the TUs by the size of their IR."""
    from llmcc.lab import tune
    rec, pk = _record_table(llmcc, llmcc_env, tmp_path)
    (tu,) = tune.load_corpus(str(rec), str(pk), 1 << 62)
    cs = tmp_path / "coreset.json"
    cs.write_text(json.dumps({"pipelines": ["globalopt"]}))
    for lo, hi, n in ((tu.ir_bytes + 1, 1 << 30, 0), (0, tu.ir_bytes - 1, 0),
                      (tu.ir_bytes, tu.ir_bytes, 1)):
        r = run([llmcc, "tune", "broadcast", "--corpus", str(rec), "--out",
                 str(tmp_path / f"t{lo}-{hi}"), "--packages", str(pk), "--jobs", "1",
                 "--pipelines", str(cs), "--min-ir-bytes", str(lo), "--max-ir-bytes", str(hi)],
                env=llmcc_env)
        assert r.returncode == 0, r.stderr.decode()
        assert f"1 pipelines x {n} TUs, {n} TUs to label".encode() in r.stderr


def test_the_oz_bitcode_is_built_only_for_candidates_that_can_use_it(llmcc, llmcc_env,
                                                                     tmp_path):
    """Candidates that start with -Oz share one run of clang's -Oz pipeline; a decision
    with options (-inline-threshold changes the -Oz part too) runs whole, so two of
    them alone do not pay for that shared run."""
    import types
    from llmcc.compile import cmdline, driver
    from llmcc.lab import tune
    rec, pk = _record_table(llmcc, llmcc_env, tmp_path)
    (tu,) = tune.load_corpus(str(rec), str(pk), 1 << 62)
    ev = tune.Evaluator(str(tmp_path / "ev"), 60.0)
    ev.select(tu)
    comp = cmdline.classify(["-Oz", "-c", str(tmp_path / "proj" / "table.c")])
    for name, proposed, shared in (
            ("options", ["default<Oz>,globalopt -inline-threshold=20",
                         "default<Oz>,globaldce -inline-threshold=50"], False),
            ("plain", ["default<Oz>,globalopt", "default<Oz>,globaldce"], True)):
        ranker = types.SimpleNamespace(name="test", rank=lambda ir, p=proposed: p)
        work = tmp_path / name
        work.mkdir()
        winner, oz_size = driver.search(ev.ctx, comp, tu.ir_path, ev.ir_text, ranker, 2,
                                        str(work), comp.units[0])
        assert (work / "oz.bc").exists() == shared
        assert winner.size <= oz_size and ev.ctx.counts["candidates failed"] == 0


def test_large_order_orders_the_coreset_on_the_large_training_tus(llmcc, llmcc_env, tmp_path):
    """``tune large-order`` records in the coreset file the greedy order of its
    pipelines on the training TUs over a size, for the rankers to use beyond a
    limit; with no TU that large it says so and writes nothing."""
    from llmcc.lab import tune
    from llmcc.lab.metrics import greedy_coreset
    from llmcc.rank.base import load_large_order
    _, rec, _ = _record_demo(llmcc, llmcc_env, tmp_path)
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsplit = "train"\n')
    pipes = ["default<Oz>,globaldce", "default<Oz>,mergefunc", "default<Oz>,default<Oz>"]
    cs = tmp_path / "coreset.json"
    cs.write_text(json.dumps({"pipelines": pipes}))
    out = tmp_path / "tune"
    common = ["--corpus", str(rec), "--out", str(out), "--packages", str(pk)]
    r = run([llmcc, "tune", "broadcast", "--jobs", "2", "--pipelines", str(cs)] + common,
            env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    tus = tune.load_corpus(str(rec), str(pk), 1 << 62)
    smallest = min(t.ir_bytes for t in tus)
    before = cs.read_text()
    r = run([llmcc, "tune", "large-order", "--coreset", str(cs), "--min-ir-bytes",
             str(max(t.ir_bytes for t in tus))] + common, env=llmcc_env)
    assert r.returncode == 1 and b"no training TU over" in r.stderr
    assert cs.read_text() == before

    r = run([llmcc, "tune", "large-order", "--coreset", str(cs), "--min-ir-bytes",
             str(smallest), "--apply-above", "4096"] + common, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(cs.read_text())
    assert doc["pipelines"] == pipes
    large = doc["large_tus"]
    labels = tune.load_labels(str(out))
    used = [labels[t.ir_hash] for t in tus if t.ir_bytes > smallest]
    assert large["train_tus"] == len(used) and 0 < len(used) < len(tus)
    chosen = greedy_coreset(used, pipes, 3)
    assert large["pipelines"][:len(chosen)] == chosen
    assert sorted(large["pipelines"]) == sorted(pipes)
    assert load_large_order(tuple(pipes), doc) == (4096, tuple(large["pipelines"]))


def test_the_k_trade_off_counts_what_the_search_keeps(llmcc, llmcc_env, tmp_path,
                                                      monkeypatch):
    """``bytes with k=j`` (the curve ``llmcc bench`` reports) counts a candidate refused
    for RAM as its repair, as the winner is chosen, so at j = k it is the bytes the
    build got, not a smaller object that could not be used."""
    import types
    from llmcc.compile import cmdline, driver
    from llmcc.lab import tune
    from llmcc.llvm.passes import ram_repaired
    rec, pk = _record_table(llmcc, llmcc_env, tmp_path)
    (tu,) = tune.load_corpus(str(rec), str(pk), 1 << 62)
    ev = tune.Evaluator(str(tmp_path / "ev"), 60.0)
    ev.select(tu)
    refused, other = "function(instcombine)", "globalopt"
    measured = {tune.OZ: (1000, 10), refused: (900, 20), ram_repaired(refused): (950, 10),
                other: (980, 10)}

    def fake_compile(ctx, comp, ir_path, ir_text, cand, **kw):
        cand.size, cand.ram = measured[cand.pipeline]
        return cand
    monkeypatch.setattr(driver, "compile_candidate", fake_compile)
    monkeypatch.setattr(driver, "_sane", lambda *a: True)
    ranker = types.SimpleNamespace(name="test", rank=lambda ir: [refused, other])
    comp = cmdline.classify(["-Oz", "-c", str(tmp_path / "proj" / "table.c")])
    work = tmp_path / "work"
    work.mkdir()
    ev.ctx.counts.clear()
    winner, oz_size = driver.search(ev.ctx, comp, tu.ir_path, ev.ir_text, ranker, 2,
                                    str(work), comp.units[0])
    assert (winner.pipeline, winner.size, oz_size) == (ram_repaired(refused), 950, 1000)
    assert [ev.ctx.counts[f"bytes with k={j}"] for j in range(3)] == [1000, 950, 950]
