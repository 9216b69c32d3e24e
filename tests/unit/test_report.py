"""The lab's text reports (llmcc.lab.report): aligned tables and percentages."""

import pytest

from llmcc.lab.report import pct, text_table


@pytest.mark.parametrize("x, text", [(None, "-"), (0.0, "0.00%"), (12.345, "12.35%"),
                                     (-3.0, "-3.00%"), (100, "100.00%")])
def test_pct(x, text):
    assert pct(x) == text


def test_labels_left_figures_right():
    assert text_table(["project", "TUs", "reduction"],
                      [["zlib", "15", "1.23%"], ["total", "1,234", "-"]]) == [
        "project    TUs  reduction",
        "-------  -----  ---------",
        "zlib        15      1.23%",
        "total    1,234          -",
    ]


def test_empty_cells_keep_the_columns_aligned():
    # the bench's per-project table has rows with empty cells, trailing ones too
    lines = text_table(["", "a", "b"], [["x", "", "1"], ["longer", "22", ""]])
    assert lines == ["         a  b",
                     "------  --  -",
                     "x           1",
                     "longer  22   "]
    assert len({len(line) for line in lines}) == 1


def test_a_free_text_last_column_is_not_padded():
    lines = text_table(["#", "verdict", "pipeline"],
                       [["1", "ok", "default<Oz>,function(sroa,instcombine,simplifycfg)"],
                        ["10", "REJECTED", "mergefunc"], ["2", "ok", ""]], align="rll")
    assert lines == [
        " #  verdict   pipeline",
        "--  --------  --------",
        " 1  ok        default<Oz>,function(sroa,instcombine,simplifycfg)",
        "10  REJECTED  mergefunc",
        " 2  ok",
    ]


def test_no_rows_gives_the_header_and_rule():
    assert text_table(["k", "model"], []) == ["k  model", "-  -----"]


@pytest.mark.parametrize("align", ["l", "lrx", "lrrr"])
def test_align_needs_one_letter_per_column(align):
    with pytest.raises(ValueError):
        text_table(["a", "b", "c"], [["1", "2", "3"]], align=align)
