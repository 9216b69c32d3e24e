"""``llmcc bench``: object sizes, build times and test results on real projects.

For each recipe of ``llmcc/data/recipes.toml`` (a Debian source package and
its own configure, build and test commands) the bench:

1. fetches the source once with ``apt-get source`` into the work directory and
   installs the recipe's missing build dependencies (``apt-get install``);
2. builds a fresh copy of the tree three times, always at the same path so
   that the three builds compile identical command lines:

   * ``-Oz``: ``CC`` is the real clang llmcc wraps, ``CFLAGS="<cflags> -Oz"``;
   * ``cold``: ``CC=llmcc``, same ``CFLAGS``, an empty dedicated cache;
   * ``warm``: ``CC=llmcc`` again, same cache, statistics zeroed first;

   timing each (configure + build) in wall-clock seconds
   (:func:`time.perf_counter`) and in CPU seconds of all child processes
   (``getrusage(RUSAGE_CHILDREN)`` user + system deltas);
3. runs the project's test suite on the ``-Oz`` and ``cold`` builds;
4. measures every object file (``.text + .data``, :func:`llmcc.llvm.objsize.object_size`),
   matches translation units between builds by path relative to the tree, and
   counts TUs improved, equal and regressed against ``clang -Oz``.

The source tree is unpacked once and reused by later runs; build trees and
logs are kept under ``WORK/<recipe>/`` for inspection. Commands run as argv
lists; only the recipe snippets (the project's own build commands) go
through ``bash -c``. Functions here return data; :func:`main` alone prints.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from importlib import resources

from llmcc import __version__
from llmcc import config as config_mod
from llmcc.store import stats
from llmcc.errors import LlmccError
from llmcc.llvm.objsize import ObjectFormatError, object_size
from llmcc.compile import process
from llmcc.lab import debian
from llmcc.lab.metrics import geomean_reduction
from llmcc.lab.report import pct, text_table

#: Variants built for every recipe, in this order.
VARIANTS = ("oz", "cold", "warm")
#: With ccache installed: a build through ``ccache llmcc`` that fills ccache, then
#: the measured one (README, "With ccache": identity string, compiler type clang).
CCACHE_VARIANTS = ("ccache-fill", "ccache")

#: Lines of a failed step's log shown in the error.
LOG_TAIL_LINES = 30

#: Environment variables removed from llmcc builds: they would change what is
#: measured (disable, readonly, record) or add output a configure script may
#: take for a compiler error (debug).
LLMCC_ENV_DROPPED = ("LLMCC_DISABLE", "LLMCC_READONLY", "LLMCC_RECORD", "LLMCC_DEBUG")


class BenchError(LlmccError, RuntimeError):
    """A recipe could not be fetched, built or measured."""


# ------------------------------------------------------------------ recipes


@dataclass(frozen=True)
class Recipe:
    """How to build and test one project (see ``llmcc/data/recipes.toml``).

    Attributes:
        name: the recipe's table name.
        source: Debian source package name for ``apt-get source``.
        build_deps: binary packages needed to build.
        configure, build, test: shell snippets run in the tree ("" = none).
        cflags: the project's usual flags without ``-O``; ``-Oz`` is appended.
        objects: file-name patterns of object files to measure.
        version: optional Debian version to fetch (``source=version``).
        path: a local source tree to build instead of a Debian package
            (``--project``); it is copied, never built in place.
    """

    name: str
    source: str
    build_deps: tuple[str, ...] = ()
    configure: str = ""
    build: str = ""
    test: str = ""
    cflags: str = ""
    objects: tuple[str, ...] = ("*.o",)
    version: str = ""
    path: str = ""


#: Build command of a ``--project`` directory of standalone sources without a
#: ``--build``: every C and C++ file is compiled to an object beside it, with the
#: flags of the directory's ``compile_flags.txt`` (clang tooling's convention,
#: one flag per line) and then CFLAGS/CXXFLAGS.
STANDALONE_BUILD = r"""
set -e
flags=""
[ -f compile_flags.txt ] && flags=$(grep -v '^[[:space:]]*$' compile_flags.txt | tr '\n' ' ')
find . -name '*.c' -print0 | xargs -0 -r -n1 -P "$JOBS" sh -c \
  'exec $CC '"$flags"' $CFLAGS -c "$1" -o "${1%.c}.o"' sh
find . \( -name '*.cc' -o -name '*.cpp' -o -name '*.cxx' \) -print0 | \
  xargs -0 -r -n1 -P "$JOBS" sh -c 'exec $CXX '"$flags"' $CXXFLAGS -c "$1" -o "${1%.*}.o"' sh
"""


def project_recipe(path: str, build: str = "", configure: str = "", test: str = "",
                   cflags: str = "", objects: tuple[str, ...] = ("*.o",)) -> Recipe:
    """A recipe for a local project directory (``llmcc bench --project DIR``).

    Without ``build`` the directory is taken as standalone C/C++ files, compiled
    one by one with :data:`STANDALONE_BUILD`.

    Raises:
        BenchError: ``path`` is not a directory.
    """
    if not os.path.isdir(path):
        raise BenchError(f"--project {path}: not a directory")
    path = os.path.abspath(path)
    return Recipe(name=os.path.basename(path.rstrip(os.sep)) or "project", source=path,
                  configure=configure, build=build or STANDALONE_BUILD, test=test,
                  cflags=cflags, objects=objects, path=path)


def load_recipes(path: str | None = None) -> dict[str, Recipe]:
    """Recipes by name, in file order, from ``path`` or the packaged file.

    Raises:
        BenchError: a table lacks ``build`` or has an unknown key.
    """
    if path is None:
        text = resources.files("llmcc").joinpath("data/recipes.toml").read_bytes()
        data = tomllib.loads(text.decode())
    else:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    known = set(Recipe.__dataclass_fields__) - {"name"}
    out = {}
    for name, table in data.items():
        unknown = set(table) - known
        if unknown:
            raise BenchError(f"recipe {name}: unknown keys {sorted(unknown)}")
        if not table.get("build"):
            raise BenchError(f"recipe {name}: no build command")
        kw = dict(table)
        kw.setdefault("source", name)
        for key in ("build_deps", "objects"):
            if key in kw:
                kw[key] = tuple(kw[key])
        if kw.get("path") and path is not None:  # relative to the recipes file
            kw["path"] = os.path.join(os.path.dirname(os.path.abspath(path)), kw["path"])
        out[name] = Recipe(name=name, **kw)
    return out


# --------------------------------------------------------------- fetching


def _run_logged(argv: list[str], cwd: str, env: dict[str, str] | None, logf,
                timeout: float | None = None) -> int:
    """Run ``argv`` in ``cwd`` with output appended to ``logf``; return the exit code
    (124 on timeout; :func:`llmcc.compile.process.run_logged`)."""
    return process.run_logged(argv, logf, cwd=cwd, env=env, timeout=timeout)


def _runner(logf) -> debian.Runner:
    """:func:`_run_logged` into ``logf``, as :mod:`llmcc.lab.debian` runs its commands."""
    return lambda argv, cwd, env, timeout: _run_logged(argv, cwd, env, logf, timeout)


def _bench_error(e: debian.DebianError, logf) -> BenchError:
    """``e`` as a :class:`BenchError`, pointing at ``logf`` when the details are there."""
    if isinstance(e, debian.CommandFailed):
        return BenchError(f"{e} (see {logf.name})")
    return BenchError(str(e))


def fetch_source(recipe: Recipe, pdir: str, logf) -> tuple[str, str]:
    """Download (once) and unpack (once) the recipe's Debian source package
    (:func:`llmcc.lab.debian.fetch_source`, :func:`llmcc.lab.debian.unpack_source`).

    The ``.dsc`` and tarballs go to ``pdir/dl``; the tree, with Debian's
    patches applied, to ``pdir/src``. Both are reused when present; deb-src
    entries are added to apt's sources when a download needs them (root).

    Returns:
        ``(source_tree, debian_version)``.

    Raises:
        BenchError: ``apt-get source`` or ``dpkg-source -x`` failed.
    """
    if recipe.path:
        return recipe.path, "local"
    dl, src = os.path.join(pdir, "dl"), os.path.join(pdir, "src")
    run = _runner(logf)
    try:
        pkg = debian.fetch_source(recipe.source, dl, run, lambda msg: logf.write(msg + "\n"),
                                  recipe.version)
        if not os.path.isdir(src):
            debian.unpack_source(pkg, src, run)
    except debian.DebianError as e:
        raise _bench_error(e, logf) from e
    return src, pkg.version


def prepare_source(recipe: Recipe, pdir: str, progress) -> tuple[str, str]:
    """Fetch and unpack the recipe's source (:func:`fetch_source`) and install its
    missing build dependencies, logging to ``pdir/logs/fetch.log``.

    Returns:
        ``(source_tree, version)``.

    Raises:
        BenchError: fetching, unpacking or installing failed.
    """
    progress(f"{recipe.name}: fetch")
    os.makedirs(os.path.join(pdir, "logs"), exist_ok=True)
    with open(os.path.join(pdir, "logs", "fetch.log"), "w", encoding="utf-8") as logf:
        src, version = fetch_source(recipe, pdir, logf)
        missing = debian.missing_packages(recipe.build_deps)
        if missing:
            progress(f"{recipe.name}: apt-get install {' '.join(missing)}")
            try:
                debian.install_packages(missing, _runner(logf))
            except debian.DebianError as e:
                raise _bench_error(e, logf) from e
    return src, version


# ---------------------------------------------------------------- building


@dataclass
class Build:
    """One build of a project and what was measured on it.

    Attributes:
        variant: ``"oz"``, ``"cold"`` or ``"warm"``.
        configure_s, build_s: wall-clock seconds of each step.
        cpu_s: user + system CPU seconds of all processes of both steps.
        test_passed: the test suite's verdict, ``None`` when not run.
        test_s: wall-clock seconds of the test suite.
        objects: object path relative to the tree -> ``.text + .data`` bytes.
        digests: object path -> hex digest of its bytes (reproducibility check).
        stats: llmcc's counters after the build (llmcc builds only).
    """

    variant: str
    configure_s: float = 0.0
    build_s: float = 0.0
    cpu_s: float = 0.0
    test_passed: bool | None = None
    test_s: float = 0.0
    objects: dict[str, int] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def wall_s(self) -> float:
        """Wall-clock seconds of configure + build."""
        return self.configure_s + self.build_s


def _children_cpu() -> float:
    """User + system CPU seconds of all waited-for child processes so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_snippet(snippet: str, cwd: str, env: dict[str, str], logf,
                timeout: float | None = None) -> tuple[int, float, float]:
    """Run a recipe snippet with ``bash -c`` in ``cwd``.

    Returns:
        ``(exit_code, wall_seconds, cpu_seconds)``; an empty snippet is ``(0, 0, 0)``.
    """
    if not snippet.strip():
        return 0, 0.0, 0.0
    cpu0, t0 = _children_cpu(), time.perf_counter()
    rc = _run_logged(["bash", "-c", snippet], cwd, env, logf, timeout)
    return rc, time.perf_counter() - t0, _children_cpu() - cpu0


def build_env(recipe: Recipe, cc: str, cxx: str, jobs: int,
              extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a recipe's snippets: CC, CXX, CFLAGS/CXXFLAGS (``-Oz`` appended), JOBS."""
    flags = f"{recipe.cflags} -Oz".strip()
    env = {k: v for k, v in os.environ.items() if k not in LLMCC_ENV_DROPPED}
    env.update(CC=cc, CXX=cxx, CFLAGS=flags, CXXFLAGS=flags, JOBS=str(jobs), LC_ALL="C")
    env.update(extra or {})
    return env


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def build_variant(recipe: Recipe, variant: str, src: str, pdir: str, env: dict[str, str],
                  run_tests: bool, timeout: float, progress) -> Build:
    """Copy ``src`` to ``pdir/build``, configure, build, optionally test, measure.

    The finished tree is moved to ``pdir/<variant>`` (replacing an older one),
    so every variant is built at the same path. Logs go to ``pdir/logs``.

    Raises:
        BenchError: configure or build failed or timed out (the log's tail is in the message).
    """
    build_dir = os.path.join(pdir, "build")
    logpath = os.path.join(pdir, "logs", f"{variant}.log")
    os.makedirs(os.path.dirname(logpath), exist_ok=True)
    shutil.rmtree(build_dir, ignore_errors=True)
    shutil.copytree(src, build_dir, symlinks=True)
    result = Build(variant)
    with open(logpath, "w", encoding="utf-8") as logf:
        for step in ("configure", "build"):
            progress(f"{recipe.name}: {variant} {step}")
            logf.write(f"\n### {step}\n")
            rc, wall, cpu = run_snippet(getattr(recipe, step), build_dir, env, logf, timeout)
            setattr(result, f"{step}_s", wall)
            result.cpu_s += cpu
            if rc != 0:
                logf.flush()
                raise BenchError(f"{recipe.name}: {variant} {step} failed with exit code {rc} "
                                 f"(log: {logpath})\n{_tail(logpath)}")
        if run_tests and recipe.test.strip():
            progress(f"{recipe.name}: {variant} test")
            logf.write("\n### test\n")
            rc, result.test_s, _ = run_snippet(recipe.test, build_dir, env, logf, timeout)
            result.test_passed = rc == 0
    result.objects, result.digests = collect_objects(build_dir, recipe.objects)
    dest = os.path.join(pdir, variant)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(build_dir, dest)
    return result


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def collect_objects(tree: str, patterns: tuple[str, ...]) -> tuple[dict[str, int], dict[str, str]]:
    """Every ELF object under ``tree`` whose name matches one of ``patterns``.

    Non-ELF files with a matching name (libtool's text ``.lo`` files, bitcode)
    are skipped; objects inside ``.a`` archives are not opened.

    Returns:
        ``(sizes, digests)``: path relative to ``tree`` -> ``.text + .data``
        bytes, and -> xxh3-128 hex digest of the file's bytes.
    """
    import xxhash
    sizes, digests = {}, {}
    for root, _dirs, files in os.walk(tree):
        for name in files:
            if not any(fnmatch(name, p) for p in patterns):
                continue
            path = os.path.join(root, name)
            if os.path.islink(path) or not _is_elf(path):
                continue
            rel = os.path.relpath(path, tree)
            try:
                sizes[rel] = object_size(path).total
            except ObjectFormatError:
                continue
            with open(path, "rb") as f:
                digests[rel] = xxhash.xxh3_128_hexdigest(f.read())
    return dict(sorted(sizes.items())), digests


# -------------------------------------------------------------- comparing


@dataclass(frozen=True)
class TU:
    """One translation unit's object in the three builds, sizes in bytes."""

    path: str
    oz: int
    llmcc: int
    warm: int | None

    @property
    def verdict(self) -> str:
        """``"improved"``, ``"equal"`` or ``"regressed"`` (cold llmcc against ``-Oz``)."""
        if self.llmcc < self.oz:
            return "improved"
        return "equal" if self.llmcc == self.oz else "regressed"


def compare(oz: Build, cold: Build, warm: Build | None) -> tuple[list[TU], list[str]]:
    """Match objects by relative path.

    Returns:
        ``(tus, unmatched)``: the TUs present in both the ``-Oz`` and the cold
        build, and the paths present in only one of them.
    """
    common = sorted(set(oz.objects) & set(cold.objects))
    unmatched = sorted(set(oz.objects) ^ set(cold.objects))
    tus = [TU(p, oz.objects[p], cold.objects[p],
              warm.objects.get(p) if warm else None) for p in common]
    return tus, unmatched


def size_ratios(tus: list[TU]) -> list[float]:
    """``llmcc / -Oz`` of every TU with non-zero sizes (for
    :func:`llmcc.lab.metrics.geomean_reduction`)."""
    return [t.llmcc / t.oz for t in tus if t.oz > 0 and t.llmcc > 0]


def hit_rate(counters: dict[str, int]) -> float | None:
    """Cache hits / (hits + misses) from llmcc's counters; ``None`` with no lookups."""
    hits, misses = counters.get("cache hits", 0), counters.get("cache misses", 0)
    return hits / (hits + misses) if hits + misses else None


def fallbacks(counters: dict[str, int]) -> int:
    """Number of calls that fell back to plain clang (``fallback: *`` counters)."""
    return sum(v for k, v in counters.items() if k.startswith("fallback: "))


def tradeoff(counters: dict[str, int]) -> list[dict]:
    """Size against compile count over k from a cold build's counters.

    The driver adds, for every search, the bytes it would have kept had it tried
    only the ranker's first j pipelines (``bytes with k=j``, j = 0..k; j = 0 is
    ``-Oz`` alone). Returns one point per j: ``k``, ``compiles_per_tu`` (j + 1),
    ``bytes`` and ``reduction_pct`` against j = 0; empty without searches.
    """
    points = {}
    for key, v in counters.items():
        if key.startswith("bytes with k="):
            try:
                points[int(key[len("bytes with k="):])] = v
            except ValueError:
                continue
    base = points.get(0)
    if not base:
        return []
    return [{"k": j, "compiles_per_tu": j + 1, "bytes": points[j],
             "reduction_pct": 100.0 * (base - points[j]) / base} for j in sorted(points)]


def summarize(tus: list[TU], builds: dict[str, Build]) -> dict:
    """The figures of one project's table (sizes in bytes, times in seconds)."""
    oz, cold, warm = builds["oz"], builds["cold"], builds.get("warm")
    total_oz = sum(t.oz for t in tus)
    total_llmcc = sum(t.llmcc for t in tus)
    verdicts = [t.verdict for t in tus]
    s = {
        "tus": len(tus),
        "bytes_oz": total_oz,
        "bytes_llmcc": total_llmcc,
        "reduction_total_pct": 100.0 * (total_oz - total_llmcc) / total_oz if total_oz else 0.0,
        "reduction_geomean_pct": geomean_reduction(size_ratios(tus)),
        "improved": verdicts.count("improved"),
        "equal": verdicts.count("equal"),
        "regressed": verdicts.count("regressed"),
        "wall_s": {v: b.wall_s for v, b in builds.items()},
        "cpu_s": {v: b.cpu_s for v, b in builds.items()},
        "cold_wall_ratio": cold.wall_s / oz.wall_s if oz.wall_s else None,
        "cold_cpu_ratio": cold.cpu_s / oz.cpu_s if oz.cpu_s else None,
        "tests_oz": oz.test_passed,
        "tests_llmcc": cold.test_passed,
        "cold_hit_rate": hit_rate(cold.stats),
        "cold_fallbacks": fallbacks(cold.stats),
        "tradeoff": tradeoff(cold.stats),
    }
    s["phases"] = {v: phase_seconds(b.stats) for v, b in builds.items() if v in ("cold", "warm")}
    s["rss_max_mb"] = {v: max_rss_mb(b.stats) for v, b in builds.items()
                       if v in ("cold", "warm")}
    if "ccache" in builds:
        s["ccache_wall_ratio"] = builds["ccache"].wall_s / oz.wall_s if oz.wall_s else None
    for name, tuned in sorted(builds.items()):
        if not name.startswith("tuned-"):
            continue
        sizes = [(t.oz, tuned.objects.get(t.path, 0)) for t in tus]
        tuned_bytes = sum(b for _, b in sizes)
        s.setdefault("tuned", {})[name[len("tuned-"):]] = {
            "bytes": tuned_bytes,
            "reduction_total_pct": (100.0 * (total_oz - tuned_bytes) / total_oz
                                    if total_oz else 0.0),
            "reduction_geomean_pct": geomean_reduction([b / o for o, b in sizes if o and b]),
            "ratios": [b / o for o, b in sizes if o and b],
            "wall_ratio": tuned.wall_s / oz.wall_s if oz.wall_s else None,
            "tests": tuned.test_passed}
    if warm is not None:
        s.update(
            warm_wall_ratio=warm.wall_s / oz.wall_s if oz.wall_s else None,
            warm_cpu_ratio=warm.cpu_s / oz.cpu_s if oz.cpu_s else None,
            warm_hit_rate=hit_rate(warm.stats),
            warm_fallbacks=fallbacks(warm.stats),
            warm_differs=sorted(p for p in cold.digests
                                if p in warm.digests and warm.digests[p] != cold.digests[p]),
        )
    return s


def phase_seconds(counters: dict[str, int]) -> dict[str, float]:
    """CPU seconds per phase of llmcc's work summed over a build's compiler calls,
    from the ``cpu ms: PHASE`` counters (``llmcc/store/counters.py``)."""
    return {k[len("cpu ms: "):]: v / 1000 for k, v in sorted(counters.items())
            if k.startswith("cpu ms: ")}


def max_rss_mb(counters: dict[str, int]) -> int | None:
    """The largest peak-RSS bucket (MB) any compiler process of a build reached."""
    prefix = "processes with peak RSS up to MB: "
    sizes = [int(k[len(prefix):]) for k, v in counters.items() if k.startswith(prefix) and v]
    return max(sizes) if sizes else None


def phase_lines(projects: list[dict]) -> list[str]:
    """Where llmcc's time goes: CPU seconds per phase for the cold and warm builds,
    summed over every project, and the largest peak RSS of a compiler process."""
    done = [p for p in projects if "summary" in p]
    totals: dict[str, Counter] = {"cold": Counter(), "warm": Counter()}
    for p in done:
        for v, phases in p["summary"].get("phases", {}).items():
            totals[v].update(phases)
    names = sorted(set(totals["cold"]) | set(totals["warm"]))
    if not names:
        return []
    rows = [[n, f"{totals['cold'][n]:.1f}", f"{totals['warm'][n]:.1f}"] for n in names]
    rows.append(["total", f"{sum(totals['cold'].values()):.1f}",
                 f"{sum(totals['warm'].values()):.1f}"])
    rss = {v: max((p["summary"].get("rss_max_mb", {}).get(v) or 0 for p in done), default=0)
           for v in ("cold", "warm")}
    rows.append(["peak RSS of a compiler process (MB, up to)", str(rss["cold"]),
                 str(rss["warm"])])
    return text_table(["CPU seconds by phase (llmcc's own work)", "cold", "warm"], rows)


#: The builds of :func:`step_lines`, in its column order.
STEP_VARIANTS = (("cold", "cold"), ("warm", "warm"), ("ccache", "warm+ccache"))


def step_ratio(projects: list[dict], variant: str, step: str) -> float | None:
    """Summed wall time of ``step`` (``configure_s`` or ``build_s``) of the
    ``variant`` build over the ``projects`` that have it, as a multiple of their
    ``-Oz`` builds' same step; None when none has it."""
    have = [p for p in projects if variant in p["builds"]]
    base = sum(p["builds"]["oz"][step] for p in have)
    return sum(p["builds"][variant][step] for p in have) / base if have and base else None


def step_lines(projects: list[dict]) -> list[str]:
    """Configure and build steps apart: each llmcc build's wall time of a step as a
    multiple of the ``-Oz`` build's same step, per project and in total. A
    configure step runs the compiler on probes only (clang alone, through llmcc
    or ccache), so the build step is where llmcc's own cost shows."""
    done = [p for p in projects if "summary" in p]
    if not done:
        return []
    rows = []
    for name, group in [(p["name"], [p]) for p in done] + [("total", done)]:
        rows.append([name, f"{sum(p['builds']['oz']['configure_s'] for p in group):.1f}",
                     f"{sum(p['builds']['oz']['build_s'] for p in group):.1f}"]
                    + [_ratio(step_ratio(group, v, step)) for step in ("build_s", "configure_s")
                       for v, _ in STEP_VARIANTS])
    header = (["by step", "-Oz configure s", "-Oz build s"]
              + [f"{label} {step}" for step in ("build", "configure")
                 for _, label in STEP_VARIANTS])
    return text_table(header, rows)


def autotune_lines(projects: list[dict], budgets: tuple[int, ...]) -> list[str]:
    """The tuned builds against the default one, per project and budget: bytes,
    total and geometric-mean reductions against -Oz, the search's compiles and CPU
    hours, the rebuild's wall time and its tests (``--autotune``); a total row per
    budget over the projects tuned at it."""
    rows = []
    totals: dict[str, dict] = {}
    for p in projects:
        s = p.get("summary", {})
        if not s.get("tuned"):
            rows.append([p["name"], "-", "-", "-", "-", "-", "-", "-", "-",
                         "FAILED" if p.get("autotune_error") else "-"])
            continue
        rows.append([p["name"], "default", f"{s['bytes_oz']:,}", f"{s['bytes_llmcc']:,}",
                     pct(s["reduction_total_pct"]), pct(s["reduction_geomean_pct"]),
                     "", "", "", ""])
        for budget in budgets:
            t = s["tuned"].get(str(budget))
            spent = p.get("autotune", {}).get(str(budget))
            if t is None or spent is None:
                continue
            rows.append(["", str(budget), "", f"{t['bytes']:,}", pct(t["reduction_total_pct"]),
                         pct(t["reduction_geomean_pct"]), f"{spent['compiles']:,}",
                         f"{spent['search_cpu_s'] / 3600:.2f}", _ratio(t["wall_ratio"]),
                         verdict(t["tests"])])
            tot = totals.setdefault(str(budget), {"oz": 0, "default": 0, "tuned": 0, "cpu": 0.0,
                                                  "compiles": 0, "tests": [], "ratios": [],
                                                  "default_ratios": []})
            tot["oz"] += s["bytes_oz"]
            tot["default"] += s["bytes_llmcc"]
            tot["tuned"] += t["bytes"]
            tot["cpu"] += spent["search_cpu_s"]
            tot["compiles"] += spent["compiles"]
            tot["tests"].append(t["tests"])
            tot["ratios"] += t["ratios"]
            tot["default_ratios"] += size_ratios([TU(**{k: x[k] for k in ("path", "oz", "llmcc",
                                                                         "warm")})
                                                  for x in p.get("tus", [])])
    for i, (budget, tot) in enumerate(totals.items()):
        def red(b: int) -> str:
            return pct(100.0 * (tot["oz"] - b) / tot["oz"]) if tot["oz"] else "-"
        if i == 0 or tot["oz"] != next(iter(totals.values()))["oz"]:
            # the default row once, unless budgets were tuned on different projects
            rows.append(["total", "default", f"{tot['oz']:,}", f"{tot['default']:,}",
                         red(tot["default"]), pct(geomean_reduction(tot["default_ratios"])),
                         "", "", "", ""])
        rows.append(["", budget, "", f"{tot['tuned']:,}", red(tot["tuned"]),
                     pct(geomean_reduction(tot["ratios"])), f"{tot['compiles']:,}",
                     f"{tot['cpu'] / 3600:.2f}", "",
                     f"{sum(1 for x in tot['tests'] if x)}/{len(tot['tests'])} passed"])
    return text_table(["autotune", "budget", "-Oz bytes", "bytes", "total red.",
                       "geomean red.", "compiles", "search CPU h", "rebuild", "tests"], rows)


def total_summary(projects: list[dict]) -> dict:
    """The total row over the projects that were measured."""
    done = [p for p in projects if "summary" in p]
    tus = [TU(t["path"], t["oz"], t["llmcc"], t["warm"]) for p in done for t in p["tus"]]
    s = {k: sum(p["summary"][k] for p in done)
         for k in ("tus", "bytes_oz", "bytes_llmcc", "improved", "equal", "regressed")}
    s["reduction_total_pct"] = (100.0 * (s["bytes_oz"] - s["bytes_llmcc"]) / s["bytes_oz"]
                                if s["bytes_oz"] else 0.0)
    s["reduction_geomean_pct"] = geomean_reduction(size_ratios(tus))
    for v in ("cold", "warm", "ccache"):
        oz_wall = sum(p["summary"]["wall_s"]["oz"] for p in done if v in p["summary"]["wall_s"])
        v_wall = sum(p["summary"]["wall_s"][v] for p in done if v in p["summary"]["wall_s"])
        s[f"{v}_wall_ratio"] = v_wall / oz_wall if oz_wall else None
    hits = sum(p["builds"]["warm"]["stats"].get("cache hits", 0) for p in done if "warm" in p["builds"])
    misses = sum(p["builds"]["warm"]["stats"].get("cache misses", 0)
                 for p in done if "warm" in p["builds"])
    s["warm_hit_rate"] = hits / (hits + misses) if hits + misses else None
    s["tests_oz"] = [p["summary"]["tests_oz"] for p in done]
    s["tests_llmcc"] = [p["summary"]["tests_llmcc"] for p in done]
    s["failed_projects"] = [p["name"] for p in projects if "error" in p]
    sums: Counter = Counter()
    for p in done:
        for pt in p["summary"].get("tradeoff", []):
            sums[f"bytes with k={pt['k']}"] += pt["bytes"]
    ks = [len(p["summary"].get("tradeoff", [])) for p in done]
    s["tradeoff"] = tradeoff(sums) if ks and len(set(ks)) == 1 else []
    return s


def plot(report: dict, path: str) -> None:
    """Write a PNG: the distribution of per-TU reductions against ``-Oz`` (left) and
    the total reduction against compiles per TU over k (right), per project.

    Raises:
        ImportError: matplotlib is not installed (``pip install llmcc[bench]``).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    done = [p for p in report["projects"] if "summary" in p]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    reductions = [[100.0 * (t["oz"] - t["llmcc"]) / t["oz"] for t in p["tus"] if t["oz"]]
                  for p in done]
    flat = [r for rs in reductions for r in rs]
    if flat:
        lo, hi = min(min(flat), 0.0), max(max(flat), 0.5)
        bins = [lo + i * (hi - lo) / 40 for i in range(40)] + [hi]  # last edge exact
        left.hist(reductions, bins=bins, stacked=True, label=[p["name"] for p in done])
    left.set_xlabel("object size reduction against clang -Oz per TU (%)")
    left.set_ylabel("TUs")
    left.set_yscale("symlog")
    left.set_title(f"{len(flat)} TUs, ranker {report['ranker']}, k={report['candidates']}")
    left.legend(fontsize=7)
    for p in done + [{"name": "total", "summary": report["total"]}]:
        pts = p["summary"].get("tradeoff", [])
        if pts:
            right.plot([x["compiles_per_tu"] for x in pts], [x["reduction_pct"] for x in pts],
                       marker="o", linewidth=2.5 if p["name"] == "total" else 1,
                       label=p["name"])
    right.set_xlabel("compiles per TU (-Oz + k candidates)")
    right.set_ylabel("total reduction against clang -Oz (%)")
    right.set_title("size / compile-count trade-off (cold build)")
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


# ------------------------------------------------------------- one project


@dataclass
class Settings:
    """What every project's builds share.

    Attributes:
        work: work directory (sources, build trees, caches, logs).
        clang, clangxx: the real compilers for the ``-Oz`` baseline.
        llmcc, llmccxx: llmcc's C and C++ drivers.
        jobs: parallel jobs given to the recipes as ``JOBS``.
        candidates: ``LLMCC_CANDIDATES`` for llmcc builds, or ``None`` for the configured k.
        timeout: seconds allowed to each configure, build or test step.
    """

    work: str
    clang: str
    clangxx: str
    llmcc: str
    llmccxx: str
    jobs: int
    candidates: int | None
    timeout: float
    ccache: bool = False
    autotune: tuple[int, ...] = ()


def llmcc_env(recipe: Recipe, st: Settings, cache_dir: str) -> dict[str, str]:
    """The environment of an llmcc build: a dedicated cache, optional k."""
    extra = {"LLMCC_CACHE_DIR": cache_dir}
    if st.candidates is not None:
        extra["LLMCC_CANDIDATES"] = str(st.candidates)
    return build_env(recipe, st.llmcc, st.llmccxx, st.jobs, extra)


def _not_files(directory: str, names: list[str]) -> list[str]:
    """For :func:`shutil.copytree`: skip what is neither a directory nor a regular
    file (the ranking server's socket lives in the cache)."""
    import stat
    skip = []
    for n in names:
        try:
            mode = os.lstat(os.path.join(directory, n)).st_mode
        except OSError:
            skip.append(n)
            continue
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            skip.append(n)
    return skip


def autotune_builds(recipe: Recipe, src: str, pdir: str, env: dict[str, str], cache_dir: str,
                    st: Settings, progress) -> dict[int, tuple[Build, dict]]:
    """``llmcc autotune`` on the project at each budget of ``st.autotune`` (compiles
    per TU): one build with IR recording, then per budget a search of its own
    (state ``autotune-B``) whose verified decisions go into a copy of the default
    build's cache (``cache-tuned-B``), and a rebuild from it (tests run) that gets
    the tuned objects. Budgets are independent: each is what ``llmcc autotune run
    --budget B`` gives on the default build.

    Returns:
        budget -> (the tuned rebuild, ``{"search_cpu_s", "compiles"}`` as the
        search's records report them).
    """
    from llmcc.lab import autotune, tune
    corpus = os.path.join(pdir, "autotune-corpus")
    shutil.rmtree(corpus, ignore_errors=True)
    build_variant(recipe, "record", src, pdir, dict(env, LLMCC_RECORD=corpus), run_tests=False,
                  timeout=st.timeout, progress=progress)
    out = {}
    for budget in st.autotune:
        state = os.path.join(pdir, f"autotune-{budget}")
        tuned_cache = os.path.join(pdir, f"cache-tuned-{budget}")
        for d in (state, tuned_cache):
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(state)
        os.symlink(corpus, os.path.join(state, "corpus"))
        shutil.copytree(cache_dir, tuned_cache, symlinks=True, ignore=_not_files)
        tus, _ = autotune.recorded_tus(state)
        autotune.search(state, tus, budget, 0, st.jobs, 60.0, None)
        autotune.log_decisions(state, autotune.decide(state, tuned_cache, budget, 0, 60.0))
        stats.zero(tuned_cache)
        b = build_variant(recipe, f"tuned-{budget}", src, pdir,
                          dict(env, LLMCC_CACHE_DIR=tuned_cache), run_tests=True,
                          timeout=st.timeout, progress=progress)
        b.stats = dict(stats.read(tuned_cache))
        results = tune.search_results(state).values()
        out[budget] = (b, {"search_cpu_s": round(sum(r.get("seconds", 0.0) for r in results), 1),
                           "compiles": sum(r.get("compiles", 0) for r in results)})
    return out


def ccache_env(env: dict[str, str], ccache_dir: str, st: Settings) -> dict[str, str]:
    """``env`` with ``CC="ccache llmcc"`` and the settings README gives: ccache's
    compiler check on llmcc's identity (computed once) and compiler type clang."""
    ident = subprocess.run([st.llmcc, "--identity"], env=env, capture_output=True,
                           text=True, check=True).stdout.strip()
    return dict(env, CC=f"ccache {env['CC']}", CXX=f"ccache {env['CXX']}",
                CCACHE_DIR=ccache_dir, CCACHE_COMPILERCHECK=f"string:{ident}",
                CCACHE_COMPILERTYPE="clang", CCACHE_NOHASHDIR="1")


def bench_project(recipe: Recipe, st: Settings, progress) -> dict:
    """Fetch, build three ways, test and compare one project.

    Returns:
        A JSON-ready dict: ``name``, ``source``, ``version``, ``cflags``,
        ``builds`` (variant -> :class:`Build` fields), ``tus`` (per TU),
        ``unmatched`` and ``summary`` (see :func:`summarize`); or ``error``
        when a step failed.
    """
    pdir = os.path.join(st.work, recipe.name)
    os.makedirs(os.path.join(pdir, "logs"), exist_ok=True)
    out: dict = {"name": recipe.name, "source": recipe.source, "version": "",
                 "cflags": f"{recipe.cflags} -Oz".strip(), "builds": {}}
    builds: dict[str, Build] = {}
    try:
        src, out["version"] = prepare_source(recipe, pdir, progress)
        cache_dir = os.path.join(pdir, "cache")
        shutil.rmtree(cache_dir, ignore_errors=True)
        os.makedirs(cache_dir)
        envs = {"oz": build_env(recipe, st.clang, st.clangxx, st.jobs),
                "cold": llmcc_env(recipe, st, cache_dir),
                "warm": llmcc_env(recipe, st, cache_dir)}
        for variant in VARIANTS:
            if variant == "warm":
                stats.zero(cache_dir)
            b = build_variant(recipe, variant, src, pdir, envs[variant],
                              run_tests=variant != "warm", timeout=st.timeout, progress=progress)
            if variant != "oz":
                b.stats = dict(stats.read(cache_dir))
            builds[variant] = b
            out["builds"][variant] = _build_json(b)
    except (BenchError, OSError) as e:
        out["error"] = str(e)
        return out
    if st.ccache:
        try:  # a recipe whose build cannot take CC="ccache llmcc" only loses the column
            env = ccache_env(envs["warm"], os.path.join(pdir, "ccache"), st)
            shutil.rmtree(os.path.join(pdir, "ccache"), ignore_errors=True)
            for variant in CCACHE_VARIANTS:
                stats.zero(cache_dir)
                b = build_variant(recipe, variant, src, pdir, env, run_tests=False,
                                  timeout=st.timeout, progress=progress)
                b.stats = dict(stats.read(cache_dir))
                builds[variant] = b
                out["builds"][variant] = _build_json(b)
        except (BenchError, OSError) as e:
            out["ccache_error"] = str(e)
            builds.pop("ccache", None)
    if st.autotune:
        try:  # autotune the project's own build and rebuild with the tuned decisions
            out["autotune"] = {}
            for budget, (b, spent) in autotune_builds(recipe, src, pdir, envs["warm"],
                                                      cache_dir, st, progress).items():
                builds[f"tuned-{budget}"] = b
                out["builds"][f"tuned-{budget}"] = _build_json(b)
                out["autotune"][str(budget)] = spent
        except (BenchError, OSError) as e:
            out["autotune_error"] = str(e)
    tus, unmatched = compare(builds["oz"], builds["cold"], builds["warm"])
    out["tus"] = [asdict(t) | {"verdict": t.verdict} for t in tus]
    out["unmatched"] = unmatched
    out["summary"] = summarize(tus, builds)
    return out


def _build_json(b: Build) -> dict:
    d = asdict(b)
    d.pop("digests")
    d["wall_s"] = b.wall_s
    return d


# ---------------------------------------------------------------- report


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "n/a"}[passed]


def _tests(s: dict) -> str:
    return f"{verdict(s['tests_oz'])}/{verdict(s['tests_llmcc'])}"


def project_lines(p: dict) -> list[str]:
    """The per-project table: sizes, times, cache and tests of the three builds."""
    title = f"{p['name']} ({p['source']} {p['version']}".strip() + f"), CFLAGS=\"{p['cflags']}\""
    if "error" in p:
        return [title, f"  FAILED: {p['error']}"]
    s, b = p["summary"], p["builds"]
    oz_wall, oz_cpu = b["oz"]["wall_s"], b["oz"]["cpu_s"]

    def rel(x: float, base: float) -> str:
        return f"{x:.1f} s ({x / base:.2f}x)" if base else f"{x:.1f} s"

    rows = [
        [".text+.data bytes", f"{s['bytes_oz']:,}", f"{s['bytes_llmcc']:,}",
         f"{sum(t['warm'] or 0 for t in p['tus']):,}"],
        ["reduction (total)", "", pct(s["reduction_total_pct"]), ""],
        ["reduction (geomean per TU)", "", pct(s["reduction_geomean_pct"]), ""],
        ["TUs improved/equal/regressed", f"{s['tus']} TUs",
         f"{s['improved']}/{s['equal']}/{s['regressed']}", ""],
        ["build wall time", f"{oz_wall:.1f} s", rel(b["cold"]["wall_s"], oz_wall),
         rel(b["warm"]["wall_s"], oz_wall)],
        ["build CPU time", f"{oz_cpu:.1f} s", rel(b["cold"]["cpu_s"], oz_cpu),
         rel(b["warm"]["cpu_s"], oz_cpu)],
        ["cache hit rate", "", pct(None if s["cold_hit_rate"] is None
                                    else 100 * s["cold_hit_rate"]),
         pct(None if s["warm_hit_rate"] is None else 100 * s["warm_hit_rate"])],
        ["fallbacks to plain clang", "", str(s["cold_fallbacks"]), str(s["warm_fallbacks"])],
        ["test suite", verdict(s["tests_oz"]), verdict(s["tests_llmcc"]), "not run"],
    ]
    lines = [title] + ["  " + ln for ln in text_table(["", "clang -Oz", "llmcc cold", "llmcc warm"],
                                                    rows)]
    if p["unmatched"]:
        lines.append(f"  note: {len(p['unmatched'])} objects built by only one of the builds "
                     f"(not compared): {', '.join(p['unmatched'][:5])}")
    if s["warm_differs"]:
        lines.append(f"  note: {len(s['warm_differs'])} warm objects differ from the cold "
                     f"build's: {', '.join(s['warm_differs'][:5])}")
    regressed = [t["path"] for t in p["tus"] if t["verdict"] == "regressed"]
    if regressed:
        lines.append(f"  REGRESSED: {', '.join(regressed)}")
    return lines


def summary_lines(projects: list[dict], total: dict) -> list[str]:
    """The table with one row per project and a total row."""
    header = ["project", "TUs", "-Oz bytes", "llmcc bytes", "reduction", "geomean red.",
              "impr/eq/regr", "cold", "warm", "warm+ccache", "warm hits", "tests -Oz/llmcc"]
    rows = []
    for p in projects:
        if "error" in p:
            rows.append([p["name"], "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "FAILED"])
            continue
        s = p["summary"]
        rows.append(_row(p["name"], s, _tests(s)))
    t = total
    tests_oz = sum(1 for x in t["tests_oz"] if x)
    tests_llmcc = sum(1 for x in t["tests_llmcc"] if x)
    n = sum(1 for x in t["tests_llmcc"] if x is not None)
    rows.append(_row("total", t, f"{tests_oz}/{tests_llmcc} of {n} passed"))
    return text_table(header, rows)


def _row(name: str, s: dict, tests: str) -> list[str]:
    hits = s.get("warm_hit_rate")
    return [name, str(s["tus"]), f"{s['bytes_oz']:,}", f"{s['bytes_llmcc']:,}",
            pct(s["reduction_total_pct"]), pct(s["reduction_geomean_pct"]),
            f"{s['improved']}/{s['equal']}/{s['regressed']}",
            _ratio(s.get("cold_wall_ratio")), _ratio(s.get("warm_wall_ratio")),
            _ratio(s.get("ccache_wall_ratio")), pct(None if hits is None else 100 * hits), tests]


def exit_status(projects: list[dict]) -> int:
    """0 when every project built, no TU regressed and every llmcc test suite passed.

    1 when a TU regressed or an llmcc test suite failed; 2 when a project
    could not be fetched or built.
    """
    if any("error" in p for p in projects):
        return 2
    for p in projects:
        s = p["summary"]
        if s["regressed"] or s["tests_llmcc"] is False:
            return 1
    return 0


# ------------------------------------------------------------------- main


class Progress:
    """Progress on stderr: a tqdm bar on a terminal, else one line per step.

    Call it with the name of the step that starts; the previous step counts as done.
    """

    def __init__(self, total: int):
        from tqdm import tqdm
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True,
                        bar_format="{desc}: {bar} {n_fmt}/{total_fmt} [{elapsed}]",
                        disable=not self.tty)
        self.running = False

    def __call__(self, step: str) -> None:
        if self.running:
            self.bar.update(1)
        self.running = True
        if self.tty:
            self.bar.set_description_str(step)
        else:
            self.write(f"[{time.perf_counter() - self.t0:7.1f} s] {step}")

    def write(self, msg: str) -> None:
        """A message line on stderr that does not break the bar."""
        self.bar.write(msg, file=sys.stderr)

    def close(self) -> None:
        """Finish the bar (all steps done)."""
        self.bar.n = self.bar.total
        self.bar.close()


def run(names: list[str], recipes: dict[str, Recipe], st: Settings,
        done: dict[str, dict] | None = None, checkpoint=None) -> dict:
    """Bench the named recipes in order; return the JSON-ready report.

    ``done`` maps recipe names to projects of an earlier report made with the same
    settings (``--resume``): they are kept, not built again. ``checkpoint`` is
    called with the report after each project (the JSON file is written as it
    grows, so an interrupted run loses at most the project it was building)."""
    cfg_env = llmcc_env(Recipe(name="", source="", build="x"), st, "")
    cfg = config_mod.load(cfg_env)
    report = {"llmcc_version": __version__, "llmcc": st.llmcc, "llmccxx": st.llmccxx,
              "clang": st.clang, "clangxx": st.clangxx,
              "ranker": cfg.ranker, "candidates": cfg.candidates, "jobs": st.jobs,
              "work": st.work, "autotune": list(st.autotune), "projects": []}
    progress = Progress(len(names) * (1 + 2 * (len(VARIANTS) + 2 * st.ccache
                                                + 2 * (len(st.autotune) + bool(st.autotune))) + 2))
    os.makedirs(st.work, exist_ok=True)
    try:
        for name in names:
            if done and name in done:
                progress.write(f"{name}: kept from the earlier run (--resume)")
                report["projects"].append(done[name])
                continue
            p = bench_project(recipes[name], st, progress)
            report["projects"].append(p)
            if "error" in p:
                progress.write(f"llmcc bench: {name}: {p['error']}")
            if checkpoint is not None:
                checkpoint(dict(report, total=total_summary(report["projects"])))
    finally:
        progress.close()
    report["total"] = total_summary(report["projects"])
    return report


def settings_from_args(ns: argparse.Namespace) -> Settings:
    """Resolve compilers and the work directory.

    Raises:
        LlmccError: no real clang or no llmcc executable.
    """
    from llmcc.compile.toolchain import self_paths
    from llmcc.compile.toolchain import find_clang
    env = dict(os.environ)
    # The entry points of this installation, beside its interpreter: a version
    # manager's shim on PATH (pyenv's costs about 0.3 s a call) is not llmcc's cost.
    here = os.path.dirname(sys.executable)
    llmcc, llmccxx = (os.path.join(here, n) if os.access(os.path.join(here, n), os.X_OK)
                      else shutil.which(n) for n in ("llmcc", "llmcc++"))
    if not llmcc or not llmccxx:
        raise BenchError("llmcc and llmcc++ must be on PATH")
    work = ns.work
    if work is None:
        import platformdirs
        work = os.path.join(platformdirs.user_cache_dir("llmcc-bench"))
    return Settings(work=os.path.abspath(work),
                    clang=find_clang(False, self_paths(), env),
                    clangxx=find_clang(True, self_paths(), env),
                    llmcc=llmcc, llmccxx=llmccxx, jobs=max(1, ns.jobs or os.cpu_count() or 1),
                    candidates=ns.candidates, timeout=ns.timeout,
                    ccache=shutil.which("ccache") is not None and not ns.no_ccache,
                    autotune=ns.autotune)
