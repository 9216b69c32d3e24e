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
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

from tqdm import tqdm

#: Recipe steps, run in this order; each is an optional shell snippet.
STEPS = ("pre", "configure", "build")

#: Suites tried, in order, when the newest source version cannot be fetched.
FALLBACK_SUITES = ("bookworm",)

#: Lines of the build log kept in a failed package's marker.
LOG_TAIL_LINES = 60

APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
APT_SOURCES_LIST = Path("/etc/apt/sources.list")
DEB_SRC_FILE = APT_SOURCES_DIR / "debian-src.sources"

#: apt and dpkg hold a global lock: only one apt-get runs at a time.
_APT_LOCK = threading.Lock()


class CorpusError(Exception):
    """A package could not be fetched, prepared or built."""


# ---------------------------------------------------------------- apt sources


def _deb822_stanzas(text: str) -> list[str]:
    """Split a deb822 ``.sources`` file into its stanzas (paragraphs)."""
    return [s for s in re.split(r"\n\s*\n", text) if s.strip()]


def _has_deb_src() -> bool:
    """True if any configured apt source already has ``deb-src`` entries."""
    files = list(APT_SOURCES_DIR.glob("*.sources")) + list(APT_SOURCES_DIR.glob("*.list"))
    if APT_SOURCES_LIST.exists():
        files.append(APT_SOURCES_LIST)
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in _deb822_stanzas(text):
                m = re.search(r"^Types:(.*)$", stanza, re.M)
                if m and "deb-src" in m.group(1).split() and "Enabled: no" not in stanza:
                    return True
        elif re.search(r"^\s*deb-src\s", text, re.M):
            return True
    return False


def deb_src_stanzas(text: str) -> list[str]:
    """Turn the ``Types: deb`` stanzas of a deb822 file into ``deb-src`` ones.

    Args:
        text: contents of a ``.sources`` file such as Debian's
            ``/etc/apt/sources.list.d/debian.sources``.

    Returns:
        The stanzas whose ``Types`` include ``deb``, with ``Types: deb-src``.
    """
    out = []
    for stanza in _deb822_stanzas(text):
        m = re.search(r"^Types:(.*)$", stanza, re.M)
        if not m or "deb" not in m.group(1).split():
            continue
        out.append(re.sub(r"^Types:.*$", "Types: deb-src", stanza.strip(), count=1, flags=re.M))
    return out


def ensure_deb_src(log) -> None:
    """Add ``deb-src`` entries mirroring the ``deb`` ones, once, then update.

    Copies every ``Types: deb`` stanza of the system's ``*.sources`` files to
    ``/etc/apt/sources.list.d/debian-src.sources`` with ``Types: deb-src``.
    When some source already has ``deb-src`` entries nothing is written, and
    ``apt-get update`` runs only if no source index has been fetched yet.

    Raises:
        CorpusError: no ``deb`` stanza to copy, or ``apt-get update`` failed.
    """
    if _has_deb_src():
        if not glob.glob("/var/lib/apt/lists/*_Sources*"):
            log("deb-src entries present but no source index yet; running apt-get update")
            apt_update()
        return
    stanzas = []
    for f in sorted(APT_SOURCES_DIR.glob("*.sources")):
        stanzas += deb_src_stanzas(f.read_text())
    if not stanzas:
        raise CorpusError("no deb822 'Types: deb' entries found to copy as deb-src")
    DEB_SRC_FILE.write_text("\n\n".join(stanzas) + "\n")
    log(f"wrote {DEB_SRC_FILE}; running apt-get update")
    apt_update()


def apt_update() -> None:
    """Run ``apt-get update`` (under the apt lock)."""
    with _APT_LOCK:
        r = subprocess.run(["apt-get", "update"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise CorpusError("apt-get update failed:\n" + r.stdout[-2000:])


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
        logf.write(f"\n$ {' '.join(argv)}   (in {cwd})\n")
        logf.flush()
        # Own process group, so a timeout or Ctrl-C also ends make's children.
        proc = subprocess.Popen(argv, cwd=cwd, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        except BaseException as e:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            if isinstance(e, subprocess.TimeoutExpired):
                raise CorpusError(f"timed out after {timeout:.0f} s: {argv[:3]}") from e
            raise
        if returncode != 0:
            raise CorpusError(f"exit {returncode}: {' '.join(argv)[:300]}")

    def fetch(self, name: str, pkg: dict, logf) -> tuple[Path, str]:
        """Download (once) and unpack afresh the Debian source package.

        Returns:
            ``(source_tree, debian_version)``.
        """
        pdir = self.work / name
        pdir.mkdir(parents=True, exist_ok=True)
        dscs = sorted(pdir.glob("*.dsc"))
        if not dscs:
            # The newest version first; if its files cannot be fetched (an
            # index can list a security update the mirror does not serve),
            # fall back to the release suite's version.
            targets = [pkg["source"]] + [f"{pkg['source']}/{s}" for s in FALLBACK_SUITES]
            if "version" in pkg:
                targets = [f"{pkg['source']}={pkg['version']}"]
            for i, target in enumerate(targets):
                for f in pdir.iterdir():
                    if f.is_file():
                        f.unlink()
                try:
                    self._run(["apt-get", "source", "--download-only", target], pdir, logf,
                              timeout=1800)
                    break
                except CorpusError:
                    if i == len(targets) - 1:
                        raise
            dscs = sorted(pdir.glob("*.dsc"))
        if len(dscs) != 1:
            raise CorpusError(f"expected one .dsc in {pdir}, found {len(dscs)}")
        version = dsc_version(dscs[0])
        src = pdir / "src"
        if src.exists():
            shutil.rmtree(src)
        self._run(["dpkg-source", "--no-check", "-x", dscs[0].name, "src"], pdir, logf,
                  timeout=1800)
        if not pkg.get("keep_mtimes", False):
            flatten_mtimes(src)
        return src, version

    def install_deps(self, pkg: dict, logf) -> None:
        deps = list(pkg.get("build_deps", []))
        if not deps:
            return
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        with _APT_LOCK:
            # Wait for the dpkg lock if another apt-get on the machine has it.
            self._run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                       "-o", "DPkg::Lock::Timeout=900", *deps],
                      self.work, logf, env=env, timeout=3600)

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


def dsc_version(dsc: Path) -> str:
    """The ``Version:`` field of a Debian ``.dsc`` file."""
    m = re.search(r"^Version:\s*(\S+)", dsc.read_text(errors="replace"), re.M)
    if not m:
        raise CorpusError(f"{dsc}: no Version field")
    return m.group(1)


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
        ensure_deb_src(tqdm.write)
    except (CorpusError, OSError) as e:
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
