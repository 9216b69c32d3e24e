"""The statistics counters llmcc keeps, declared once (ccache's ``Statistic`` table).

Every counter a compile may record is listed in :data:`COUNTERS` with its id
(the key written to the statistics journal, see :mod:`llmcc.store.stats`), a
description and a category. ``llmcc -s`` (:func:`report`) and the machine
readable ``llmcc --print-stats`` (:func:`machine_report`) are derived from this
table; a family (``fallback: REASON``) groups counters whose last part is a
reason found at run time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counter:
    """One declared counter.

    Attributes:
        id: the key in the statistics journal; for a family, the prefix of its keys.
        description: what it counts, as ``llmcc -s`` prints it (for a family, with
            ``{}`` where the reason goes).
        category: the section of ``llmcc -s`` it is printed in.
        family: True when ``id`` is a prefix completed by a reason at run time.
        always: printed by ``llmcc -s`` even when zero.
    """

    id: str
    description: str
    category: str
    family: bool = False
    always: bool = False


#: Sections of ``llmcc -s``, in order.
CATEGORIES = ("cache", "pass-through and fallback", "outcome", "checks", "size", "time")

COUNTERS: tuple[Counter, ...] = (
    Counter("cache hits", "cache hits", "cache", always=True),
    Counter("cache misses", "cache misses", "cache", always=True),
    Counter("object hits", "hits served from a stored object", "cache", always=True),
    Counter("remote hits", "decisions found in the shared store (cache_url)", "cache"),
    Counter("remote misses", "shared store misses", "cache"),
    Counter("remote errors", "shared store failures (refused, timeout, garbage)", "cache"),
    Counter("pinned hits", "pinned hits", "cache"),
    Counter("pinned misses", "pinned misses", "cache"),
    Counter("direct -Oz compiles", "hits compiled by plain clang -Oz", "cache", always=True),
    Counter("uncacheable: ", "passed through: {}", "pass-through and fallback", family=True),
    Counter("fallback: ", "fell back to plain clang: {}", "pass-through and fallback",
            family=True),
    Counter("TUs improved", "TUs smaller than -Oz", "outcome", always=True),
    Counter("TUs equal", "TUs as large as -Oz", "outcome", always=True),
    Counter("TUs larger than -Oz (forced pipeline)", "TUs larger than -Oz (forced pipeline)",
            "outcome", always=True),
    Counter("forced pipeline", "TUs compiled with a forced pipeline", "outcome"),
    Counter("candidates compiled", "candidates compiled", "outcome", always=True),
    Counter("candidates failed", "candidates failed (opt or codegen)", "outcome", always=True),
    Counter("codegens skipped (same bitcode)",
            "candidates whose opt output equalled another's (no codegen)", "outcome"),
    Counter("rank server requests", "rankings answered by the shared ranking server",
            "outcome"),
    Counter("rank server starts", "ranking servers started", "outcome"),
    Counter("compile server calls", "compiler calls run by the compile server", "time"),
    Counter("compile server starts", "compile servers started", "time"),
    Counter("rank server unreachable", "rankings made in-process (no ranking server answered)",
            "outcome"),
    Counter("compiles for diagnostics", "extra clang runs for its own diagnostics", "outcome"),
    Counter("candidates needing more RAM than -Oz",
            "candidates refused: more .data + .bss than -Oz", "checks", always=True),
    Counter("RAM repairs eligible",
            "refused candidates that the global clean-up made eligible", "checks"),
    Counter("RAM repairs still needing more RAM",
            "refused candidates still over -Oz's RAM after the clean-up", "checks"),
    Counter("RAM repairs failed", "global clean-ups of refused candidates that failed",
            "checks"),
    Counter("winners defining other symbols than -Oz",
            "winners refused: other global symbols than -Oz", "checks"),
    Counter("reproducibility compiles saved (pipeline checked offline)",
            "winners not compiled twice (shipped pipeline checked offline)", "checks"),
    Counter("nondeterministic pipelines", "winners refused: not reproducible", "checks",
            always=True),
    Counter("decisions not cached (timeout)", "decisions not cached (a tool timed out)",
            "checks"),
    Counter("corrupt cache entries", "corrupt cache entries ignored", "checks", always=True),
    Counter("rejected pipelines", "pipelines refused by the allowlist", "checks", always=True),
    Counter("cache entries with another size", "cache entries whose object had another size",
            "checks"),
    Counter("pinned entries with another size", "pinned entries whose object had another size",
            "checks"),
    Counter("cache write failed", "cache writes failed", "checks", always=True),
    Counter("bytes -Oz", "bytes under -Oz", "size", always=True),
    Counter("bytes llmcc", "bytes under llmcc", "size", always=True),
    Counter("bytes with k=", "bytes with the first {} candidates (llmcc bench)", "size",
            family=True),
    Counter("cpu ms: ", "CPU ms, {}", "time", family=True),
    Counter("processes with peak RSS up to MB: ", "compiler processes with peak RSS up to {} MB",
            "time", family=True),
)

_BY_ID = {c.id: c for c in COUNTERS if not c.family}
_FAMILIES = tuple(c for c in COUNTERS if c.family)


def spec(key: str) -> Counter | None:
    """The declared counter (or family) of journal key ``key``; None if undeclared."""
    if key in _BY_ID:
        return _BY_ID[key]
    for c in _FAMILIES:
        if key.startswith(c.id):
            return c
    return None


def report(values: dict[str, int]) -> list[tuple[str, str, int]]:
    """Rows ``(category, label, value)`` of ``llmcc -s`` in table order: every
    ``always`` counter, other counters when non-zero, family members by reason.
    Undeclared keys (an older llmcc's journal) are left out."""
    rows = []
    for c in COUNTERS:
        if c.family:
            for key in sorted((k for k in values if k.startswith(c.id) and values[k]),
                              key=lambda k: _natural(k[len(c.id):])):
                rows.append((c.category, c.description.format(key[len(c.id):]), values[key]))
        elif c.always or values.get(c.id):
            rows.append((c.category, c.description, values.get(c.id, 0)))
    return sorted(rows, key=lambda r: CATEGORIES.index(r[0]))


def machine_report(values: dict[str, int]) -> list[str]:
    """``llmcc --print-stats`` lines, ``ID<TAB>VALUE``: every declared counter
    (zero included) and every family member present, in table order."""
    lines = []
    for c in COUNTERS:
        if c.family:
            lines += [f"{k}\t{values[k]}" for k in sorted(values) if k.startswith(c.id)]
        else:
            lines.append(f"{c.id}\t{values.get(c.id, 0)}")
    return lines


def _natural(reason: str) -> tuple:
    """Sort key: numeric reasons in numeric order, before the others."""
    return (0, int(reason), "") if reason.isdigit() else (1, 0, reason)
