#!/usr/bin/env python3
"""Generate llmcc/data/passes.json, the LLVM transform-pass vocabulary.

The vocabulary is the allowlist of pass names that may appear in a pipeline
handed to ``opt -p``.  It is built in four steps:

1. List every pass the installed ``opt`` knows (``opt --print-passes``),
   keeping the pass sections (module, CGSCC, function, loop nest, loop) and
   dropping the analysis and machine-function sections.
2. Drop the passes that are not semantics-preserving optimizations usable
   with default parameters, by explicit rules (analyses, printers, sanitizers,
   profile instrumentation, whole-program/LTO passes, target or runtime
   lowerings, ...).  Each rule carries the reason that is written to the JSON
   so a reviewer can audit it.  This follows the selection described for
   Table 9 of Cummins et al., "Meta Large Language Model Compiler" (2024),
   which kept 167 of 346 LLVM 17 passes.
3. Give each kept pass the pass-manager nesting it needs.  Loop passes run
   inside ``loop-mssa(...)`` when clang's own ``-O1..-Oz`` pipelines run them
   there (``clang -mllvm -print-pipeline-passes``), or when ``opt`` refuses
   them without MemorySSA (LICM, LNICM).
4. Validate every kept pass for real on ``scripts/vocab_sample.c``: run it
   with ``opt`` on the unoptimized IR (and on an SSA-promoted variant),
   compile the result with ``clang -c -x ir -Xclang -disable-llvm-passes``,
   link it with the sample's harness and compare the program output with the
   unoptimized build.  Any failure moves the pass to the excluded list.

The output is sorted and carries no timestamps, so a rerun with the same
toolchain writes the same bytes.  Only the standard library is used and every
subprocess is an argv list (no shell).

Usage::

    python3 scripts/gen_pass_vocabulary.py [--opt opt-19] [--clang clang-19]
        [--output llmcc/data/passes.json] [--jobs N]
"""

import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

LLVM_MAJOR = 19

NESTINGS = ("module", "cgscc", "function", "loop", "loop-mssa")

#: Sections of ``opt --print-passes`` that list passes (not analyses), mapped
#: to (nesting, whether entries carry a ``<...>`` parameter syntax).  Loop-nest
#: passes are run through the same ``loop(...)`` adaptor as loop passes.
PASS_SECTIONS = {
    "Module passes": ("module", False),
    "Module passes with params": ("module", True),
    "CGSCC passes": ("cgscc", False),
    "CGSCC passes with params": ("cgscc", True),
    "Function passes": ("function", False),
    "Function passes with params": ("function", True),
    "LoopNest passes": ("loop", False),
    "Loop passes": ("loop", False),
    "Loop passes with params": ("loop", True),
}

#: Optimization levels accepted by ``default<...>`` and by the parameterized
#: pipelines that require a level (``function-simplification<...>``).
OPT_LEVELS = ("O1", "O2", "O3", "Os", "Oz")

#: Kept passes whose parameter is required: the value must be one of these.
REQUIRED_LEVEL_PARAM = {"function-simplification"}

#: ``opt`` options a decision may carry after its pipeline, with the integer
#: range vetted for each. Only options that change a heuristic of a
#: semantics-preserving transform qualify: the inliner's cost threshold decides
#: how much is inlined, never whether the program means the same.
OPTIONS = [
    {"name": "inline-threshold", "min": 0, "max": 500,
     "reason": "inliner cost threshold (clang -Oz uses 5, opt's inliner passes 225); "
               "every value inlines only what the inliner may legally inline"},
]

#: Parameters that must never be passed although the pass itself is kept.
DENIED_PARAMS = {
    # Virtual function elimination assumes the whole program is visible.
    "globaldce": ["in-lto-post-link"],
}

#: Exclusion rules: (glob patterns, reason).  The first matching rule wins.
EXCLUSION_RULES = (
    (
        ("print", "print<*", "print-*", "dot-*", "view-*", "aa-eval",
         "pa-eval", "instcount", "lint"),
        "analysis or printing pass: reports on the IR, does not transform it",
    ),
    (
        ("verify", "verify<*", "check-debugify", "debugify",
         "trigger-crash-*", "trigger-verifier-error", "helloworld",
         "count-visits"),
        "verification or testing pass: checks or deliberately breaks the IR, "
        "or is an example pass",
    ),
    (
        ("require<*", "invalidate<*", "no-op-*", "recompute-globalsaa"),
        "pass-manager utility: computes or drops analyses, no transformation",
    ),
    (
        ("transform-warning", "annotation-remarks", "instnamer"),
        "diagnostics or naming only: emits remarks/warnings or renames "
        "values, no effect on the generated code",
    ),
    (
        ("strip", "strip-dead-debug-info", "strip-debug-declare",
         "strip-nondebug", "strip-nonlinetable-debuginfo",
         "add-discriminators"),
        "rewrites symbol names or debug info; the debug info a user asked for "
        "with -g must not depend on the chosen pipeline",
    ),
    (
        ("asan", "msan", "tsan", "tsan-module", "hwasan", "dfsan", "nsan",
         "memprof", "memprof-module", "sancov-module", "sanmd-module",
         "bounds-checking", "poison-checking", "lower-allow-check", "kcfi",
         "jmc-instrumenter", "ee-instrument", "safe-stack",
         "stack-protector"),
        "sanitizer, hardening or instrumentation pass: adds checks, hooks or "
        "runtime calls (behaviour and runtime dependencies change); the "
        "user's own -fsanitize/-fstack-protector flags already apply them",
    ),
    (
        ("insert-gcov-profiling", "instrprof", "instrorderfile",
         "ctx-instr-lower", "pgo-*", "sample-profile", "memprof-use",
         "memprof-context-disambiguation", "pseudo-probe",
         "pseudo-probe-update", "synthetic-counts-propagation"),
        "profiling or profile-guided pass: inserts counters or needs a "
        "profile data file",
    ),
    (
        ("function-import", "lowertypetests", "cross-dso-cfi",
         "wholeprogramdevirt", "openmp-opt-postlink", "embed-bitcode",
         "name-anon-globals"),
        "whole-program or (Thin)LTO pass: needs summaries/other modules, "
        "assumes every caller is visible, or only does LTO bookkeeping; "
        "llmcc optimizes one translation unit at a time",
    ),
    (
        ("internalize", "metarenamer", "rewrite-symbols"),
        "changes symbol names or linkage visibility, so other translation "
        "units no longer link against the object",
    ),
    (
        ("extract-blocks", "loop-extract"),
        "bugpoint reduction utility: outlines blocks/loops for test-case "
        "reduction (extract-blocks also reads a block list file); not an "
        "optimization",
    ),
    (
        ("lower-atomic",),
        "drops atomicity (meant for single-threaded targets): changes the "
        "semantics of multi-threaded programs",
    ),
    (
        ("lower-invoke",),
        "turns invokes into plain calls and drops their unwind edges: "
        "changes C++ exception behaviour",
    ),
    (
        ("lower-emutls", "lower-ifunc", "lower-global-dtors"),
        "ABI lowering for targets that lack the feature (emulated TLS, "
        "ifuncs, .fini_array): changes symbols or adds runtime dependencies "
        "(__emutls_*, __cxa_atexit)",
    ),
    (
        ("dwarf-eh-prepare", "sjlj-eh-prepare", "win-eh-prepare",
         "wasm-eh-prepare"),
        "exception-handling lowering that the code generator selects from "
        "the target's EH model; running it earlier can pick the wrong model",
    ),
    (
        ("gc-lowering", "shadow-stack-gc-lowering", "place-safepoints",
         "rewrite-statepoints-for-gc", "strip-gc-relocates"),
        "garbage-collection lowering for managed-language front ends: only "
        "acts on functions with a gc strategy (place-safepoints inserts "
        "calls to a runtime poll function)",
    ),
    (
        ("objc-arc", "objc-arc-*"),
        "Objective-C ARC runtime-call passes: llmcc only handles C and C++, "
        "where they never apply (objc-arc-contract is a codegen lowering)",
    ),
    (
        ("dxil-*", "hipstdpar-*", "amdgpu*", "nvptx*", "cfguard",
         "expand-variadics", "hardware-loops"),
        "target-specific lowering (DirectX, HIP, GPU variadic ABI, Windows "
        "Control Flow Guard, ARM/PowerPC hardware loops): not for host C/C++ "
        "objects, or only valid right before instruction selection",
    ),
    (
        ("*-ml-*",),
        "ML-advisor pass: needs a model compiled into LLVM; builds without "
        "one (such as Debian's) reject it",
    ),
)


def run(argv, timeout=120, cwd=None):
    """Run ``argv`` (a list, never a shell string) and capture its output.

    Args:
        argv: program and arguments.
        timeout: seconds before the process is killed.
        cwd: working directory, or None for the current one.

    Returns:
        ``subprocess.CompletedProcess`` with text ``stdout``/``stderr``.
        A timeout is reported as returncode -1 with a message in ``stderr``.
    """
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, -1, "",
                                           f"timed out after {timeout} s")


def first_error_line(text):
    """Return the most informative line of a tool's stderr, or ``"no output"``.

    Prefers a line mentioning an error, then the innermost "Running pass"
    line of a crash stack dump, then the first non-empty line.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line[:200]
    if any(line.startswith("Stack dump") for line in lines):
        running = [line for line in lines if "Running pass" in line]
        where = running[-1].split(".", 1)[-1].strip() if running else ""
        return f"crashed ({where})" if where else "crashed"
    return lines[0][:200] if lines else "no output"


def parse_print_passes(text):
    """Parse the output of ``opt --print-passes``.

    Args:
        text: the tool's stdout.  Section headers end with ``:`` at column 0;
            entries are indented.  In "... with params" sections an entry is
            ``name<param;param;...>`` (the last ``<...>`` group is the
            parameter syntax).

    Returns:
        List of dicts ``{"name", "nesting", "params", "param_syntax",
        "section"}`` in listing order, only for pass sections (analyses and
        machine passes are skipped).  ``param_syntax`` is the listed entry,
        e.g. ``"licm<allowspeculation>"``, or None.
    """
    entries = []
    section = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if not raw[0].isspace():
            section = raw.strip().rstrip(":")
            continue
        if section not in PASS_SECTIONS:
            continue
        nesting, with_params = PASS_SECTIONS[section]
        entry = raw.strip()
        name, syntax = entry, None
        if with_params:
            match = re.fullmatch(r"(.+?)(<[^<>]*>)", entry)
            if match:
                name, syntax = match.group(1), entry
        entries.append({"name": name, "nesting": nesting,
                        "params": syntax is not None,
                        "param_syntax": syntax, "section": section})
    return entries


def merge_entries(entries):
    """Merge entries listed in several sections into one per pass name.

    The first section wins for the nesting (``guard-widening`` is listed as
    a function and a loop pass; it is kept as a function pass), and a pass is
    parameterized if any section lists it with parameters
    (``separate-const-offset-from-gep``).

    Returns:
        Dict name -> merged entry, in first-listed order.
    """
    merged = {}
    for entry in entries:
        name = entry["name"]
        if name not in merged:
            merged[name] = dict(entry)
        elif entry["params"] and not merged[name]["params"]:
            merged[name]["params"] = True
            merged[name]["param_syntax"] = entry["param_syntax"]
    return merged


def exclusion_reason(name):
    """Return the reason ``name`` is excluded by rule, or None to keep it."""
    for patterns, reason in EXCLUSION_RULES:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            return reason
    return None


def clang_loop_mssa_passes(clang, workdir, sample_c):
    """Return the loop pass names clang runs inside ``loop-mssa(...)``, and
    every pass name of clang's default pipelines (second value).

    Runs ``clang -O<level> -mllvm -print-pipeline-passes`` for O1, O2, O3,
    Os and Oz on bitcode of the sample and collects every pass that appears
    inside a ``loop-mssa(...)`` adaptor.  The first output line is the
    pipeline (see LLVM's ``-print-pipeline-passes``).

    Returns:
        Sorted list of pass names.

    Raises:
        RuntimeError: if clang fails.
    """
    bitcode = Path(workdir) / "pipeline_probe.bc"
    lower = run([clang, "-Oz", "-Xclang", "-disable-llvm-passes", "-emit-llvm",
                 "-c", str(sample_c), "-o", str(bitcode)])
    if lower.returncode != 0:
        raise RuntimeError(f"{clang} failed: {first_error_line(lower.stderr)}")
    names = set()
    everything = set()
    for level in OPT_LEVELS:
        proc = run([clang, f"-{level}", "-mllvm", "-print-pipeline-passes",
                    "-c", str(bitcode), "-o", os.devnull])
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"{clang} -{level} -print-pipeline-passes "
                               f"failed: {first_error_line(proc.stderr)}")
        pipeline = proc.stdout.splitlines()[0]
        names.update(mssa_leaves(pipeline))
        everything.update(mssa_leaves(pipeline, inside=None))
    return sorted(names), everything


def mssa_leaves(pipeline, inside="loop-mssa"):
    """Return the names of passes nested inside ``loop-mssa(...)`` (any leaf
    pass when ``inside`` is None).

    Args:
        pipeline: pipeline text, e.g. ``"function(loop-mssa(licm<x>),gvn)"``.

    Returns:
        Set of bare pass names (parameters stripped).
    """
    names = set()
    stack = []
    token = ""
    angle = 0
    for char in pipeline:
        if char == "<":
            angle += 1
        elif char == ">":
            angle -= 1
        if angle == 0 and char in "(),":
            bare = re.sub(r"<.*", "", token.strip())
            if char == "(":
                stack.append(bare)
            else:
                if bare and (inside is None or inside in stack):
                    names.add(bare)
                if char == ")":
                    stack.pop()
            token = ""
            continue
        token += char
    return names


def wrap(name, nesting, param=None):
    """Return the ``opt -p`` pipeline that runs one pass at its nesting.

    Examples: ``function(instcombine)``, ``function(loop-mssa(licm))``,
    ``cgscc(inline)``, ``module(globalopt)``, ``module(default<Oz>)``.
    """
    text = f"{name}<{param}>" if param else name
    if nesting == "module":
        return f"module({text})"
    if nesting == "cgscc":
        return f"cgscc({text})"
    if nesting == "function":
        return f"function({text})"
    if nesting in ("loop", "loop-mssa"):
        return f"function({nesting}({text}))"
    raise ValueError(f"unknown nesting {nesting!r}")


class Toolchain:
    """The tools and prepared inputs used to validate passes.

    Attributes:
        opt, clang: tool names or paths.
        inputs: list of (label, path to .ll) the passes are run on.
        harness_obj: object file with the sample's ``main``.
        expected: stdout of the unoptimized sample program.
        workdir: directory for temporary files.
    """

    def __init__(self, opt, clang, workdir, sample_c):
        """Lower the sample, build the harness and the reference output.

        Raises:
            RuntimeError: if any of the preparation steps fails.
        """
        self.opt = opt
        self.clang = clang
        self.workdir = Path(workdir)
        raw_ll = self.workdir / "sample.ll"
        self._check(run([clang, "-Oz", "-Xclang", "-disable-llvm-passes",
                         "-emit-llvm", "-S", str(sample_c), "-o", str(raw_ll)]))
        promoted_ll = self.workdir / "sample_ssa.ll"
        self._check(run([opt, "-S", "-p",
                         "function(sroa<modify-cfg>,early-cse,simplifycfg,"
                         "instcombine,loop-simplify,lcssa)",
                         str(raw_ll), "-o", str(promoted_ll)]))
        self.inputs = [("unoptimized", raw_ll), ("ssa", promoted_ll)]
        self.harness_obj = self.workdir / "harness.o"
        self._check(run([clang, "-O0", "-DVOCAB_SAMPLE_HARNESS", "-c",
                         str(sample_c), "-o", str(self.harness_obj)]))
        reference_obj = self.workdir / "reference.o"
        self._check(run([clang, "-c", "-x", "ir", "-O0", "-Xclang",
                         "-disable-llvm-passes", str(raw_ll), "-o",
                         str(reference_obj)]))
        exe = self.workdir / "reference"
        self._check(run([clang, str(reference_obj), str(self.harness_obj),
                         "-o", str(exe)]))
        proc = self._check(run([str(exe)], timeout=30))
        self.expected = proc.stdout

    @staticmethod
    def _check(proc):
        """Return ``proc`` if it succeeded, else raise RuntimeError."""
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, proc.args))} failed: "
                               f"{first_error_line(proc.stderr)}")
        return proc

    def validate(self, pipeline):
        """Run ``pipeline`` on every input, compile, link and run the result.

        Args:
            pipeline: text for ``opt -p``.

        Returns:
            None if every step succeeded and the program output matched the
            reference, else a short reason string
            (``"rejected by opt-19: ..."`` and so on).
        """
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            tmp = Path(tmp)
            for label, source in self.inputs:
                bitcode = tmp / f"{label}.bc"
                obj = tmp / f"{label}.o"
                exe = tmp / f"{label}.exe"
                proc = run([self.opt, "-p", pipeline, str(source), "-o",
                            str(bitcode)])
                if proc.returncode != 0:
                    return (f"rejected by opt-{LLVM_MAJOR}: "
                            f"{first_error_line(proc.stderr)} "
                            f"(pipeline {pipeline!r}, {label} sample)")
                proc = run([self.clang, "-c", "-x", "ir", "-Oz", "-Xclang",
                            "-disable-llvm-passes", str(bitcode), "-o",
                            str(obj)])
                if proc.returncode != 0:
                    return (f"codegen by clang-{LLVM_MAJOR} failed after "
                            f"{pipeline!r}: {first_error_line(proc.stderr)} "
                            f"({label} sample)")
                proc = run([self.clang, str(obj), str(self.harness_obj),
                            "-o", str(exe)])
                if proc.returncode != 0:
                    return (f"link failed after {pipeline!r}: "
                            f"{first_error_line(proc.stderr)} "
                            f"({label} sample)")
                proc = run([str(exe)], timeout=30)
                if proc.returncode != 0 or proc.stdout != self.expected:
                    return (f"sample program output changed after "
                            f"{pipeline!r} ({label} sample)")
        return None


def needs_memoryssa(reason):
    """Return True if an opt failure says the pass needs ``loop-mssa``."""
    return reason is not None and "MemorySSA" in reason


def classify_and_validate(tools, merged, mssa_names, jobs):
    """Decide nesting, validate, and split passes into kept and excluded.

    Args:
        tools: a prepared ``Toolchain``.
        merged: dict name -> merged entry from ``merge_entries``.
        mssa_names: loop passes clang runs inside ``loop-mssa``.
        jobs: number of passes validated in parallel.

    Returns:
        ``(kept, excluded)``: lists of JSON-ready dicts, sorted by name.
    """
    excluded = []
    candidates = []
    for name, entry in merged.items():
        reason = exclusion_reason(name)
        if reason:
            excluded.append({"name": name, "reason": reason})
            continue
        nesting = entry["nesting"]
        if nesting == "loop" and name in mssa_names:
            nesting = "loop-mssa"
        candidates.append((name, nesting, entry))

    def check(candidate):
        """Validate one candidate; return (nesting, reason or None)."""
        name, nesting, _entry = candidate
        if name in REQUIRED_LEVEL_PARAM:
            for level in OPT_LEVELS:
                reason = tools.validate(wrap(name, nesting, level))
                if reason:
                    return nesting, reason
            return nesting, None
        reason = tools.validate(wrap(name, nesting))
        if nesting == "loop" and needs_memoryssa(reason):
            nesting = "loop-mssa"
            reason = tools.validate(wrap(name, nesting))
        return nesting, reason

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(check, candidates))

    kept = []
    for (name, _nesting, entry), (nesting, reason) in zip(candidates, results):
        if reason:
            excluded.append({"name": name, "reason": reason})
            continue
        record = {"name": name, "nesting": nesting, "params": entry["params"]}
        if entry["params"]:
            record["param_syntax"] = entry["param_syntax"]
        if name in REQUIRED_LEVEL_PARAM:
            record["allowed_params"] = list(OPT_LEVELS)
        if name in DENIED_PARAMS:
            record["denied_params"] = list(DENIED_PARAMS[name])
        kept.append(record)

    default_reason = None
    for level in OPT_LEVELS:
        default_reason = default_reason or tools.validate(
            wrap("default", "module", level))
    if default_reason:
        excluded.append({"name": "default", "reason": default_reason})
    else:
        kept.append({"name": "default", "nesting": "module", "params": True,
                     "param_syntax": "default<" + ";".join(OPT_LEVELS) + ">",
                     "allowed_params": list(OPT_LEVELS)})
    kept.sort(key=lambda rec: rec["name"])
    excluded.sort(key=lambda rec: rec["name"])
    return kept, excluded


#: Size passes that no default pipeline runs but that are established and
#: semantics-preserving, each used by a production size pipeline or the LLVM
#: size-optimization literature: function merging (Swift/Rust -Oz), the IR
#: outliner (Kelley & Boddicker 2020), GVN hoisting/sinking, NewGVN, partial
#: inlining, hot/cold splitting, sinking, dead-code and constant clean-ups, and
#: the IR-level parts of clang's codegen pipeline (CodeGenPassBuilder). NewGVN is
#: left out: its output differed from run to run on the same input (bzip2.c of
#: bzip2 1.0.8), and llmcc must give the same bytes every time.
SIZE_EXTRAS = frozenset({
    "mergefunc", "iroutliner", "gvn-hoist", "gvn-sink", "partial-inliner",
    "hotcoldsplit", "sink", "loop-sink", "dce", "instsimplify", "mem2reg",
    "strip-dead-prototypes", "nary-reassociate", "slsr", "loop-reduce", "mergeicmps",
    "expand-memcmp", "consthoist", "partially-inline-libcalls", "lower-switch",
    "separate-const-offset-from-gep", "loop-simplify", "lcssa", "break-crit-edges",
    "mergereturn", "loop-unroll", "loop-load-elim", "loop-distribute", "loop-fusion",
    "callsite-splitting", "always-inline", "module-inline", "scc-oz-module-inliner",
    "inliner-wrapper", "inliner-wrapper-no-mandatory-first",
})


def tier(name, default_names):
    """Trust tier of a kept pass: ``default-pipeline`` (clang runs it at some
    -O level), ``size`` (:data:`SIZE_EXTRAS`) or ``experimental`` (kept in the
    vocabulary for reference, but not allowed in pipelines: e.g. the Attributor
    and the GPU structurization helpers, which crash or miscompile in
    combinations that single-pass validation does not catch)."""
    if name == "default" or name in default_names:
        return "default-pipeline"
    if name in SIZE_EXTRAS:
        return "size"
    return "experimental"


def tool_version(opt):
    """Return the first line of ``opt --version`` naming the LLVM version."""
    proc = run([opt, "--version"])
    for line in proc.stdout.splitlines():
        if "version" in line.lower():
            return line.strip()
    return opt


def build_document(opt, version, listed, kept, excluded, mssa_names):
    """Assemble the JSON document written to ``passes.json``.

    Args:
        opt: the opt tool name used.
        version: its version line.
        listed: number of distinct pass names listed by ``--print-passes``.
        kept, excluded: outputs of ``classify_and_validate``.
        mssa_names: loop passes run inside ``loop-mssa`` by clang.

    Returns:
        A dict with keys ``llvm_major``, ``source``, ``notes``, ``passes``,
        ``excluded``.
    """
    kept_listed = sum(1 for rec in kept if rec["name"] != "default")
    source = (
        f"Generated by scripts/gen_pass_vocabulary.py from `{opt} "
        f"--print-passes` ({version}): {kept_listed} of {listed} listed "
        f"passes kept, plus the default<O1..Oz> pipelines. Each kept pass "
        f"was run alone with `opt -p` on scripts/vocab_sample.c lowered by "
        f"`clang-{LLVM_MAJOR} -Oz -Xclang -disable-llvm-passes` (and on an "
        f"SSA-promoted copy), compiled with `clang-{LLVM_MAJOR} -c -x ir "
        f"-Oz -Xclang -disable-llvm-passes`, linked and run; its output "
        f"matched the unoptimized program. Selection follows Table 9 of "
        f"Cummins et al., Meta LLM Compiler (2024)."
    )
    notes = [
        "nesting: the adaptor a pass runs in: module(P), cgscc(P), "
        "function(P), function(loop(P)) or function(loop-mssa(P)).",
        "loop-mssa: loop passes that clang-%d runs inside loop-mssa(...) at "
        "-O1..-Oz (%s) or that opt refuses without MemorySSA."
        % (LLVM_MAJOR, ", ".join(mssa_names)),
        "params: the pass accepts <...> parameters; param_syntax is the "
        "entry as listed by --print-passes (clang's own pipelines also use "
        "parameters not listed there, e.g. simplifycfg<speculate-blocks>).",
        "allowed_params: the parameter is required and must be one of these; "
        "denied_params: parameters that must not be used.",
        "excluded: every listed pass that is not kept, with the reason.",
        'options: opt options a decision may carry after its pipeline '
        '("PIPELINE -NAME=VALUE"), each with its vetted integer range.',
    ]
    return {"llvm_major": LLVM_MAJOR, "source": source, "notes": notes,
            "passes": kept, "excluded": excluded, "options": OPTIONS}


def summary(document, listed):
    """Return a human-readable summary: kept N of M, and counts by nesting."""
    kept = document["passes"]
    kept_listed = sum(1 for rec in kept if rec["name"] != "default")
    by_nesting = Counter(rec["nesting"] for rec in kept)
    lines = [f"kept {kept_listed} of {listed} listed passes "
             f"(+ default<O1..Oz>), excluded {len(document['excluded'])}"]
    for nesting in NESTINGS:
        names = [rec["name"] for rec in kept if rec["nesting"] == nesting]
        lines.append(f"  {nesting:9} {by_nesting[nesting]:3}  "
                     + " ".join(names))
    return "\n".join(lines)


def parse_args(argv):
    """Parse command-line arguments; returns an ``argparse.Namespace``."""
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opt", default=f"opt-{LLVM_MAJOR}",
                        help="opt binary (default: %(default)s)")
    parser.add_argument("--clang", default=f"clang-{LLVM_MAJOR}",
                        help="clang binary (default: %(default)s)")
    parser.add_argument("--sample", type=Path,
                        default=repo / "scripts" / "vocab_sample.c",
                        help="C file used to validate passes")
    parser.add_argument("--output", type=Path,
                        default=repo / "llmcc" / "data" / "passes.json",
                        help="JSON file to write (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="passes validated in parallel")
    return parser.parse_args(argv)


def main(argv=None):
    """Generate the vocabulary file; returns a process exit code."""
    args = parse_args(argv)
    listing = run([args.opt, "--print-passes"])
    if listing.returncode != 0:
        print(f"error: {args.opt} --print-passes failed: "
              f"{first_error_line(listing.stderr)}", file=sys.stderr)
        return 1
    merged = merge_entries(parse_print_passes(listing.stdout))
    with tempfile.TemporaryDirectory(prefix="llmcc-vocab-") as workdir:
        try:
            mssa_names, default_names = clang_loop_mssa_passes(
                args.clang, workdir, args.sample.resolve())
            tools = Toolchain(args.opt, args.clang, workdir,
                              args.sample.resolve())
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        kept, excluded = classify_and_validate(tools, merged, mssa_names,
                                               max(1, args.jobs))
    for rec in kept:
        rec["tier"] = tier(rec["name"], default_names)
    document = build_document(args.opt, tool_version(args.opt), len(merged),
                              kept, excluded, mssa_names)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = args.output.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(document, indent=2) + "\n",
                        encoding="utf-8")
    tmp_path.replace(args.output)
    print(summary(document, len(merged)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
