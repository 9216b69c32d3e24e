"""Pinned files: a bad line is rejected alone; merging is deterministic."""

import pytest

from llmcc.store import pinned
from llmcc.store.cache import Entry, IMPORTED

KEY_A, KEY_B, KEY_C = "a" * 32, "b" * 32, "c" * 32
HEADER = b"format 1\ntoolchain 19.1.7 " + b"f" * 32 + b"\n"


def _write(tmp_path, body: bytes):
    f = tmp_path / "llmcc.pin"
    f.write_bytes(HEADER + body)
    return str(f)


def test_a_non_utf8_line_and_a_deeply_nested_line_are_rejected_alone(tmp_path):
    nested = "loop(" * 1500 + "licm" + ")" * 1500  # under the length limit, 1,500 deep
    path = _write(tmp_path, (f"{KEY_A} 10 12 default<Oz>,mergefunc\n").encode()
                  + KEY_B.encode() + b" 10 12 default<Oz>,\xff\xfe\n"
                  + f"{KEY_C} 10 12 {nested}\n".encode())
    p = pinned.read(path)
    assert list(p.entries) == [KEY_A]
    assert len(p.rejected) == 2
    assert any("UTF-8" in r for r in p.rejected) and any("nested" in r for r in p.rejected)


def test_a_bad_header_is_a_format_error(tmp_path):
    f = tmp_path / "x.pin"
    f.write_bytes(b"format 1\ntoolchain \xff 1\n")
    with pytest.raises(pinned.PinnedFormatError):
        pinned.read(str(f))


def test_merge_keeps_the_smaller_object_and_refuses_other_toolchains():
    a = pinned.Pinned("19.1.7", "t", {KEY_A: Entry("default<Oz>,mergefunc", 10, 12, IMPORTED)})
    b = pinned.Pinned("19.1.7", "t", {KEY_A: Entry("default<Oz>,globaldce", 9, 12, IMPORTED),
                                      KEY_B: Entry("default<Oz>", 5, 5, IMPORTED)})
    m = pinned.merge(a, b)
    assert m.entries[KEY_A].pipeline == "default<Oz>,globaldce" and KEY_B in m.entries
    assert pinned.merge(b, a).entries == m.entries
    with pytest.raises(pinned.PinnedFormatError):
        pinned.merge(a, pinned.Pinned("18.1.0", "u"))
