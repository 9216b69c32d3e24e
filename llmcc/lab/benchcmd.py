"""``llmcc bench``: the command line of the bench (:mod:`llmcc.lab.bench`) and of
its checks (:mod:`llmcc.lab.bench_checks`: ``--stress``, ``--force-pipelines``).

This module alone prints the bench's results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib

from llmcc.errors import LlmccError
from llmcc.lab import bench_checks
from llmcc.lab.bench import (BenchError, Recipe, autotune_lines, load_recipes, phase_lines, plot,
                             project_lines, project_recipe, run, settings_from_args, step_lines,
                             summary_lines, exit_status, total_summary)


def _parser(recipes: dict[str, Recipe]) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="llmcc bench",
        description="Build real projects with clang -Oz and with llmcc (cold and warm cache), "
        "compare object sizes (.text+.data) and build times, and run the projects' tests.")
    ap.add_argument("recipes", nargs="*", metavar="RECIPE",
                    help=f"recipes to run (default: all): {', '.join(recipes)}")
    ap.add_argument("--work", default=None,
                    help="work directory for sources, build trees, caches and logs "
                    "(default: llmcc-bench in the user cache directory); sources are reused")
    ap.add_argument("--json", metavar="FILE", help="write every figure, per TU too, to FILE "
                    "(rewritten after each project)")
    ap.add_argument("--resume", action="store_true",
                    help="with --json: keep the projects FILE already holds from a run with "
                         "the same settings and build only the others")
    ap.add_argument("--report", metavar="FILE",
                    help="build nothing: print the tables of the --json report FILE of an "
                         "earlier run")
    ap.add_argument("--plot", metavar="FILE",
                    help="PNG plot of per-TU reductions and of size against compiles per TU "
                    "over k (default: WORK/llmcc-bench.png; needs matplotlib)")
    ap.add_argument("--autotune", type=_budgets, default=(), metavar="BUDGET[,BUDGET...]",
                    help="after the cold and warm builds, autotune each project at each "
                         "BUDGET compiles per TU (e.g. 50,100,200; each budget a search of "
                         "its own from the default build) and rebuild with the tuned "
                         "decisions (sizes, search CPU, rebuild time and tests in an extra "
                         "table)")
    ap.add_argument("--no-ccache", action="store_true",
                    help="skip the two builds through ccache (CC=\"ccache llmcc\")")
    ap.add_argument("--candidates", type=int, default=None, metavar="K",
                    help="pipelines tried besides -Oz (default: llmcc's configured k)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="parallel jobs per build (default: number of CPUs; with --stress "
                    "2 x CPUs + 1)")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="seconds allowed to each configure, build or test step (default: 3600)")
    ap.add_argument("--stress", action="store_true",
                    help="instead of comparing with -Oz: build each project with llmcc twice "
                    "at make -j(2 x CPUs + 1) sharing one cache, damage every cache entry in "
                    "between, and check that nothing fails, no object changes, the tests "
                    "pass and every damaged entry is counted")
    ap.add_argument("--force-pipelines", metavar="JSON",
                    help="instead of comparing with -Oz: build each project once per pipeline "
                    "of JSON (a coreset file) with every TU compiled by it, and run the "
                    "tests (PassListEval on real test suites)")
    ap.add_argument("--project", metavar="DIR",
                    help="bench a local project instead of recipes: its --configure, --build "
                    "and --test commands run in a copy of DIR; without --build, DIR's C/C++ "
                    "files are compiled one by one with the flags of DIR/compile_flags.txt")
    ap.add_argument("--configure", default="", metavar="CMD", help="with --project")
    ap.add_argument("--build", default="", metavar="CMD",
                    help='with --project, e.g. \'make -j"$JOBS"\' (CC, CXX, CFLAGS, CXXFLAGS, '
                    "JOBS are set; CFLAGS ends in -Oz)")
    ap.add_argument("--test", default="", metavar="CMD", help="with --project")
    ap.add_argument("--cflags", default="", metavar="FLAGS",
                    help="with --project: flags before -Oz in CFLAGS and CXXFLAGS")
    ap.add_argument("--recipes-file", default=None, metavar="FILE",
                    help="read recipes from FILE instead of llmcc's own recipes.toml")
    return ap


def _budgets(text: str) -> tuple[int, ...]:
    """``50,100,200`` -> (50, 100, 200): positive, ascending, no repeats."""
    try:
        values = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of budgets: {text!r}") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"budgets are compiles per TU, at least 1: {text!r}")
    return values


def main(argv: list[str]) -> int:
    """``llmcc bench [RECIPE ...] [--work DIR] [--json FILE] [--candidates K]``.

    Prints one table per project and a summary with a total row on stdout,
    progress on stderr. Returns the exit status (see :func:`exit_status`;
    2 also for usage and setup errors).
    """
    try:
        recipes = load_recipes(None)
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--recipes-file", default=None)
        known, _ = pre.parse_known_args(argv)
        if known.recipes_file:
            recipes = load_recipes(known.recipes_file)
    except (OSError, tomllib.TOMLDecodeError, LlmccError, TypeError) as e:
        print(f"llmcc bench: error: {e}", file=sys.stderr)
        return 2
    ap = _parser(recipes)
    ns = ap.parse_args(argv)
    if ns.report:
        return _print_report(ns.report)
    if ns.project:
        if ns.recipes:
            ap.error("give recipes or --project, not both")
        try:
            r = project_recipe(ns.project, ns.build, ns.configure, ns.test, ns.cflags)
        except BenchError as e:
            print(f"llmcc bench: error: {e}", file=sys.stderr)
            return 2
        recipes = {r.name: r}
    elif ns.build or ns.configure or ns.test or ns.cflags:
        ap.error("--configure, --build, --test and --cflags need --project")
    names = ns.recipes or list(recipes)
    unknown = [n for n in names if n not in recipes]
    if unknown:
        ap.error(f"unknown recipes: {', '.join(unknown)} (known: {', '.join(recipes)})")
    if ns.stress or ns.force_pipelines:
        main_fn = bench_checks.stress_main if ns.stress else bench_checks.pipelines_main
        return main_fn(ns, names, recipes)
    if ns.resume and not ns.json:
        ap.error("--resume needs --json FILE")
    try:
        st = settings_from_args(ns)
        done = _resumable(ns.json, st) if ns.resume else None
        report = run(names, recipes, st, done,
                     checkpoint=(lambda r: _write_json(ns.json, r)) if ns.json else None)
    except LlmccError as e:
        print(f"llmcc bench: error: {e}", file=sys.stderr)
        return 2
    _print_tables(report)
    plot_path = ns.plot or os.path.join(st.work, "llmcc-bench.png")
    try:
        plot(report, plot_path)
        print(f"plot: {plot_path}")
    except ImportError:
        print("plot: not written (matplotlib is missing: pip install 'llmcc[bench]')",
              file=sys.stderr)
    if ns.json:
        _write_json(ns.json, report)
    return exit_status(report["projects"])


def _print_tables(report: dict) -> None:
    """Print the tables of a bench ``report`` (the ``--json`` dictionary) on stdout."""
    print(f"llmcc {report['llmcc_version']} ({report['llmcc']}): ranker {report['ranker']}, "
          f"k={report['candidates']}; baseline {report['clang']} -Oz; {report['jobs']} jobs\n")
    projects = report["projects"]
    for p in projects:
        print("\n".join(project_lines(p)) + "\n")
    print("\n".join(summary_lines(projects, report.get("total") or total_summary(projects))))
    print()
    print("\n".join(step_lines(projects)))
    print()
    print("\n".join(phase_lines(projects)))
    if report.get("autotune"):
        print()
        print("\n".join(autotune_lines(projects, tuple(report["autotune"]))))
    print("\nbytes: .text+.data of every object file; reduction: how much smaller llmcc's "
          "objects are than clang -Oz's, in total and as the geometric mean over TUs; "
          "cold/warm/warm+ccache: configure+build wall time as a multiple of the -Oz "
          "build's (warm+ccache: CC=\"ccache llmcc\" with README's settings, ccache filled); "
          "by step: each step's wall time as a multiple of the -Oz build's same step")


def _print_report(path: str) -> int:
    """``--report FILE``: the tables of an earlier run's JSON report; the run's exit
    status (2 when FILE cannot be read)."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        _print_tables(report)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"llmcc bench: error: cannot read the report {path}: {e}", file=sys.stderr)
        return 2
    return exit_status(report["projects"])


def _write_json(path: str, report: dict) -> None:
    from llmcc.store import files
    files.atomic_write(path, json.dumps(report, indent=1) + "\n")


def _resumable(path: str, st) -> dict[str, dict]:
    """Projects of an earlier report at ``path`` that ``--resume`` keeps: measured
    without error, by the same llmcc, compilers, k, jobs and autotune budgets."""
    try:
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
    except (OSError, ValueError):
        return {}
    from llmcc import __version__
    from llmcc.lab.bench import llmcc_env, Recipe
    from llmcc import config as config_mod
    cfg = config_mod.load(llmcc_env(Recipe(name="", source="", build="x"), st, ""))
    same = (old.get("llmcc_version") == __version__ and old.get("clang") == st.clang
            and old.get("candidates") == cfg.candidates and old.get("ranker") == cfg.ranker
            and old.get("jobs") == st.jobs and old.get("autotune", []) == list(st.autotune))
    if not same:
        return {}
    return {p["name"]: p for p in old.get("projects", []) if "summary" in p and "error" not in p}

