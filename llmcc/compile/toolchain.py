"""Finding the real clang and a matching ``opt``.

The real clang is found as ccache finds the compiler it wraps: ``LLMCC_CLANG``
if set, else the first ``clang`` (``clang++`` for C++) or ``clang-NN`` on
``PATH`` that is not llmcc itself (so masquerade links on ``PATH`` do not
recurse). ``opt`` must have the same LLVM major version: ``LLMCC_OPT``, else
``opt-NN`` on ``PATH``, else ``opt`` beside the real clang binary, else ``opt``
on ``PATH``.

Version queries cost a process each, so :class:`Toolchain` identities are
memoized on disk keyed by the binaries' paths, sizes and modification times
(ccache's ``compiler_check=mtime``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass

import xxhash

from llmcc.errors import ToolchainError
from llmcc.store import files

_VERSION_RE = re.compile(r"version (\d+)\.(\d+)\.(\d+)")
#: ``clang-NN`` names looked for on PATH, newest first (after plain ``clang``).
MAX_MAJOR, MIN_MAJOR = 40, 10


@dataclass(frozen=True)
class Toolchain:
    """The real compiler pair llmcc drives.

    Attributes:
        clang: absolute path of the real clang driver (C or C++ as called).
        opt: absolute path of ``opt`` with the same LLVM major version, or
            ``None`` when none was found (then llmcc only passes through).
        version: clang's full version, e.g. ``"19.1.7"``.
        identity: a hex digest of both tools' ``--version`` output, for cache keys.
        problem: why ``opt`` is unusable, or ``""``.
    """

    clang: str
    opt: str | None
    version: str
    identity: str
    problem: str = ""

    @property
    def major(self) -> int:
        """LLVM major version of the real clang."""
        return int(self.version.split(".")[0])


def is_llmcc(path: str, self_paths: tuple[str, ...]) -> bool:
    """True when ``path`` is llmcc itself (same real file, or a script naming llmcc)."""
    try:
        real = os.path.realpath(path)
        if real in self_paths:
            return True
        with open(real, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return head.startswith(b"#!") and b"llmcc" in head


def find_clang(cxx: bool, self_paths: tuple[str, ...], env: dict[str, str]) -> str:
    """Absolute path of the real clang driver.

    Args:
        cxx: look for ``clang++`` rather than ``clang``.
        self_paths: real paths of llmcc's own executables, to skip.
        env: the environment (``LLMCC_CLANG``, ``LLMCC_CLANGXX``, ``PATH``).

    Raises:
        ToolchainError: none found, or ``LLMCC_CLANG`` points at llmcc.
    """
    override = env.get("LLMCC_CLANGXX" if cxx else "LLMCC_CLANG")
    if not override and cxx and env.get("LLMCC_CLANG"):
        base = env["LLMCC_CLANG"]
        head, name = os.path.split(base)
        override = os.path.join(head, name.replace("clang", "clang++", 1))
    if override:
        if is_llmcc(override, self_paths):
            raise ToolchainError(f"LLMCC_CLANG={override} is llmcc itself")
        if not os.access(override, os.X_OK):
            raise ToolchainError(f"LLMCC_CLANG={override} is not executable")
        return os.path.abspath(override)
    base = "clang++" if cxx else "clang"
    names = [base] + [f"{base}-{n}" for n in range(MAX_MAJOR, MIN_MAJOR - 1, -1)]
    for d in env.get("PATH", os.defpath).split(os.pathsep):
        if not d:
            continue
        for name in names:
            path = os.path.join(d, name)
            if os.access(path, os.X_OK) and not is_llmcc(path, self_paths):
                return path
    raise ToolchainError(f"no real {'clang++' if cxx else 'clang'} on PATH (set LLMCC_CLANG)")


def _stat_id(path: str) -> str:
    st = os.stat(path)
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def _version_text(path: str) -> str:
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolchainError(f"cannot run {path} --version: {e}") from e
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or [""])[0][:200]
        raise ToolchainError(f"{path} --version failed with exit code {r.returncode}"
                             + (f" ({why})" if why else ""))
    return r.stdout


def _opt_candidates(clang: str, major: int, env: dict[str, str]) -> list[str]:
    if env.get("LLMCC_OPT"):
        return [env["LLMCC_OPT"]]
    found = []
    paths = [d for d in env.get("PATH", os.defpath).split(os.pathsep) if d]
    for d in paths:
        found.append(os.path.join(d, f"opt-{major}"))
    found.append(os.path.join(os.path.dirname(os.path.realpath(clang)), "opt"))
    for d in paths:
        found.append(os.path.join(d, "opt"))
    return [p for p in found if os.access(p, os.X_OK)]


def resolve(cxx: bool, self_paths: tuple[str, ...], env: dict[str, str],
            memo_dir: str | None) -> Toolchain:
    """Find the real clang and a matching ``opt``; memoize versions under ``memo_dir``.

    Raises:
        ToolchainError: no usable real clang (``opt`` problems are reported in
            :attr:`Toolchain.problem` instead, since clang alone still works).
    """
    clang = find_clang(cxx, self_paths, env)
    # The path as found, not only its real file: Debian's clang-19 and clang++-19
    # are the same binary, and the name decides the driver mode.
    key = xxhash.xxh3_64_hexdigest("\0".join(
        [clang, _stat_id(clang), env.get("PATH", ""), env.get("LLMCC_OPT", "")]).encode())
    memo = os.path.join(memo_dir, "toolchain", key + ".json") if memo_dir else None
    if memo:
        try:
            record = json.loads(files.read_nofollow(memo, 1 << 16))
            # The memo is cache content: never run an executable it names. Its
            # clang must be the one just found and its opt one that this search
            # would find itself, unchanged since the memo was written.
            opt_ok = (not record["opt"] and record.get("problem")) or (
                record["opt"] in [os.path.abspath(c) for c in _opt_candidates(
                    clang, int(record["version"].split(".")[0]), env)]
                and record["opt_stat"] == _stat_id(record["opt"]))
            if record["clang"] == clang and opt_ok:
                return Toolchain(**{k: v for k, v in record.items() if k != "opt_stat"})
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
            pass
    tc = _probe(clang, env)
    if memo:
        try:
            files.make_dirs(memo_dir, "toolchain")
            files.atomic_write(memo, json.dumps(
                dict(asdict(tc), opt_stat=_stat_id(tc.opt) if tc.opt else "")))
        except OSError:
            pass
    return tc


def _probe(clang: str, env: dict[str, str]) -> Toolchain:
    text = _version_text(clang)
    m = _VERSION_RE.search(text)
    if not m:
        raise ToolchainError(f"cannot read the version of {clang}")
    version = ".".join(m.groups())
    major = int(m.group(1))
    problems = []
    for cand in _opt_candidates(clang, major, env):
        try:
            otext = _version_text(cand)
        except ToolchainError as e:
            problems.append(str(e))
            continue
        om = _VERSION_RE.search(otext)
        if om and int(om.group(1)) == major:
            ident = xxhash.xxh3_128_hexdigest((text + "\0" + otext).encode())
            return Toolchain(clang=clang, opt=os.path.abspath(cand), version=version,
                             identity=ident)
        problems.append(f"{cand} is LLVM {om.group(1) if om else '?'}, clang is {major}")
    why = "; ".join(problems) or f"no opt-{major} or opt found"
    return Toolchain(clang=clang, opt=None, version=version,
                     identity=xxhash.xxh3_128_hexdigest(text.encode()), problem=why)


def self_paths() -> tuple[str, ...]:
    """Real paths of llmcc's own executables, skipped when looking for clang."""
    paths = {os.path.realpath(sys.argv[0])}
    for name in ("llmcc", "llmcc++"):
        p = shutil.which(name)
        if p:
            paths.add(os.path.realpath(p))
    return tuple(sorted(paths))
