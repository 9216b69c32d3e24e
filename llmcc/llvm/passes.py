"""Parsing pass pipelines and checking them against the pass allowlist.

Every pipeline that reaches ``opt`` — from a ranker, the cache, a pinned cache
file or a user — goes through :func:`check_pipeline` first. The grammar is the
new pass manager's textual pipeline (LLVM docs, "Invoking opt": ``opt -p``):

    pipeline := element ("," element)*
    element  := NAME ["<" PARAMS ">"] ["(" pipeline ")"]

Leaf names must be in the vocabulary ``llmcc/data/passes.json`` (LLVM 19
transform passes, made by ``scripts/gen_pass_vocabulary.py``) and not of its
``experimental`` tier (passes no default pipeline or production size pipeline
runs, such as the Attributor, which crash or miscompile in combinations);
nesting names must be pass-manager adaptors. Parameters may use only ``[A-Za-z0-9_=;.-]``,
so no path, plugin or option can be smuggled into ``opt``'s argv.

A *decision* (what caches, pinned files and coresets store) is a pipeline,
optionally followed by vetted ``opt`` options, one space before each:

    decision := pipeline (" -" NAME "=" INTEGER)*

Each option must be in the allowlist's ``options`` table with its value in the
vetted range (e.g. ``default<Oz> -inline-threshold=50``), at most once. A
decision without options is a plain pipeline, so every earlier entry reads
as before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from llmcc.errors import PipelineError

#: Pass-manager adaptors allowed as nesting names (LLVM PassBuilder).
ADAPTORS = frozenset({"module", "cgscc", "function", "loop", "loop-mssa", "devirt", "repeat"})

#: The token that stands for clang's own ``-Oz`` pipeline in stored pipelines.
OZ = "default<Oz>"

#: The decision "plain clang at -Os from source": a candidate only when the user
#: asked for ``-Os``, so an object is never larger than clang makes it at ``-Os``.
SOURCE_OS = "clang-source<Os>"

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_PARAM_RE = re.compile(r"[A-Za-z0-9_=;.-]*")
MAX_PIPELINE_CHARS = 20000
#: Deepest adaptor nesting accepted; clang-19's own ``-Oz`` pipeline nests 4 deep
#: (``cgscc(devirt<4>(function(loop-mssa(...))))``).
MAX_NESTING = 16


@dataclass(frozen=True)
class Element:
    """One pipeline element: a pass or an adaptor with a nested pipeline."""

    name: str
    params: str | None
    children: tuple["Element", ...] | None

    def text(self) -> str:
        """Canonical pipeline text of this element."""
        s = self.name
        if self.params is not None:
            s += f"<{self.params}>"
        if self.children is not None:
            s += "(" + ",".join(c.text() for c in self.children) + ")"
        return s


def parse_pipeline(text: str) -> tuple[Element, ...]:
    """Parse pipeline ``text`` into elements.

    Raises:
        PipelineError: empty, too long, or not in the grammar above.
    """
    if not isinstance(text, str) or not text or len(text) > MAX_PIPELINE_CHARS:
        raise PipelineError("empty or oversized pipeline")
    elems, pos = _parse_list(text, 0, 0)
    if pos != len(text):
        raise PipelineError(f"unexpected {text[pos]!r} at {pos} in pipeline")
    return elems


def _parse_list(text: str, pos: int, depth: int) -> tuple[tuple[Element, ...], int]:
    if depth > MAX_NESTING:
        raise PipelineError(f"pipeline nested deeper than {MAX_NESTING} levels")
    out = []
    while True:
        el, pos = _parse_element(text, pos, depth)
        out.append(el)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return tuple(out), pos


def _parse_element(text: str, pos: int, depth: int) -> tuple[Element, int]:
    m = _NAME_RE.match(text, pos)
    if not m:
        raise PipelineError(f"expected a pass name at {pos} in pipeline")
    name, pos = m.group(0), m.end()
    params = None
    if pos < len(text) and text[pos] == "<":
        pm = _PARAM_RE.match(text, pos + 1)
        end = pm.end()
        if end >= len(text) or text[end] != ">":
            raise PipelineError(f"bad parameters for {name!r} in pipeline")
        params, pos = pm.group(0), end + 1
    children = None
    if pos < len(text) and text[pos] == "(":
        children, pos = _parse_list(text, pos + 1, depth + 1)
        if pos >= len(text) or text[pos] != ")":
            raise PipelineError(f"unclosed '(' after {name!r} in pipeline")
        pos += 1
    return Element(name, params, children), pos


@lru_cache(maxsize=1)
def _allowlist() -> dict:
    """``llmcc/data/passes.json``, read once per process."""
    return json.loads(resources.files("llmcc").joinpath("data/passes.json").read_text())


@lru_cache(maxsize=1)
def vetted_options() -> dict[str, dict]:
    """The option allowlist: name -> ``{"min", "max", "reason"}`` (``passes.json``)."""
    return {o["name"]: o for o in _allowlist().get("options", ())}


_OPTION_RE = re.compile(r"-([a-z][a-z0-9-]*)=(-?[0-9]{1,6})")


def split_decision(text: str) -> tuple[str, tuple[str, ...]]:
    """``(pipeline, options)`` of a decision, e.g. ``("default<Oz>",
    ("-inline-threshold=50",))``; unchecked (see :func:`check_pipeline`)."""
    pipeline, *options = text.split(" ")
    return pipeline, tuple(options)


def _check_options(options: tuple[str, ...]) -> list[str]:
    vetted = vetted_options()
    seen: dict[str, int] = {}
    for opt in options:
        m = _OPTION_RE.fullmatch(opt)
        if not m:
            raise PipelineError(f"bad option {opt[:40]!r} after the pipeline")
        name, value = m.group(1), int(m.group(2))
        entry = vetted.get(name)
        if entry is None:
            raise PipelineError(f"option -{name} is not in the allowlist")
        if not entry["min"] <= value <= entry["max"]:
            raise PipelineError(f"-{name}={value} is outside the vetted range "
                                f"{entry['min']}..{entry['max']}")
        if name in seen:
            raise PipelineError(f"option -{name} given twice")
        seen[name] = value
    return [f"-{name}={seen[name]}" for name in sorted(seen)]


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, dict]:
    """The pass allowlist: name -> entry of ``llmcc/data/passes.json``."""
    return {p["name"]: p for p in _allowlist()["passes"]}


def _check(elems: tuple[Element, ...], vocab: dict[str, dict]) -> None:
    for el in elems:
        if el.children is not None:
            if el.name not in ADAPTORS:
                raise PipelineError(f"{el.name!r} is not a pass-manager adaptor")
            if el.name in ("devirt", "repeat") and not (el.params or "").isdigit():
                raise PipelineError(f"{el.name} needs a count parameter")
            _check(el.children, vocab)
            continue
        entry = vocab.get(el.name)
        if entry is None:
            raise PipelineError(f"pass {el.name!r} is not in the allowlist")
        if entry.get("tier") == "experimental":
            raise PipelineError(f"pass {el.name!r} is experimental and not allowed")
        if el.params is not None:
            if not entry.get("params"):
                raise PipelineError(f"pass {el.name!r} takes no parameters")
            allowed = entry.get("allowed_params")
            if allowed is not None and el.params not in allowed:
                raise PipelineError(f"{el.name}<{el.params}> is not allowed")


def check_pipeline(text: str) -> str:
    """Parse and allowlist-check a decision (a pipeline and its options, see the
    module docstring); return its canonical text (options sorted by name).

    Raises:
        PipelineError: it does not parse, uses a pass outside the allowlist, or
            an option that is not vetted or out of its range.
    """
    if text == SOURCE_OS:
        return text
    if not isinstance(text, str):
        raise PipelineError("empty or oversized pipeline")
    pipeline, options = split_decision(text)
    elems = parse_pipeline(pipeline)
    _check(elems, vocabulary())
    return " ".join([",".join(e.text() for e in elems)] + _check_options(options))


#: Passes that clang-19's own ``-Oz`` pipelines use beyond the allowlist's
#: transform passes, with the parameters they take there (read from
#: ``clang-19 -Oz -mllvm -print-pipeline-passes`` with and without ``-g``,
#: ``-fPIC``, ``-ffunction-sections``, ``-ffast-math``, ``-fno-unroll-loops``).
CLANG_OZ_EXTRAS: dict[str, frozenset] = {
    "annotation-remarks": frozenset({None}), "ee-instrument": frozenset({""}),
    "invalidate": frozenset({"aa"}), "recompute-globalsaa": frozenset({None}),
    "require": frozenset({"should-not-run-function-passes", "profile-summary", "globals-aa"}),
    "transform-warning": frozenset({None}),
}


def check_clang_oz_pipeline(text: str) -> str:
    """Check a stored copy of clang's own ``-Oz`` pipeline text (a memo file in
    the cache directory): it must parse, nest only pass-manager adaptors, and
    use only the allowlist's passes (any tier, as clang runs them) and
    :data:`CLANG_OZ_EXTRAS`. Returns the text unchanged.

    Raises:
        PipelineError: anything else (e.g. ``internalize``, a plugin option).
    """
    vocab = vocabulary()

    def walk(elems):
        for el in elems:
            if el.children is not None:
                if el.name not in ADAPTORS:
                    raise PipelineError(f"{el.name!r} is not a pass-manager adaptor")
                walk(el.children)
            elif el.name in CLANG_OZ_EXTRAS:
                if el.params not in CLANG_OZ_EXTRAS[el.name]:
                    raise PipelineError(f"{el.name}<{el.params}> is not in clang's pipeline")
            elif el.name not in vocab:
                raise PipelineError(f"pass {el.name!r} is not in clang's -Oz pipeline")

    walk(parse_pipeline(text))
    return text


def substitute_oz(pipeline: str, clang_oz: str) -> str:
    """Replace each top-level :data:`OZ` token with clang's own ``-Oz`` pipeline text.

    Source: clang-19's ``-Oz`` pipeline differs from ``opt -p default<Oz>``
    (it adds ``slp-vectorizer``); clang prints its own with
    ``-mllvm -print-pipeline-passes`` (docs/design.md, "Decisions and why").
    """
    elems = parse_pipeline(pipeline)
    return ",".join(clang_oz if e.text() == OZ else e.text() for e in elems)


def with_mandatory_passes(pipeline: str) -> str:
    """``pipeline`` as ``opt`` must run it: with the always-inliner first unless it
    starts with clang's ``-Oz`` pipeline (which inlines ``always_inline`` calls itself),
    and bare ``instcombine`` without its fixpoint check (see ``_BARE_INSTCOMBINE``).

    Source: clang runs ``always-inline`` at every level, ``-O0`` included
    (``PassBuilder::buildO0DefaultPipeline``): ``always_inline`` is a promise code
    relies on (target-specific or frame-less helpers), not a size heuristic. A
    random search found pipelines that skip it and "win" by leaving such
    functions out of line (brotli's ``compress_fragment.c``, 65% smaller).
    """
    pipeline = _BARE_INSTCOMBINE.sub("instcombine<no-verify-fixpoint>", pipeline)
    first = parse_pipeline(pipeline)[0].text()
    if first == OZ:
        return pipeline
    return "always-inline," + pipeline


#: ``instcombine`` without parameters. In LLVM 19 a bare ``instcombine`` in
#: ``opt -p`` verifies that one iteration reached a fixpoint and aborts
#: ("Instruction Combining did not reach a fixpoint") when it did not; clang's
#: own pipelines run ``instcombine<...;no-verify-fixpoint>``. The check is a
#: debugging aid: with it off the output is the same whenever it would pass,
#: so the driver runs bare ``instcombine`` as ``instcombine<no-verify-fixpoint>``.
_BARE_INSTCOMBINE = re.compile(r"(?<![\w-])instcombine(?![\w<-])")


def contains_oz(pipeline: str) -> bool:
    """True when the pipeline uses clang's ``-Oz`` pipeline at top level."""
    return any(e.text() == OZ for e in parse_pipeline(pipeline))


#: Module passes of clang's ``-Oz`` pipeline that make never-written globals
#: constant (``globalopt``), drop unused ones (``globaldce``) and merge equal
#: constants (``constmerge``). A pipeline without them can leave a read-only
#: table in ``.data``; :func:`ram_repaired` appends them.
RAM_REPAIR = "globalopt,globaldce,constmerge"


def ram_repaired(decision: str) -> str | None:
    """``decision`` with :data:`RAM_REPAIR` appended to its pipeline (options kept
    after it), checked and canonical (:func:`check_pipeline`); None for ``-Os``
    from source, for a decision that already ends with the repair (its repair
    would be itself) and for one whose repair the allowlist refuses.

    The driver compiles it for a candidate whose object needs more ``.data +
    .bss`` than ``-Oz``'s (docs/design.md, "Checks on every winner").
    """
    if decision == SOURCE_OS:
        return None
    pipeline, options = split_decision(decision)
    if pipeline == RAM_REPAIR or pipeline.endswith("," + RAM_REPAIR):
        return None
    try:
        return check_pipeline(" ".join([pipeline + "," + RAM_REPAIR, *options]))
    except PipelineError:
        return None
