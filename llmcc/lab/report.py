"""Plain-text reports of the lab: aligned tables and percentages.

Progress bars are tqdm's (``tqdm`` is a dependency of llmcc): the tools call it
directly, and :class:`llmcc.lab.bench.Progress` wraps it for the bench's steps.
"""

from __future__ import annotations

from collections.abc import Sequence


def pct(x: float | None) -> str:
    """A percentage with two decimals (``"12.34%"``); ``"-"`` for None (not measured)."""
    return "-" if x is None else f"{x:.2f}%"


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               align: str | None = None) -> list[str]:
    """Plain-text table lines: the header, a rule of dashes, then one line per row.

    Columns are separated by two spaces and as wide as their widest cell. By
    default the first column (row labels) is left-aligned and every other column
    (figures: bytes, percentages, times, counts) right-aligned, so numbers line up
    on their last digit.

    Args:
        header: the column headings.
        rows: the cells, already formatted as text, one list per row (as many cells
            as ``header``).
        align: one letter per column, ``"l"`` or ``"r"``, to override the default
            (e.g. ``"rrll"``). A left-aligned last column (free text such as a
            pipeline) is not padded, and its rule is as long as its heading.
    """
    n = len(header)
    align = align or "l" + "r" * (n - 1)
    if len(align) != n or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r}: one 'l' or 'r' per column ({n})")
    table = [list(header)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(n)]
    rule = ["-" * w for w in widths]
    free = align[-1] == "l"
    if free:  # nothing follows the last column: no padding, a rule as long as its heading
        widths[-1], rule[-1] = 0, "-" * len(header[-1])

    def fmt(r: list[str]) -> str:
        line = "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(r, widths, align))
        return line.rstrip() if free else line
    return [fmt(table[0]), "  ".join(rule)] + [fmt(r) for r in table[1:]]
