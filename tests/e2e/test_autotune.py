"""``llmcc autotune``: record a build, search it, rebuild with the tuned decisions."""

import json
import os

import pytest

from llmcc.store import stats
from tests.conftest import run
from tests.e2e.project import objects, N_FILES, write_project


# The builds here run with k = 0 (plain -Oz decisions): the shipped coreset already
# finds what a 10-compile search finds on these small TUs, and a tuned decision is
# written only when smaller than the one the cache holds.


def _make(root, env):
    run(["make", "clean"], cwd=root, check=True)
    r = run(["make", "-j2"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()


def _recorded(llmcc, llmcc_env, tmp_path):
    """The test project, built once with ``llmcc autotune record``: (root, state
    directory, environment, ``llmcc autotune --state STATE`` argv prefix)."""
    root = tmp_path / "proj"
    write_project(root)
    state = tmp_path / "state"
    env = dict(llmcc_env, CC=llmcc, LLMCC_CANDIDATES="0")  # default build: -Oz
    at = [llmcc, "autotune", "--state", str(state)]
    assert run(at + ["record", "--", "make", "-j2"], env=env, cwd=root).returncode == 0
    return root, state, env, at


def _decisions(state):
    """The records of ``STATE/decisions.jsonl``."""
    return [json.loads(x) for x in (state / "decisions.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_record_run_rebuild_export(llmcc, llmcc_env, tmp_path):
    root = tmp_path / "proj"
    expected = write_project(root)
    state = tmp_path / "state"
    env = dict(llmcc_env, CC=llmcc, LLMCC_CANDIDATES="0")  # default build: -Oz
    at = [llmcc, "autotune", "--state", str(state)]
    r = run(at + ["record", "--", "make", "-j2"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    records = (state / "corpus" / "records.jsonl").read_text().splitlines()
    assert len(records) == N_FILES + 1
    default = objects(root)

    r = run(at + ["run", "--budget", "10", "--jobs", "2"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    decisions = _decisions(state)
    written = {d["key"]: d for d in decisions if d["status"] == "written"}
    assert written, decisions
    assert all(d["source"] == "autotune budget=10 seed=0" for d in decisions)
    searched = (state / "search.jsonl").read_text()

    # resumable: a rerun searches nothing again and writes nothing new
    r = run(at + ["run", "--budget", "10", "--jobs", "2"], env=env, cwd=root)
    assert r.returncode == 0 and (state / "search.jsonl").read_text() == searched

    # rebuild: every TU is a hit, tuned TUs get their tuned (smaller) objects,
    # installed from the object store as in a warm build: no opt, no code generation
    stats.zero(env["LLMCC_CACHE_DIR"])
    _make(root, env)
    assert run(["./prog"], cwd=root).stdout == expected
    tuned = objects(root)
    counters = stats.read(env["LLMCC_CACHE_DIR"])
    assert counters["cache misses"] == 0 and counters["cache hits"] == N_FILES + 1
    assert counters["object hits"] == N_FILES + 1, counters
    assert not counters.get("cpu ms: opt") and not counters.get("cpu ms: codegen"), counters
    from llmcc.llvm.objsize import object_size
    total = {name: object_size(str(root / name)).total for name in tuned}
    assert sum(total.values()) < sum(object_size_bytes(b, tmp_path) for b in default.values())

    # export -> hermetic pinned build, HOME and cache read-only: same bytes
    pin = tmp_path / "llmcc.pin"
    assert run([llmcc, "cache", "export", str(pin)], env=env).returncode == 0
    hermetic = dict(env, LLMCC_PINNED=str(pin), HOME=str(tmp_path / "no-home"),
                    LLMCC_CACHE_DIR="/proc/llmcc-no-cache")
    _make(root, hermetic)
    assert objects(root) == tuned

    # a ranker change does not throw tuned decisions away
    stats.zero(env["LLMCC_CACHE_DIR"])
    _make(root, dict(env, LLMCC_RANKER="static", LLMCC_MAX_OBJECTS="0"))
    tuned_names = {os.path.basename(d["source_file"])[:-2] + ".o" for d in written.values()}
    after = objects(root)
    assert tuned_names and all(after[n] == tuned[n] for n in tuned_names)
    # only TUs without a tuned decision are searched again by the new ranker
    assert stats.read(env["LLMCC_CACHE_DIR"])["cache misses"] == N_FILES + 1 - len(tuned_names)
    _make(root, env)  # back to the default ranker: its decisions are still cached

    r = run(at + ["report", "--json"], env=env, cwd=root)
    rows = json.loads(r.stdout)
    assert rows["total"]["tus"] == N_FILES + 1
    assert rows["total"]["bytes_tuned"] < rows["total"]["bytes_default"] <= rows["total"]["bytes_oz"]


def object_size_bytes(data, tmp_path):
    from llmcc.llvm.objsize import object_size
    p = tmp_path / "tmp-object.o"
    p.write_bytes(data)
    return object_size(str(p)).total


def test_a_winner_that_fails_verification_is_dropped(llmcc, llmcc_env, tmp_path):
    root = tmp_path / "proj"
    write_project(root)
    state = tmp_path / "state"
    env = dict(llmcc_env, CC=llmcc, LLMCC_CANDIDATES="0")  # default build: -Oz
    at = [llmcc, "autotune", "--state", str(state)]
    assert run(at + ["record", "--", "make", "-j2", "m0.o"], env=env, cwd=root).returncode == 0
    rec = json.loads((state / "corpus" / "records.jsonl").read_text().splitlines()[0])
    # a search result naming a pass outside the allowlist, as a tampered state would
    (state / "search.jsonl").write_text(json.dumps({
        "ir_hash": rec["ir_hash"], "split": "train", "package": "", "oz_size": rec["oz_size"],
        "best_size": 1, "best_pipeline": "internalize,globaldce", "compiles": 4, "rung": 0}) + "\n"
        + json.dumps({"ir_hash": rec["ir_hash"], "split": "train", "package": "",
                      "oz_size": rec["oz_size"], "best_size": 1, "rung": 1, "compiles": 4,
                      "best_pipeline": "internalize,globaldce"}) + "\n")
    r = run(at + ["run", "--budget", "8", "--jobs", "1"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    decisions = _decisions(state)
    assert [d["status"].split(":")[0] for d in decisions] == ["rejected"]
    assert not list((tmp_path / "cache" / "entries").rglob("*.json")) or all(
        "internalize" not in p.read_text() for p in (tmp_path / "cache" / "entries").rglob("*.json"))


def test_failing_project_tests_roll_the_tuned_decisions_back(llmcc, llmcc_env, tmp_path):
    root, state, env, at = _recorded(llmcc, llmcc_env, tmp_path)
    default = objects(root)
    r = run(at + ["run", "--budget", "10", "--jobs", "2", "--verify-tests",
                  "make clean >/dev/null && make -j2 >/dev/null && false"], env=env, cwd=root)
    assert r.returncode == 0 and b"FAILED" in r.stdout, r.stderr.decode()
    decisions = _decisions(state)
    assert decisions and not any(d["status"] == "written" for d in decisions)
    assert any(d["status"].startswith("rolled back") for d in decisions)
    _make(root, env)
    assert objects(root) == default  # the decisions of the recorded build again


def test_failing_project_tests_are_bisected_to_the_pipeline_that_fails_them(
        llmcc, llmcc_env, tmp_path):
    """The suite fails only when one tuned TU's object is not the recorded build's:
    bisection finds that TU's pipeline, rolls back every decision using it and
    keeps the others."""
    import shutil
    root, state, env, at = _recorded(llmcc, llmcc_env, tmp_path)
    default = objects(root)
    # which TUs does this search tune? (deterministic: the same run on a copy)
    shutil.copytree(state, tmp_path / "probe")
    r = run([llmcc, "autotune", "--state", str(tmp_path / "probe"), "run", "--budget", "10",
             "--jobs", "2", "--cache-dir", str(tmp_path / "probe-cache")], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    probe = _decisions(tmp_path / "probe")
    tuned = [d for d in probe if d["status"] == "written"]
    assert len({d["pipeline"] for d in tuned}) >= 2, "the search tunes several TUs"
    victim = os.path.basename(tuned[0]["source_file"])[:-2] + ".o"
    bad = tuned[0]["pipeline"]
    (tmp_path / "victim.default.o").write_bytes(default[victim])
    check = (f"make clean >/dev/null && make -j2 >/dev/null && "
             f"cmp -s {victim} {tmp_path}/victim.default.o")
    r = run(at + ["run", "--budget", "10", "--jobs", "2", "--verify-tests", check],
            env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    assert f"fails with {bad}; dropped everywhere".encode() in r.stdout, r.stdout.decode()
    assert b"passed after rolling back" in r.stdout
    decisions = _decisions(state)
    assert {d["key"]: d["pipeline"] for d in decisions} == {d["key"]: d["pipeline"] for d in probe}
    for d in decisions:
        if d["pipeline"] == bad:
            assert d["status"] == "rolled back: --verify-tests failed with this pipeline"
        else:
            assert not d["status"].startswith("rolled back")
    _make(root, env)
    after = objects(root)
    assert after[victim] == default[victim]
    others = [os.path.basename(d["source_file"])[:-2] + ".o" for d in decisions
              if d["status"] == "written"]
    assert others and all(after[o] != default[o] for o in others)


def test_verify_csmith_runs_the_tuned_pipelines_and_drops_the_rejected(llmcc, llmcc_env,
                                                                      tmp_path):
    from llmcc.lab.autotune import drop_pipelines
    root, state, env, at = _recorded(llmcc, llmcc_env, tmp_path)
    r = run(at + ["run", "--budget", "10", "--jobs", "2", "--verify-csmith", "2"],
            env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    decisions = _decisions(state)
    tuned = sorted({d["pipeline"] for d in decisions if d["status"] == "written"})
    assert tuned
    assert (f"{len(tuned)} tuned pipelines x 2 csmith programs, 0 rejected".encode()
            in r.stdout), r.stdout.decode()
    results = json.loads((state / "difftest" / "results.json").read_text())
    assert sorted(results["pipelines"]) == tuned and results["programs_usable"] >= 1
    assert results["rejected"] == {}
    # a rejected pipeline is rolled back in every TU that uses it, the others stay
    cache = tmp_path / "cache"
    for d in decisions:
        if d["status"] == "written":
            from llmcc.store.cache import Store
            d["entry"] = Store(str(cache)).get(d["key"], touch=False).__dict__
    n = drop_pipelines(str(cache), decisions, {tuned[0]: "changes the output of seed 7"},
                       "csmith difftest")
    from llmcc.store.cache import Store
    store = Store(str(cache))
    for d in decisions:
        if d["pipeline"] == tuned[0]:
            assert d["status"] == "rolled back: csmith difftest: changes the output of seed 7"
            assert store.get(d["key"], touch=False) is None
        elif d["status"] == "written":
            assert store.get(d["key"], touch=False).pipeline == d["pipeline"]
    assert n == sum(d["pipeline"] == tuned[0] for d in decisions)
