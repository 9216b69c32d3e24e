"""Warm rebuilds: stored objects, no lowering, opt or code generation."""

import glob
import os

from llmcc.store import stats
from tests.conftest import run
from tests.e2e.project import objects, N_FILES, write_project

LOGGING_TOOL = """#!/bin/sh
echo "$@" >> {log}
exec {real} "$@"
"""


def _tools(tmp_path, clang):
    """opt-19 and clang-19 wrappers on PATH that log every call llmcc makes."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    real_dir = os.path.dirname(os.path.realpath(clang))
    logs = {}
    for name, real in (("opt-19", os.path.join(real_dir, "opt")), ("clang-19", clang)):
        log = tmp_path / f"{name}.log"
        (bindir / name).write_text(LOGGING_TOOL.format(log=log, real=real))
        (bindir / name).chmod(0o755)
        logs[name] = log
    return bindir, logs


def _calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_a_warm_rebuild_runs_no_opt_and_no_codegen(llmcc, clang, llmcc_env, tmp_path):
    bindir, logs = _tools(tmp_path, clang)
    env = dict(llmcc_env, PATH=f"{bindir}:{os.environ['PATH']}", LLMCC_CLANG=str(bindir / "clang-19"),
               CC=llmcc)
    root = tmp_path / "proj"
    expected = write_project(root)
    assert run(["make", "-j4", f"CC={llmcc}"], env=env, cwd=root).returncode == 0
    cold = objects_od(root)
    assert run(["./prog"], cwd=root).stdout == expected
    opt_cold = len(_calls(logs["opt-19"]))
    clang_cold = len(_calls(logs["clang-19"]))
    assert opt_cold > 0
    run(["make", "clean"], cwd=root, check=True)
    assert run(["make", "-j4", f"CC={llmcc}"], env=env, cwd=root).returncode == 0
    assert objects_od(root) == cold  # objects and dependency files
    assert run(["./prog"], cwd=root).stdout == expected
    assert len(_calls(logs["opt-19"])) == opt_cold
    warm_clang = _calls(logs["clang-19"])[clang_cold:]
    # per TU only the preprocessing run (-E); the link is one plain clang call
    assert all(" -E " in c or c.endswith(" -E") or "-o prog" in c for c in warm_clang), warm_clang
    counters = stats.read(env["LLMCC_CACHE_DIR"])
    assert counters["object hits"] == N_FILES + 1


def test_damaged_stored_objects_are_never_installed(llmcc, llmcc_env, tmp_path):
    env = dict(llmcc_env, CC=llmcc)
    root = tmp_path / "proj"
    expected = write_project(root)
    assert run(["make", "-j4", f"CC={llmcc}"], env=env, cwd=root).returncode == 0
    cold = objects_od(root)
    stored = sorted(glob.glob(str(tmp_path / "cache" / "objects" / "*" / "*.obj")))
    assert len(stored) == N_FILES + 1
    for i, path in enumerate(stored):
        data = open(path, "rb").read()
        damaged = [data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1]), b"garbage"][i % 3]
        open(path, "wb").write(damaged)
    run(["make", "clean"], cwd=root, check=True)
    assert run(["make", "-j4", f"CC={llmcc}"], env=env, cwd=root).returncode == 0
    assert objects_od(root) == cold
    assert run(["./prog"], cwd=root).stdout == expected
    counters = stats.read(env["LLMCC_CACHE_DIR"])
    assert counters["corrupt cache entries"] == N_FILES + 1
    assert counters.get("object hits", 0) == 0


def test_two_parallel_builds_sharing_one_store_stay_identical(llmcc, llmcc_env, tmp_path):
    import subprocess
    env = dict(llmcc_env, CC=llmcc)
    roots = [tmp_path / "a", tmp_path / "b"]
    for r in roots:
        write_project(r)
    procs = [subprocess.Popen(["make", "-j4", f"CC={llmcc}"], env=env, cwd=r,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for r in roots]
    assert all(p.wait() == 0 for p in procs)
    first = [{k: v for k, v in objects_od(r).items() if k.endswith(".o")} for r in roots]
    assert first[0] == first[1]
    for r in roots:
        run(["make", "clean"], cwd=r, check=True)
    procs = [subprocess.Popen(["make", "-j4", f"CC={llmcc}"], env=env, cwd=r,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for r in roots]
    assert all(p.wait() == 0 for p in procs)
    assert [{k: v for k, v in objects_od(r).items() if k.endswith(".o")} for r in roots] == first


def objects_od(root):
    """Objects and dependency files of a build."""
    return objects(root, "*.[od]")


def test_a_winner_checked_offline_is_compiled_once_and_others_twice(llmcc, clang, llmcc_env,
                                                                    tmp_path):
    """The second compile of a winner (its reproducibility) is spent only on pipelines
    that ``llmcc tune reproducible`` did not check: each opt run is a candidate's, the
    -Oz bitcode's or that second compile's."""
    from llmcc.rank.base import reproducible_pipelines
    bindir, logs = _tools(tmp_path, clang)
    env = dict(llmcc_env, PATH=f"{bindir}:{os.environ['PATH']}",
               LLMCC_CLANG=str(bindir / "clang-19"), LLMCC_DEBUG="1")
    root = tmp_path / "proj"
    write_project(root)
    r = run([llmcc, "-Oz", "-c", "m0.c", "-o", "m0.o"], env=env, cwd=root)
    assert r.returncode == 0
    winner = [ln for ln in r.stderr.decode().splitlines() if " -> " in ln][-1].rsplit(" -> ", 1)[1]
    counters = stats.read(env["LLMCC_CACHE_DIR"])
    assert counters["TUs improved"] == 1, r.stderr  # m0.c gains under some pipeline
    opt_runs = [c for c in _calls(logs["opt-19"]) if "--version" not in c]
    shared = sum(1 for c in opt_runs if c.endswith("oz.bc"))
    candidates = counters["candidates compiled"]
    if winner in reproducible_pipelines():
        assert counters["reproducibility compiles saved (pipeline checked offline)"] == 1
        assert len(opt_runs) == candidates + shared
    else:
        assert len(opt_runs) == candidates + shared + 1
