"""One compiler call, end to end (docs/design.md, "The flow of one compile").

classify -> pass through to the real clang, or for each translation unit:
lower to IR -> key -> cache hit: compile the cached pipeline / miss: rank,
compile ``-Oz`` and the top-k candidates, keep the smallest object (ties go
to ``-Oz``) -> write the user's object -> store the decision.

Anything of llmcc's own that fails makes the whole call fall back to the real
clang with the user's original arguments, so the user gets exactly clang's
output, diagnostics and exit code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from llmcc.store import cache as cache_mod
from llmcc.compile import cmdline
from llmcc import config as config_mod
from llmcc.store import pinned as pinned_mod
from llmcc.store import files, objects, stats
from llmcc.errors import CandidateError, LlmccError, PipelineError, ToolchainError
from llmcc.llvm.ir import opt_target_args, strip_debug_records
from llmcc.llvm.passes import (OZ, SOURCE_OS, check_clang_oz_pipeline, check_pipeline, contains_oz,
                               parse_pipeline, ram_repaired, split_decision, substitute_oz,
                               with_mandatory_passes)
from llmcc.rank.rankers import load_ranker
from llmcc.compile import process
from llmcc.compile.toolchain import self_paths, Toolchain, find_clang, resolve


#: CPU milliseconds the client of a call run by the compile server spent before
#: handing it over (start-up and imports); set in the server's worker process.
SERVED_START_CPU_MS: int | None = None

#: Set in the environment of everything llmcc runs: a compiler wrapper chain
#: that leads back to llmcc is then an error instead of an endless loop.
RECURSION_ENV = "LLMCC_RECURSION"


class Fallback(LlmccError):
    """Give up on optimizing this call; ``reason`` is counted in stats."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Candidate:
    """One measured candidate: its pipeline, object path and size in bytes (None: failed)."""

    pipeline: str
    obj: str
    size: int | None = None
    stderr: bytes = b""
    error: str = ""
    from_source: bool = False
    ram: int | None = None  # .data + .bss in bytes (None: not measured)
    diagnostics: bytes | None = None  # clang's own stderr for the user's compile, if known
    repair: "Candidate | None" = None  # compiled in its place when it needs more RAM


@dataclass
class Context:
    """Everything one call needs: settings, toolchain, counters."""

    cfg: config_mod.Config
    tc: Toolchain
    env: dict[str, str]
    counts: Counter = field(default_factory=Counter)
    pinned: "pinned_mod.Pinned | None" = None
    ranker: object = None
    oz_pipelines: dict = field(default_factory=dict)
    budget: process.Budget | None = None
    last: tuple | None = None  # (size, -Oz size, decision source) of the last TU optimized
    start_cpu_ms: int = 0  # this process's CPU time when the compile path began
    remote: object = None  # RemoteStore, False when unavailable, None before first use
    tool_env: dict | None = None  # environment of llmcc's own tool runs

    def debug(self, msg: str) -> None:
        """Explain a decision on stderr when ``LLMCC_DEBUG`` is set."""
        if self.cfg.debug:
            sys.stderr.write(f"llmcc: {msg}\n")
            sys.stderr.flush()


def _run(ctx: Context, argv: list[str], phase: str) -> subprocess.CompletedProcess:
    """Run one of the TU's tools within its time budget (:mod:`llmcc.compile.process`),
    adding its CPU time to the ``cpu ms: PHASE`` counter.

    Raises:
        CandidateError: it could not start, or ran out of time (``ToolTimeout``).
    """
    before = _children_cpu()
    try:
        if argv[0] == ctx.tc.clang and sum(len(a) + 1 for a in argv) > MAX_ARGV_BYTES:
            argv = _with_response_file(argv)
        return process.run(argv, ctx.budget, timeout=None if ctx.budget else ctx.cfg.timeout,
                           env=ctx.tool_env)
    finally:
        ctx.counts[f"cpu ms: {phase}"] += round(1000 * (_children_cpu() - before))


#: Longest clang command line run directly (bytes); longer ones go through a response
#: file, as the user's own ``@file`` did (Linux allows 2 MiB for arguments and
#: environment together, 128 KiB for one argument).
MAX_ARGV_BYTES = 96 * 1024


def _with_response_file(argv: list[str]) -> list[str]:
    """``argv`` with its arguments moved into a response file (GNU quoting, which
    clang reads with ``cl::TokenizeGNUCommandLine``) in the temporary directory,
    removed when the call ends."""
    import tempfile as _tempfile
    quoted = []
    for a in argv[1:]:
        quoted.append('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"')
    fd, path = _tempfile.mkstemp(prefix="llmcc-", suffix=".rsp")
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(quoted) + "\n")
    _RESPONSE_FILES.append(path)
    return [argv[0], "@" + path]


_RESPONSE_FILES: list[str] = []


def _children_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    """CPU seconds (user + system) of this process so far."""
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _why(stderr: bytes) -> str:
    """The telling line of a tool's diagnostics (e.g. ``LLVM ERROR: ...``), for messages."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for ln in lines:  # the diagnosis, not the stack dump that follows it
        if ln.startswith("LLVM ERROR") or "error:" in ln or "Assertion" in ln:
            return f": {ln[:200]}"
    return f": {lines[0][:200]}" if lines else ""


def clang_oz_pipeline(ctx: Context, comp: cmdline.Compile, ir_path: str) -> str:
    """clang's own ``-Oz`` pipeline text for these codegen flags (memoized on disk).

    Source: ``clang -Oz -mllvm -print-pipeline-passes`` prints it on its first
    line; it parses in ``opt -p`` unchanged (docs/design.md, "Decisions and why").
    """
    import xxhash
    key = cache_mod.cache_key("", ctx.tc.identity, *comp.codegen_identity())
    # A pinned build depends on nothing but the pinned file and the toolchain.
    memo = (None if ctx.pinned is not None or not ctx.cfg.cache_dir
            else os.path.join(ctx.cfg.cache_dir, "pipelines", key + ".txt"))
    if memo in ctx.oz_pipelines:
        return ctx.oz_pipelines[memo]
    try:
        text, check = files.read_nofollow(memo, MAX_MEMO_BYTES).decode("utf-8").split("\n")[:2]
        # The memo is cache content: it must be whole (checksum) and only name
        # passes clang's own -Oz pipeline runs, like every pipeline reaching opt.
        if check != "xxh3 " + xxhash.xxh3_64_hexdigest(text.encode()):
            raise ValueError("checksum mismatch")
        ctx.oz_pipelines[memo] = check_clang_oz_pipeline(text)
        return text
    except (OSError, TypeError):
        pass
    except (ValueError, LlmccError) as e:  # UnicodeDecodeError, PipelineError, bad shape
        ctx.counts["corrupt cache entries"] += 1
        ctx.debug(f"ignoring memoized -Oz pipeline {memo}: {e}")
    # Not /dev/null: sandboxes (Bazel's linux-sandbox) may mount it read-only.
    scratch = os.path.join(os.path.dirname(ir_path), "print-pipeline.o")
    argv = [ctx.tc.clang] + comp.codegen_args(ir_path, scratch, optimize=True)
    argv[-1:-1] = ["-mllvm", "-print-pipeline-passes"]
    r = _run(ctx, argv, "clang -Oz pipeline query")
    lines = r.stdout.decode(errors="replace").splitlines()
    if r.returncode != 0 or not lines:
        raise CandidateError("cannot read clang's -Oz pipeline")
    text = lines[0].strip()
    ctx.oz_pipelines[memo] = text
    if memo and not ctx.cfg.readonly:
        try:
            files.make_dirs(ctx.cfg.cache_dir, "pipelines")
            files.atomic_write(memo, text + "\nxxh3 "
                               + xxhash.xxh3_64_hexdigest(text.encode()) + "\n")
        except OSError:
            pass
    return text


#: Largest memoized -Oz pipeline file read (clang-19's is about 6 KB).
MAX_MEMO_BYTES = 1 << 16


def compile_candidate(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str,
                      cand: Candidate, *, direct_oz: bool = True, measure: bool = True,
                      unit: cmdline.Unit | None = None,
                      codegen_memo: dict | None = None,
                      same_bitcode: dict | None = None,
                      oz_bitcode: str | None = None) -> Candidate:
    """Compile ``cand.pipeline`` on the IR at ``ir_path`` (text ``ir_text``) into
    ``cand.obj`` and size it.

    The baseline (:data:`OZ`) is plain ``clang -Oz`` from ``unit``'s source when
    ``unit`` is given (byte-identical to the user's build without llmcc), else
    clang's own ``-Oz`` pipeline on the IR, unless ``direct_oz`` is False; every other pipeline runs through ``opt -p`` (with clang's ``-Oz``
    pipeline text in place of :data:`OZ`) and then clang's code generator alone.

    ``same_bitcode`` (a search's) maps a hash of ``opt``'s output to the earlier
    candidate that compiled it: code generation is deterministic, so a pipeline
    whose output is byte-identical gets that candidate's object and sizes
    without running code generation again.

    ``oz_bitcode`` (a search's) is the IR after clang's ``-Oz`` pipeline: a
    pipeline ``default<Oz>,REST`` then runs only ``REST`` on it. The object is the
    same as from the whole pipeline (``opt`` keeps use-list order in bitcode);
    the search checks it on its winner (:func:`_reproducible` compiles the
    whole pipeline), and hits always run the whole pipeline.

    ``codegen_memo`` (for measuring only, as the tuner does) maps a hash of
    ``opt``'s output bitcode to the (``.text + .data``, ``.data + .bss``) bytes
    it compiled to: a pipeline whose output is byte-identical to an earlier
    one's gets both sizes without code generation, and ``cand.obj`` is then not
    written.

    Raises:
        CandidateError: ``opt`` or codegen failed or timed out.
    """
    if cand.pipeline == SOURCE_OS:
        if unit is None:
            raise CandidateError("clang -Os from source needs the translation unit")
        r = _run(ctx, [ctx.tc.clang] + comp.source_args(unit, cand.obj, "-Os"), "-Os/-Oz from source")
        if r.returncode != 0:
            raise CandidateError(f"clang -Os failed with exit code {r.returncode}")
        cand.from_source = True
    elif cand.pipeline == OZ and direct_oz and unit is not None:
        # Plain clang -Oz from source: byte-identical to what the user would get
        # without llmcc (from parsed IR, private names such as .Lstr.N can differ).
        r = _run(ctx, [ctx.tc.clang] + comp.source_args(unit, cand.obj, "-Oz"), "-Os/-Oz from source")
        if r.returncode != 0:
            raise CandidateError(f"clang -Oz failed with exit code {r.returncode}")
        cand.from_source = True
    elif cand.pipeline == OZ and direct_oz:
        r = _run(ctx, [ctx.tc.clang] + comp.codegen_args(ir_path, cand.obj, optimize=True),
                 "codegen")
        if r.returncode != 0:
            raise CandidateError(f"clang -Oz on IR failed with exit code {r.returncode}")
    else:
        pipeline, options = split_decision(cand.pipeline)
        pipeline = with_mandatory_passes(pipeline)
        source = ir_path
        # Options (e.g. -inline-threshold) change the -Oz prefix too: no shortcut.
        if oz_bitcode is not None and not options:
            elems = parse_pipeline(pipeline)
            if len(elems) > 1 and elems[0].text() == OZ:
                pipeline, source = ",".join(e.text() for e in elems[1:]), oz_bitcode
        if contains_oz(pipeline):
            pipeline = substitute_oz(pipeline, clang_oz_pipeline(ctx, comp, ir_path))
        opt_out = cand.obj + ".bc"
        r = _run(ctx, [ctx.tc.opt] + opt_target_args(ir_text) + list(options)
                 + ["-p", pipeline, source, "-o", opt_out], "opt")
        if r.returncode != 0:
            raise CandidateError(f"opt failed with exit code {r.returncode}{_why(r.stderr)}")
        memo_key = None
        if (codegen_memo is not None or same_bitcode is not None) and measure:
            import xxhash
            with open(opt_out, "rb") as f:
                memo_key = xxhash.xxh3_128_hexdigest(f.read())
            earlier = same_bitcode.get(memo_key) if same_bitcode is not None else None
            if earlier is not None:
                ctx.counts["codegens skipped (same bitcode)"] += 1
                cand.obj, cand.size, cand.ram = earlier.obj, earlier.size, earlier.ram
                cand.stderr = earlier.stderr
                return cand
            if same_bitcode is not None:
                same_bitcode[memo_key] = cand
        if codegen_memo is not None and memo_key is not None:
            if memo_key in codegen_memo:
                cand.stderr = r.stderr
                cand.size, cand.ram = codegen_memo[memo_key]
                return cand
        r = _run(ctx, [ctx.tc.clang] + comp.codegen_args(opt_out, cand.obj, optimize=False),
                 "codegen")
        if r.returncode != 0:
            raise CandidateError(f"codegen failed with exit code {r.returncode}{_why(r.stderr)}")
    cand.stderr = r.stderr
    if measure:
        from llmcc.llvm.objsize import object_size  # pyelftools is not needed on cache hits
        t0 = _self_cpu()
        sizes = object_size(cand.obj)
        ctx.counts["cpu ms: size measurement"] += round(1000 * (_self_cpu() - t0))
        cand.size, cand.ram = sizes.total, sizes.data + sizes.bss
        if codegen_memo is not None and cand.pipeline not in (OZ, SOURCE_OS) and memo_key:
            codegen_memo[memo_key] = cand.size, cand.ram
    return cand


def choose(cands: list[Candidate]) -> Candidate:
    """The smallest measured candidate; ties go to the earliest (``-Oz`` is first)."""
    ok = [c for c in cands if c.size is not None]
    return min(ok, key=lambda c: c.size)


def _record(ctx: Context, comp: cmdline.Compile, unit: cmdline.Unit, ir_text: str,
            ir_hash: str, oz_size: int | None, key: str = "", size: int | None = None,
            pp_key: str | None = None, printed: tuple[bytes, bytes] = (b"", b"")) -> None:
    """Store the unoptimized IR of a TU under ``record`` (corpus building, ``llmcc
    autotune record``) and append its record: IR hash, the decision ``key`` the
    driver looks up, codegen flags, the ``-Oz`` and chosen object sizes (bytes),
    and, for a single-TU compile, the key of its preprocessed source (``pp_key``,
    under which the object store keeps its object) with what the compile printed
    (``stdout``/``stderr``, base64), so that ``llmcc autotune`` can store a tuned
    object that the next build installs as it would its own."""
    import base64
    root = ctx.cfg.record
    path = os.path.join(root, "ir", ir_hash[:2], ir_hash + ".ll")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        files.atomic_write(path, ir_text.encode("utf-8", "surrogateescape"))
    line = json.dumps({
        "ir_hash": ir_hash, "source": os.path.abspath(unit.source), "cwd": os.getcwd(),
        "codegen_args": list(comp.codegen_identity()), "language": unit.language,
        "package": ctx.env.get("LLMCC_RECORD_PACKAGE", ""),
        "version": ctx.env.get("LLMCC_RECORD_VERSION", ""),
        "clang": ctx.tc.version, "oz_size": oz_size, "key": key, "size": size,
        "pp_key": pp_key or "", "stdout": base64.b64encode(printed[0]).decode(),
        "stderr": base64.b64encode(printed[1]).decode(),
    }, sort_keys=True)
    with files.locked(os.path.join(root, "records.lock"), timeout=60):
        with open(os.path.join(root, "records.jsonl"), "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _install(src: str, dest: str) -> None:
    """Copy the winning object to the user's path atomically (a regular file is
    replaced by rename; anything else, such as a device or FIFO, is written into)."""
    import stat
    try:
        mode = os.stat(dest).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(src, "rb") as f, open(dest, "wb") as out:
            shutil.copyfileobj(f, out)
        return
    with open(src, "rb") as f:
        files.atomic_write(dest, f.read())


def optimize_unit(ctx: Context, comp: cmdline.Compile, unit: cmdline.Unit,
                  store: cache_mod.Store | None, pp_key: str | None = None,
                  pp_store: cache_mod.Store | None = None) -> tuple[bytes, bytes]:
    """Optimize one TU into ``unit.output``; return (stdout, stderr) bytes to show.

    Raises:
        Fallback: the call must go to the real clang (compile error, or a
            failure of llmcc's own).
        PinnedMiss: strict pinned mode and the TU has no pinned decision.
    """
    ctx.budget = process.Budget(ctx.cfg.timeout)  # all of this TU's tools share it
    with tempfile.TemporaryDirectory(prefix="llmcc-") as work:
        ir_path = os.path.join(work, "tu.ll")
        try:
            r = _run(ctx, [ctx.tc.clang] + comp.lower_args(unit, ir_path), "lowering")
        except CandidateError as e:
            raise Fallback("lowering failed", str(e)) from e
        if r.returncode != 0:
            raise Fallback("compile error")
        with open(ir_path, encoding="utf-8", errors="surrogateescape") as f:
            ir_text = f.read()
        normalized = cache_mod.normalize_ir(ir_text)
        key = cache_mod.cache_key(normalized, ctx.tc.identity, "\0".join(comp.codegen_identity()))
        if ctx.cfg.force_pipeline:
            winner, oz_size = forced(ctx, comp, ir_path, ir_text, work, unit)
        elif ctx.pinned is not None:
            winner, oz_size = _from_pinned(ctx, comp, ir_path, ir_text, work, unit, key)
        else:
            winner, oz_size = _from_cache_or_search(ctx, comp, ir_path, ir_text, work, unit,
                                                    key, store)
            if pp_key and pp_store and not ctx.cfg.readonly and not ctx.budget.timed_out:
                try:
                    pp_store.put(pp_key, cache_mod.Entry(winner.pipeline, winner.size, oz_size,
                                                      _source(ctx), ctx.tc.identity))
                except OSError:
                    pass
        try:
            _install(winner.obj, unit.output)
        except OSError as e:
            raise Fallback("cannot write output", str(e)) from e
        ctx.counts["bytes -Oz"] += oz_size
        ctx.counts["bytes llmcc"] += winner.size
        if winner.size < oz_size:
            ctx.counts["TUs improved"] += 1
        elif winner.size == oz_size:
            ctx.counts["TUs equal"] += 1
        else:  # only a forced pipeline can be larger than -Oz
            ctx.counts["TUs larger than -Oz (forced pipeline)"] += 1
        ctx.last = (winner.size, oz_size, _source(ctx) if not ctx.pinned else "")
        printed = r.stdout, _diagnostics(ctx, comp, unit, work, r.stderr, winner)
        if ctx.cfg.record:
            try:
                _record(ctx, comp, unit, ir_text, cache_mod.cache_key(normalized), oz_size,
                        key, winner.size, pp_key, printed)
            except OSError as e:
                ctx.debug(f"cannot record IR: {e}")
        return printed


def _diagnostics(ctx: Context, comp: cmdline.Compile, unit: cmdline.Unit, work: str,
                 lowering_stderr: bytes, winner: Candidate) -> bytes:
    """What clang itself prints for the user's compile (at ``-Oz``), whichever
    candidate won.

    A winner compiled from source printed it; after a search (or a forced
    pipeline) the ``-Oz`` compile from source did. On a hit, the frontend's
    diagnostics are the lowering's; if code generation of the bitcode printed
    anything (backend warnings name the temporary ``.bc`` and count warnings
    again), plain ``clang -Oz`` from source is run once more for its stderr.
    """
    if winner.from_source:
        return winner.stderr
    if winner.diagnostics is not None:
        return winner.diagnostics
    if not winner.stderr.strip():
        return lowering_stderr
    try:
        r = _run(ctx, [ctx.tc.clang] + comp.source_args(unit, os.path.join(work, "diag.o"), "-Oz"),
                 "-Os/-Oz from source")
    except CandidateError:
        return lowering_stderr + winner.stderr
    ctx.counts["compiles for diagnostics"] += 1
    return r.stderr


def _ranker(ctx: Context):
    """The configured ranker (memoized), or ``static`` when it cannot load."""
    if ctx.ranker is None:
        try:
            ctx.ranker = load_ranker(ctx.cfg.ranker)
            if ctx.ranker.name == "model" and ctx.cfg.rank_server > 0 and ctx.cfg.cache_dir \
                    and not ctx.cfg.readonly:
                from llmcc.compile import rankserver
                ctx.ranker = rankserver.ServedRanker(
                    ctx.ranker, rankserver.socket_path(ctx.cfg.cache_dir, ctx.ranker.identity),
                    ctx.cfg.rank_server, ctx.counts, ctx.env)
        except Exception as e:  # a missing or broken model must not break a build
            ctx.counts[f"fallback: ranker {ctx.cfg.ranker} unavailable"] += 1
            ctx.debug(f"ranker {ctx.cfg.ranker!r} unavailable ({type(e).__name__}: {e}); "
                      "using the static ranker")
            ctx.ranker = load_ranker("static")
    return ctx.ranker


def _source(ctx: Context) -> str:
    """Identity of the decisions this call makes: ranker identity and k."""
    return f"{_ranker(ctx).identity}/k={ctx.cfg.candidates}"


def preprocessed_key(ctx: Context, comp: cmdline.Compile, unit: cmdline.Unit,
                     dependencies: bool = False) -> str | None:
    """Key of the TU's preprocessed source (``clang -E``, as lowering sees it) with the
    toolchain and codegen flags, or None if preprocessing fails.

    Same preprocessed text and flags give the same IR, so a decision stored under
    this key can be reused without lowering: when it is ``-Oz`` the TU is compiled
    by plain ``clang -Oz`` directly (ccache's preprocessor mode, applied to decisions).
    """
    import xxhash
    h = xxhash.xxh3_128(b"preprocessed\0")
    if unit.preprocessed:  # .i/.ii or -x cpp-output: the file is what lowering reads
        try:
            with open(unit.source, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError:
            return None
        h.update(b"\0" + str(unit.language).encode())
    else:
        with tempfile.TemporaryDirectory(prefix="llmcc-") as work:
            out = os.path.join(work, "tu.i")
            try:
                r = _run(ctx, [ctx.tc.clang] + comp.preprocess_args(unit, out, dependencies),
                         "preprocessing")
            except CandidateError:
                return None
            if r.returncode != 0:
                return None
            with open(out, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
    for part in (ctx.tc.identity, "\0".join(comp.codegen_identity())):
        h.update(b"\0" + part.encode())
    return h.hexdigest()


def _compile_decision(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str,
                      work: str, unit: cmdline.Unit, entry: cache_mod.Entry,
                      what: str) -> Candidate | None:
    """Compile a remembered decision; None (counted) if its pipeline fails."""
    cand = Candidate(entry.pipeline, os.path.join(work, "hit.o"), size=entry.size)
    direct = entry.pipeline in (OZ, SOURCE_OS)
    try:
        compile_candidate(ctx, comp, ir_path, ir_text, cand, measure=not direct, unit=unit)
    except (CandidateError, OSError, LlmccError) as e:
        ctx.counts["fallback: " + what + " pipeline failed"] += 1
        ctx.debug(f"{unit.source}: {what} pipeline failed ({e})")
        return None
    if not direct and (cand.size != entry.size or entry.size > entry.oz_size):
        # An entry is the measurement of its pipeline on this IR: anything else
        # (a planted larger pipeline, a changed toolchain) is not trusted.
        ctx.counts[{"cache": "cache entries with another size",
                    "pinned": "pinned entries with another size"}[what]] += 1
        ctx.debug(f"{unit.source}: {what} pipeline gave {cand.size} bytes, the entry says "
                  f"{entry.size} (-Oz {entry.oz_size}); not used")
        return None
    ctx.counts[{"cache": "cache hits", "pinned": "pinned hits"}[what]] += 1
    ctx.debug(f"{unit.source}: {what} hit, pipeline {entry.pipeline}")
    return cand


def _from_cache_or_search(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str,
                          work: str, unit: cmdline.Unit, key: str,
                          store: cache_mod.Store | None) -> tuple[Candidate, int]:
    """The cached decision for ``key`` if valid, else a search (stored afterwards)."""
    ranker = _ranker(ctx)
    k = ctx.cfg.candidates
    source = _source(ctx)
    entry = store.get(key) if store else None
    if store:
        ctx.counts["corrupt cache entries"] += store.corrupt
        ctx.counts["rejected pipelines"] += store.rejected
        store.corrupt = store.rejected = 0
    if entry is not None and not entry.valid_for(source):
        ctx.debug(f"{unit.source}: cached decision is from {entry.source}; searching again")
        entry = None
    remote = _remote(ctx)
    if entry is None and remote is not None:
        entry = _from_remote(ctx, remote, key, source, unit)
        if entry is not None and store and not ctx.cfg.readonly:
            try:  # read-through: the next build finds it locally
                store.put(key, entry)
            except OSError:
                ctx.counts["cache write failed"] += 1
    if entry is not None:
        hit = _compile_decision(ctx, comp, ir_path, ir_text, work, unit, entry, "cache")
        if hit is not None:
            return hit, entry.oz_size
    ctx.counts["cache misses"] += 1
    winner, oz_size = search(ctx, comp, ir_path, ir_text, ranker, k, work, unit)
    source = _source(ctx)  # the static ranker's, if the model failed during the search
    if ctx.budget is not None and ctx.budget.timed_out:
        # A timeout says more about the machine's load than about the pipeline:
        # the decision is used for this build but searched again next time.
        ctx.counts["decisions not cached (timeout)"] += 1
        ctx.debug(f"{unit.source}: a candidate ran out of time; decision not cached")
    elif store and not ctx.cfg.readonly:
        decision = cache_mod.Entry(winner.pipeline, winner.size, oz_size, source,
                                   ctx.tc.identity)
        try:
            store.put(key, decision)
        except OSError as e:
            ctx.counts["cache write failed"] += 1
            ctx.debug(f"cannot write cache entry: {e}")
        if remote is not None:  # write-back: the team's next build finds it
            remote.put(key, decision)
            _count_remote(ctx, remote)
    return winner, oz_size


def _remote(ctx: Context):
    """The shared decision store of ``cache_url``, or None (not set, or no redis module)."""
    if not ctx.cfg.cache_url or ctx.pinned is not None:
        return None
    if ctx.remote is None:
        try:
            from llmcc.store.remote import RemoteStore
            import redis  # noqa: F401  (the extra)
            ctx.remote = RemoteStore(ctx.cfg.cache_url)
        except ImportError as e:
            ctx.counts["remote errors"] += 1
            ctx.debug(f"cache_url is set but the redis module is missing ({e}): "
                      "pip install 'llmcc[remote]'")
            ctx.remote = False
    return ctx.remote or None


def _from_remote(ctx: Context, remote, key: str, source: str, unit: cmdline.Unit):
    """The shared decision for ``key`` if valid for this call, else None (counted)."""
    entry = remote.get(key, ctx.tc.identity)
    _count_remote(ctx, remote)
    if entry is not None and not entry.valid_for(source):
        entry = None
    ctx.counts["remote hits" if entry is not None else "remote misses"] += 1
    ctx.debug(f"{unit.source}: shared store {'hit' if entry else 'miss'}")
    return entry


def _count_remote(ctx: Context, remote) -> None:
    for attr, counter in (("errors", "remote errors"), ("corrupt", "corrupt cache entries"),
                          ("rejected", "rejected pipelines")):
        n = getattr(remote, attr)
        if n:
            ctx.counts[counter] += n
            if attr == "errors":
                ctx.debug(f"shared store {ctx.cfg.cache_url} failed; continuing without it")
            setattr(remote, attr, 0)


class PinnedMiss(LlmccError, LookupError):
    """Strict pinned mode: a TU has no decision in the pinned file."""


def _from_pinned(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str,
                 work: str, unit: cmdline.Unit, key: str) -> tuple[Candidate, int]:
    """The pinned decision for ``key``, else ``-Oz`` (or :class:`PinnedMiss` when strict)."""
    entry = ctx.pinned.entries.get(key)
    if entry is not None:
        hit = _compile_decision(ctx, comp, ir_path, ir_text, work, unit, entry, "pinned")
        if hit is not None:
            return hit, entry.oz_size
    else:
        ctx.counts["pinned misses"] += 1
        if ctx.cfg.pinned_strict:
            raise PinnedMiss(f"no pinned decision for {unit.source} (key {key}) in "
                             f"{ctx.cfg.pinned}")
        ctx.debug(f"{unit.source}: no pinned decision (key {key}); compiling with -Oz")
    return search(ctx, comp, ir_path, ir_text, None, 0, work, unit)


def forced(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str,
           work: str, unit: cmdline.Unit) -> tuple[Candidate, int]:
    """Compile with ``force_pipeline`` whatever its size; return (object, -Oz size in bytes).

    Raises:
        Fallback: the pipeline is not allowed, or it or the baseline failed.
    """
    try:
        pipeline = check_pipeline(ctx.cfg.force_pipeline)
    except PipelineError as e:
        raise Fallback("forced pipeline rejected", str(e)) from e
    base = Candidate(OZ, os.path.join(work, "c0.o"))
    cand = Candidate(pipeline, os.path.join(work, "forced.o"))
    try:
        compile_candidate(ctx, comp, ir_path, ir_text, base, unit=unit)
        compile_candidate(ctx, comp, ir_path, ir_text, cand, direct_oz=False)
    except (CandidateError, OSError, LlmccError) as e:
        raise Fallback("forced pipeline failed", str(e)) from e
    cand.diagnostics = base.stderr
    ctx.counts["forced pipeline"] += 1
    ctx.debug(f"forced pipeline {pipeline}: {cand.size} bytes (-Oz: {base.size})")
    return cand, base.size


def search(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str, ranker, k: int,
           work: str, unit: cmdline.Unit) -> tuple[Candidate, int]:
    """Measure ``-Oz`` and the ranker's top-k pipelines; return (winner, -Oz size in bytes).

    Raises:
        Fallback: the ``-Oz`` baseline itself failed.
    """
    base = Candidate(OZ, os.path.join(work, "c0.o"))
    try:
        compile_candidate(ctx, comp, ir_path, ir_text, base, unit=unit)
    except (CandidateError, OSError, LlmccError) as e:
        raise Fallback("baseline failed", str(e)) from e
    cands = [base]
    if comp.opt_level == "-Os":
        # The user asked for -Os: never give them more than clang -Os would.
        os_cand = Candidate(SOURCE_OS, os.path.join(work, "os.o"))
        try:
            cands.append(compile_candidate(ctx, comp, ir_path, ir_text, os_cand, unit=unit))
        except (CandidateError, OSError, LlmccError) as e:
            raise Fallback("clang -Os candidate failed", str(e)) from e
    proposed: list[str] = []
    if k > 0:
        rank_text = strip_debug_records(ir_text)  # -g must not change the decision
        t0 = _self_cpu()
        try:
            ranked = ranker.rank(rank_text)
        except Exception as e:  # a ranker (or a model that cannot load) never breaks a build
            ctx.counts["fallback: ranker failed"] += 1
            ctx.debug(f"ranker {ranker.name} failed ({type(e).__name__}: {e}); "
                      "using the static ranker")
            ctx.ranker = load_ranker("static")  # the decision is cached as static's
            ranked = ctx.ranker.rank(rank_text)
        ctx.counts["cpu ms: ranking"] += round(1000 * (_self_cpu() - t0))
        for p in ranked:
            try:
                p = check_pipeline(p)
            except PipelineError as e:
                ctx.counts["rejected pipelines"] += 1
                ctx.debug(f"rejected pipeline {p!r}: {e}")
                continue
            if p != OZ and p not in proposed:
                proposed.append(p)
            if len(proposed) == k:
                break
    same_bitcode: dict = {}
    oz_bitcode = _oz_bitcode(ctx, comp, ir_path, ir_text, work, proposed)
    for i, p in enumerate(proposed, 1):
        cand = Candidate(p, os.path.join(work, f"c{i}.o"))
        try:
            compile_candidate(ctx, comp, ir_path, ir_text, cand, same_bitcode=same_bitcode,
                              oz_bitcode=oz_bitcode)
            ctx.counts["candidates compiled"] += 1
        except (CandidateError, OSError, LlmccError) as e:
            cand.size, cand.error = None, str(e)
            ctx.counts["candidates failed"] += 1
            ctx.debug(f"{unit.source}: candidate {p} failed: {e}")
        cands.append(cand)
    fixed = len(cands) - len(proposed)  # -Oz (and -Os) before the ranker's candidates
    ranked = cands[fixed:]
    cands += _ram_rule(ctx, comp, ir_path, ir_text, work, unit, base, cands[1:],
                       same_bitcode, oz_bitcode)
    winner = choose(cands)
    while winner.pipeline not in (OZ, SOURCE_OS) and not _sane(ctx, comp, ir_path, ir_text,
                                                               winner, base, unit):
        winner.size = None
        winner = choose(cands)
    winner.diagnostics = base.stderr
    ctx.debug(f"{unit.source}: " + ", ".join(
        f"{c.pipeline}={c.size if c.size is not None else 'failed'}" for c in cands)
        + f" -> {winner.pipeline}")
    # The size/compile-count trade-off: the bytes this search would have kept
    # with only the ranker's first j pipelines, for j = 0..k (`llmcc bench` plots it),
    # under the same rules as the winner: a candidate refused for RAM counts as its
    # repair, one that failed a check as nothing; at j = k it is the winner's size.
    best = min(s for s in (c.size for c in cands[:fixed]) if s is not None)
    for j in range(k + 1):
        if 0 < j <= len(ranked):
            c = ranked[j - 1]
            for size in (c.size, c.repair.size if c.repair is not None else None):
                if size is not None:
                    best = min(best, size)
        ctx.counts[f"bytes with k={j}"] += best
    return winner, base.size


def needs_more_ram(c: Candidate, base: Candidate) -> bool:
    """True when the measured candidate ``c``'s object needs more ``.data + .bss``
    than ``base``'s (``-Oz``): the driver never lets it win."""
    return c.size is not None and base.ram is not None and c.ram is not None \
        and c.ram > base.ram


def _ram_rule(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str, work: str,
              unit: cmdline.Unit, base: Candidate, cands: list[Candidate],
              same_bitcode: dict, oz_bitcode: str | None) -> list[Candidate]:
    """Flash is not bought with RAM: make each of ``cands`` whose object needs more
    ``.data + .bss`` than ``base`` (``-Oz``) ineligible (size None), and compile its
    pipeline with clang's global clean-up appended (:func:`ram_repaired`: a
    read-only table such a pipeline left in ``.data`` becomes constant again).
    Return the repaired candidates that need no more RAM than ``-Oz``: they compete
    as any candidate does. Counted."""
    repaired = []
    for n, c in enumerate(cands, 1):
        if not needs_more_ram(c, base):
            continue
        ctx.counts["candidates needing more RAM than -Oz"] += 1
        ctx.debug(f"{unit.source}: {c.pipeline} needs {c.ram} bytes of .data + .bss, "
                  f"-Oz {base.ram}; not eligible")
        c.size = None
        fix = ram_repaired(c.pipeline)
        if fix is None:
            continue
        c.repair = next((r for r in cands + repaired if r.pipeline == fix), None)
        if c.repair is not None:  # compiled already: that candidate stands for it
            continue
        r = Candidate(fix, os.path.join(work, f"r{n}.o"))
        try:
            compile_candidate(ctx, comp, ir_path, ir_text, r, same_bitcode=same_bitcode,
                              oz_bitcode=oz_bitcode)
        except (CandidateError, OSError, LlmccError) as e:
            ctx.counts["RAM repairs failed"] += 1
            ctx.debug(f"{unit.source}: candidate {fix} failed: {e}")
            continue
        if needs_more_ram(r, base):
            ctx.counts["RAM repairs still needing more RAM"] += 1
            continue
        ctx.counts["RAM repairs eligible"] += 1
        ctx.debug(f"{unit.source}: {fix} needs {r.ram} bytes of .data + .bss: eligible")
        repaired.append(r)
        c.repair = r
    return repaired


def _sane(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str,
          winner: Candidate, base: Candidate, unit: cmdline.Unit) -> bool:
    """Checks a winning pipeline must pass before it is used and cached: it
    defines the same strong global symbols as the ``-Oz`` object (nothing a
    linker needs went missing), and compiling it again gives the same bytes
    (or a rebuild, a cache hit, could differ from this build), unless the
    shipped coreset records it as reproducible (``llmcc tune reproducible``
    compiled it twice on corpus TUs). Counted."""
    from llmcc.llvm.objsize import strong_definitions
    try:
        same = strong_definitions(winner.obj) == strong_definitions(base.obj)
    except (OSError, LlmccError):
        same = False
    if not same:
        ctx.counts["winners defining other symbols than -Oz"] += 1
        ctx.debug(f"{unit.source}: {winner.pipeline} defines other global symbols than -Oz; "
                  "dropped")
        return False
    from llmcc.rank.base import reproducible_pipelines
    if winner.pipeline in reproducible_pipelines():
        # Shipped and checked offline (llmcc tune reproducible): no second compile.
        ctx.counts["reproducibility compiles saved (pipeline checked offline)"] += 1
    elif not _reproducible(ctx, comp, ir_path, ir_text, winner, unit):
        ctx.counts["nondeterministic pipelines"] += 1
        ctx.debug(f"{unit.source}: {winner.pipeline} is not reproducible; dropped")
        return False
    return True


def _oz_bitcode(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str, work: str,
                proposed: list[str]) -> str | None:
    """The TU's IR after clang's ``-Oz`` pipeline (``work/oz.bc``), when at least
    two candidates without options start with it, so each runs only the rest of
    its pipeline; None when fewer do or ``opt`` fails (candidates then run whole)."""
    # Options (e.g. -inline-threshold) change the -Oz prefix too: those run whole.
    if sum(1 for p in proposed if p.startswith(OZ + ",") and not split_decision(p)[1]) < 2:
        return None
    out = os.path.join(work, "oz.bc")
    try:
        r = _run(ctx, [ctx.tc.opt] + opt_target_args(ir_text)
                 + ["-p", clang_oz_pipeline(ctx, comp, ir_path), ir_path, "-o", out], "opt")
    except CandidateError:
        return None
    return out if r.returncode == 0 else None


def _reproducible(ctx: Context, comp: cmdline.Compile, ir_path: str, ir_text: str,
                  winner: Candidate, unit: cmdline.Unit) -> bool:
    """Compile the winning pipeline again and compare the objects byte for byte."""
    again = Candidate(winner.pipeline, winner.obj + ".again.o")
    try:
        compile_candidate(ctx, comp, ir_path, ir_text, again, measure=False, unit=unit)
        with open(winner.obj, "rb") as a, open(again.obj, "rb") as b:
            return a.read() == b.read()
    except (CandidateError, OSError, LlmccError):
        return False


def _exec_clang(clang: str, args: list[str], prefix: str = "") -> None:
    """Replace this process with the real clang (never returns), run through the
    ``prefix`` command if one is configured (e.g. ``ccache``, ``distcc``).

    Raises:
        ToolchainError: the prefix command is not found.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if prefix:
        import shlex
        words = shlex.split(prefix)
        found = shutil.which(words[0])
        if found is None:
            raise ToolchainError(f"prefix command {words[0]!r} not found")
        os.execv(found, words + [clang] + args)
    os.execv(clang, [clang] + args)


def compile_main(args: list[str], cxx: bool, env: dict[str, str] | None = None) -> int:
    """Run one compiler call with ``args`` (argv without argv[0]); return the exit code.

    Pass-through and fallback calls ``exec`` the real clang and do not return.
    An unexpected error before the toolchain is known still ends in the real clang.
    """
    env = dict(os.environ if env is None else env)
    try:
        return _compile_main(args, cxx, env)
    except Exception as e:  # llmcc never breaks a build
        if env.get("LLMCC_DEBUG"):
            sys.stderr.write(f"llmcc: internal error: {type(e).__name__}: {e}\n")
        _exec_clang(find_clang(cxx, self_paths(), env), args)  # no prefix: it may be the problem
        return 1


def _compile_main(args: list[str], cxx: bool, env: dict[str, str]) -> int:
    if env.get(RECURSION_ENV):
        # The "real" clang found is a wrapper that leads back to llmcc: running
        # it again would loop forever (ccache: "Recursive invocation").
        sys.stderr.write("llmcc: error: llmcc was called again by the compiler it runs "
                         f"({env.get('LLMCC_CLANG') or 'the first clang on PATH'}); set "
                         "LLMCC_CLANG to the real clang\n")
        return 1
    start_cpu_ms = round(1000 * _self_cpu())  # interpreter start-up and imports
    if SERVED_START_CPU_MS is not None:  # a worker forked by the compile server
        start_cpu_ms += SERVED_START_CPU_MS
    # Everything run from here on (version probes, tools, the exec'd clang) carries it.
    os.environ[RECURSION_ENV] = env[RECURSION_ENV] = "1"
    cfg, problems = config_mod.load_report(env)
    for problem in problems:  # that setting alone falls back to its default
        sys.stderr.write(f"llmcc: warning: {problem}; ignored\n")
    if cfg.pinned:
        cfg = dataclasses.replace(cfg, readonly=True)
    try:
        tc = resolve(cxx, self_paths(), env, None if cfg.readonly else cfg.cache_dir)
    except ToolchainError as e:
        sys.stderr.write(f"llmcc: error: {e}\n")
        return 1
    ctx = Context(cfg=cfg, tc=tc, env=env, tool_env=env, start_cpu_ms=start_cpu_ms)
    if cfg.pinned:
        problem = _load_pinned(ctx)
        if problem and cfg.pinned_strict:
            sys.stderr.write(f"llmcc: error: {problem}\n")
            return 1
    if cfg.disable:
        _exec_clang(tc.clang, args, cfg.prefix)
    try:
        expanded = cmdline.expand_response_files(args)
        job = cmdline.classify(expanded, policy=cfg.policy)
    except (RecursionError, ValueError) as e:
        job = cmdline.PassThrough("unsupported command line")
        ctx.debug(str(e))
    if isinstance(job, cmdline.PassThrough):
        ctx.counts[f"uncacheable: {job.reason}"] += 1
        ctx.debug(f"passing through ({job.reason})")
        _finish(ctx)
        _exec_clang(tc.clang, args, cfg.prefix)
    if tc.opt is None:
        ctx.counts["fallback: opt unavailable"] += 1
        ctx.debug(f"no usable opt: {tc.problem}; compiling with plain clang")
        _finish(ctx)
        _exec_clang(tc.clang, args, cfg.prefix)
    store = None if not cfg.cache_dir else cache_mod.Store(cfg.cache_dir, cfg.max_entries)
    outputs = []
    try:
        pp_key = pp_store = obj_store = None
        if (len(job.units) == 1 and store is not None and not cfg.pinned
                and not cfg.force_pipeline):
            pp_store = cache_mod.Store(cfg.cache_dir, cfg.max_entries, "preprocessed")
            obj_store = (objects.ObjectStore(cfg.cache_dir, cfg.max_objects)
                         if cfg.max_objects else None)
            ctx.budget = process.Budget(cfg.timeout)
            unit = job.units[0]
            # The preprocessing run also writes the user's dependency file.
            pp_key = preprocessed_key(ctx, job, unit, dependencies=True)
            # A recording build lowers every TU (its IR is the record), so it takes
            # neither shortcut; it keys them for the builds after it.
            if pp_key and obj_store and not cfg.record and not (
                    unit.preprocessed and job.dependency):
                stored = obj_store.get(pp_key)
                ctx.counts["corrupt cache entries"] += obj_store.corrupt
                if stored is not None and cache_mod.answers(stored.source, _source(ctx)):
                    return _from_object_store(ctx, unit, stored)
            entry = pp_store.get(pp_key) if pp_key and not cfg.record else None
            ctx.counts["corrupt cache entries"] += pp_store.corrupt
            ctx.counts["rejected pipelines"] += pp_store.rejected
            if entry is not None and entry.pipeline == OZ and entry.valid_for(_source(ctx)):
                # -Oz decided for this exact preprocessed source: plain clang -Oz, no lowering.
                ctx.counts.update({"cache hits": 1, "direct -Oz compiles": 1,
                                   "bytes -Oz": entry.oz_size, "bytes llmcc": entry.size,
                                   "TUs equal": 1})
                ctx.debug(f"{job.units[0].source}: preprocessed-source hit, compiling with -Oz")
                _finish(ctx)
                _exec_clang(tc.clang, job.direct_args(job.units[0]), cfg.prefix)
        for unit in job.units:
            outputs.append(optimize_unit(ctx, job, unit, store, pp_key, pp_store))
        if (pp_key and obj_store is not None and not cfg.readonly and not ctx.budget.timed_out
                and ctx.last and ctx.last[2]):
            _store_object(ctx, obj_store, pp_key, job.units[0], outputs[0])
    except PinnedMiss as e:
        sys.stderr.write(f"llmcc: error: {e} (pinned_strict is set)\n")
        return 1
    except Fallback as e:
        key = "uncacheable: compile error" if e.reason == "compile error" else f"fallback: {e.reason}"
        ctx.counts = Counter({key: 1, **{k: v for k, v in ctx.counts.items() if k.startswith(
            ("corrupt", "rejected"))}})
        ctx.debug(f"falling back to plain clang ({e})")
        _finish(ctx)
        _exec_clang(tc.clang, args, cfg.prefix)
    except Exception as e:  # llmcc never breaks a build
        ctx.counts = Counter({"fallback: internal error": 1})
        ctx.debug(f"internal error: {type(e).__name__}: {e}")
        _finish(ctx)
        _exec_clang(tc.clang, args, cfg.prefix)
    for out, err in outputs:
        sys.stdout.buffer.write(out)
        sys.stderr.buffer.write(err)
    _finish(ctx)
    return 0


def _from_object_store(ctx: Context, unit: cmdline.Unit, stored: "objects.StoredObject") -> int:
    """Install a stored object as the user's output and replay what the compile
    printed: no lowering, ``opt`` or code generation (docs/design.md)."""
    with tempfile.TemporaryDirectory(prefix="llmcc-") as work:
        tmp = os.path.join(work, "stored.o")
        with open(tmp, "wb") as f:
            f.write(stored.obj)
        try:
            _install(tmp, unit.output)
        except OSError as e:
            raise Fallback("cannot write output", str(e)) from e
    ctx.counts.update({"cache hits": 1, "object hits": 1, "bytes -Oz": stored.oz_size,
                       "bytes llmcc": stored.size})
    ctx.counts["TUs improved" if stored.size < stored.oz_size else "TUs equal"] += 1
    ctx.debug(f"{unit.source}: stored object ({stored.size} bytes, -Oz {stored.oz_size})")
    sys.stdout.buffer.write(stored.stdout)
    sys.stderr.buffer.write(stored.stderr)
    _finish(ctx)
    return 0


def _store_object(ctx: Context, obj_store: "objects.ObjectStore", key: str,
                  unit: cmdline.Unit, printed: tuple[bytes, bytes]) -> None:
    """Keep the object just installed for the next build of the same source."""
    size, oz_size, source = ctx.last
    try:
        with open(unit.output, "rb") as f:
            obj = f.read()
        obj_store.put(key, objects.StoredObject(obj, printed[0], printed[1], size, oz_size,
                                                source))
    except OSError as e:
        ctx.counts["cache write failed"] += 1
        ctx.debug(f"cannot store the object: {e}")


def _default_cache_dir() -> str:
    import platformdirs
    return platformdirs.user_cache_dir("llmcc")


def _remove_response_files() -> None:
    for path in _RESPONSE_FILES:
        try:
            os.unlink(path)
        except OSError:
            pass
    _RESPONSE_FILES.clear()


def _finish(ctx: Context) -> None:
    """Record the call's counters (never in pinned mode, which writes nothing),
    with this process's own CPU time (start-up and imports, then the rest less
    ranking and size measurement) and its peak resident memory as a bucket."""
    import resource
    _remove_response_files()
    own = round(1000 * _self_cpu())
    start = ctx.start_cpu_ms or 0
    ctx.counts["cpu ms: start-up and imports"] += start
    ctx.counts["cpu ms: llmcc (other)"] += max(0, own - start - ctx.counts["cpu ms: ranking"]
                                               - ctx.counts["cpu ms: size measurement"])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    bucket = next((b for b in (32, 64, 128, 256, 512, 1024) if rss_mb <= b), 2048)
    ctx.counts[f"processes with peak RSS up to MB: {bucket}"] += 1
    if SERVED_START_CPU_MS is not None:
        ctx.counts["compile server calls"] += 1
    elif not ctx.cfg.pinned and not ctx.cfg.readonly and ctx.cfg.compile_server > 0:
        from llmcc.compile import client
        if client.wanted:  # no server answered this call: start one for the next
            from llmcc.compile import server
            if server.start(client.wanted, ctx.cfg.compile_server, ctx.env):
                ctx.counts["compile server starts"] += 1
            client.wanted = None
    if not ctx.cfg.pinned:
        stats.add(ctx.cfg.cache_dir, {k: v for k, v in ctx.counts.items() if v})


def _load_pinned(ctx: Context) -> str:
    """Load ``cfg.pinned`` into ``ctx.pinned``; return a problem description or ``""``.

    An unreadable file, another format or another toolchain leaves no decisions
    (every TU then compiles with ``-Oz``); rejected lines are reported under debug.
    """
    ctx.pinned = pinned_mod.Pinned(version="", toolchain="")
    try:
        loaded = pinned_mod.read(ctx.cfg.pinned)
    except (OSError, LlmccError, ValueError) as e:
        problem = f"cannot use pinned cache {ctx.cfg.pinned}: {e}"
        ctx.debug(problem)
        return problem
    for line in loaded.rejected:
        ctx.debug(f"pinned entry ignored: {line}")
    if loaded.toolchain != ctx.tc.identity:
        problem = (f"pinned cache {ctx.cfg.pinned} was made with clang {loaded.version} "
                   f"({loaded.toolchain[:12]}), this is clang {ctx.tc.version} "
                   f"({ctx.tc.identity[:12]}): its decisions are ignored")
        ctx.debug(problem)
        return problem
    ctx.pinned = loaded
    return ""
