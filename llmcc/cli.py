"""Command-line entry points: ``llmcc``, ``llmcc++`` and the masquerade names.

Called as ``llmcc``/``llmcc++`` with one of llmcc's own options alone
(``-s/--show-stats``, ``-z/--zero-stats``, ``-C/--clear``, ``-p/--show-config``,
``--version``, ``-h/--help``) or a subcommand, it manages llmcc; with anything
else it is the compiler. Called through a masquerade name (a symlink named
``cc``, ``clang``, ``c++`` or ``clang++``, or a ``shims/`` script, which passes
``--llmcc-driver=NAME`` first) it is always the compiler, so ``clang --version``
still answers as clang. Commands return data; this module alone prints.
"""

from __future__ import annotations

import os
import sys

from llmcc import __version__

# Imported on every compiler call: the management commands' modules (argparse,
# the stores, the config parser) are imported where they are used, so that a
# call handed to the compile server costs little more than the interpreter.

#: Set in the environment of every tool the compile path runs (the real clang,
#: ``opt``): llmcc started with it set was called back by its own compiler.
RECURSION_ENV = "LLMCC_RECURSION"

OWN_OPTIONS = {"-s", "--show-stats", "-z", "--zero-stats", "-C", "--clear", "--version",
               "-h", "--help", "-p", "--show-config", "--identity", "--print-stats"}
SUBCOMMANDS: dict[str, str] = {"bench": "llmcc.lab.benchcmd", "tune": "llmcc.lab.tune", "cache": "llmcc.cachecmd",
                              "difftest": "llmcc.lab.difftest", "train": "llmcc.lab.train",
                              "corpus": "llmcc.lab.corpus",
                              "autotune": "llmcc.lab.autotune"}


def _is_cxx_name(name: str) -> bool:
    base = os.path.basename(name)
    return "++" in base or base in ("c++", "g++") or base.startswith("clang++")


def _own_name(name: str) -> bool:
    return os.path.basename(name) in ("llmcc", "llmcc++")


def _quiet_on_closed_pipe(fn, *args) -> int:
    """Run a reporting command; a reader that closes the pipe early (``| head``) ends
    it quietly with status 0, as with other Unix tools, instead of a traceback."""
    try:
        return fn(*args)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail
        return 0


def show_stats(cfg) -> list[str]:
    """Lines of the statistics report (ccache ``-s`` style) for a
    :class:`llmcc.config.Config`, derived from the declared counters
    (:data:`llmcc.store.counters.COUNTERS`)."""
    from llmcc.store import cache as cache_mod, counters, stats
    from llmcc import config as config_mod
    c = stats.read(cfg.cache_dir)
    lines = [f"cache directory: {cfg.cache_dir}",
             f"config file: {config_mod.config_path(dict(os.environ))}"]
    hits, misses = c.get("cache hits", 0), c.get("cache misses", 0)
    rows = counters.report(c)
    width = max([len(label) for _, label, _ in rows] + [30]) + 4
    section = None
    for category, label, value in rows:
        if category != section:
            lines.append(category)
            section = category
        lines.append(f"  {label:<{width}}{value}")
        if label == "cache misses" and hits + misses:
            lines.append(f"  {'cache hit rate':<{width}}{100.0 * hits / (hits + misses):.2f} %")
    oz, out = c.get("bytes -Oz", 0), c.get("bytes llmcc", 0)
    pct = f" ({100.0 * (oz - out) / oz:.2f} % of -Oz)" if oz else ""
    lines.append(f"  {'bytes saved against -Oz':<{width}}{oz - out}{pct}")
    lines.append(f"cache entries: {cache_mod.Store(cfg.cache_dir).count()} "
                 f"(max {cfg.max_entries})")
    return lines


def output_identity(cfg, env: dict[str, str], cxx: bool) -> str:
    """xxh3-128 of everything that decides the objects llmcc makes: llmcc's version,
    the toolchain identity, the ranker's identity (model or coreset), and the
    settings that change decisions (k, policy, pinned file contents, forced pipeline).
    A wrapping cache such as ccache must key on it, or a model update serves stale
    objects."""
    import xxhash
    from llmcc.compile.toolchain import self_paths
    from llmcc.rank.rankers import load_ranker
    from llmcc.compile.toolchain import resolve
    tc = resolve(cxx, self_paths(), env, None)
    try:
        ranker = load_ranker(cfg.ranker).identity
    except Exception:  # same fallback as the driver
        ranker = load_ranker("static").identity
    pinned = b""
    if cfg.pinned:
        try:
            with open(cfg.pinned, "rb") as f:
                pinned = f.read()
        except OSError:
            pass
    parts = [__version__, tc.clang, tc.identity, ranker, str(cfg.candidates), cfg.policy,
             cfg.force_pipeline, xxhash.xxh3_64_hexdigest(pinned), str(cfg.disable)]
    return xxhash.xxh3_128_hexdigest("\0".join(parts).encode())


def _manage(argv: list[str], prog: str) -> int:
    import argparse
    import subprocess
    from llmcc.store import cache as cache_mod, stats
    from llmcc import config as config_mod
    from llmcc.errors import LlmccError
    parser = argparse.ArgumentParser(
        prog=prog, description="llmcc: a drop-in clang that makes smaller objects. "
        "Use it as a compiler (CC=llmcc) or manage it with one of these options.")
    g = parser.add_mutually_exclusive_group()
    g.add_argument("-s", "--show-stats", action="store_true", help="show statistics")
    g.add_argument("--print-stats", action="store_true",
                   help="print every counter as ID<TAB>VALUE, for scripts")
    g.add_argument("-z", "--zero-stats", action="store_true", help="zero statistics")
    g.add_argument("-C", "--clear", action="store_true", help="clear the cache")
    g.add_argument("-p", "--show-config", action="store_true", help="show the effective config")
    g.add_argument("--version", action="store_true", help="print llmcc's and clang's versions")
    g.add_argument("--identity", action="store_true",
                   help="print one hash of everything that decides llmcc's objects (for "
                        "ccache: CCACHE_COMPILERCHECK='string:'$(llmcc --identity))")
    ns = parser.parse_args(argv)
    env = dict(os.environ)
    try:
        cfg = config_mod.load(env)
    except LlmccError as e:
        print(f"llmcc: error: {e}", file=sys.stderr)
        return 2
    if ns.show_stats:
        print("\n".join(show_stats(cfg)))
    elif ns.print_stats:
        from llmcc.store import counters
        print("\n".join(counters.machine_report(stats.read(cfg.cache_dir))))
    elif ns.zero_stats:
        stats.zero(cfg.cache_dir)
        print("statistics zeroed")
    elif ns.clear:
        cache_mod.clear_cache_dir(cfg.cache_dir)
        print("cache cleared")
    elif ns.show_config:
        for k, v in sorted(vars(cfg).items()):
            print(f"{k} = {v}")
    elif ns.identity:
        print(output_identity(cfg, env, prog.endswith("++")))
    elif ns.version:
        print(f"llmcc {__version__}")
        from llmcc.compile.toolchain import self_paths
        from llmcc.compile.toolchain import resolve
        try:
            tc = resolve(prog.endswith("++"), self_paths(), env, None)
            print(f"real compiler: {tc.clang} (clang {tc.version})")
            print(f"opt: {tc.opt or 'unavailable: ' + tc.problem}")
            print(f"identity: {output_identity(cfg, env, prog.endswith('++'))}")
            sys.stdout.flush()
            subprocess.run([tc.clang, "--version"], check=False)
        except LlmccError as e:
            print(f"real compiler: unavailable ({e})")
    else:
        parser.print_help()
    return 0


def main(argv: list[str] | None = None, *, cxx: bool | None = None) -> int:
    """Entry point of ``llmcc`` (and masquerade names); returns the exit code."""
    argv0 = sys.argv[0]
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get(RECURSION_ENV):
        # Started by a tool llmcc runs as "the real clang": a wrapper loop.
        sys.stderr.write("llmcc: error: llmcc was called again by the compiler it runs "
                         f"({os.environ.get('LLMCC_CLANG') or 'the first clang on PATH'}); "
                         "set LLMCC_CLANG to the real clang\n")
        return 1
    if args and args[0].startswith("--llmcc-driver="):
        # A masquerade shim: always the compiler, C++ by the shim's name.
        name = args[0].split("=", 1)[1]
        from llmcc.compile import client
        return client.run(args[1:], _is_cxx_name(name) if cxx is None else cxx)
    if cxx is None:
        cxx = _is_cxx_name(argv0)
    if _own_name(argv0) and args:
        if args[0] in SUBCOMMANDS:
            import importlib
            try:
                return importlib.import_module(SUBCOMMANDS[args[0]]).main(args[1:])
            except FileNotFoundError as e:  # a corpus, labels or state directory that is not one
                print(f"llmcc {args[0]}: {e.strerror}: {e.filename}", file=sys.stderr)
                return 1
            except ModuleNotFoundError as e:  # an offline tool without its extra
                print(f"llmcc {args[0]}: needs the module {e.name!r}: "
                      "pip install 'llmcc[lab]'", file=sys.stderr)
                return 2
        if all(a in OWN_OPTIONS for a in args):
            return _quiet_on_closed_pipe(_manage, args, os.path.basename(argv0))
    if _own_name(argv0) and not args:
        return _quiet_on_closed_pipe(_manage, ["--help"], os.path.basename(argv0))
    from llmcc.compile import client
    return client.run(args, cxx)


def main_cxx() -> int:
    """Entry point of ``llmcc++``."""
    return main(cxx=True)
