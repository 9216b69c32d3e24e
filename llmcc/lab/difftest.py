"""``llmcc difftest``: differential testing of pass pipelines with Csmith programs.

A pass pipeline may make objects smaller only if it keeps every program's
behaviour. This is the correctness check the LLM Compiler paper (Cummins et
al., 2024) calls *PassListEval*: a pass list is rejected if it changes the
behaviour of self-checking programs. Here the programs are random ones from Csmith (Yang et al., "Finding and Understanding Bugs in C
Compilers", PLDI 2011), which are free of undefined behaviour and print a
checksum of their global state.

For program ``i`` (Csmith seed ``S + i``):

1. generate the C file with Csmith, with options that keep programs small and
   quick and leave out packed structs (misaligned accesses through pointers);
2. build references with the real clang at ``-O0`` and at ``-Oz`` and run them
   with a timeout; a program is *usable* only if both finish, exit normally and
   print the same output (otherwise it is discarded, and the reason counted);
3. for each pipeline, compile with ``llmcc -Oz`` and ``LLMCC_FORCE_PIPELINE``
   set to it (a private cache directory per worker), check in llmcc's
   statistics that the forced pipeline was really used, link with the real
   clang, run, and compare the output with the reference.

A pipeline is *rejected* when a program built with it prints something else or
exits differently (``disagree``), hangs where the references finished
(``timeout``), or cannot be compiled because ``opt`` or codegen failed on it
or the pass allowlist refuses it. Each disagreement, hang and ``opt`` failure
leaves a reproducer under ``OUT/reproducers/<seed>-<n>/`` (``n``: the
pipeline's 1-based position): the program, the pipeline, both outputs and a
README with the exact commands, including the same build done by hand with
``opt``, so that a bug can be reported to LLVM without llmcc.

Per-program results are appended to ``OUT/progress.jsonl`` as they finish; a
rerun skips what is recorded (and tests only pipelines added since).
``OUT/results.json`` has the totals; :func:`rejected` reads the verdicts.

Usage::

    llmcc difftest [--programs N] [--seed S] [--pipelines FILE] [--out DIR]
                   [--jobs J] [--timeout SEC] [--cflags FLAGS]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from tqdm import tqdm

from llmcc.store import stats
from llmcc.errors import LlmccError
from llmcc.lab.jsonl import append_jsonl, load_pipelines, read_jsonl
from llmcc.lab.report import text_table

#: Csmith options. Csmith's defaults except that programs are somewhat smaller
#: (at most 8 functions besides ``main``, expressions of complexity 8: about
#: 70 KB of C, 6 KB of ``-Oz`` code, compiled in about a second and usually run
#: in milliseconds) and ``--no-packed-struct``: packed structs let Csmith take
#: pointers to misaligned fields, which C does not define, and published Csmith
#: campaigns against x86 compilers turn them off. Bit-fields, unions,
#: volatiles, pointers and 64-bit math stay on: they are what size passes
#: (instcombine, SROA, GVN, SimplifyCFG) must get right.
CSMITH_OPTIONS: tuple[str, ...] = (
    "--no-packed-struct", "--concise", "--max-funcs", "8", "--max-expr-complexity", "8",
)

#: Programs larger than this (bytes of C) are discarded unused.
MAX_PROGRAM_BYTES = 256 * 1024

#: Flags of every build: no warnings (Csmith code triggers many) and Csmith's runtime headers.
BASE_CFLAGS: tuple[str, ...] = ("-w",)

#: Seconds allowed to Csmith, and to each compile (llmcc's own ``opt`` timeout is 120 s).
CSMITH_TIMEOUT = 60.0
COMPILE_TIMEOUT = 600.0

#: A build under test may run this many times longer than ``--timeout`` before it
#: counts as hanging (the ``-O0`` reference, the slowest build, had to finish within it).
TEST_TIMEOUT_FACTOR = 2.0

STATUSES = ("agree", "disagree", "compile failure", "timeout")

#: llmcc statistics keys meaning the forced pipeline itself is at fault.
PIPELINE_FAULTS = {
    "fallback: forced pipeline failed": "opt or codegen failed",
    "fallback: forced pipeline rejected": "refused by the pass allowlist",
}


class DifftestError(LlmccError, RuntimeError):
    """The campaign cannot run (no Csmith, no clang, no llmcc, unreadable pipeline file)."""


# --------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class Setup:
    """Everything a campaign needs, resolved once.

    Attributes:
        out: output directory.
        clang: the real clang (as llmcc finds it), used for references and linking.
        opt: the matching ``opt`` (for the hand-made reproduction in reproducers).
        csmith: the Csmith executable.
        include: Csmith's runtime header directory (``csmith.h``).
        llmcc: argv prefix that runs llmcc as a compiler.
        cflags: extra flags for the builds under test (not the references).
        timeout: seconds a reference run may take.
        pipelines: the pipelines under test, in order.
    """

    out: str
    clang: str
    opt: str | None
    csmith: str
    include: str
    llmcc: tuple[str, ...]
    cflags: tuple[str, ...]
    timeout: float
    pipelines: tuple[str, ...]

    def common_flags(self) -> list[str]:
        """Flags shared by every build of a Csmith program."""
        return list(BASE_CFLAGS) + ["-I", self.include]


def find_csmith_include(csmith: str) -> str:
    """Directory holding ``csmith.h``: ``$CSMITH_HOME/{include,runtime}``, then the
    install prefix of ``csmith`` (``<prefix>/include/csmith[-VERSION]``).

    Raises:
        DifftestError: no ``csmith.h`` found.
    """
    cands = []
    home = os.environ.get("CSMITH_HOME")
    if home:
        cands += [os.path.join(home, "include"), os.path.join(home, "runtime")]
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(csmith)))
    for root in (os.path.join(prefix, "include"), "/usr/include", "/usr/local/include"):
        cands.append(os.path.join(root, "csmith"))
        try:
            cands += sorted(os.path.join(root, d) for d in os.listdir(root)
                            if d.startswith("csmith-"))
        except OSError:
            pass
    for d in cands:
        if os.path.isfile(os.path.join(d, "csmith.h")):
            return d
    raise DifftestError("cannot find csmith.h (install libcsmith-dev or set CSMITH_HOME)")


def llmcc_command() -> tuple[str, ...]:
    """argv prefix running llmcc as a compiler: the installed ``llmcc``, else this interpreter."""
    exe = shutil.which("llmcc")
    if exe:
        return (exe,)
    return (sys.executable, "-c", "import sys; from llmcc.cli import main; sys.exit(main())")


def default_pipelines() -> tuple[str, ...]:
    """The shipped coreset followed by the static ranker's starter pipelines not in it."""
    from llmcc.rank.rankers import STARTER_PIPELINES, load_coreset
    out: list[str] = []
    for p in load_coreset() + STARTER_PIPELINES:
        if p not in out:
            out.append(p)
    return tuple(out)


def read_pipelines(path: str) -> tuple[str, ...]:
    """Pipelines from ``path``: a JSON list (or an object with a ``pipelines`` list,
    as ``coreset.json``), else text with one pipeline per line (``#`` comments)
    (:func:`llmcc.lab.jsonl.load_pipelines`); repeats are dropped.

    Raises:
        DifftestError: unreadable, or no pipeline in it.
    """
    try:
        items = load_pipelines(path, any_format=True)
    except OSError as e:
        raise DifftestError(f"cannot read {path}: {e}") from e
    except TypeError as e:
        raise DifftestError(f"{path}: expected a JSON list of pipelines") from e
    out: list[str] = []
    for p in items:
        if p and p not in out:
            out.append(p)
    if not out:
        raise DifftestError(f"{path}: no pipelines")
    return tuple(out)


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One execution of a program: its stdout (text), exit code, and whether it timed out."""

    output: str = ""
    exit: int | None = None
    timed_out: bool = False
    seconds: float = 0.0

    def behaviour(self) -> tuple[str, int | None]:
        """What is compared between builds: stdout and exit code."""
        return self.output, self.exit

    def describe(self) -> str:
        """Output as saved in reproducers, with a note on how the program ended."""
        if self.timed_out:
            return self.output + f"[timed out after {self.seconds:.1f} s]\n"
        if self.exit != 0:
            return self.output + f"[exit code {self.exit}]\n"
        return self.output


def _run(argv: list[str], timeout: float, cwd: str | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess | None:
    """Run ``argv`` capturing text output; None on timeout."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              timeout=timeout, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None


def execute(exe: str, timeout: float) -> Run:
    """Run a built program (no arguments, so Csmith prints only the checksum)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([exe], capture_output=True, timeout=timeout,
                           cwd=os.path.dirname(exe), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return Run(out, None, True, time.monotonic() - t0)
    return Run(p.stdout.decode(errors="replace"), p.returncode, False, time.monotonic() - t0)


def csmith_command(setup: Setup, seed: int, path: str) -> list[str]:
    """Csmith argv that writes program ``seed`` to ``path``."""
    return [setup.csmith, "--seed", str(seed), *CSMITH_OPTIONS, "-o", path]


def reference_command(setup: Setup, level: str, src: str, exe: str) -> list[str]:
    """Real-clang argv building ``src`` at ``level`` (``-O0``/``-Oz``) into ``exe``."""
    return [setup.clang, level, *setup.common_flags(), src, "-o", exe]


def build_commands(setup: Setup, src: str, obj: str, exe: str) -> tuple[list[str], list[str]]:
    """(compile with llmcc, link with clang) argvs of a build under test."""
    compile_ = [*setup.llmcc, "-Oz", *setup.common_flags(), *setup.cflags, "-c", src, "-o", obj]
    return compile_, [setup.clang, obj, "-o", exe]


def llmcc_env(cache_dir: str, config: str, pipeline: str) -> dict[str, str]:
    """Environment of a build under test: no inherited llmcc settings except where the
    real clang and ``opt`` are (``LLMCC_CLANG``, ``LLMCC_OPT``); a private cache, no
    config file, the forced pipeline, and debug messages (to explain fallbacks)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LLMCC_") or k in ("LLMCC_CLANG", "LLMCC_OPT")}
    env.update(LLMCC_CACHE_DIR=cache_dir, LLMCC_CONFIG=config,
               LLMCC_FORCE_PIPELINE=pipeline, LLMCC_DEBUG="1")
    return env


@dataclass
class Program:
    """A generated program and its reference behaviour.

    ``oz_object`` is plain ``clang -Oz -c`` with the test flags: a build under test
    with the same bytes ran the same code as ``-Oz`` and so proves little.
    """

    seed: int
    dir: str
    src: str
    usable: bool = False
    discard: str = ""
    reference: Run = field(default_factory=Run)
    oz_object: bytes = b""


def prepare(setup: Setup, seed: int, work: str) -> Program:
    """Generate program ``seed`` in ``work`` and build and run its references."""
    src = os.path.join(work, "prog.c")
    prog = Program(seed, work, src)
    r = _run(csmith_command(setup, seed, src), CSMITH_TIMEOUT)
    if r is None or r.returncode != 0 or not os.path.isfile(src):
        prog.discard = "csmith failed"
        return prog
    if os.path.getsize(src) > MAX_PROGRAM_BYTES:
        prog.discard = "too large"
        return prog
    runs = {}
    for level in ("-O0", "-Oz"):
        exe = os.path.join(work, "ref" + level)
        r = _run(reference_command(setup, level, src, exe), COMPILE_TIMEOUT)
        if r is None or r.returncode != 0:
            prog.discard = f"reference {level} does not compile"
            return prog
        run = execute(exe, setup.timeout)
        if run.timed_out:
            prog.discard = "reference timeout"
            return prog
        if run.exit != 0:
            prog.discard = "reference crashes"
            return prog
        runs[level] = run
    if runs["-O0"].behaviour() != runs["-Oz"].behaviour():
        prog.discard = "-O0 and -Oz disagree"
        return prog
    prog.usable, prog.reference = True, runs["-O0"]
    obj = os.path.join(work, "oz.o")
    r = _run([setup.clang, "-Oz", *setup.common_flags(), *setup.cflags, "-c", src, "-o", obj],
             COMPILE_TIMEOUT, cwd=work)
    if r is not None and r.returncode == 0:
        with open(obj, "rb") as f:
            prog.oz_object = f.read()
    return prog


def _debug_reason(stderr: str) -> str:
    """llmcc's last explanation (``LLMCC_DEBUG`` line), e.g. why it fell back."""
    lines = [ln[len("llmcc: "):] for ln in stderr.splitlines() if ln.startswith("llmcc: ")]
    if not lines:
        return ""
    last = lines[-1]
    prefix = "falling back to plain clang ("
    if last.startswith(prefix) and last.endswith(")"):
        last = last[len(prefix):-1]
    return last


def try_pipeline(setup: Setup, prog: Program, n: int, pipeline: str,
                  cache_dir: str) -> dict:
    """Build ``prog`` with ``pipeline`` forced (``n``: its 1-based number), run and compare.

    Returns:
        ``{"status": one of STATUSES, "detail": str, "rejects": bool}`` plus
        ``"output"`` when the behaviour differs and ``"same_as_oz"`` (the object
        is byte-identical to plain ``clang -Oz``'s) when it agrees.
    """
    obj = os.path.join(prog.dir, f"p{n}.o")
    exe = os.path.join(prog.dir, f"p{n}")
    compile_, link = build_commands(setup, prog.src, obj, exe)
    env = llmcc_env(cache_dir, os.path.join(setup.out, "work", "no-config.toml"), pipeline)
    before = stats.read(cache_dir)
    r = _run(compile_, COMPILE_TIMEOUT, cwd=prog.dir, env=env)
    delta = stats.read(cache_dir)
    delta.subtract(before)
    if r is None:
        return {"status": "compile failure", "detail": "llmcc timed out", "rejects": False}
    if r.returncode != 0:
        return {"status": "compile failure", "rejects": False,
                "detail": f"llmcc exited with {r.returncode}: {r.stderr.strip()[-500:]}"}
    if delta["forced pipeline"] != 1:
        faults = [k for k in PIPELINE_FAULTS if delta[k] > 0]
        others = sorted(k for k, v in delta.items() if v > 0 and k.startswith(
            ("fallback:", "uncacheable:")))
        why = (_debug_reason(r.stderr) or (PIPELINE_FAULTS[faults[0]] if faults else "")
               or ", ".join(others) or "forced pipeline not used")
        res = {"status": "compile failure", "rejects": bool(faults), "detail": why}
        if faults:
            res["fault"] = faults[0]
        return res
    with open(obj, "rb") as f:
        same_as_oz = f.read() == prog.oz_object
    r = _run(link, COMPILE_TIMEOUT, cwd=prog.dir)
    if r is None or r.returncode != 0:
        return {"status": "compile failure", "rejects": False,
                "detail": "link failed: " + (r.stderr.strip()[-500:] if r else "timed out")}
    run = execute(exe, setup.timeout * TEST_TIMEOUT_FACTOR)
    if run.timed_out:
        return {"status": "timeout", "rejects": True, "output": run.describe(),
                "detail": f"no exit after {run.seconds:.1f} s; the -O0 reference took "
                          f"{prog.reference.seconds:.2f} s"}
    if run.behaviour() != prog.reference.behaviour():
        return {"status": "disagree", "rejects": True, "output": run.describe(),
                "detail": f"exit code {run.exit}, output {run.output.strip()[:80]!r}; "
                          f"expected {prog.reference.output.strip()[:80]!r}"}
    return {"status": "agree", "detail": "", "rejects": False, "same_as_oz": same_as_oz}


# --------------------------------------------------------------------------- reproducers


def _clang_oz_pipeline(setup: Setup, src: str) -> str | None:
    """clang's own ``-Oz`` pipeline text for these flags (its ``-print-pipeline-passes``)."""
    argv = [setup.clang, "-Oz", *setup.common_flags(), *setup.cflags, "-mllvm",
            "-print-pipeline-passes", "-c", src, "-o", os.devnull]
    r = _run(argv, COMPILE_TIMEOUT)
    if r is None or r.returncode != 0 or not r.stdout.strip():
        return None
    return r.stdout.splitlines()[0].strip()


def write_reproducer(setup: Setup, prog: Program, n: int, pipeline: str, result: dict) -> str:
    """Write ``OUT/reproducers/<seed>-<n>/`` for a failing pipeline; return its path.

    Besides the llmcc build it redoes the build by hand (lower with clang, ``opt -p``
    with clang's ``-Oz`` pipeline text substituted for ``default<Oz>``, codegen, link,
    run) and records whether that reproduces the failure without llmcc.
    """
    from llmcc.llvm.ir import opt_target_args
    from llmcc.llvm.passes import split_decision, substitute_oz
    d = os.path.join(setup.out, "reproducers", f"{prog.seed}-{n}")
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(prog.src, os.path.join(d, "prog.c"))

    def save(name: str, text: str) -> None:
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)

    save("pipeline.txt", pipeline + "\n")
    save("expected.txt", prog.reference.describe())
    save("actual.txt", result["output"] if "output" in result else result["detail"] + "\n")
    cache = "$(mktemp -d)"
    clang = setup.clang
    flags = [*setup.common_flags(), *setup.cflags]
    lines = [
        f"Csmith seed {prog.seed}, pipeline {n}: {result['status']} ({result['detail']})",
        "",
        "Regenerate the program (prog.c here is its output):",
        "  " + shlex.join(csmith_command(setup, prog.seed, "prog.c")),
        "Expected output (expected.txt), the -O0 reference (-Oz gives the same):",
        "  " + shlex.join(reference_command(setup, "-O0", "prog.c", "ref")) + " && ./ref",
        "Build under test (actual.txt):",
        f"  LLMCC_CONFIG=/nonexistent LLMCC_CACHE_DIR={cache} LLMCC_DEBUG=1 "
        f"LLMCC_FORCE_PIPELINE={shlex.quote(pipeline)} "
        + shlex.join(["llmcc", "-Oz", *flags, "-c", "prog.c", "-o", "prog.o"])
        + " && " + shlex.join([clang, "prog.o", "-o", "prog"]) + " && ./prog",
    ]
    oz = _clang_oz_pipeline(setup, prog.src)
    if setup.opt and oz:
        pipeline_text, options = split_decision(pipeline)
        try:
            expanded = substitute_oz(pipeline_text, oz)
        except ValueError:
            expanded = None
        if expanded:
            save("pipeline.opt.txt", expanded + "\n")
            ll = os.path.join(d, "prog.ll")
            lower = [clang, "-Oz", *flags, "-Xclang", "-disable-llvm-passes", "-Xclang",
                     "-emit-llvm-uselists", "-S", "-emit-llvm", "prog.c", "-o", "prog.ll"]
            r = _run(lower, COMPILE_TIMEOUT, cwd=d)
            target = []
            if r is not None and r.returncode == 0:
                with open(ll, encoding="utf-8", errors="replace") as f:
                    target = opt_target_args(f.read())
            opt = [setup.opt, *target, *options, "-p", expanded, "prog.ll", "-o",
                   "prog.opt.bc"]
            codegen = [clang, "-Oz", *flags, "-c", "-x", "ir", "prog.opt.bc", "-o", "prog.opt.o",
                       "-Xclang", "-disable-llvm-passes", "-Wno-unused-command-line-argument"]
            link = [clang, "prog.opt.o", "-o", "prog.opt"]
            verdict = "could not lower"
            if r is not None and r.returncode == 0:
                r = _run(opt, COMPILE_TIMEOUT, cwd=d)
                if r is None or r.returncode != 0:
                    verdict = ("opt fails" if r else "opt times out")
                    save("opt.stderr.txt", f"exit code {r.returncode}\n{r.stderr}" if r
                         else "timed out\n")
                else:
                    r = _run(codegen, COMPILE_TIMEOUT, cwd=d)
                    r2 = _run(link, COMPILE_TIMEOUT, cwd=d) if r and r.returncode == 0 else None
                    if r2 is None or r2.returncode != 0:
                        verdict = "codegen or link fails"
                    else:
                        run = execute(os.path.join(d, "prog.opt"),
                                      setup.timeout * TEST_TIMEOUT_FACTOR)
                        save("actual.opt.txt", run.describe())
                        same = run.behaviour() == prog.reference.behaviour()
                        verdict = ("output matches the reference (the failure needs llmcc)"
                                   if same and not run.timed_out else
                                   "the failure reproduces without llmcc (actual.opt.txt)")
            for name in ("prog.opt.bc", "prog.opt.o", "prog.opt"):
                try:
                    os.unlink(os.path.join(d, name))
                except OSError:
                    pass
            lines += [
                "The same build by hand with opt (pipeline.opt.txt is pipeline.txt with clang's "
                "own -Oz pipeline in place of default<Oz>):",
                "  " + shlex.join(lower),
                "  " + shlex.join(opt[:-5]) + ' -p "$(cat pipeline.opt.txt)" prog.ll -o prog.opt.bc',
                "  " + shlex.join(codegen),
                "  " + shlex.join(link) + " && ./prog.opt",
                f"Result of the hand-made build: {verdict}.",
            ]
    save("README", "\n".join(lines) + "\n")
    return d


# --------------------------------------------------------------------------- one program


class _Workers(threading.local):
    """Per-thread private llmcc cache directory."""

    counter = 0
    lock = threading.Lock()

    def cache_dir(self, out: str) -> str:
        if not hasattr(self, "dir"):
            with _Workers.lock:
                _Workers.counter += 1
                n = _Workers.counter
            self.dir = os.path.join(out, "work", f"cache-{n}")
        return self.dir


def check_program(setup: Setup, seed: int, todo: tuple[str, ...], workers: _Workers) -> dict:
    """Generate program ``seed``, then test each pipeline of ``todo`` on it.

    Returns:
        The progress record: ``{"seed", "csmith_options", "usable", "discard",
        "reference": {"output", "seconds"}, "results": {pipeline: result}}``.
    """
    cache_dir = workers.cache_dir(setup.out)
    work = os.path.join(setup.out, "work", str(seed))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        prog = prepare(setup, seed, work)
        rec = {"seed": seed, "csmith_options": list(CSMITH_OPTIONS),
               "cflags": list(setup.cflags), "usable": prog.usable, "discard": prog.discard,
               "results": {}}
        if not prog.usable:
            return rec
        rec["reference"] = {"output": prog.reference.output,
                            "seconds": round(prog.reference.seconds, 3)}
        for p in todo:
            n = setup.pipelines.index(p) + 1
            res = try_pipeline(setup, prog, n, p, cache_dir)
            if res["rejects"] and res.get("fault") != "fallback: forced pipeline rejected":
                res["reproducer"] = os.path.relpath(
                    write_reproducer(setup, prog, n, p, res), setup.out)
            res.pop("output", None)
            rec["results"][p] = res
        return rec
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- bookkeeping


def load_progress(out: str, cflags: tuple[str, ...] | None = None) -> dict[int, dict]:
    """Recorded programs by seed, merging the lines of one seed.

    Only lines made with the current Csmith options count, and, unless ``cflags``
    is None, with the same extra flags for the builds under test. Lines cut short
    by an interrupted run are skipped (:func:`llmcc.lab.jsonl.read_jsonl`).
    """
    done: dict[int, dict] = {}
    for rec in read_jsonl(os.path.join(out, "progress.jsonl")):
        try:
            seed = int(rec["seed"])
        except (ValueError, KeyError, TypeError):
            continue
        if rec.get("csmith_options") != list(CSMITH_OPTIONS):
            continue
        if cflags is not None and rec.get("cflags", []) != list(cflags):
            continue
        if seed in done and rec.get("usable"):
            done[seed]["results"].update(rec.get("results", {}))
        else:
            done[seed] = rec
    return done


def summarize(setup: Setup, seeds: list[int], done: dict[int, dict], *,
              program_count: int | None = None) -> dict:
    """The campaign's results (the content of ``results.json``)."""
    recs = [done[s] for s in seeds if s in done]
    discards = Counter(r["discard"] for r in recs if not r.get("usable"))
    usable = [r for r in recs if r.get("usable")]
    per: dict[str, dict] = {}
    rejected_: dict[str, str] = {}
    for p in setup.pipelines:
        counts = Counter({s: 0 for s in STATUSES})
        same = 0
        bad: dict[str, list] = {}
        fails = []
        for r in usable:
            res = r["results"].get(p)
            if res is None:
                continue
            counts[res["status"]] += 1
            if res["status"] == "agree":
                same += bool(res.get("same_as_oz"))
                continue
            fails.append({"seed": r["seed"], "status": res["status"], "detail": res["detail"],
                          **({"reproducer": res["reproducer"]} if "reproducer" in res else {})})
            if res.get("rejects"):
                bad.setdefault(res["status"], []).append((r["seed"], res))
        entry = {s: counts[s] for s in STATUSES}
        entry["tested"] = sum(counts.values())
        entry["agree, same object as -Oz"] = same
        if fails:
            entry["failures"] = fails
        per[p] = entry
        reasons = []
        for status, what in (("disagree", "wrong output"), ("timeout", "hangs"),
                             ("compile failure", "does not compile")):
            items = bad.get(status, [])
            if items:
                seeds_txt = ", ".join(str(s) for s, _ in items[:5]) + (
                    ", ..." if len(items) > 5 else "")
                reasons.append(f"{what} on {len(items)} of {entry['tested']} programs "
                               f"(seeds {seeds_txt}): {items[0][1]['detail']}")
        if reasons:
            rejected_[p] = "; ".join(reasons)
    return {
        "csmith_options": list(CSMITH_OPTIONS),
        "seeds": [seeds[0], seeds[-1]] if seeds else [],
        "timeout": setup.timeout,
        "cflags": list(setup.cflags),
        "programs_generated": program_count if program_count is not None else len(recs),
        "programs_usable": len(usable),
        "programs_discarded": dict(sorted(discards.items())),
        "pipelines_tested": len(setup.pipelines),
        "pipelines": per,
        "rejected": rejected_,
    }


def rejected(out_dir: str) -> dict[str, str]:
    """Pipelines a campaign in ``out_dir`` rejected, with the reason: pipeline -> text.

    Reads ``out_dir/results.json``; if the campaign was interrupted before writing
    it, the verdicts are taken from ``progress.jsonl`` instead. An empty dict when
    nothing was recorded. Meant for the tuner, to drop rejected pipelines from the
    coreset.
    """
    try:
        with open(os.path.join(out_dir, "results.json"), encoding="utf-8") as f:
            return dict(json.load(f)["rejected"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    done = load_progress(out_dir)
    pipelines: list[str] = []
    for r in done.values():
        for p in r.get("results", {}):
            if p not in pipelines:
                pipelines.append(p)
    setup = Setup(out_dir, "", None, "", "", (), (), 0.0, tuple(pipelines))
    return summarize(setup, sorted(done), done)["rejected"]


def table_lines(summary: dict) -> list[str]:
    """The short report printed at the end of a campaign."""
    disc = summary["programs_discarded"]
    why = ", ".join(f"{v} {k}" for k, v in disc.items())
    lines = [f"programs: {summary['programs_generated']} generated, "
             f"{summary['programs_usable']} usable" + (f" (discarded: {why})" if why else ""),
             ""]
    rows = []
    for i, (p, e) in enumerate(summary["pipelines"].items(), 1):
        verdict = "REJECTED" if p in summary["rejected"] else (
            "ok" if e["tested"] else "untested")
        rows.append([str(i), str(e["agree"]), str(e["agree, same object as -Oz"]),
                     str(e["disagree"]), str(e["compile failure"]), str(e["timeout"]),
                     verdict, p])
    lines += text_table(["#", "agree", "=Oz", "wrong", "no-cc", "hang", "verdict", "pipeline"],
                        rows, align="rrrrrrll")
    if summary["rejected"]:
        lines.append("")
        for p, reason in summary["rejected"].items():
            lines.append(f"rejected {p}: {reason}")
    lines.append("")
    lines.append("=Oz: of those agreeing, objects byte-identical to clang -Oz's (they test "
                 "nothing new); wrong: output or exit code differs from clang -O0/-Oz; "
                 "no-cc: the forced pipeline was not used (opt failed, refused, or llmcc fell "
                 "back); hang: no exit within twice --timeout")
    return lines


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="llmcc difftest",
        description="Differential testing of pass pipelines: build Csmith programs with each "
        "pipeline forced through llmcc, compare their output with clang -O0/-Oz builds, and "
        "reject pipelines that change it.")
    ap.add_argument("--programs", type=int, default=100, metavar="N",
                    help="number of Csmith programs (default 100)")
    ap.add_argument("--seed", type=int, default=1, metavar="S",
                    help="Csmith seed of the first program; program i uses S+i (default 1)")
    ap.add_argument("--pipelines", metavar="FILE",
                    help="pipelines to test: a JSON list or one per line "
                         "(default: the shipped coreset and the static ranker's pipelines)")
    ap.add_argument("--out", default="difftest-out", metavar="DIR",
                    help="results, progress and reproducers (default ./difftest-out)")
    ap.add_argument("--jobs", type=int, default=2, metavar="J",
                    help="programs tested in parallel (default 2)")
    ap.add_argument("--timeout", type=float, default=5.0, metavar="SEC",
                    help="seconds a reference run may take; builds under test get twice "
                         "that (default 5)")
    ap.add_argument("--cflags", default="", metavar="FLAGS",
                    help="extra compiler flags for the builds under test, e.g. '-fPIC' "
                         "(the references are built without them)")
    return ap


def make_setup(ns: argparse.Namespace) -> Setup:
    """Resolve tools and pipelines for a campaign.

    Raises:
        DifftestError: a tool is missing or the pipeline file is unusable.
    """
    from llmcc.compile.toolchain import self_paths
    from llmcc.compile.toolchain import resolve
    csmith = shutil.which("csmith")
    if not csmith:
        raise DifftestError("csmith not found on PATH (apt-get install csmith libcsmith-dev)")
    try:
        tc = resolve(False, self_paths(), dict(os.environ), None)
    except LlmccError as e:
        raise DifftestError(str(e)) from e
    pipelines = read_pipelines(ns.pipelines) if ns.pipelines else default_pipelines()
    return Setup(out=os.path.abspath(ns.out), clang=tc.clang, opt=tc.opt, csmith=csmith,
                 include=find_csmith_include(csmith), llmcc=llmcc_command(),
                 cflags=tuple(shlex.split(ns.cflags)), timeout=ns.timeout,
                 pipelines=pipelines)


def run_campaign(setup: Setup, seeds: list[int], jobs: int) -> dict:
    """Test every pipeline on every program not yet recorded; return the summary."""
    os.makedirs(os.path.join(setup.out, "work"), exist_ok=True)
    done = load_progress(setup.out, setup.cflags)
    tasks = []
    for s in seeds:
        rec = done.get(s)
        if rec is None:
            tasks.append((s, setup.pipelines))
        elif rec.get("usable"):
            todo = tuple(p for p in setup.pipelines if p not in rec["results"])
            if todo:
                tasks.append((s, todo))
    workers = _Workers()
    bar = tqdm(total=len(tasks), unit="program", file=sys.stderr, dynamic_ncols=True,
               desc="difftest")
    failures = 0
    path = os.path.join(setup.out, "progress.jsonl")
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = [pool.submit(check_program, setup, s, todo, workers) for s, todo in tasks]
        with open(path, "a", encoding="utf-8") as f:
            for fut in as_completed(futures):
                rec = fut.result()
                append_jsonl(f, [rec])
                if rec["seed"] in done and rec.get("usable"):
                    done[rec["seed"]]["results"].update(rec["results"])
                else:
                    done[rec["seed"]] = rec
                failures += sum(r["status"] != "agree" for r in rec["results"].values())
                bar.set_postfix(seed=rec["seed"], failures=failures, refresh=False)
                bar.update(1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    summary = summarize(setup, seeds, done, program_count=len([s for s in seeds if s in done]))
    tmp = os.path.join(setup.out, "results.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(setup.out, "results.json"))
    return summary


def main(argv: list[str]) -> int:
    """Entry point of ``llmcc difftest``.

    Returns:
        0 when no pipeline was rejected, 1 when one was, 2 on a usage or setup error.
    """
    ns = _parser().parse_args(argv)
    if ns.programs < 1 or ns.jobs < 1 or ns.timeout <= 0:
        print("llmcc difftest: error: --programs, --jobs and --timeout must be positive",
              file=sys.stderr)
        return 2
    try:
        setup = make_setup(ns)
    except DifftestError as e:
        print(f"llmcc difftest: error: {e}", file=sys.stderr)
        return 2
    os.makedirs(setup.out, exist_ok=True)
    seeds = list(range(ns.seed, ns.seed + ns.programs))
    try:
        summary = run_campaign(setup, seeds, ns.jobs)
    except KeyboardInterrupt:
        print("llmcc difftest: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    print("\n".join(table_lines(summary)))
    print(f"\nresults: {os.path.join(setup.out, 'results.json')}")
    return 1 if summary["rejected"] else 0
