"""``llmcc autotune``: tune a project's own build, from a recorded build to decisions.

The flow::

    llmcc autotune record -- make -j8         # build once, recording each TU's IR and flags
    llmcc autotune run --budget 200 --jobs 8  # search every recorded TU; stop and resume any time
    make clean && make                        # every TU compiles with its tuned pipeline
    llmcc cache export llmcc.pin              # hermetic builds read it (LLMCC_PINNED)

``run`` is the search of ``llmcc tune search`` (random lists and edits of the
coreset's lists, then minimization; docs/design.md, "The coreset and the
search"), spent by successive halving: every TU gets a fifth of the budget, the
half with the largest gains continue from their best list to the full budget.
Results stream to ``STATE/search.jsonl``; a rerun skips what is done. Each
winner is then verified — it passes the allowlist, compiles to the same bytes
twice and defines the same strong global symbols as ``-Oz`` — and written into
the decision cache under the key the driver looks up, with the provenance
``autotune budget=N seed=S``, only when it is smaller than what the cache holds.
A winner that fails a check is dropped (``STATE/decisions.jsonl`` says why).

The state directory defaults to ``.llmcc-autotune`` in the current directory
(the build tree): ``corpus/`` (the recorded IR), ``search.jsonl``,
``failures.jsonl``, ``decisions.jsonl``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from collections import defaultdict

from llmcc.lab import tune
from llmcc.lab.jsonl import read_jsonl

DEFAULT_STATE = ".llmcc-autotune"


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``90``, ``90s``, ``15m``, ``2h``, ``1d``.

    Raises:
        ValueError: anything else.
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    mult = units.get(t[-1:], None)
    value = float(t[:-1] if mult else t)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a duration: {text!r}")
    return value * (mult or 1)


def rungs_for(budget: int) -> list[int]:
    """Successive-halving rungs for a per-TU ``budget`` (compiles, the most any TU
    gets): a fifth of it for every TU, then the full budget for the best half."""
    first = max(4, budget // 5)
    return [first, budget] if budget > first else [budget]


def record(state: str, command: list[str]) -> int:
    """Run the user's build ``command`` with IR recording into ``STATE/corpus``.

    ``CC``/``CXX`` default to ``llmcc``/``llmcc++``; the build itself is a normal
    llmcc build. TUs already recorded are kept (recording is keyed by IR hash),
    so re-running after a change records only what is new. Returns its exit code.
    """
    corpus = os.path.abspath(os.path.join(state, "corpus"))
    os.makedirs(corpus, exist_ok=True)
    env = dict(os.environ, LLMCC_RECORD=corpus)
    env.setdefault("CC", "llmcc")
    env.setdefault("CXX", "llmcc++")
    return subprocess.run(command, env=env).returncode


def recorded_tus(state: str) -> tuple[list[tune.TU], dict[str, dict]]:
    """The recorded TUs (unique IR, probes left out) and ir_hash -> its record.

    Raises:
        FileNotFoundError: nothing recorded in ``state``.
    """
    corpus = os.path.join(state, "corpus")
    tus = tune.load_corpus(corpus, os.path.join(state, "no-packages.toml"), 1 << 62)
    records = {}
    for r in read_jsonl(os.path.join(corpus, "records.jsonl")):
        records.setdefault(r.get("ir_hash"), r)
    return tus, records


def search(state: str, tus: list[tune.TU], budget: int, seed: int, jobs: int,
           timeout: float, deadline: float | None, ray_address: str | None = None) -> bool:
    """Successive-halving search of ``tus`` into ``STATE/search.jsonl``.

    Returns:
        True when every rung is done, False when ``deadline`` (a ``time.time()``)
        stopped it first (rerun to resume).
    """
    seeds = tune.load_seeds(None)
    rungs = rungs_for(budget)
    while True:
        rung, todo = tune.successive_halving(tus, rungs, 0.5, state)
        if not todo:
            return True
        if deadline is not None and time.time() >= deadline:
            return False
        batch = todo[: max(jobs * 4, 1)] if deadline is not None else todo
        print(f"autotune: rung {rung + 1} of {len(rungs)} ({rungs[rung]} compiles per TU in "
              f"all): {len(todo)} TUs to go", file=sys.stderr)
        tune.stream_search([(t, extra, seed, seeds, inc, rung) for t, extra, inc in batch],
                           state, jobs, timeout, f"autotune rung {rung + 1}", ray_address)


def decide(state: str, cache_dir: str, budget: int, seed: int, timeout: float) -> list[dict]:
    """Verify each TU's best pipeline and write it into the decision cache.

    Returns the decision records (:func:`log_decisions` appends them to
    ``STATE/decisions.jsonl``):
    ``key``, ``pipeline``, ``size``, ``oz_size``, ``status`` (``written``,
    ``kept`` when the cache already holds a decision as small, or
    ``rejected: REASON``).
    """
    from llmcc.compile.driver import Candidate, compile_candidate, needs_more_ram
    from llmcc.errors import LlmccError
    from llmcc.llvm.objsize import strong_definitions
    from llmcc.llvm.passes import OZ, check_pipeline
    from llmcc.store import cache as cache_mod

    tus, records = recorded_tus(state)
    by_hash = {t.ir_hash: t for t in tus}
    done = {r["key"] for r in read_jsonl(os.path.join(state, "decisions.jsonl"))
            if r.get("source") == f"autotune budget={budget} seed={seed}"}
    store = cache_mod.Store(cache_dir)
    ev = tune.Evaluator(state, timeout)
    out = []
    for h, res in sorted(tune.search_results(state).items()):
        rec, tu = records.get(h), by_hash.get(h)
        if rec is None or tu is None or not rec.get("key") or rec["key"] in done:
            continue
        oz_size = rec.get("oz_size")
        if oz_size is None or res["best_size"] >= oz_size:
            continue
        d = {"key": rec["key"], "ir_hash": h, "source_file": rec.get("source", ""),
             "pipeline": res["best_pipeline"], "size": res["best_size"], "oz_size": oz_size,
             "source": f"autotune budget={budget} seed={seed}"}
        try:
            pipeline = check_pipeline(res["best_pipeline"])
            ev.select(tu)
            objs = []
            for i in range(2):
                cand = Candidate(pipeline, os.path.join(ev.work, f"verify{i}.o"))
                compile_candidate(ev.ctx, ev.comp, tu.ir_path, ev.ir_text, cand)
                objs.append(cand)
            base = compile_candidate(ev.ctx, ev.comp, tu.ir_path, ev.ir_text,
                                     Candidate(OZ, os.path.join(ev.work, "verify-oz.o")))
            with open(objs[0].obj, "rb") as a, open(objs[1].obj, "rb") as b:
                if a.read() != b.read():
                    raise ValueError("not reproducible")
            if strong_definitions(objs[0].obj) != strong_definitions(base.obj):
                raise ValueError("defines other global symbols than -Oz")
            if needs_more_ram(objs[0], base):
                raise ValueError("needs more .data + .bss than -Oz")
            d["size"] = objs[0].size
            if d["size"] >= oz_size:
                raise ValueError("not smaller than -Oz when compiled as the driver does")
            current = store.get(rec["key"], touch=False)
            if current is not None and current.size <= d["size"]:
                d["status"] = "kept"
            else:
                if current is not None:
                    d["previous"] = dataclasses.asdict(current)
                entry = cache_mod.Entry(pipeline, d["size"], oz_size, d["source"],
                                        ev.ctx.tc.identity)
                store.put(rec["key"], entry)
                d["entry"] = dataclasses.asdict(entry)
                d["pipeline"] = pipeline
                d["status"] = "written"
                d["pp_key"] = rec.get("pp_key", "")
                with open(objs[0].obj, "rb") as f:
                    d["stored"] = _stored_object(rec, entry, f.read())
                _store_shortcuts(cache_dir, d)
        except (ValueError, LlmccError, OSError) as e:
            d["status"] = f"rejected: {e}"
        out.append(d)
    if any(d["status"] == "written" and not d["pp_key"] for d in out):
        # A record without its preprocessed key (recorded by an older llmcc): the
        # rebuild shortcuts cannot be told apart, and all predate the tuned decisions.
        _forget_shortcuts(cache_dir, "")
    return out


def _stored_object(rec: dict, entry, obj: bytes):
    """The object-store record of a tuned winner ``obj`` (its bytes, as verified)
    for the recorded TU ``rec``: what its compile printed, and the sizes and
    source of the tuned decision ``entry``."""
    import base64
    from llmcc.store import objects
    printed = [base64.b64decode(rec.get(k, "")) for k in ("stdout", "stderr")]
    return objects.StoredObject(obj, printed[0], printed[1], entry.size, entry.oz_size,
                                entry.source)


def _store_shortcuts(cache_dir: str, d: dict) -> None:
    """Make the next build of a tuned TU install its tuned object straight from the
    object store, as a warm build does: ``d["stored"]`` under the record's
    preprocessed-source key ``d["pp_key"]``, with the tuned decision for the same
    key. Nothing is stored without that key.

    Raises:
        OSError: the cache is not writable.
    """
    from llmcc.store import cache as cache_mod
    from llmcc.store.objects import ObjectStore
    if d.get("pp_key") and d.get("stored") is not None:
        ObjectStore(cache_dir).put(d["pp_key"], d["stored"])
        cache_mod.Store(cache_dir, kind="preprocessed").put(
            d["pp_key"], cache_mod.Entry(**d["entry"]))


def _forget_shortcuts(cache_dir: str, pp_key: str) -> None:
    """Remove the object and preprocessed-source decision stored under ``pp_key``
    (all of them when it is empty: a record of an older llmcc).

    Raises:
        OSError: an entry exists but cannot be removed.
    """
    from llmcc.store import cache as cache_mod
    from llmcc.store.objects import ObjectStore
    for store in (cache_mod.Store(cache_dir, kind="preprocessed"), ObjectStore(cache_dir)):
        if pp_key:
            store.remove(pp_key)
        else:
            store.clear()


def log_decisions(state: str, decisions: list[dict]) -> None:
    """Append ``decisions`` to ``STATE/decisions.jsonl`` (later lines win)."""
    with open(os.path.join(state, "decisions.jsonl"), "a", encoding="utf-8") as f:
        for d in decisions:
            kept = {k: v for k, v in d.items() if k not in ("previous", "entry", "stored")}
            f.write(json.dumps(kept, sort_keys=True) + "\n")


def _apply(cache_dir: str, decisions: list[dict], tuned: set[str]) -> None:
    """Make the cache hold each written decision's tuned entry if its pipeline is in
    ``tuned``, else the entry it replaced (or none), whose rebuild shortcuts (the
    stored object and preprocessed-source decision) are removed with it."""
    from llmcc.store import cache as cache_mod
    store = cache_mod.Store(cache_dir)
    for d in decisions:
        if d["status"] != "written":
            continue
        if d["pipeline"] in tuned:
            store.put(d["key"], cache_mod.Entry(**d["entry"]))
            try:  # a build with it rolled back may have stored another object
                _store_shortcuts(cache_dir, d)
            except OSError:
                pass
            continue
        if d.get("previous"):
            store.put(d["key"], cache_mod.Entry(**d["previous"]))
        else:
            try:
                store.remove(d["key"])
            except OSError:
                pass
        try:
            _forget_shortcuts(cache_dir, d.get("pp_key", ""))
        except OSError:
            pass


def drop_pipelines(cache_dir: str, decisions: list[dict], rejected: dict[str, str],
                   check: str) -> int:
    """Roll back every written decision whose pipeline is in ``rejected``
    (pipeline -> reason), whatever TU it is for; its status names ``check`` and
    the reason. Returns how many were rolled back."""
    bad = [d for d in decisions if d["status"] == "written" and d["pipeline"] in rejected]
    if bad:
        keep = {d["pipeline"] for d in decisions
                if d["status"] == "written" and d["pipeline"] not in rejected}
        _apply(cache_dir, decisions, keep)
        for d in bad:
            d["status"] = f"rolled back: {check}: {rejected[d['pipeline']]}"
    return len(bad)


def verify_with_csmith(state: str, cache_dir: str, decisions: list[dict], programs: int,
                       jobs: int) -> tuple[int, int]:
    """Run the distinct written pipelines through ``llmcc difftest`` on ``programs``
    Csmith programs (seeds 1..N, results in ``STATE/difftest``, resumable) and
    roll back the decisions of every pipeline it rejects.

    Returns:
        (pipelines tested, pipelines rejected).

    Raises:
        DifftestError: csmith or the toolchain is missing.
    """
    from types import SimpleNamespace
    from llmcc.lab import difftest
    pipelines = sorted({d["pipeline"] for d in decisions if d["status"] == "written"})
    if not pipelines:
        return 0, 0
    out = os.path.join(state, "difftest")
    os.makedirs(out, exist_ok=True)
    listing = os.path.join(out, "pipelines.json")
    with open(listing, "w", encoding="utf-8") as f:
        json.dump(pipelines, f, indent=1)
    setup = difftest.make_setup(SimpleNamespace(pipelines=listing, out=out, timeout=5.0,
                                                cflags=""))
    summary = difftest.run_campaign(setup, list(range(1, programs + 1)), jobs)
    rejected = {p: why for p, why in summary["rejected"].items() if p in pipelines}
    drop_pipelines(cache_dir, decisions, rejected, "csmith difftest")
    return len(pipelines), len(rejected)


#: Most test-suite runs one ``--verify-tests`` spends looking for failing pipelines.
MAX_TEST_RUNS = 16


def verify_with_tests(command: str, cache_dir: str, decisions: list[dict],
                      max_runs: int = MAX_TEST_RUNS) -> bool:
    """Rebuild and test the project with the tuned decisions (``command``, run by
    ``bash -c`` in the current directory with ``CC=llmcc``).

    When the tests fail, the tuned pipelines are bisected: the suite runs with
    half of them (the other decisions rolled back to the cache's previous
    ones), and so on, until the pipelines that make it fail are found; every
    decision using one is rolled back, whatever TU it is for, and the rest are
    kept once the suite passes with them. When ``max_runs`` runs do not
    settle it, or the rest still fails, every decision of this run is rolled
    back. Each decision's ``status`` says which happened. Returns whether the
    tests passed with the decisions kept.
    """
    env = dict(os.environ, LLMCC_CACHE_DIR=cache_dir)
    env.setdefault("CC", "llmcc")
    env.setdefault("CXX", "llmcc++")
    runs = 0

    def passes(tuned: set[str]) -> bool:
        nonlocal runs
        runs += 1
        _apply(cache_dir, decisions, tuned)
        return subprocess.run(["bash", "-c", command], env=env).returncode == 0

    written = sorted({d["pipeline"] for d in decisions if d["status"] == "written"})
    if passes(set(written)):
        return True

    def culprits(suspects: list[str], trusted: set[str]) -> list[str] | None:
        """The pipelines of ``suspects`` that fail the suite (given that ``suspects``
        together with ``trusted`` fail it); None when the run budget is spent."""
        if len(suspects) == 1:
            return suspects
        if runs >= max_runs:
            return None
        half, rest = suspects[: len(suspects) // 2], suspects[len(suspects) // 2:]
        if passes(trusted | set(half)):  # all failing ones are in the other half
            return culprits(rest, trusted | set(half))
        found = culprits(half, trusted)
        if found is None or runs >= max_runs:
            return None
        if passes(trusted | set(rest)):
            return found
        more = culprits(rest, trusted)
        return None if more is None else found + more

    bad = culprits(written, set())
    good = set(written) - set(bad or written)
    if bad is not None and good and not passes(good):
        bad, good = None, set()
    _apply(cache_dir, decisions, good)
    for d in decisions:
        if d["status"] != "written" or d["pipeline"] in good:
            continue
        d["status"] = ("rolled back: --verify-tests failed with this pipeline" if bad
                       else "rolled back: --verify-tests failed")
    return bool(good)


def report(state: str) -> dict:
    """Per directory and in total: TUs, bytes under -Oz, under the recorded
    (default) build and after tuning, compiles and CPU seconds of the search."""
    _, records = recorded_tus(state)
    results = tune.search_results(state)
    tuned = {}
    for d in read_jsonl(os.path.join(state, "decisions.jsonl")):
        if d.get("status") in ("written", "kept"):
            tuned[d["ir_hash"]] = min(d["size"], tuned.get(d["ir_hash"], d["size"]))
    rows: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    for h, rec in records.items():
        if rec.get("oz_size") is None:
            continue
        default = rec.get("size") or rec["oz_size"]
        res = results.get(h, {})
        for key in (os.path.dirname(rec.get("source", "")) or ".", "total"):
            row = rows[key]
            row["tus"] += 1
            row["oz"] += rec["oz_size"]
            row["default"] += default
            row["tuned"] += min(default, tuned.get(h, default))
            row["compiles"] += res.get("compiles", 0)
            row["cpu_s"] += res.get("seconds", 0.0)
    out = {}
    for key, row in rows.items():
        oz = row["oz"] or 1
        out[key] = {"tus": int(row["tus"]), "bytes_oz": int(row["oz"]),
                    "bytes_default": int(row["default"]), "bytes_tuned": int(row["tuned"]),
                    "default_reduction_pct": 100 * (oz - row["default"]) / oz,
                    "tuned_reduction_pct": 100 * (oz - row["tuned"]) / oz,
                    "compiles": int(row["compiles"]), "cpu_s": round(row["cpu_s"], 1)}
    return out


def main(argv: list[str]) -> int:
    """Entry point of ``llmcc autotune``."""
    p = argparse.ArgumentParser(prog="llmcc autotune", description=__doc__.split("\n\n")[0])
    p.add_argument("--state", default=DEFAULT_STATE,
                   help=f"state directory (default: ./{DEFAULT_STATE})")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="run the build with IR recording")
    r.add_argument("command", nargs=argparse.REMAINDER, help="the build command, after --")
    run = sub.add_parser("run", help="search every recorded TU, then write the decisions")
    run.add_argument("--budget", type=int, default=100,
                     help="compiles per TU for the TUs searched longest (default 100)")
    run.add_argument("--time", default=None, help="stop after this long (e.g. 2h); resumable")
    run.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--ray", default=None, metavar="ADDRESS",
                     help="search on the Ray cluster at ADDRESS (HOST:PORT or 'auto')")
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per opt/codegen")
    run.add_argument("--verify-tests", default=None, metavar="COMMAND",
                     help="rebuild and test with the tuned decisions (e.g. 'make clean && "
                          "make && make check'); on failure this run's decisions are rolled "
                          "back")
    run.add_argument("--verify-csmith", type=int, default=0, metavar="N",
                     help="run every tuned pipeline through llmcc difftest on N csmith "
                          "programs first; decisions of rejected pipelines are rolled back")
    run.add_argument("--cache-dir", default=None,
                     help="decision cache to write (default: llmcc's, as the build uses)")
    rep = sub.add_parser("report", help="sizes before and after tuning")
    rep.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    if ns.cmd == "record":
        cmd = ns.command[1:] if ns.command[:1] == ["--"] else ns.command
        if not cmd:
            p.error("give the build command after --")
        return record(ns.state, cmd)
    if ns.cmd == "run":
        if ns.budget < 1:
            p.error("--budget must be at least 1")
        try:
            deadline = time.time() + parse_duration(ns.time) if ns.time else None
        except ValueError as e:
            p.error(str(e))
        from llmcc import config as config_mod
        cache_dir = ns.cache_dir or config_mod.load(dict(os.environ)).cache_dir
        tus, _ = recorded_tus(ns.state)
        finished = search(ns.state, tus, ns.budget, ns.seed, ns.jobs, ns.timeout, deadline,
                          ns.ray)
        decisions = decide(ns.state, cache_dir, ns.budget, ns.seed, ns.timeout)
        csmith = None
        if ns.verify_csmith and any(d["status"] == "written" for d in decisions):
            from llmcc.lab.difftest import DifftestError
            try:
                csmith = verify_with_csmith(ns.state, cache_dir, decisions, ns.verify_csmith,
                                            ns.jobs)
            except DifftestError as e:
                print(f"llmcc autotune: --verify-csmith: {e}", file=sys.stderr)
                return 2
        tests = None
        if ns.verify_tests and any(d["status"] == "written" for d in decisions):
            tests = verify_with_tests(ns.verify_tests, cache_dir, decisions)
        log_decisions(ns.state, decisions)
        written = sum(d["status"] == "written" for d in decisions)
        rejected = sum(d["status"].startswith("rejected") for d in decisions)
        culprits = sorted({d["pipeline"] for d in decisions
                           if d["status"].endswith("failed with this pipeline")})
        rolled = sum(d["status"].endswith("failed with this pipeline") for d in decisions)
        print(f"autotune: {len(tus)} TUs, {written} tuned decisions written to {cache_dir}, "
              f"{rejected} rejected by verification"
              + ("" if finished else "; stopped by --time, rerun to resume")
              + ("" if tests is None else "; --verify-tests " + (
                  "FAILED: this run's decisions were rolled back" if not tests else
                  f"passed after rolling back the {rolled} decisions of {len(culprits)} "
                  "pipeline(s) that failed it" if culprits else "passed")))
        if csmith is not None:
            print(f"autotune: --verify-csmith: {csmith[0]} tuned pipelines x "
                  f"{ns.verify_csmith} csmith programs, {csmith[1]} rejected "
                  f"(details: {os.path.join(ns.state, 'difftest')})")
        elif not ns.verify_csmith:
            print("autotune: tuned pipelines not run through csmith (--verify-csmith N)")
        for p_ in culprits:
            print(f"autotune: --verify-tests fails with {p_}; dropped everywhere")
        return 0
    rows = report(ns.state)
    if ns.json:
        print(json.dumps(rows, indent=1, sort_keys=True))
        return 0
    from llmcc.lab.report import text_table
    order = sorted(k for k in rows if k != "total") + ["total"]
    print("\n".join(text_table(
        ["directory", "TUs", "-Oz bytes", "default bytes", "tuned bytes", "default red.",
         "tuned red.", "compiles", "CPU s"],
        [[k, str(rows[k]["tus"]), f"{rows[k]['bytes_oz']:,}", f"{rows[k]['bytes_default']:,}",
          f"{rows[k]['bytes_tuned']:,}", f"{rows[k]['default_reduction_pct']:.2f}%",
          f"{rows[k]['tuned_reduction_pct']:.2f}%", str(rows[k]["compiles"]),
          str(rows[k]["cpu_s"])] for k in order if k in rows])))
    return 0
