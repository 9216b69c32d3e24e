"""Debian source packages for the lab: deb-src entries, ``apt-get source``, build dependencies.

``llmcc bench`` (:mod:`llmcc.lab.bench`) and ``llmcc corpus build``
(:mod:`llmcc.lab.corpus_build`) build real projects from Debian source packages.
This module is how both

1. make sure apt has an enabled ``deb-src`` entry (:func:`ensure_deb_src`): the
   deb822 files ``/etc/apt/sources.list.d/*.sources`` are parsed with
   python-debian's :class:`debian.deb822.Deb822` (a stanza with ``Enabled: no``
   does not count), the one-line files ``*.list`` and ``/etc/apt/sources.list``
   line by line; without one, every ``Types: deb`` stanza is mirrored as
   ``deb-src`` into :data:`DEB_SRC_FILE`;
2. download a source package once (:func:`fetch_source`: ``apt-get source
   --download-only``, falling back to the release suite's version) and unpack
   it (:func:`unpack_source`: ``dpkg-source -x``) after checking, with
   :class:`debian.deb822.Dsc`, that every file the ``.dsc`` lists is there;
3. install build dependencies (:func:`missing_packages`, :func:`install_packages`).

``scripts/install-deps.sh`` keeps a minimal shell version of step 1: it runs on
a fresh machine before llmcc and python-debian are installed.

Commands that leave output worth keeping run through a *runner* the caller
supplies, ``run(argv, cwd, env, timeout) -> exit status``, which writes their
output to the caller's log; a :class:`CommandFailed` error means that log has the
details. apt-get calls that take dpkg's lock are serialized by :data:`APT_LOCK`
within the process. Writing apt's sources and installing packages need root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from llmcc.errors import LlmccError

SOURCES_DIR = "/etc/apt/sources.list.d"
SOURCES_LIST = "/etc/apt/sources.list"
#: Where ``apt-get update`` keeps the fetched indices (``*_Sources`` for deb-src).
LISTS_DIR = "/var/lib/apt/lists"
#: The file :func:`ensure_deb_src` writes (the same one ``scripts/install-deps.sh`` writes).
DEB_SRC_FILE = os.path.join(SOURCES_DIR, "llmcc-src.sources")

#: Suites tried, in order, when ``apt-get source`` cannot fetch the newest version
#: (a security index can list a version the mirror does not serve).
FALLBACK_SUITES = ("bookworm",)

#: Seconds allowed to one download or unpack, and to one ``apt-get install``.
FETCH_TIMEOUT = 1800.0
INSTALL_TIMEOUT = 3600.0

#: Values of a deb822 ``Enabled`` field that turn a stanza off (apt's booleans).
_OFF = {"no", "false", "off", "0", "without", "disable"}

#: apt and dpkg hold a global lock: one apt-get that needs it at a time.
APT_LOCK = threading.RLock()

#: ``run(argv, cwd, env, timeout)``: run a command with its output logged; its exit status.
Runner = Callable[[list[str], str, dict[str, str] | None, float | None], int]


class DebianError(LlmccError, RuntimeError):
    """apt's sources, a source package or a build dependency could not be set up."""


class CommandFailed(DebianError):
    """A command run through the caller's runner failed: its log says why."""


def _deb822():
    try:
        from debian import deb822
    except ImportError as e:
        raise DebianError("python-debian is not installed (pip install 'llmcc[lab]')") from e
    return deb822


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ----------------------------------------------------------------- sources


def stanzas(text: str) -> list:
    """The stanzas of a deb822 ``.sources`` text, as :class:`debian.deb822.Deb822`
    paragraphs (field names case-insensitive; ``#`` comment lines dropped)."""
    return list(_deb822().Deb822.iter_paragraphs(text, use_apt_pkg=False))


def _types(stanza) -> list[str]:
    return stanza.get("Types", "").split()


def enabled(stanza) -> bool:
    """False when the stanza says ``Enabled: no`` (or another false value apt accepts)."""
    return stanza.get("Enabled", "yes").strip().lower() not in _OFF


def deb822_has_deb_src(text: str) -> bool:
    """True when a ``.sources`` text has an enabled stanza whose ``Types`` include ``deb-src``."""
    return any("deb-src" in _types(s) and enabled(s) for s in stanzas(text))


def one_line_has_deb_src(text: str) -> bool:
    """True when a one-line-style text (``sources.list``, ``*.list``) has a ``deb-src``
    line; commented-out lines do not count."""
    return any(line.split()[:1] == ["deb-src"] for line in text.splitlines())


def has_deb_src(sources_dir: str = SOURCES_DIR, sources_list: str = SOURCES_LIST) -> bool:
    """True when some enabled apt source already has ``deb-src`` entries: a stanza of
    ``sources_dir/*.sources``, or a line of ``sources_dir/*.list`` or ``sources_list``
    (unreadable files count as empty)."""
    if any(deb822_has_deb_src(_read(p))
           for p in sorted(glob.glob(os.path.join(sources_dir, "*.sources")))):
        return True
    lists = sorted(glob.glob(os.path.join(sources_dir, "*.list"))) + [sources_list]
    return any(one_line_has_deb_src(_read(p)) for p in lists)


def deb_src_stanzas(text: str) -> list[str]:
    """The ``Types: deb`` stanzas of a ``.sources`` text as ``deb-src`` ones: each
    stanza's text with ``Types: deb-src`` and its other fields (``Enabled`` too) kept."""
    out = []
    for s in stanzas(text):
        if "deb" in _types(s):
            s["Types"] = "deb-src"
            out.append(s.dump())
    return out


def ensure_deb_src(log: Callable[[str], object], sources_dir: str = SOURCES_DIR,
                   sources_list: str = SOURCES_LIST, lists_dir: str = LISTS_DIR) -> None:
    """Make ``apt-get source`` possible: mirror the ``deb`` sources as ``deb-src`` once.

    When some source already has enabled ``deb-src`` entries nothing is written,
    and ``apt-get update`` runs only if no source index has been fetched yet.
    Otherwise every ``Types: deb`` stanza of ``sources_dir/*.sources`` (Debian's
    ``debian.sources``) is written, as ``deb-src``, to ``llmcc-src.sources`` in
    ``sources_dir`` (:data:`DEB_SRC_FILE`), and the lists are updated.

    Args:
        log: called with one line saying what was done.

    Raises:
        DebianError: nothing to mirror, the file cannot be written (not root), or
            ``apt-get update`` failed.
    """
    if has_deb_src(sources_dir, sources_list):
        if not glob.glob(os.path.join(lists_dir, "*_Sources*")):
            log("deb-src entries present but no source index yet; running apt-get update")
            apt_update()
        return
    found: list[str] = []
    for path in sorted(glob.glob(os.path.join(sources_dir, "*.sources"))):
        found += deb_src_stanzas(_read(path))
    if not found:
        raise DebianError("no deb-src entries and no deb822 'Types: deb' entry to mirror")
    dest = os.path.join(sources_dir, os.path.basename(DEB_SRC_FILE))
    try:
        with open(dest, "w", encoding="utf-8") as f:
            f.write("\n".join(found))
    except OSError as e:
        raise DebianError(f"cannot add deb-src entries ({e}); run as root") from e
    log(f"added {dest}; running apt-get update")
    apt_update()


def apt_update() -> None:
    """Run ``apt-get update`` (under :data:`APT_LOCK`).

    Raises:
        DebianError: it failed (the message ends with its output).
    """
    with APT_LOCK:
        r = subprocess.run(["apt-get", "update"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise DebianError("apt-get update failed:\n" + r.stdout[-2000:])


# ----------------------------------------------------------- source packages


@dataclass(frozen=True)
class SourcePackage:
    """A downloaded Debian source package, as its ``.dsc`` describes it.

    Attributes:
        dsc: path of the ``.dsc`` file.
        name: the ``Source`` field ("" if absent).
        version: the ``Version`` field, e.g. ``1:1.2.13.dfsg-1`` ("" if absent).
        files: names of the files it lists (tarballs, patches), beside the ``.dsc``.
    """

    dsc: str
    name: str
    version: str
    files: tuple[str, ...]


def read_dsc(path: str) -> SourcePackage:
    """Parse a ``.dsc`` file (PGP-signed or not) with :class:`debian.deb822.Dsc`.

    Raises:
        OSError: it cannot be read.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        dsc = _deb822().Dsc(f)
    listed = dsc.get("Checksums-Sha256") or dsc.get("Files") or []
    return SourcePackage(path, dsc.get("Source", ""), dsc.get("Version", ""),
                         tuple(entry["name"] for entry in listed))


def download_source(package: str, dest: str, run: Runner, version: str = "",
                    suites: tuple[str, ...] = FALLBACK_SUITES) -> str:
    """``apt-get source --download-only`` into the directory ``dest``; the ``.dsc``'s path.

    Tries ``package=version`` when a version is given, else the newest version and
    then ``package/SUITE`` for each of ``suites``; the files of a failed try are
    removed before the next (subdirectories are left alone). After a failure of
    every target the lists are updated and the targets tried once more.

    Raises:
        CommandFailed: every try failed.
        DebianError: ``apt-get update`` failed.
    """
    targets = [f"{package}={version}"] if version else (
        [package] + [f"{package}/{s}" for s in suites])
    for attempt in range(2):
        for target in targets:
            for name in os.listdir(dest):
                path = os.path.join(dest, name)
                if os.path.islink(path) or os.path.isfile(path):
                    os.unlink(path)
            if run(["apt-get", "source", "--download-only", target], dest, None,
                   FETCH_TIMEOUT) == 0:
                dscs = glob.glob(os.path.join(dest, "*.dsc"))
                if len(dscs) == 1:
                    return dscs[0]
        if attempt == 0:
            apt_update()
    raise CommandFailed(f"apt-get source {package} failed")


def fetch_source(package: str, dest: str, run: Runner, log: Callable[[str], object],
                 version: str = "") -> SourcePackage:
    """The source package downloaded into ``dest``: the ``.dsc`` already there, else
    one fetched with :func:`download_source` (after :func:`ensure_deb_src`).

    Raises:
        CommandFailed: the download failed.
        DebianError: no deb-src entries could be set up, or ``dest`` holds several ``.dsc``.
    """
    os.makedirs(dest, exist_ok=True)
    dscs = sorted(glob.glob(os.path.join(dest, "*.dsc")))
    if not dscs:
        ensure_deb_src(log)
        dscs = [download_source(package, dest, run, version)]
    if len(dscs) != 1:
        raise DebianError(f"expected one .dsc in {dest}, found {len(dscs)}")
    return read_dsc(dscs[0])


def unpack_source(pkg: SourcePackage, dest: str, run: Runner) -> None:
    """Unpack ``pkg`` with Debian's patches applied into ``dest`` (which must not exist):
    ``dpkg-source --no-check -x`` into ``dest.tmp``, renamed when complete.

    Raises:
        DebianError: a file the ``.dsc`` lists is missing (an interrupted download).
        CommandFailed: ``dpkg-source`` failed.
    """
    where = os.path.dirname(os.path.abspath(pkg.dsc))
    missing = [f for f in pkg.files if not os.path.isfile(os.path.join(where, f))]
    if missing:
        raise DebianError(f"{pkg.dsc}: missing {', '.join(missing)} (download it again)")
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if run(["dpkg-source", "--no-check", "-x", pkg.dsc, tmp], where, None, FETCH_TIMEOUT) != 0:
        raise CommandFailed(f"dpkg-source -x {pkg.dsc} failed")
    os.rename(tmp, dest)


# ---------------------------------------------------------- build dependencies


def missing_packages(names) -> list[str]:
    """The binary packages among ``names`` that dpkg does not list as installed."""
    missing = []
    for name in names:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0 or not r.stdout.endswith(" installed"):
            missing.append(name)
    return missing


def install_packages(names: list[str], run: Runner) -> None:
    """``apt-get install`` the binary packages ``names``, without recommends, waiting
    for dpkg's lock if another apt-get holds it; on failure the lists are updated and
    the install tried once more.

    Raises:
        CommandFailed: the install failed twice.
        DebianError: ``apt-get update`` failed.
    """
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
            "-o", "DPkg::Lock::Timeout=900", *names]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in range(2):
        with APT_LOCK:
            rc = run(argv, os.getcwd(), env, INSTALL_TIMEOUT)
        if rc == 0:
            return
        if attempt == 0:
            apt_update()
    raise CommandFailed(f"apt-get install {' '.join(names)} failed")
