#!/usr/bin/env python3
"""Build the training corpus: real Debian source packages compiled with llmcc.

Each package listed in ``llmcc/data/packages.toml`` is fetched with
``apt-get source``, its build dependencies are installed with ``apt-get
install``, and its upstream build recipe (the ``pre``, ``configure`` and
``build`` snippets of its table) is run in the unpacked source tree with
``CC``/``CXX`` pointing at the compiler under test.  With llmcc as the
compiler, ``LLMCC_RECORD`` makes the driver store the unoptimized IR of every
optimized translation unit under the output directory and append one JSON
line per translation unit to ``OUTDIR/records.jsonl``.

The run is resumable: a package that has a marker ``OUTDIR/done/NAME.json``
is skipped (use ``--retry-failed`` to build failed ones again, ``--force`` to
rebuild everything selected).  Build logs go to ``WORK/logs/NAME.log``.  One
failing package never stops the others.  At the end ``OUTDIR/packages.json``
summarizes every package of the list that has a marker.

Usage::

    python llmcc corpus build --packages llmcc/data/packages.toml \\
        --work /work/corpus-work --out /work/corpus-work/out \\
        [--only NAME ...] [--jobs N] [--cc llmcc] [--cxx llmcc++] \\
        [--timeout SECONDS] [--retry-failed] [--force]

Each package is unpacked afresh from its downloaded ``.dsc`` before every
build, with all file times made equal (see :func:`flatten_mtimes`).

The script needs root (it edits apt sources and installs packages) and a
Debian system; it was written for Debian bookworm.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path

from tqdm import tqdm

from llmcc.compile import process
from llmcc.lab import debian

#: Recipe steps, run in this order; each is an optional shell snippet.
STEPS = ("pre", "configure", "build")

#: Lines of the build log kept in a failed package's marker.
LOG_TAIL_LINES = 60


class CorpusError(Exception):
    """A package could not be fetched, prepared or built."""


# ------------------------------------------------------------------ packages


def load_packages(path: Path) -> dict[str, dict]:
    """Read ``packages.toml``: one table per Debian source package.

    Returns:
        ``{name: table}`` in file order; each table has at least ``split``,
        ``lang`` and ``build``; ``source`` defaults to the table name.

    Raises:
        CorpusError: a table lacks a required key or has a bad value.
    """
    with open(path, "rb") as f:
        data = tomllib.load(f)
    pkgs = {}
    for name, t in data.items():
        if not isinstance(t, dict):
            continue
        for key in ("split", "lang", "build"):
            if key not in t:
                raise CorpusError(f"{path}: [{name}] lacks '{key}'")
        if t["split"] not in ("train", "validation"):
            raise CorpusError(f"{path}: [{name}] split must be train or validation")
        if t["lang"] not in ("c", "c++", "both"):
            raise CorpusError(f"{path}: [{name}] lang must be c, c++ or both")
        t.setdefault("source", name)
        t.setdefault("build_deps", [])
        pkgs[name] = t
    return pkgs


class Builder:
    """Fetches, prepares and builds packages into one work and output dir."""

    def __init__(self, work: Path, out: Path, cc: str, cxx: str, timeout: float):
        self.work = work
        self.out = out
        self.cc = cc
        self.cxx = cxx
        self.timeout = timeout
        (work / "logs").mkdir(parents=True, exist_ok=True)
        (out / "done").mkdir(parents=True, exist_ok=True)

    def marker(self, name: str) -> Path:
        return self.out / "done" / f"{name}.json"

    # -- steps ---------------------------------------------------------------

    def _run(self, argv: list[str], cwd: Path, logf, env=None, timeout=None) -> None:
        """Run one step with its output in ``logf`` (its own process group, so a
        timeout or Ctrl-C also ends make's children).

        Raises:
            CorpusError: it failed or timed out.
        """
        returncode = process.run_logged(argv, logf, cwd=str(cwd), env=env, timeout=timeout)
        if returncode == process.TIMED_OUT and timeout is not None:
            raise CorpusError(f"timed out after {timeout:.0f} s: {argv[:3]}")
        if returncode != 0:
            raise CorpusError(f"exit {returncode}: {' '.join(argv)[:300]}")

    def _runner(self, logf) -> debian.Runner:
        """:meth:`_run` as :mod:`llmcc.lab.debian` runs its commands: 0 or 1."""
        def run(argv, cwd, env, timeout):
            try:
                self._run(argv, Path(cwd), logf, env=env, timeout=timeout)
            except CorpusError as e:
                logf.write(f"### {e}\n")
                return 1
            return 0
        return run

    def fetch(self, name: str, pkg: dict, logf) -> tuple[Path, str]:
        """Download (once) and unpack afresh the Debian source package
        (:func:`llmcc.lab.debian.fetch_source`, :func:`llmcc.lab.debian.unpack_source`).

        Returns:
            ``(source_tree, debian_version)``.
        """
        pdir = self.work / name
        run = self._runner(logf)
        try:
            source = debian.fetch_source(pkg["source"], str(pdir), run, tqdm.write,
                                         pkg.get("version", ""))
            if not source.version:
                raise CorpusError(f"{source.dsc}: no Version field")
            src = pdir / "src"
            if src.exists():
                shutil.rmtree(src)
            debian.unpack_source(source, str(src), run)
        except debian.DebianError as e:
            raise CorpusError(str(e)) from e
        if not pkg.get("keep_mtimes", False):
            flatten_mtimes(src)
        return src, source.version

    def install_deps(self, pkg: dict, logf) -> None:
        """Install the package's ``build_deps`` that are missing."""
        missing = debian.missing_packages(pkg.get("build_deps", []))
        if missing:
            try:
                debian.install_packages(missing, self._runner(logf))
            except debian.DebianError as e:
                raise CorpusError(str(e)) from e

    def build_env(self, name: str, version: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CC=self.cc,
            CXX=self.cxx,
            LLMCC_RECORD=str(self.out),
            LLMCC_RECORD_PACKAGE=name,
            LLMCC_RECORD_VERSION=version,
            LLMCC_CANDIDATES="0",
            LC_ALL="C",
        )
        return env

    def build(self, name: str, pkg: dict) -> dict:
        """Fetch, prepare and build one package; write and return its marker."""
        t0 = time.monotonic()
        logpath = self.work / "logs" / f"{name}.log"
        result = {"name": name, "source": pkg["source"], "version": None,
                  "split": pkg["split"], "lang": pkg["lang"], "cc": self.cc,
                  "cxx": self.cxx}
        with open(logpath, "w") as logf:
            try:
                src, version = self.fetch(name, pkg, logf)
                result["version"] = version
                self.install_deps(pkg, logf)
                cwd = src / pkg.get("subdir", ".")
                env = self.build_env(name, version)
                deadline = t0 + self.timeout
                for step in STEPS:
                    snippet = pkg.get(step)
                    if not snippet:
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise CorpusError(f"timed out before step {step}")
                    logf.write(f"\n### {step}\n")
                    self._run(["bash", "-c", snippet], cwd, logf, env=env, timeout=left)
                result["objects"], result["objects_not_clang"] = count_objects(src)
                result["status"] = "ok"
            except (CorpusError, OSError) as e:
                logf.write(f"\n### FAILED: {e}\n")
                result["status"] = "failed"
                result["error"] = str(e)
        result["seconds"] = round(time.monotonic() - t0, 1)
        if result["status"] == "failed":
            result["log_tail"] = tail(logpath, LOG_TAIL_LINES)
        tmp = self.marker(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n")
        tmp.replace(self.marker(name))
        return result


def flatten_mtimes(tree: Path) -> None:
    """Give every file under ``tree`` the same modification time.

    Debian patches touch files such as ``Makefile.am`` or ``configure.ac``
    after the generated ``Makefile.in``/``configure`` were unpacked, so make
    would try to rerun autotools of a version that is not installed.  With
    equal times no generated file looks out of date and the shipped ones are
    used as upstream released them.
    """
    now = time.time()
    for root, dirs, files in os.walk(tree):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                os.utime(p, (now, now))


def count_objects(tree: Path) -> tuple[int, int]:
    """Count the object files a build left under ``tree``.

    Libtool's ``.libs`` copies (the PIC twin of an object already counted)
    and Kbuild's ``built-in.o`` (partial links of other objects) are skipped.

    Returns:
        ``(objects, not_clang)``: the number of ``*.o`` files, and how many of
        them lack clang's ``.comment`` ident (built by another compiler, e.g. a
        Makefile that hard-codes ``cc``, or assembled from ``.s`` files).
    """
    n = not_clang = 0
    for root, dirs, files in os.walk(tree):
        if os.path.basename(root) == ".libs":
            continue
        for f in files:
            if f.endswith(".o") and f != "built-in.o":
                n += 1
                try:
                    with open(os.path.join(root, f), "rb") as fh:
                        if b"clang version" not in fh.read():
                            not_clang += 1
                except OSError:
                    not_clang += 1
    return n, not_clang


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a text file."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def write_summary(out: Path, pkgs: dict[str, dict]) -> dict:
    """Write ``OUTDIR/packages.json``: the markers of all listed packages."""
    entries = []
    for name in pkgs:
        m = out / "done" / f"{name}.json"
        if m.exists():
            d = json.loads(m.read_text())
            d.pop("log_tail", None)
            entries.append(d)
    summary = {
        "packages": entries,
        "ok": sum(e["status"] == "ok" for e in entries),
        "failed": sum(e["status"] == "failed" for e in entries),
        "objects": sum(e.get("objects", 0) for e in entries if e["status"] == "ok"),
    }
    tmp = out / "packages.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(out / "packages.json")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="llmcc corpus build", description=__doc__.split("\n\n")[0])
    from llmcc.lab.data import packaged
    ap.add_argument("--packages", type=Path, default=Path(packaged("packages.toml")),
                    help="packages.toml (default: the shipped corpus list)")
    ap.add_argument("--work", type=Path, required=True,
                    help="work dir for sources and logs (outside the repo)")
    ap.add_argument("--out", type=Path, required=True,
                    help="output dir: LLMCC_RECORD target, done/ markers, packages.json")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME",
                    help="build only these packages")
    ap.add_argument("--jobs", type=int, default=1, help="packages built at once")
    ap.add_argument("--cc", default="llmcc", help="C compiler (default: llmcc)")
    ap.add_argument("--cxx", default="llmcc++", help="C++ compiler (default: llmcc++)")
    ap.add_argument("--timeout", type=float, default=5400,
                    help="seconds allowed for one package (default: 5400)")
    ap.add_argument("--retry-failed", action="store_true",
                    help="build again packages whose marker says failed")
    ap.add_argument("--force", action="store_true",
                    help="build again even packages whose marker says ok")
    args = ap.parse_args(argv)

    pkgs = load_packages(args.packages)
    if args.only:
        unknown = [n for n in args.only if n not in pkgs]
        if unknown:
            ap.error(f"not in {args.packages}: {', '.join(unknown)}")
    work, out = args.work.resolve(), args.out.resolve()
    builder = Builder(work, out, args.cc, args.cxx, args.timeout)

    todo = []
    for name in (args.only or pkgs):
        m = builder.marker(name)
        if m.exists() and not args.force:
            status = json.loads(m.read_text()).get("status")
            if status == "ok" or not args.retry_failed:
                continue
        todo.append(name)

    try:
        debian.ensure_deb_src(tqdm.write)
    except (debian.DebianError, OSError) as e:
        print(f"build_corpus.py: cannot set up Debian sources: {e}", file=sys.stderr)
        return 1

    bar = tqdm(total=len(todo), unit="pkg", dynamic_ncols=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {pool.submit(builder.build, n, pkgs[n]): n for n in todo}
        for fut in concurrent.futures.as_completed(futs):
            name = futs[fut]
            try:
                r = fut.result()
                msg = f"{name}: {r['status']} in {r['seconds']:.0f} s"
                if r["status"] == "ok":
                    msg += f", {r['objects']} objects"
                else:
                    msg += f" ({r.get('error', '')}); log {work / 'logs' / (name + '.log')}"
            except Exception as e:  # a bug here must not stop other packages
                msg = f"{name}: internal error {e!r}"
            tqdm.write(msg)
            bar.set_postfix_str(name)
            bar.update(1)
    bar.close()

    s = write_summary(out, pkgs)
    print(f"{s['ok']} ok, {s['failed']} failed, {s['objects']} objects; "
          f"summary in {out / 'packages.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
