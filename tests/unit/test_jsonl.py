"""The lab's JSON files (llmcc.lab.jsonl): tolerant JSON-lines reading, appending, pipeline lists."""

import io
import json

import pytest

from llmcc.lab.jsonl import (append_jsonl, dumps_line, iter_jsonl, load_pipelines, read_jsonl,
                             read_pipelines)


@pytest.mark.parametrize("content, records", [
    (b"", []),
    (b'{"a": 1}\n{"a": 2}\n', [{"a": 1}, {"a": 2}]),
    (b'{"a": 1}', [{"a": 1}]),                                  # no final newline
    (b'\n  \n{"a": 1}\n\n', [{"a": 1}]),                        # blank lines
    (b'{"a": 1}\n{"a": 2, "b"', [{"a": 1}]),                    # cut short by an interrupt
    (b'garbage\n{"a": 1}\n', [{"a": 1}]),
    (b'[1, 2]\n5\n"x"\nnull\n{"a": 1}\n', [{"a": 1}]),          # JSON, but not objects
    (b'{"a": "\xff"}\n{"a": 1}\n', [{"a": 1}]),                 # invalid UTF-8
    (b"[" * 100000 + b"\n" + b'{"a": 1}\n', [{"a": 1}]),        # nested too deeply
    (b'{"a": 1}\r\n{"a": 2}\r\n', [{"a": 1}, {"a": 2}]),
    ('{"a": "é"}\n'.encode(), [{"a": "é"}]),
])
def test_read_jsonl_keeps_the_objects_and_skips_the_rest(tmp_path, content, records):
    f = tmp_path / "x.jsonl"
    f.write_bytes(content)
    assert read_jsonl(str(f)) == records


@pytest.mark.parametrize("missing", ["none.jsonl", "none/x.jsonl", "file/x.jsonl"])
def test_a_missing_file_reads_as_no_records(tmp_path, missing):
    (tmp_path / "file").write_text("")
    assert read_jsonl(str(tmp_path / missing)) == []
    with pytest.raises(OSError):
        next(iter_jsonl(str(tmp_path / missing), missing_ok=False))


def test_iter_jsonl_opens_the_file_only_when_read(tmp_path):
    it = iter_jsonl(str(tmp_path / "later.jsonl"), missing_ok=False)
    (tmp_path / "later.jsonl").write_text('{"a": 1}\n')
    assert list(it) == [{"a": 1}]


def test_append_jsonl_to_a_path_and_to_an_open_file(tmp_path):
    path = str(tmp_path / "out.jsonl")
    append_jsonl(path, [])
    assert (tmp_path / "out.jsonl").read_text() == ""  # created
    append_jsonl(path, [{"b": 1, "a": 2}])
    append_jsonl(path, [{"b": 3, "a": 4}], sort_keys=False)
    assert (tmp_path / "out.jsonl").read_text() == '{"a": 2, "b": 1}\n{"b": 3, "a": 4}\n'
    assert read_jsonl(path) == [{"a": 2, "b": 1}, {"b": 3, "a": 4}]
    buf = io.StringIO()
    append_jsonl(buf, [{"x": [1, 2]}, {"y": None}])
    assert buf.getvalue() == '{"x": [1, 2]}\n{"y": null}\n'
    assert dumps_line({"b": 1, "a": 2}) == json.dumps({"a": 2, "b": 1}) + "\n"


@pytest.mark.parametrize("content, any_format, pipelines", [
    ('{"pipelines": ["a", "b"]}', False, ["a", "b"]),
    ('{"pipelines": ["a", 5], "k": 2}', False, ["a", "5"]),
    ('{"pipelines": []}', False, []),
    ('{"pipelines": [" a ", "b"]}', True, ["a", "b"]),
    ('[" a ", "b"]', True, ["a", "b"]),
    ("# pipelines\na\n\n  b  \n", True, ["a", "b"]),
])
def test_load_pipelines(tmp_path, content, any_format, pipelines):
    f = tmp_path / "p.json"
    f.write_text(content)
    assert load_pipelines(str(f), any_format=any_format) == pipelines


@pytest.mark.parametrize("content, any_format, error", [
    ("not json", False, ValueError),
    ('["a"]', False, TypeError),
    ('{"other": []}', False, KeyError),
    ('{"other": []}', True, TypeError),
    ('{"pipelines": "a"}', True, TypeError),
    ("5", True, TypeError),
])
def test_load_pipelines_refuses_other_shapes(tmp_path, content, any_format, error):
    f = tmp_path / "p.json"
    f.write_text(content)
    with pytest.raises(error):
        load_pipelines(str(f), any_format=any_format)


def test_read_pipelines_exits_with_what_was_being_done(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"pipelines": ["default<Oz>", "function(sroa)"]}')
    assert read_pipelines(str(f), "x") == ["default<Oz>", "function(sroa)"]
    assert read_pipelines(str(f), "x", check=True)
    with pytest.raises(SystemExit, match=r"^llmcc tune report: cannot use coreset .*none\.json: "):
        read_pipelines(str(tmp_path / "none.json"), "llmcc tune report: cannot use coreset")
    f.write_text('{"pipelines": ["no-such-pass"]}')
    assert read_pipelines(str(f), "x") == ["no-such-pass"]
    with pytest.raises(SystemExit, match=r"^llmcc tune broadcast: cannot use .*c\.json: "):
        read_pipelines(str(f), "llmcc tune broadcast: cannot use", check=True)
    f.write_text("{}")
    with pytest.raises(SystemExit, match=r"c\.json: 'pipelines'$"):
        read_pipelines(str(f), "x")
