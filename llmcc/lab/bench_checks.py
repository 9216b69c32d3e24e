"""The checking modes of ``llmcc bench``: ``--stress`` and ``--force-pipelines``.

``--stress`` asks whether llmcc survives what a build farm does to it: a build
at more parallel jobs than cores sharing one cache, twice, with every cache
entry damaged in between. ``--force-pipelines`` is PassListEval on real test
suites: a project built once per pipeline with every TU compiled by it, then
tested. Both reuse the recipes, fetching and building of :mod:`llmcc.lab.bench`.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
from collections import Counter

from llmcc.store import stats
from llmcc.lab.bench import (BenchError, Progress, Recipe, Settings, settings_from_args, verdict,
                    build_env, build_variant, fallbacks, prepare_source)
from llmcc.lab.jsonl import load_pipelines
from llmcc.lab.report import text_table
from llmcc.errors import LlmccError


def corrupt_cache(cache_dir: str) -> dict[str, int]:
    """Damage every stored decision and object of ``cache_dir`` in place, in turn: truncate one
    to zero bytes, overwrite the next with garbage, cut the next in half.

    Returns:
        How many entry files were damaged each way (``truncated``, ``garbage``, ``cut``).
    """
    done = Counter()
    files = _stored_files(cache_dir)
    for i, path in enumerate(files):
        with open(path, "r+b") as f:
            data = f.read()
            f.seek(0)
            if i % 3 == 0:
                f.truncate(0)
                done["truncated"] += 1
            elif i % 3 == 1:
                f.write(b"\x00\xffnot a cache entry{" * 3)
                f.truncate()
                done["garbage"] += 1
            else:
                f.truncate(len(data) // 2)
                done["cut"] += 1
    return dict(done)


def _stored_files(cache_dir: str) -> list[str]:
    """Every decision and stored object of ``cache_dir``."""
    return sorted(glob.glob(os.path.join(cache_dir, "entries", "*", "*.json"))
                  + glob.glob(os.path.join(cache_dir, "preprocessed", "*", "*.json"))
                  + glob.glob(os.path.join(cache_dir, "objects", "*", "*.obj")))


def damaged_entries(cache_dir: str) -> int:
    """Stored files of ``cache_dir`` that are still damaged (never looked up again)."""
    from llmcc.store.objects import decode
    n = 0
    for path in _stored_files(cache_dir):
        try:
            with open(path, "rb") as f:
                data = f.read()
            decode(data) if path.endswith(".obj") else json.loads(data)
        except Exception:  # noqa: BLE001 - any failure to parse is damage
            n += 1
    return n


def stress_project(recipe: Recipe, st: Settings, jobs: int, progress) -> dict:
    """Build ``recipe`` with llmcc twice at ``make -j<jobs>`` sharing one cache, damaging
    every cache entry in between (:func:`corrupt_cache`); run the tests after each.

    Returns:
        A JSON-ready dict: ``name``, ``jobs``, ``objects``, ``damaged`` (per kind),
        ``damaged_read`` (damaged entries the second build looked up: those
        it rewrote; an entry keyed by a file name that changes from run to
        run, such as a configure probe's, is never looked up again),
        ``corrupt_counted`` (the second build's ``corrupt cache entries``
        counter), ``differ`` (objects whose bytes changed between the builds),
        ``tests`` (per build), ``fallbacks`` and ``passed``; or ``error``.
    """
    pdir = os.path.join(st.work, recipe.name)
    os.makedirs(os.path.join(pdir, "logs"), exist_ok=True)
    out: dict = {"name": recipe.name, "jobs": jobs}
    try:
        src, _ = prepare_source(recipe, pdir, progress)
        cache_dir = os.path.join(pdir, "stress-cache")
        shutil.rmtree(cache_dir, ignore_errors=True)
        os.makedirs(cache_dir)
        env = build_env(recipe, st.llmcc, st.llmccxx, jobs, {"LLMCC_CACHE_DIR": cache_dir}
                        | ({"LLMCC_CANDIDATES": str(st.candidates)} if st.candidates is not None
                           else {}))
        first = build_variant(recipe, "stress1", src, pdir, env, True, st.timeout, progress)
        first_stats = dict(stats.read(cache_dir))
        out["damaged"] = corrupt_cache(cache_dir)
        stats.zero(cache_dir)
        second = build_variant(recipe, "stress2", src, pdir, env, True, st.timeout, progress)
    except (BenchError, OSError) as e:
        out["error"] = str(e)
        return out
    counters = dict(stats.read(cache_dir))
    damaged = sum(out["damaged"].values())
    out.update(
        objects=len(first.digests),
        damaged_read=damaged - damaged_entries(cache_dir),
        corrupt_counted=counters.get("corrupt cache entries", 0),
        differ=sorted(p for p in set(first.digests) | set(second.digests)
                      if first.digests.get(p) != second.digests.get(p)),
        tests=[first.test_passed, second.test_passed],
        fallbacks=[fallbacks(first_stats), fallbacks(counters)],
        wall_s=[first.wall_s, second.wall_s],
    )
    out["passed"] = (not out["differ"] and out["corrupt_counted"] >= out["damaged_read"]
                     and all(t is not False for t in out["tests"]))
    return out


def stress_lines(results: list[dict]) -> list[str]:
    """The stress table: one row per project."""
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["name"], str(r["jobs"]), "-", "-", "-", "-", "-", "FAILED: build"])
            continue
        rows.append([r["name"], str(r["jobs"]), str(r["objects"]),
                     f"{sum(r['damaged'].values())}/{r['damaged_read']}/{r['corrupt_counted']}",
                     str(len(r["differ"])), "/".join(verdict(t) for t in r["tests"]),
                     "/".join(str(f) for f in r["fallbacks"]),
                     "passed" if r["passed"] else "FAILED"])
    return text_table(["project", "make -j", "objects", "damaged/read/counted", "objects differ",
                   "tests 1st/2nd", "fallbacks", "result"], rows)


def pipelines_project(recipe: Recipe, st: Settings, pipelines: list[str], progress) -> dict:
    """PassListEval on a real test suite: build ``recipe`` once per pipeline with every
    TU compiled by that pipeline (``LLMCC_FORCE_PIPELINE``, whatever its size) and run
    the project's tests; the ``-Oz`` build's tests are the reference.

    Returns:
        A JSON-ready dict: ``name``, ``reference`` (the ``-Oz`` build's test
        verdict) and ``pipelines``: one dict per pipeline with ``pipeline``,
        ``forced`` (TUs compiled with it), ``fallbacks`` (TUs that fell back to
        plain clang: ``opt`` or codegen failed, or the allowlist refused it),
        ``tests`` (True/False) or ``error``; or ``error`` for the whole project.
    """
    pdir = os.path.join(st.work, recipe.name)
    os.makedirs(os.path.join(pdir, "logs"), exist_ok=True)
    out: dict = {"name": recipe.name, "pipelines": []}
    try:
        src, out["version"] = prepare_source(recipe, pdir, progress)
        ref = build_variant(recipe, "oz", src, pdir, build_env(recipe, st.clang, st.clangxx,
                                                               st.jobs), True, st.timeout,
                            progress)
        out["reference"] = ref.test_passed
    except (BenchError, OSError) as e:
        out["error"] = str(e)
        return out
    for i, pipeline in enumerate(pipelines, 1):
        cache_dir = os.path.join(pdir, "forced-cache")
        shutil.rmtree(cache_dir, ignore_errors=True)
        os.makedirs(cache_dir)
        env = build_env(recipe, st.llmcc, st.llmccxx, st.jobs,
                        {"LLMCC_CACHE_DIR": cache_dir, "LLMCC_FORCE_PIPELINE": pipeline})
        res: dict = {"pipeline": pipeline}
        try:
            b = build_variant(recipe, f"pipeline{i}", src, pdir, env, True, st.timeout, progress)
            c = stats.read(cache_dir)
            res.update(forced=c.get("forced pipeline", 0), fallbacks=fallbacks(c),
                       tests=b.test_passed)
        except (BenchError, OSError) as e:
            res["error"] = str(e)
        out["pipelines"].append(res)
    return out


def pipelines_lines(results: list[dict]) -> list[str]:
    """One row per (project, pipeline): TUs forced, fallbacks, test verdict."""
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["name"], "-", "-", "-", "FAILED: " + r["error"].splitlines()[0][:60]])
            continue
        rows.append([r["name"], "clang -Oz (reference)", "-", "-", verdict(r["reference"])])
        for i, p in enumerate(r["pipelines"], 1):
            if "error" in p:
                rows.append([r["name"], f"#{i}", "-", "-", "BUILD FAILED"])
            else:
                rows.append([r["name"], f"#{i}", str(p["forced"]), str(p["fallbacks"]),
                             verdict(p["tests"])])
    return text_table(["project", "pipeline", "TUs forced", "fallbacks", "tests"], rows)


def stress_main(ns: argparse.Namespace, names: list[str], recipes: dict[str, Recipe]) -> int:
    """``llmcc bench --stress``: print the stress table; 0 when every project passed."""
    try:
        st = settings_from_args(ns)
    except LlmccError as e:
        print(f"llmcc bench: error: {e}", file=sys.stderr)
        return 2
    jobs = ns.jobs or 2 * (os.cpu_count() or 1) + 1
    progress = Progress(len(names) * 7)
    results = []
    try:
        for name in names:
            results.append(stress_project(recipes[name], st, jobs, progress))
    finally:
        progress.close()
    print("\n".join(stress_lines(results)))
    print("\ndamaged/read/counted: cache entries damaged between the builds / of those, "
          "looked up by the second build / corrupt entries the second build counted; "
          "objects differ: objects whose bytes changed between the builds")
    if ns.json:
        with open(ns.json, "w", encoding="utf-8") as f:
            json.dump({"stress": results}, f, indent=1)
            f.write("\n")
    if any("error" in r for r in results):
        return 2
    return 0 if all(r["passed"] for r in results) else 1


def pipelines_main(ns: argparse.Namespace, names: list[str], recipes: dict[str, Recipe]) -> int:
    """``llmcc bench --force-pipelines JSON``: 0 when every pipeline built every
    project and passed its tests; 1 when one failed; 2 on setup errors."""
    try:
        st = settings_from_args(ns)
        pipelines = load_pipelines(ns.force_pipelines)
    except (LlmccError, OSError, ValueError, KeyError, TypeError) as e:
        print(f"llmcc bench: error: {e}", file=sys.stderr)
        return 2
    progress = Progress(len(names) * (4 + 3 * len(pipelines)))
    results = []
    try:
        for name in names:
            results.append(pipelines_project(recipes[name], st, pipelines, progress))
    finally:
        progress.close()
    print("\n".join(pipelines_lines(results)))
    print(f"\npipelines: #N is the N-th of {ns.force_pipelines}; TUs forced: compiled with "
          "the pipeline; fallbacks: compiled by plain clang because the pipeline failed")
    if ns.json:
        with open(ns.json, "w", encoding="utf-8") as f:
            json.dump({"pipelines": pipelines, "projects": results}, f, indent=1)
            f.write("\n")
    if any("error" in r for r in results):
        return 2
    bad = [p for r in results for p in r["pipelines"]
           if "error" in p or p["tests"] is False or p["fallbacks"]]
    return 1 if bad else 0
