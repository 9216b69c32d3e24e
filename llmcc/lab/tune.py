"""``llmcc tune``: the autotuner, broadcast labels and the pass-list coreset.

Reproduces, at the scale of a build machine, the data side of the LLM Compiler
paper (Cummins et al., 2024, section 3.1): per translation unit a random search
over pass lists, then minimization (redundant-pass elimination, a canonical
order for commuting neighbours, insertion search), then *broadcasting* the most
frequent winners to every TU to label it, and a coreset of K pipelines chosen
by greedy coverage of normalized object size (Liang et al., 2023).

Every size is measured exactly as the driver measures it
(:func:`llmcc.compile.driver.compile_candidate`: ``opt -p`` then clang's codegen with
the TU's recorded flags, ``.text + .data``). Results stream to JSON-lines files
in the output directory; a rerun skips what is done.

Subcommands::

    llmcc tune search    --corpus DIR --out DIR [--budget N] [--seeds JSON] [--jobs N]
                         [--limit N]
    llmcc tune broadcast --corpus DIR --out DIR [--top M | --pipelines JSON] [--jobs N]
                         [--limit N] [--exclude-searched] [--retry-failed]
    llmcc tune recheck   --corpus DIR --out DIR   (measure recorded failures again)
    llmcc tune migrate   --corpus DIR --out DIR --manifest corpus/manifest.jsonl.gz
                         (carry the state over to a rebuilt corpus)
    llmcc tune coreset   --out DIR [--k K] [--write PATH]
    llmcc tune report    --out DIR
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass

from llmcc.compile import cmdline
from llmcc.lab.jsonl import append_jsonl, load_pipelines, read_jsonl, read_pipelines
from llmcc.lab.metrics import best_of, geomean_reduction, greedy_coreset, total_reduction
from llmcc.lab.report import pct, text_table
from llmcc.llvm.passes import OZ, check_pipeline, ram_repaired, vocabulary

#: Upstreams never used for training or tuning (docs/design.md, "Data rules").
HELD_OUT = ("libjpeg", "libjpeg-turbo", "libjpeg6b", "tiff", "libtiff", "lame", "libmad",
            "ghostscript", "ispell", "lout", "rsynth", "sphinxbase", "pocketsphinx",
            "gnupg", "gnupg1", "gnupg2", "pgp", "libgsm", "mibench")


@dataclass(frozen=True)
class TU:
    """One unique translation unit of the corpus.

    Attributes:
        ir_hash: xxh3-128 of its normalized IR (the corpus key).
        ir_path: path of the recorded unoptimized IR (text).
        codegen_args: the compile's codegen flags (``Compile.common``).
        package: Debian source package it came from.
        split: ``"train"`` or ``"validation"`` (whole packages).
        ir_bytes: size of the IR text in bytes.
    """

    ir_hash: str
    ir_path: str
    codegen_args: tuple[str, ...]
    package: str
    split: str
    ir_bytes: int


def package_splits(packages_toml: str) -> dict[str, str]:
    """Package name -> split, from ``llmcc/data/packages.toml`` (missing file: empty)."""
    try:
        with open(packages_toml, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    out = {}
    for key, table in data.items():
        if isinstance(table, dict):
            out[table.get("source", key)] = table.get("split", "train")
            out[key] = table.get("split", "train")
    return out


def load_corpus(corpus_dir: str, packages_toml: str, max_ir_bytes: int = 4 << 20,
                min_ir_bytes: int = 0) -> list[TU]:
    """Unique TUs of a recorded corpus, in a fixed pseudo-random order (by hash).

    TUs first recorded in a held-out upstream are dropped; TUs whose IR (bytes of
    recorded IR text) exceeds ``max_ir_bytes`` or falls below ``min_ir_bytes`` are
    skipped (tuning cost grows with size; a size band labels the big TUs alone).
    """
    from llmcc.lab.corpus import unique_records
    splits = package_splits(packages_toml)
    tus = []
    for rec, path, size in unique_records(corpus_dir):
        pkg = rec.get("package", "")
        if pkg.lower() in HELD_OUT or not min_ir_bytes <= size <= max_ir_bytes:
            continue
        tus.append(TU(rec["ir_hash"], path, tuple(rec.get("codegen_args", ())), pkg,
                      splits.get(pkg, "train"), size))
    return sorted(tus, key=lambda t: t.ir_hash)


# --- pass lists --------------------------------------------------------------

#: Allowlisted passes the search does not draw, with the reason: PassListEval
#: (``llmcc tune recheck``/``report`` on 6,000 corpus TUs) rejected every
#: pipeline the previous search built with them, so drawing them wastes budget
#: on candidates validation throws away. They stay in the allowlist: a user may
#: still pin a pipeline that uses them.
SEARCH_EXCLUDED = {
    "gvn-sink": "LLVM 19 verifier: 'Broken module found' after gvn-sink",
    "scc-oz-module-inliner": "LLVM 19 verifier: 'Broken module found' on unoptimized IR "
                             "(call attribute past the last parameter, coreutils canonicalize.c)",
    "iroutliner": "LLVM 19: correlated-propagation segfaults on iroutliner output (ncurses)",
}


def search_alphabet() -> list[tuple[str, str]]:
    """(pass, nesting) pairs the random search draws from: clang's ``-Oz`` pipeline
    first, then the allowlist's transform passes with default parameters, minus
    :data:`SEARCH_EXCLUDED`."""
    out = [(OZ, "module")]
    for name, entry in sorted(vocabulary().items()):
        if "allowed_params" in entry or entry.get("tier") == "experimental":
            continue  # needs a parameter (default<..>), or not allowed in pipelines
        if name in SEARCH_EXCLUDED:
            continue
        out.append((name, entry["nesting"]))
    return out


def flatten(pipeline: str) -> list[tuple[str, str]] | None:
    """The pass list of a pipeline as (pass, nesting) pairs, the inverse of :func:`render`;
    None if it uses a pass or an adaptor the search alphabet lacks.

    Example: ``function(instcombine,loop-mssa(licm)),cgscc(inline)`` gives
    ``[("instcombine","function"), ("licm","loop-mssa"), ("inline","cgscc")]``.
    """
    from llmcc.llvm.passes import parse_pipeline
    known = dict(search_alphabet())
    out: list[tuple[str, str]] = []

    def walk(elems, nesting):
        for el in elems:
            if el.children is not None:
                if el.name not in ("function", "cgscc", "loop", "loop-mssa"):
                    return False
                if not walk(el.children, el.name):
                    return False
                continue
            name = el.text()
            if known.get(name) != nesting:
                return False
            out.append((name, nesting))
        return True

    if " " in pipeline:  # a decision with opt options: the search edits pass lists only
        return None
    return out if walk(parse_pipeline(pipeline), "module") else None


def mutate(rng: random.Random, passes: list[tuple[str, str]], alphabet: list[tuple[str, str]]
           ) -> list[tuple[str, str]]:
    """1-3 random edits of a pass list: insert, delete or replace a pass, or
    append one after it (the edits that turn a good list into a neighbour)."""
    out = list(passes)
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(("insert", "delete", "replace", "append"))
        if op == "delete" and len(out) > 1:
            del out[rng.randrange(len(out))]
        elif op == "replace" and out:
            out[rng.randrange(len(out))] = rng.choice(alphabet[1:])
        elif op == "append":
            out.append(rng.choice(alphabet[1:]))
        else:
            out.insert(rng.randint(0, len(out)), rng.choice(alphabet[1:]))
    return out[:50]


def render(elements: list[tuple[str, str]]) -> str:
    """Pipeline text for a pass list, grouping neighbours under their adaptors.

    Example: ``[("instcombine","function"), ("licm","loop-mssa"), ("inline","cgscc")]``
    gives ``function(instcombine,loop-mssa(licm)),cgscc(inline)``.
    """
    out: list[str] = []
    fn: list[str] = []
    cg: list[str] = []

    def flush_fn():
        if fn:
            out.append("function(" + ",".join(fn) + ")")
            fn.clear()

    def flush_cg():
        if cg:
            out.append("cgscc(" + ",".join(cg) + ")")
            cg.clear()

    for name, nesting in elements:
        if nesting == "function":
            flush_cg()
            fn.append(name)
        elif nesting in ("loop", "loop-mssa"):
            flush_cg()
            if fn and fn[-1].startswith(nesting + "("):
                fn[-1] = fn[-1][:-1] + "," + name + ")"
            else:
                fn.append(f"{nesting}({name})")
        elif nesting == "cgscc":
            flush_fn()
            cg.append(name)
        else:
            flush_fn()
            flush_cg()
            out.append(name)
    flush_fn()
    flush_cg()
    return ",".join(out)


def random_list(rng: random.Random, alphabet: list[tuple[str, str]], max_len: int = 50
                ) -> list[tuple[str, str]]:
    """A random pass list of 1..``max_len`` passes; half of them start from ``-Oz``
    (lists built around the ``-Oz`` pipeline are the ones that beat it)."""
    n = rng.randint(1, max_len)
    passes = [rng.choice(alphabet[1:]) for _ in range(n)]
    if rng.random() < 0.5:
        passes[0] = alphabet[0]
    return passes


# --- measuring ---------------------------------------------------------------

class Evaluator:
    """Measures pipelines on TUs exactly as the driver does; memoizes per TU.

    Attributes:
        compiles: number of candidate compilations run (opt + codegen pairs).
        codegens_saved: compiles whose ``opt`` output was byte-identical to an
            earlier pipeline's on the same TU, so code generation was skipped.
        failures: list of (ir_hash, pipeline, error) for crashes and timeouts.
        more_ram: pipelines of the current TU whose object needs more
            ``.data + .bss`` than ``-Oz``'s (the driver never lets one win).
        repaired: pipeline of :attr:`more_ram` -> ``.text + .data`` in bytes of
            its repair (:func:`~llmcc.llvm.passes.ram_repaired`, which the driver
            compiles in its place), None when the repair failed or still needs
            more RAM than ``-Oz``.
    """

    def __init__(self, state_dir: str, timeout: float = 60.0):
        from llmcc.config import Config
        from llmcc.compile.driver import Context
        from llmcc.compile.toolchain import self_paths
        from llmcc.compile.toolchain import resolve
        env = dict(os.environ)
        tc = resolve(False, self_paths(), env, os.path.join(state_dir, "cache"))
        if tc.opt is None:
            raise SystemExit(f"llmcc tune: no usable opt: {tc.problem}")
        self.ctx = Context(cfg=Config(cache_dir=os.path.join(state_dir, "cache"),
                                      timeout=timeout), tc=tc, env=env)
        self.compiles = 0
        self.codegens_saved = 0
        self.failures: list[tuple[str, str, str]] = []
        self._memo: dict[str, tuple[int | None, int | None]] = {}
        self.more_ram: set[str] = set()
        self.repaired: dict[str, int | None] = {}
        self._tu: TU | None = None
        self.ir_text = ""
        self.work = os.path.join(state_dir, "work", str(os.getpid()))
        os.makedirs(self.work, exist_ok=True)

    def select(self, tu: TU) -> None:
        """Start measuring on ``tu`` (clears the memo)."""
        self._tu = tu
        self._memo = {}
        self.more_ram = set()
        self.repaired = {}
        self._codegen_memo: dict[str, tuple[int, int]] = {}
        with open(tu.ir_path, encoding="utf-8", errors="surrogateescape") as f:
            self.ir_text = f.read()
        self.comp = cmdline.Compile(units=(), common=tu.codegen_args, preprocessor=(),
                                     dependency=(), opt_level="-Oz")

    def size(self, pipeline: str) -> int | None:
        """``.text + .data`` in bytes of the TU under ``pipeline`` as the driver may
        use it: None if it failed. RAM is not traded for flash: when the object
        needs more ``.data + .bss`` than ``-Oz``'s (the pipeline joins
        :attr:`more_ram`), the size is its repair's, as the driver compiles it
        (:attr:`repaired`; :meth:`decision` gives the repaired pipeline), or
        None when the repair does not help."""
        size, ram = self.measured(pipeline)
        if size is not None and pipeline != OZ and ram is not None:
            oz_ram = self.measured(OZ)[1]
            if oz_ram is not None and ram > oz_ram:
                self.more_ram.add(pipeline)
                if pipeline not in self.repaired:
                    fix = ram_repaired(pipeline)
                    fsize, fram = self.measured(fix) if fix is not None else (None, None)
                    ok = fsize is not None and fram is not None and fram <= oz_ram
                    self.repaired[pipeline] = fsize if ok else None
                return self.repaired[pipeline]
        return size

    def decision(self, pipeline: str) -> str:
        """What the driver compiles for ``pipeline`` on the current TU once
        :meth:`size` measured it: its RAM repair when it got one, else itself."""
        if self.repaired.get(pipeline) is None:
            return pipeline
        return ram_repaired(pipeline)

    def measured(self, pipeline: str) -> tuple[int | None, int | None]:
        """(``.text + .data``, ``.data + .bss``) in bytes of the TU's object under
        ``pipeline``, whatever its RAM; (None, None) if it failed (recorded in
        :attr:`failures`)."""
        if pipeline in self._memo:
            return self._memo[pipeline]
        from llmcc.compile.driver import Candidate, compile_candidate
        from llmcc.errors import LlmccError
        cand = Candidate(pipeline, os.path.join(self.work, "c.o"))
        self.compiles += 1
        try:
            known = len(self._codegen_memo)
            compile_candidate(self.ctx, self.comp, self._tu.ir_path, self.ir_text, cand,
                              codegen_memo=self._codegen_memo)
            if pipeline != OZ and len(self._codegen_memo) == known:
                self.codegens_saved += 1
            result = cand.size, cand.ram
        except (LlmccError, OSError) as e:
            result = None, None
            self.failures.append((self._tu.ir_hash, pipeline, str(e)))
        self._memo[pipeline] = result
        return result


def _better(a: int | None, b: int | None) -> bool:
    return a is not None and (b is None or a < b)


def minimize(ev: Evaluator, best: list, best_size: int, budget: int,
             alphabet: list, rng: random.Random) -> tuple[list, int]:
    """Shrink and improve the pass list ``best`` within ``budget`` more compiles.

    1. redundant-pass elimination: drop a pass when the object is no larger;
    2. canonical order: swap commuting neighbours into name order when the size is equal;
    3. insertion search: insert a pass where the object gets strictly smaller.
    Steps repeat until a fixed point or the budget runs out.
    """
    start = ev.compiles
    changed = True
    while changed and ev.compiles - start < budget:
        changed = False
        i = 0
        while i < len(best) and len(best) > 1 and ev.compiles - start < budget:
            trial = best[:i] + best[i + 1:]
            s = ev.size(render(trial))
            if s is not None and s <= best_size:
                best, best_size, changed = trial, s, True
            else:
                i += 1
        for i in range(len(best) - 1):
            if ev.compiles - start >= budget:
                break
            a, b = best[i], best[i + 1]
            if b[0] < a[0]:
                trial = best[:i] + [b, a] + best[i + 2:]
                s = ev.size(render(trial))
                if s is not None and s <= best_size:
                    best, best_size = trial, s
        tries = 0
        while ev.compiles - start < budget and tries < 8:
            tries += 1
            pos = rng.randint(0, len(best))
            trial = best[:pos] + [rng.choice(alphabet[1:])] + best[pos:]
            s = ev.size(render(trial))
            if _better(s, best_size):
                best, best_size, changed = trial, s, True
    return best, best_size


def search_tu(ev: Evaluator, tu: TU, budget: int, seed: int,
              seeds: list[list[tuple[str, str]]] = (),
              incumbent: list[tuple[str, str]] | None = None, rung: int = 0) -> dict:
    """Autotune one TU within ``budget`` compiles; return its result record.

    Half the budget goes to exploration, half to :func:`minimize`. Without
    ``seeds`` exploration draws random lists (:func:`random_list`); with seed
    pass lists (e.g. the current coreset's) it draws in turn a random list, an
    edit of the best list so far and an edit of a random seed (:func:`mutate`),
    so the budget is spent near lists known to beat ``-Oz`` on other TUs.
    ``incumbent`` (the best pass list of an earlier rung, see
    :func:`successive_halving`) continues a search: it is measured first and
    is the best list to beat. The random stream depends on ``seed``, ``rung``
    and the TU only, so a rerun gives the same record.
    """
    t0 = time.perf_counter()
    ev.select(tu)
    rng = random.Random(f"{seed}:{tu.ir_hash}" if rung == 0 else f"{seed}:{rung}:{tu.ir_hash}")
    alphabet = search_alphabet()
    start = ev.compiles
    oz = ev.size(OZ)
    if oz is None:
        return {"ir_hash": tu.ir_hash, "package": tu.package, "split": tu.split,
                "error": "-Oz failed", "compiles": ev.compiles - start, "rung": rung}
    best, best_size = [alphabet[0]], oz
    if incumbent:
        s = ev.size(render(incumbent))
        if _better(s, best_size):
            best, best_size = list(incumbent), s
    random_budget = budget // 2
    draw = 0
    while ev.compiles - start < random_budget:
        mode = draw % 3 if seeds else 0
        draw += 1
        if mode == 1:
            cand = mutate(rng, best, alphabet)
        elif mode == 2:
            cand = mutate(rng, rng.choice(seeds), alphabet)
        else:
            cand = random_list(rng, alphabet)
        before = ev.compiles
        s = ev.size(render(cand))
        if ev.compiles == before and draw > 10 * budget:
            break  # only memoized candidates left to draw
        if _better(s, best_size) or (s == best_size and len(cand) < len(best)):
            best, best_size = cand, s
    best, best_size = minimize(ev, best, best_size, budget - (ev.compiles - start), alphabet, rng)
    return {"ir_hash": tu.ir_hash, "package": tu.package, "split": tu.split, "oz_size": oz,
            "best_pipeline": ev.decision(render(best)), "best_size": best_size, "rung": rung,
            "compiles": ev.compiles - start, "seconds": round(time.perf_counter() - t0, 3)}


def search_results(out_dir: str) -> dict[str, dict]:
    """ir_hash -> the TU's search result over all rungs of ``OUT/search.jsonl``:
    the record of its smallest object (ties: the later rung), with ``compiles``
    summed over rungs and ``rung`` the highest rung searched. Records without a
    ``rung`` (older runs) are rung 0; records without a size are skipped."""
    out: dict[str, dict] = {}
    for r in read_jsonl(os.path.join(out_dir, "search.jsonl")):
        if "best_size" not in r or r.get("oz_size") is None:
            continue
        r = {**r, "rung": int(r.get("rung", 0))}
        prev = out.get(r["ir_hash"])
        if prev is None:
            out[r["ir_hash"]] = r
            continue
        keep = r if r["best_size"] <= prev["best_size"] else dict(prev)
        keep["compiles"] = prev["compiles"] + r["compiles"]
        keep["rung"] = max(prev["rung"], r["rung"])
        out[r["ir_hash"]] = keep
    return out


def promote(results: list[dict], keep: float) -> list[str]:
    """Successive halving's promotion: the ``ceil(keep * len(results))`` TUs whose
    search so far found the largest relative gain ``(oz - best) / oz``, ties by
    ir_hash (deterministic). TUs with no gain are promoted only to fill the
    quota. Returns their ir_hashes, best first (Jamieson & Talwalkar, 2016)."""
    n = math.ceil(keep * len(results))
    ranked = sorted(results, key=lambda r: (-(r["oz_size"] - r["best_size"]) / max(r["oz_size"], 1),
                                            r["ir_hash"]))
    return [r["ir_hash"] for r in ranked[:n]]


def successive_halving(tus: list[TU], rungs: list[int], keep: float, out_dir: str,
                       split: str = "all"):
    """Plan the next batch of a successive-halving search.

    Rung 0 searches every TU with ``rungs[0]`` compiles; rung i > 0 continues,
    from its best pass list, the ``keep`` fraction of rung i-1's TUs with the
    largest gains, up to ``rungs[i]`` compiles in all (``rungs[i] - rungs[i-1]``
    more). Returns ``(rung, [(tu, extra_budget, incumbent_or_None)])`` for the
    lowest rung with work left, or ``(len(rungs), [])`` when all are done;
    a rung starts only when the one below it is complete, so the promotion is
    the same whether a run was interrupted or not. TUs of ``split`` that
    ``OUT/search.jsonl`` already holds take part in the promotion even when
    ``tus`` lacks them (a corpus still being rebuilt); their work is left out
    of the batch until they are in ``tus``.
    """
    results = search_results(out_dir)
    by_hash = {t.ir_hash: t for t in tus}
    done_rung: dict[str, set[int]] = {}
    for r in read_jsonl(os.path.join(out_dir, "search.jsonl")):
        done_rung.setdefault(r.get("ir_hash"), set()).add(int(r.get("rung", 0)))
    level = sorted({t.ir_hash for t in tus} | {h for h, r in results.items()
                                               if split in ("all", r.get("split"))})
    for i, budget in enumerate(rungs):
        if i > 0:
            have = [results[h] for h in level if h in results]
            level = promote(have, keep)
        todo = [h for h in level if i not in done_rung.get(h, set())]
        if todo:  # TUs not in ``tus`` yet hold the next rung back, but are no work now
            todo = [h for h in todo if h in by_hash]
            extra = budget - (rungs[i - 1] if i else 0)
            jobs = []
            for h in todo:
                inc = flatten(results[h]["best_pipeline"]) if i and h in results else None
                jobs.append((by_hash[h], extra, inc))
            return i, jobs
    return len(rungs), []


# --- streaming over TUs --------------------------------------------------------

_WORKER: dict = {}


def _init_worker(state_dir: str, timeout: float) -> None:
    _WORKER["ev"] = Evaluator(state_dir, timeout)


def _search_job(args) -> tuple[dict, list]:
    tu, budget, seed, seeds, incumbent, rung = args
    ev = _WORKER["ev"]
    ev.failures = []
    return search_tu(ev, tu, budget, seed, seeds, incumbent, rung), ev.failures


def load_seeds(path: str | None) -> list[list[tuple[str, str]]]:
    """Seed pass lists for :func:`search_tu` from a coreset JSON file (``pipelines``);
    ``path`` None means the shipped coreset. Pipelines the search alphabet cannot
    express (excluded passes, parameters) are skipped.

    Raises:
        SystemExit: the file cannot be read.
    """
    from llmcc.rank.rankers import load_coreset
    if path is None:
        pipelines = load_coreset()
    else:
        pipelines = read_pipelines(path, "llmcc tune search: cannot use seeds")
    out = []
    for p in pipelines:
        flat = flatten(p)
        if flat and flat != [(OZ, "module")]:
            out.append(flat)
    return out


def _label_job(args) -> tuple[dict, list]:
    tu, pipelines = args
    ev = _WORKER["ev"]
    ev.failures = []
    t0 = time.perf_counter()
    start, saved = ev.compiles, ev.codegens_saved
    ev.select(tu)
    oz = ev.size(OZ)
    sizes = {p: ev.measured(p)[0] for p in pipelines} if oz is not None else {}
    for p in sizes:
        ev.size(p)  # eligibility
    return {"ir_hash": tu.ir_hash, "package": tu.package, "split": tu.split, "oz_size": oz,
            "ir_bytes": tu.ir_bytes, "sizes": sizes, "more_ram": sorted(ev.more_ram),
            "repaired": dict(sorted(ev.repaired.items())),
            "compiles": ev.compiles - start,
            "codegens_saved": ev.codegens_saved - saved,
            "seconds": round(time.perf_counter() - t0, 3)}, ev.failures


def _stream(jobs, worker, out_path: str, fail_path: str, n_jobs: int, state_dir: str,
            timeout: float, desc: str) -> None:
    import multiprocessing
    from tqdm import tqdm
    if not jobs:
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(n_jobs, initializer=_init_worker, initargs=(state_dir, timeout)) as pool, \
            open(out_path, "a", encoding="utf-8") as out, \
            open(fail_path, "a", encoding="utf-8") as fails:
        saved = 0
        bar = tqdm(pool.imap_unordered(worker, jobs), total=len(jobs), desc=desc, unit="TU",
                   file=sys.stderr)
        for rec, failures in bar:
            if rec.get("best_size") is not None and rec.get("oz_size") is not None:
                saved += rec["oz_size"] - rec["best_size"]  # bytes under -Oz found so far
                bar.set_postfix(saved=f"{saved:,} B", refresh=False)
            append_jsonl(out, [rec])
            append_jsonl(fails, [{"ir_hash": h, "pipeline": p, "error": err}
                                 for h, p, err in failures], sort_keys=False)


def stream_search(jobs: list[tuple], state_dir: str, n_jobs: int, timeout: float,
                  desc: str, ray_address: str | None = None) -> None:
    """Run search jobs ``(tu, extra_budget, seed, seeds, incumbent, rung)`` on
    ``n_jobs`` processes, or on the Ray cluster at ``ray_address``
    (:mod:`llmcc.lab.cluster`), appending results to ``STATE/search.jsonl`` and
    failures to ``STATE/failures.jsonl`` as they finish (the resume state)."""
    out = os.path.join(state_dir, "search.jsonl")
    fails = os.path.join(state_dir, "failures.jsonl")
    if ray_address:
        from llmcc.lab import cluster
        cluster.stream_search(jobs, out, fails, ray_address, timeout, desc)
    else:
        _stream(jobs, _search_job, out, fails, n_jobs, state_dir, timeout, desc)


def cmd_search(ns) -> int:
    """Per-TU random search plus minimization; appends to ``OUT/search.jsonl``."""
    tus = load_corpus(ns.corpus, ns.packages, ns.max_ir_bytes, ns.min_ir_bytes)
    tus = [t for t in tus if ns.split in ("all", t.split)][: ns.limit or None]
    if ns.searched_only:  # deepen an earlier search: no new TU enters rung 0
        searched = set(search_results(ns.out))
        tus = [t for t in tus if t.ir_hash in searched]
    seeds = [] if ns.seeds == "none" else load_seeds(ns.seeds)
    rungs = [int(b) for b in ns.rungs.split(",")] if ns.rungs else [ns.budget]
    if any(b <= a for a, b in zip(rungs, rungs[1:])) or rungs[0] < 1:
        raise SystemExit(f"llmcc tune search: --rungs must increase: {ns.rungs}")
    while True:
        rung, todo = successive_halving(tus, rungs, ns.keep, ns.out, ns.split)
        if not todo:
            if rung < len(rungs):
                print(f"search: rung {rung} waits for TUs whose IR is not recorded",
                      file=sys.stderr)
            break
        jobs = [(t, extra, ns.seed, seeds, inc, rung) for t, extra, inc in todo]
        print(f"search: rung {rung} of {len(rungs)} ({rungs[rung]} compiles per TU in all): "
              f"{len(jobs)} TUs to go, {len(seeds)} seed pass lists", file=sys.stderr)
        stream_search(jobs, ns.out, ns.jobs, ns.timeout, f"search rung {rung}", ns.ray)
    print(f"search: {len(tus)} TUs selected, every rung done", file=sys.stderr)
    return 0


def broadcast_set(out_dir: str, top: int, name: str = "broadcast.json") -> list[str]:
    """The ``top`` most frequent winning pipelines of the training split's search
    (ties: larger total bytes saved first, then text), fixed once written to
    ``OUT/NAME`` so labels stay comparable across runs (a deeper search writes
    its winners to a new set without moving the earlier one)."""
    path = os.path.join(out_dir, name)
    try:
        return load_pipelines(path)
    except FileNotFoundError:
        pass
    freq: Counter = Counter()
    gain: Counter = Counter()
    for r in search_results(out_dir).values():
        if r.get("split") != "train":
            continue
        if r["best_size"] < r["oz_size"]:
            freq[r["best_pipeline"]] += 1
            gain[r["best_pipeline"]] += r["oz_size"] - r["best_size"]
    ranked = sorted(freq, key=lambda p: (-freq[p], -gain[p], p))
    rejected = rejected_pipelines(out_dir)
    pipelines = []
    for p in ranked:
        try:
            p = check_pipeline(p)
        except ValueError:
            continue
        if p in rejected or p in pipelines:
            continue  # failed on some TU already: PassListEval would reject it
        pipelines.append(p)
        if len(pipelines) == top:
            break
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"pipelines": pipelines, "source": "most frequent per-TU winners (train)"},
                  f, indent=1)
    return pipelines


def cmd_broadcast(ns) -> int:
    """Label every TU with the size under each broadcast pipeline (``OUT/labels.jsonl``)."""
    if ns.pipelines:
        pipelines = read_pipelines(ns.pipelines, "llmcc tune broadcast: cannot use",
                                   check=True)
    else:
        pipelines = broadcast_set(ns.out, ns.top, ns.set)
    extra = [check_pipeline(p) for p in ns.add or []]
    pipelines = pipelines + [p for p in extra if p not in pipelines]
    tus = load_corpus(ns.corpus, ns.packages, ns.max_ir_bytes, ns.min_ir_bytes)
    if ns.exclude_searched:  # label on TUs the winners were not found on
        searched = {r["ir_hash"] for r in read_jsonl(os.path.join(ns.out, "search.jsonl"))
                    if "ir_hash" in r}
        tus = [t for t in tus if t.ir_hash not in searched]
    have_sizes: dict[str, dict] = {}  # every record of a TU counts (later ones win)
    for r in read_jsonl(os.path.join(ns.out, "labels.jsonl")):
        have_sizes.setdefault(r["ir_hash"], {}).update(r.get("sizes") or {})
    if ns.labelled_only:  # screen new pipelines where the earlier ones are known
        tus = [t for t in tus if t.ir_hash in have_sizes]
    tus = [t for t in tus if ns.split in ("all", t.split)][: ns.limit or None]
    jobs = []
    for t in tus:
        have = have_sizes.get(t.ir_hash, {})
        missing = [p for p in pipelines
                   if p not in have or (ns.retry_failed and have[p] is None)]
        if missing:
            jobs.append((t, missing))
    print(f"broadcast: {len(pipelines)} pipelines x {len(tus)} TUs, {len(jobs)} TUs to label",
          file=sys.stderr)
    if ns.ray:
        from llmcc.lab import cluster
        cluster.stream_labels(jobs, os.path.join(ns.out, "labels.jsonl"),
                              os.path.join(ns.out, "failures.jsonl"), ns.ray, ns.timeout,
                              "broadcast")
        return 0
    _stream(jobs, _label_job, os.path.join(ns.out, "labels.jsonl"),
            os.path.join(ns.out, "failures.jsonl"), ns.jobs, ns.out, ns.timeout, "broadcast")
    return 0


def _reproducible_job(args) -> tuple[dict, list]:
    """Compile every pipeline twice on one TU as the driver does; compare the bytes."""
    tu, pipelines = args
    from llmcc.compile.driver import Candidate, compile_candidate
    from llmcc.errors import LlmccError
    ev = _WORKER["ev"]
    ev.failures = []
    ev.select(tu)
    t0 = time.perf_counter()
    same: dict[str, bool | None] = {}
    for p in pipelines:
        objs = []
        for i in range(2):
            cand = Candidate(p, os.path.join(ev.work, f"r{i}.o"))
            try:
                compile_candidate(ev.ctx, ev.comp, tu.ir_path, ev.ir_text, cand, measure=False)
                with open(cand.obj, "rb") as f:
                    objs.append(f.read())
            except (LlmccError, OSError) as e:
                ev.failures.append((tu.ir_hash, p, str(e)))
                break
        ev.compiles += len(objs)
        same[p] = objs[0] == objs[1] if len(objs) == 2 else None
    return {"ir_hash": tu.ir_hash, "package": tu.package, "split": tu.split,
            "same": same, "seconds": round(time.perf_counter() - t0, 3)}, ev.failures


def reproducible_pipelines(out_dir: str, pipelines: list[str]) -> tuple[list[str], int]:
    """The ``pipelines`` that gave the same object bytes twice on every TU of
    ``OUT/reproducible.jsonl`` they compiled on, and the fewest TUs any of them was
    checked on (0 when none is listed)."""
    records = read_jsonl(os.path.join(out_dir, "reproducible.jsonl"))
    ok: dict[str, set | None] = {p: set() for p in pipelines}
    for r in records:
        for p, same in (r.get("same") or {}).items():
            if p in ok and ok[p] is not None:
                if same is False:
                    ok[p] = None
                elif same:
                    ok[p].add(r["ir_hash"])
    same = [p for p in pipelines if ok[p]]
    return same, min((len(ok[p]) for p in same), default=0)


def reproducible_jobs(tus: list, records: list[dict], pipelines: list[str],
                      limit: int) -> list[tuple]:
    """``(TU, pipelines it still lacks)`` jobs so that ``limit`` TUs carry every
    one of ``pipelines``: the TUs of ``records`` (``OUT/reproducible.jsonl``) that
    are in ``tus`` are finished first, with only the pipelines they were not yet
    compiled with; then unchecked TUs, every n-th in corpus order (spread over
    packages). A rerun after the corpus grew checks no more than ``limit``."""
    seen: dict[str, set[str]] = {}
    for r in records:
        seen.setdefault(r["ir_hash"], set()).update(r.get("same") or {})
    jobs, complete = [], 0
    for t in tus:
        if t.ir_hash in seen:
            missing = [p for p in pipelines if p not in seen[t.ir_hash]]
            if missing and complete < limit:
                jobs.append((t, missing))
            complete += 1
    rest = [t for t in tus if t.ir_hash not in seen]
    want = max(0, limit - complete)
    step = max(1, len(rest) // max(1, want))
    return jobs + [(t, pipelines) for t in rest[::step][:want]]


def write_coreset(path: str, doc: dict) -> None:
    """Write a coreset file (``llmcc/data/coreset.json`` format) atomically: an
    interrupted write leaves the old file, never a truncated one."""
    from llmcc.store import files
    files.atomic_write(path, json.dumps(doc, indent=1) + "\n")


def cmd_reproducible(ns) -> int:
    """Compile each pipeline of ``--pipelines`` twice on training TUs and compare the
    objects byte for byte (``OUT/reproducible.jsonl``, resumable: a TU is compiled
    only with the pipelines it was not checked with); with ``--repairs``, the RAM
    repair of each pipeline too (the driver's second candidate for it); with
    ``--write``, record in that coreset file which pipelines were reproducible on
    every TU, so the driver need not compile a winner among them a second time."""
    pipelines = read_pipelines(ns.pipelines, "llmcc tune reproducible: cannot use", check=True)
    if ns.repairs:
        pipelines += [r for r in dict.fromkeys(ram_repaired(p) for p in pipelines)
                      if r is not None and r not in pipelines]
    tus = load_corpus(ns.corpus, ns.packages, ns.max_ir_bytes)
    tus = [t for t in tus if t.split == "train"]
    records = read_jsonl(os.path.join(ns.out, "reproducible.jsonl"))
    jobs = reproducible_jobs(tus, records, pipelines, ns.limit)
    print(f"reproducible: {len(pipelines)} pipelines, {len(jobs)} TUs to compile "
          f"({sum(len(j[1]) for j in jobs)} TU x pipeline pairs)", file=sys.stderr)
    _stream(jobs, _reproducible_job, os.path.join(ns.out, "reproducible.jsonl"),
            os.path.join(ns.out, "failures.jsonl"), ns.jobs, ns.out, ns.timeout, "reproducible")
    same, n = reproducible_pipelines(ns.out, pipelines)
    print(f"reproducible: {len(same)} of {len(pipelines)} pipelines gave the same bytes twice "
          f"on every TU they compiled on, at least {n} TUs each", file=sys.stderr)
    if ns.write:
        with open(ns.pipelines, encoding="utf-8") as f:
            doc = json.load(f)
        doc["reproducible"] = {
            "pipelines": same, "tus": n,
            "method": "llmcc tune reproducible" + (" --repairs" if ns.repairs else "")
                      + ": each pipeline compiled twice (opt, then clang's code generator) "
                      "on every TU checked, objects compared byte for byte; listed when "
                      "equal on every TU it compiled on (tus: the fewest TUs a listed "
                      "pipeline compiled on)"
                      + ("; RAM repairs (llmcc.llvm.passes.ram_repaired) included"
                         if ns.repairs else "")}
        write_coreset(ns.pipelines, doc)
    return 0


def load_labels(out_dir: str, ram_rule: bool = True) -> dict[str, dict]:
    """ir_hash -> merged label record (``oz_size``, ``split``, ``sizes``: pipeline ->
    bytes|None, ``more_ram``: sorted pipelines, ``repaired``: pipeline of
    ``more_ram`` -> bytes of its RAM repair or None).

    A size is None when the pipeline failed on the TU. With ``ram_rule``, a
    pipeline the label records in ``more_ram`` (its object needs more ``.data +
    .bss`` than ``-Oz``'s, and the driver never lets such a candidate win) has
    the size of its RAM repair, which the driver compiles instead, or None (it
    covers nothing). Labels written before ``more_ram`` was recorded keep their
    sizes; those written before ``repaired`` count no repair.
    """
    merged: dict[str, dict] = {}
    for r in read_jsonl(os.path.join(out_dir, "labels.jsonl")):
        if r.get("oz_size") is None:
            continue
        m = merged.setdefault(r["ir_hash"], {**r, "sizes": {}, "more_ram": set(),
                                             "repaired": {}})
        m["sizes"].update(r["sizes"])
        m["more_ram"].update(r.get("more_ram") or ())
        m["repaired"].update(r.get("repaired") or {})
    for m in merged.values():
        m["more_ram"] = sorted(m["more_ram"])
    return {h: ram_eligible(m) for h, m in merged.items()} if ram_rule else merged


def ram_eligible(label: dict) -> dict:
    """``label`` (a :func:`load_labels` record) with the size of each pipeline of
    its ``more_ram`` set to its RAM repair's (None without one): what the
    driver's RAM rule lets it use."""
    fixed = label.get("repaired") or {}
    return {**label, "sizes": {**label["sizes"],
                               **{p: fixed.get(p) for p in label["more_ram"]}}}


def rejected_pipelines(out_dir: str) -> dict[str, str]:
    """Pipelines that crashed or timed out on any corpus TU -> first error (PassListEval).

    A failure that ``llmcc tune recheck`` measured again successfully (the
    driver changed how it runs the pipeline) no longer counts.
    """
    cleared = {(r["ir_hash"], r["pipeline"])
               for r in read_jsonl(os.path.join(out_dir, "rechecks.jsonl")) if r.get("ok")}
    out: dict[str, str] = {}
    for r in read_jsonl(os.path.join(out_dir, "failures.jsonl")):
        if (r["ir_hash"], r["pipeline"]) not in cleared:
            out.setdefault(r["pipeline"], r["error"])
    return out


def cmd_recheck(ns) -> int:
    """Measure every recorded failure again (``OUT/rechecks.jsonl``): after a driver
    change, pipelines that now compile are no longer rejected."""
    from tqdm import tqdm
    tus = {t.ir_hash: t for t in load_corpus(ns.corpus, ns.packages, 1 << 62)}
    pairs = sorted({(r["ir_hash"], r["pipeline"])
                    for r in read_jsonl(os.path.join(ns.out, "failures.jsonl"))})
    pairs = [(h, p) for h, p in pairs if h in tus]
    ev = Evaluator(ns.out, ns.timeout)
    ok = 0
    with open(os.path.join(ns.out, "rechecks.jsonl"), "a", encoding="utf-8") as out:
        for h, p in tqdm(pairs, desc="recheck", unit="compile", file=sys.stderr):
            ev.select(tus[h])
            ev.failures = []
            size = ev.measured(p)[0]
            rec = {"ir_hash": h, "pipeline": p, "ok": size is not None,
                   "error": ev.failures[0][2] if ev.failures else ""}
            ok += size is not None
            append_jsonl(out, [rec])
    print(f"recheck: {len(pairs)} recorded failures measured again, {ok} now compile, "
          f"{len(pairs) - ok} still fail")
    return 0


def cmd_coreset(ns) -> int:
    """Choose the coreset on the training split and write it (``llmcc/data/coreset.json``).

    Candidates are every labelled pipeline (or those of ``--pool``) not rejected
    by validation; only training TUs labelled with every candidate take part,
    so a pipeline is never preferred because others were not measured.
    """
    labels = load_labels(ns.out)
    rejected = rejected_pipelines(ns.out)
    if ns.pool:
        pool = {p for path in ns.pool
                for p in read_pipelines(path, "llmcc tune coreset: cannot use pool")}
    else:
        pool = {p for lab in labels.values() for p in lab["sizes"]}
    pipelines = []
    for p in sorted(pool - set(rejected)):
        try:
            pipelines.append(check_pipeline(p))
        except ValueError:  # no longer allowed (e.g. a pass moved to the experimental tier)
            continue
    train = [lab for lab in labels.values() if lab["split"] == "train" and lab["oz_size"] > 0
             and all(p in lab["sizes"] for p in pipelines)]
    chosen = greedy_coreset(train, pipelines, ns.k)
    from llmcc import __version__
    from llmcc.compile.toolchain import self_paths
    from llmcc.compile.toolchain import resolve
    tc = resolve(False, self_paths(), dict(os.environ), None)
    doc = {"llvm_version": tc.version, "llmcc_version": __version__, "pipelines": chosen,
           "method": "greedy coverage of log(size/-Oz) on the training split of the labels "
                     "made by `llmcc tune broadcast`",
           "train_tus": len(train), "candidates_considered": len(pipelines),
           "rejected": sorted(set(rejected) & pool) if ns.pool else len(rejected)}
    write_coreset(ns.write, doc)
    print(f"coreset: {len(chosen)} pipelines from {len(pipelines)} on {len(train)} train TUs "
          f"-> {ns.write}")
    return 0


def cmd_large_order(ns) -> int:
    """Order the coreset's pipelines for large TUs and record it as ``large_tus`` of
    the ``--coreset`` file (read by :func:`llmcc.rank.base.load_large_order`).

    Greedy coverage of log(size/-Oz), as ``coreset`` orders the coreset, on the
    training TUs whose ranked IR (debug records stripped, as the driver ranks it)
    exceeds ``--min-ir-bytes`` and that are labelled with every pipeline of
    ``--pool`` (default: the coreset); pipelines that gain nothing there follow
    in coreset order. The driver applies it to TUs over ``--apply-above`` bytes.
    """
    from llmcc.lab.train import ranked_ir
    from llmcc.rank.base import ir_size
    with open(ns.coreset, encoding="utf-8") as f:
        doc = json.load(f)
    coreset = read_pipelines(ns.coreset, "llmcc tune large-order: cannot use coreset")
    pool = (read_pipelines(ns.pool, "llmcc tune large-order: cannot use pool")
            if ns.pool else coreset)
    pool = [p for p in pool if p in coreset]
    labels = load_labels(ns.out)
    tus = {t.ir_hash: t for t in load_corpus(ns.corpus, ns.packages, 1 << 62)}
    train = []
    for h, lab in sorted(labels.items()):
        t = tus.get(h)
        if (t is None or lab["split"] != "train" or not lab["oz_size"]
                or t.ir_bytes <= ns.min_ir_bytes  # stripping only shrinks the text
                or not all(p in lab["sizes"] for p in pool)):
            continue
        if ir_size(ranked_ir(t.ir_path)) > ns.min_ir_bytes:
            train.append(lab)
    if not train:
        print(f"llmcc tune large-order: no training TU over {ns.min_ir_bytes} bytes of IR is "
              f"labelled with all {len(pool)} pipelines", file=sys.stderr)
        return 1
    chosen = greedy_coreset(train, pool, len(pool))
    order = chosen + [p for p in coreset if p not in chosen]
    doc["large_tus"] = {
        "min_ir_bytes": ns.apply_above, "pipelines": order, "train_tus": len(train),
        "train_min_ir_bytes": ns.min_ir_bytes, "ordered": len(chosen),
        "method": "llmcc tune large-order: greedy coverage of log(size/-Oz) on the training "
                  f"TUs over {ns.min_ir_bytes} bytes of IR (debug records stripped) labelled "
                  f"with {len(pool)} of the coreset's pipelines; the rest follow in coreset "
                  f"order; used for TUs over {ns.apply_above} bytes"}
    write_coreset(ns.coreset, doc)
    print(f"large-order: {len(chosen)} of {len(coreset)} pipelines ordered on {len(train)} "
          f"training TUs over {ns.min_ir_bytes:,} bytes of IR; used over "
          f"{ns.apply_above:,} bytes -> {ns.coreset}")
    return 0


def rung_lines(out_dir: str) -> list[str]:
    """What each successive-halving rung added: for the TUs searched at rung i > 0,
    the geometric-mean reduction against -Oz before it (rungs below) and after."""
    by_rung: dict[int, dict[str, dict]] = {}
    for r in read_jsonl(os.path.join(out_dir, "search.jsonl")):
        if "best_size" in r and r.get("oz_size"):
            by_rung.setdefault(int(r.get("rung", 0)), {})[r["ir_hash"]] = r
    lines = []
    for rung in sorted(k for k in by_rung if k > 0):
        hs = [h for h in by_rung[rung] if all(h in by_rung.get(i, {}) for i in range(rung))]
        if not hs:
            continue
        before = [min(by_rung[i][h]["best_size"] for i in range(rung)) for h in hs]
        after = [min(b, by_rung[rung][h]["best_size"]) for b, h in zip(before, hs)]
        oz = [by_rung[0][h]["oz_size"] for h in hs]
        comp = sum(by_rung[rung][h]["compiles"] for h in hs)
        lines.append(
            f"  rung {rung} ({len(hs)} TUs, {comp} more compiles): "
            f"{geomean_reduction([b / o for b, o in zip(before, oz)]):.2f}% -> "
            f"{geomean_reduction([a / o for a, o in zip(after, oz)]):.2f}% geomean, "
            f"{sum(a < b for a, b in zip(after, before))} TUs smaller")
    return lines


def report(out_dir: str, coreset: list[str]) -> list[str]:
    """Report lines: autotuner, coreset oracle and static prefixes on the validation split."""
    lines = []
    search = list(search_results(out_dir).values())
    for split in ("train", "validation"):
        rs = [r for r in search if r["split"] == split and r["oz_size"] > 0]
        if rs:
            red = geomean_reduction([r["best_size"] / r["oz_size"] for r in rs])
            comp = sum(r["compiles"] for r in rs) / len(rs)
            improved = sum(r["best_size"] < r["oz_size"] for r in rs)
            lines.append(f"autotuner ({split}, {len(rs)} TUs): {red:.2f}% geomean smaller than "
                         f"-Oz, {improved} improved, {comp:.0f} compiles per TU")
    lines += rung_lines(out_dir)
    raw = load_labels(out_dir, ram_rule=False)
    labels = [ram_eligible(lab) for lab in raw.values()
              if lab["split"] == "validation" and lab["oz_size"] > 0]
    try:
        broadcast = load_pipelines(os.path.join(out_dir, "broadcast.json"))
    except (OSError, ValueError, KeyError):
        broadcast = []
    full = [lab for lab in labels if broadcast and all(p in lab["sizes"] for p in broadcast)]
    if full:
        red = geomean_reduction([best_of(lab, broadcast) / lab["oz_size"] for lab in full])
        red_c = geomean_reduction([best_of(lab, coreset) / lab["oz_size"] for lab in full])
        lines.append(f"broadcast oracle (validation, {len(full)} TUs labelled with all "
                     f"{len(broadcast)} broadcast pipelines): {red:.2f}% (coreset oracle on the "
                     f"same TUs: {red_c:.2f}%)")
    labels = [lab for lab in labels if all(p in lab["sizes"] for p in coreset)]
    if labels:
        lines.append(f"validation TUs labelled with the coreset: {len(labels)}")
        red = geomean_reduction([best_of(lab, coreset) / lab["oz_size"] for lab in labels])
        lines.append(f"coreset oracle (validation, K={len(coreset)}): {red:.2f}%")
        more = [set(lab["more_ram"]) & set(coreset) for lab in labels]
        if any(more):
            red_blind = geomean_reduction([best_of(raw[lab["ir_hash"]], coreset) / lab["oz_size"]
                                           for lab in labels])
            fixed = sum(1 for lab, m in zip(labels, more) for p in m
                        if lab["sizes"].get(p) is not None)
            lines.append(f"  not counted: {sum(map(len, more))} (TU, pipeline) pairs on "
                         f"{sum(1 for m in more if m)} TUs need more .data + .bss than -Oz, "
                         f"{fixed} of them counted with their RAM repair "
                         f"(counting them as measured: {red_blind:.2f}%)")
        rows = []
        for k in (1, 2, 4, 8, 16):
            best = [best_of(lab, coreset[:k]) for lab in labels]
            oz = [lab["oz_size"] for lab in labels]
            rows.append([f"static ranker k={k}",
                         pct(geomean_reduction([b / o for b, o in zip(best, oz)])),
                         pct(total_reduction(best, oz))])
        lines += text_table(["validation split", "geomean", "total bytes"], rows)
    else:
        lines.append(f"no validation TU is labelled with all {len(coreset)} coreset pipelines "
                     "(label them with `llmcc tune broadcast --pipelines CORESET.json`)")
    rej = rejected_pipelines(out_dir)
    lines.append(f"pipelines rejected (crash or timeout on a corpus TU): {len(rej)}")
    reasons = Counter(e.split(" with ")[0].split(" after ")[0] for e in rej.values())
    for reason, n in reasons.most_common():
        lines.append(f"  {reason}: {n}")
    return lines


def cmd_report(ns) -> int:
    """Print :func:`report` for the shipped (or given) coreset."""
    from llmcc.rank.rankers import load_coreset
    pipelines = (read_pipelines(ns.coreset, "llmcc tune report: cannot use coreset")
                 if ns.coreset else load_coreset())
    print("\n".join(report(ns.out, pipelines)))
    return 0


# --- moving tuning state to a rebuilt corpus ----------------------------------

def _tu_identity(m: dict) -> tuple:
    return (m["package"], m["version"], m["file"], tuple(m["flags"]), m["language"],
            m["oz_size"])


def hash_moves(old: list[dict], new: list[dict]) -> dict[str, str]:
    """Old IR hash -> new IR hash for the TUs of manifest ``old`` that a rebuilt
    corpus (manifest ``new``, :func:`llmcc.lab.corpus.manifest`) records under
    another hash.

    A ``-g`` TU's IR names its build directory, so a rebuild elsewhere hashes it
    differently. Such a TU is matched by package, version, file, codegen flags,
    language and ``-Oz`` object size; only a match that is one-to-one on both
    sides counts (two TUs of one file compiled with different macros stay apart).
    """
    from collections import defaultdict
    new_hashes = {m["ir_hash"] for m in new}
    old_hashes = {m["ir_hash"] for m in old}
    by_old: dict[tuple, list[str]] = defaultdict(list)
    by_new: dict[tuple, list[str]] = defaultdict(list)
    for m in old:
        by_old[_tu_identity(m)].append(m["ir_hash"])
    for m in new:
        by_new[_tu_identity(m)].append(m["ir_hash"])
    moves = {}
    for ident, olds in by_old.items():
        news = by_new.get(ident, [])
        if len(olds) == 1 and len(news) == 1 and olds[0] not in new_hashes \
                and news[0] not in old_hashes:
            moves[olds[0]] = news[0]
    return moves


#: Tuning-state files whose records are keyed by ``ir_hash``.
STATE_FILES = ("search.jsonl", "labels.jsonl", "failures.jsonl", "rechecks.jsonl")


def cmd_migrate(ns) -> int:
    """Carry ``OUT``'s records over to a rebuilt corpus: each record of a moved TU
    (:func:`hash_moves`) is appended again under its new hash, once.

    Before anything is written, ``--verify`` moved TUs are measured again on
    the new corpus (``-Oz`` and two pipelines of the shipped coreset); any size that differs
    from the label aborts the move. Run it while no search or broadcast writes
    to ``OUT``.
    """
    import gzip
    from llmcc.lab.corpus import manifest
    with gzip.open(ns.manifest, "rt", encoding="utf-8") as f:
        old = [json.loads(line) for line in f if line.strip()]
    moves = hash_moves(old, manifest(ns.corpus))
    tus = {t.ir_hash: t for t in load_corpus(ns.corpus, ns.packages, 1 << 62)}
    labels = load_labels(ns.out)
    checked = mismatched = 0
    from llmcc.rank.rankers import load_coreset
    coreset = [p for p in load_coreset() if p != OZ]  # as the current driver runs them
    ev = Evaluator(ns.out, ns.timeout) if ns.verify else None
    for h_old in sorted(h for h in moves if h in labels and moves[h] in tus)[: ns.verify]:
        lab = labels[h_old]
        ev.select(tus[moves[h_old]])
        known = [(OZ, lab["oz_size"])] + [(p, lab["sizes"][p]) for p in coreset
                                          if lab["sizes"].get(p) is not None][:2]
        for p, size in known:
            checked += 1
            if ev.measured(p)[0] != size:
                mismatched += 1
                print(f"migrate: {h_old} -> {moves[h_old]}: {p} gives {ev.measured(p)[0]} bytes, "
                      f"labelled {size}", file=sys.stderr)
    print(f"migrate: {len(moves)} TUs of {ns.manifest} moved to new hashes; "
          f"{checked} sizes measured again, {mismatched} differ", file=sys.stderr)
    if mismatched:
        print("migrate: nothing written", file=sys.stderr)
        return 1
    for name in STATE_FILES:
        path = os.path.join(ns.out, name)
        recs = read_jsonl(path)
        have = {r.get("ir_hash") for r in recs}
        add = [dict(r, ir_hash=moves[r["ir_hash"]]) for r in recs
               if r.get("ir_hash") in moves and moves[r["ir_hash"]] not in have]
        if add:
            append_jsonl(path, add)
        print(f"migrate: {name}: {len(add)} records carried over", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    """Entry point of ``llmcc tune``."""
    from llmcc.lab.data import packaged
    default_packages = packaged("packages.toml")
    p = argparse.ArgumentParser(prog="llmcc tune", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, help="tuning state directory")
    for name, fn in (("search", cmd_search), ("broadcast", cmd_broadcast)):
        s = sub.add_parser(name, parents=[common])
        s.add_argument("--corpus", required=True, help="directory recorded with LLMCC_RECORD")
        s.add_argument("--packages", default=default_packages, help="packages.toml with splits")
        s.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
        s.add_argument("--limit", type=int, default=0, help="at most this many TUs (0: all)")
        s.add_argument("--timeout", type=float, default=60.0, help="seconds per opt/codegen")
        s.add_argument("--max-ir-bytes", type=int, default=4 << 20)
        s.add_argument("--min-ir-bytes", type=int, default=0,
                       help="only TUs with at least this much IR (bytes)")
        s.set_defaults(fn=fn)
        s.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="run on the Ray cluster at ADDRESS (HOST:PORT or 'auto'; "
                            "pip install 'llmcc[cluster]') instead of --jobs processes")
        s.add_argument("--split", default="all", choices=("all", "train", "validation"),
                       help="only TUs of this split")
        if name == "search":
            s.add_argument("--budget", type=int, default=60, help="compiles per TU")
            s.add_argument("--rungs", default=None, metavar="B0,B1,...",
                           help="successive halving: every TU gets B0 compiles, the --keep "
                                "fraction with the largest gains continues to B1 in all, "
                                "and so on (overrides --budget)")
            s.add_argument("--searched-only", action="store_true",
                           help="only TUs OUT/search.jsonl already holds (continue an "
                                "earlier search in deeper rungs)")
            s.add_argument("--keep", type=float, default=0.5,
                           help="fraction of a rung's TUs promoted to the next (default 0.5)")
            s.add_argument("--seed", type=int, default=0)
            s.add_argument("--seeds", default=None, metavar="JSON|none",
                           help="explore around these pass lists (a coreset JSON file; "
                                "default: the shipped coreset; 'none': random lists only)")
        else:
            s.add_argument("--top", type=int, default=64, help="winners to broadcast")
            s.add_argument("--add", action="append", help="also label this pipeline")
            s.add_argument("--exclude-searched", action="store_true",
                           help="skip the TUs of OUT/search.jsonl, so a pipeline is not "
                                "credited on the TU it was found on")
            s.add_argument("--labelled-only", action="store_true",
                           help="only TUs OUT/labels.jsonl already holds (screen new "
                                "pipelines against the labelled ones)")
            s.add_argument("--set", default="broadcast.json", metavar="NAME",
                           help="file in OUT that fixes the broadcast set (written on first "
                                "use from the search's winners; default broadcast.json)")
            s.add_argument("--retry-failed", action="store_true",
                           help="measure again the pipelines that failed on a TU")
            s.add_argument("--pipelines", default=None, metavar="JSON",
                           help="label these pipelines (a coreset JSON file) instead of the "
                                "broadcast set")
    lo = sub.add_parser("large-order", parents=[common])
    lo.add_argument("--corpus", required=True, help="directory recorded with LLMCC_RECORD")
    lo.add_argument("--packages", default=default_packages)
    lo.add_argument("--coreset", required=True, metavar="JSON",
                    help="the coreset file to order and write (large_tus)")
    lo.add_argument("--pool", default=None, metavar="JSON",
                    help="order only these of the coreset's pipelines (the rest follow)")
    lo.add_argument("--min-ir-bytes", type=int, default=262144,
                    help="training TUs with more IR than this (bytes, debug records "
                         "stripped) choose the order (default 262144)")
    lo.add_argument("--apply-above", type=int, default=262144,
                    help="the driver ranks TUs with more IR than this by the order "
                         "(default 262144)")
    lo.set_defaults(fn=cmd_large_order)
    rp = sub.add_parser("reproducible", parents=[common])
    rp.add_argument("--corpus", required=True, help="directory recorded with LLMCC_RECORD")
    rp.add_argument("--packages", default=default_packages)
    rp.add_argument("--pipelines", required=True, metavar="JSON", help="a coreset JSON file")
    rp.add_argument("--limit", type=int, default=40, help="training TUs checked (default 40)")
    rp.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    rp.add_argument("--timeout", type=float, default=60.0)
    rp.add_argument("--max-ir-bytes", type=int, default=262144)
    rp.add_argument("--write", action="store_true",
                    help="record the reproducible pipelines in the --pipelines file")
    rp.add_argument("--repairs", action="store_true",
                    help="check each pipeline's RAM repair as well (what the driver "
                         "compiles for a candidate that needs more RAM than -Oz)")
    rp.set_defaults(fn=cmd_reproducible)
    rc = sub.add_parser("recheck", parents=[common])
    rc.add_argument("--corpus", required=True, help="directory recorded with LLMCC_RECORD")
    rc.add_argument("--packages", default=default_packages)
    rc.add_argument("--timeout", type=float, default=60.0)
    rc.set_defaults(fn=cmd_recheck)
    mg = sub.add_parser("migrate", parents=[common])
    mg.add_argument("--corpus", required=True, help="the rebuilt corpus")
    mg.add_argument("--manifest", required=True,
                    help="manifest of the corpus OUT was made on (corpus/manifest.jsonl.gz)")
    mg.add_argument("--packages", default=default_packages)
    mg.add_argument("--timeout", type=float, default=60.0)
    mg.add_argument("--verify", type=int, default=30, metavar="N",
                    help="moved TUs measured again before anything is written (default 30)")
    mg.set_defaults(fn=cmd_migrate)
    c = sub.add_parser("coreset", parents=[common])
    c.add_argument("--k", type=int, default=64)
    c.add_argument("--pool", action="append", metavar="JSON",
                   help="choose among the pipelines of this JSON file (repeatable: their "
                        "union; e.g. broadcast.json and the current coreset) instead of "
                        "all labelled ones")
    c.add_argument("--write", required=True, metavar="JSON",
                   help="coreset file to write (the shipped one is llmcc/data/coreset.json "
                        "of a source checkout)")
    c.set_defaults(fn=cmd_coreset)
    r = sub.add_parser("report", parents=[common])
    r.add_argument("--coreset", default=None, help="coreset JSON (default: the shipped one)")
    r.set_defaults(fn=cmd_report)
    ns = p.parse_args(argv)
    os.makedirs(ns.out, exist_ok=True)
    return ns.fn(ns)
