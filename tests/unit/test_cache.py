"""The decision cache: round trip, corruption, allowlist, eviction, keys."""

import errno
import json
import os

import pytest

from llmcc.store.cache import Entry, Store, cache_key, clear_cache_dir, normalize_ir
from tests.conftest import deadline


def test_round_trip(tmp_path):
    store = Store(str(tmp_path))
    key = cache_key("ir", "tc")
    assert store.get(key) is None
    store.put(key, Entry("default<Oz>,mergefunc", 100, 120))
    assert store.get(key) == Entry("default<Oz>,mergefunc", 100, 120)
    assert store.count() == 1


def _entry_path(tmp_path, key):
    return tmp_path / "entries" / key[:2] / f"{key}.json"


def test_corrupt_entry_is_ignored_counted_and_removed(tmp_path):
    store = Store(str(tmp_path))
    key = cache_key("ir")
    store.put(key, Entry("default<Oz>", 1, 1))
    _entry_path(tmp_path, key).write_bytes(b"\x00garbage{")
    assert store.get(key) is None
    assert store.corrupt == 1
    assert not _entry_path(tmp_path, key).exists()


def test_disallowed_pipeline_is_rejected(tmp_path):
    store = Store(str(tmp_path))
    key = cache_key("ir")
    path = _entry_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": 1, "size": 1, "oz_size": 2, "source": "imported",
                                "pipeline": "function(instcombine),-load-pass-plugin=/tmp/x.so"}))
    assert store.get(key) is None
    assert store.rejected == 1


def test_eviction_keeps_the_newest(tmp_path):
    store = Store(str(tmp_path), max_entries=256 * 3)
    keys = ["ab" + f"{i:030x}" for i in range(5)]
    for i, k in enumerate(keys):
        store.put(k, Entry("default<Oz>", i, i))
        os.utime(_entry_path(tmp_path, k), ns=(i * 10**9, i * 10**9))
    store.put("ab" + "f" * 30, Entry("default<Oz>", 9, 9))
    left = sorted(p.name for p in (tmp_path / "entries" / "ab").iterdir())
    assert len(left) == 3
    assert f"{keys[0]}.json" not in left and f"{keys[1]}.json" not in left


def test_key_ignores_file_name_but_not_code_or_flags():
    a = "; ModuleID = 'a.c'\nsource_filename = \"a.c\"\ndefine i32 @f() {\n  ret i32 0\n}\n"
    b = a.replace("a.c", "dir/b.c")
    c = a.replace("ret i32 0", "ret i32 1")
    assert cache_key(normalize_ir(a)) == cache_key(normalize_ir(b))
    assert cache_key(normalize_ir(a)) != cache_key(normalize_ir(c))
    assert cache_key(normalize_ir(a), "-fPIC") != cache_key(normalize_ir(a), "")


_GOOD = '"format": 1, "pipeline": "default<Oz>", "size": 1, "oz_size": 2, "source": "imported"'


@pytest.mark.parametrize("text", [
    '{"format": 1, "pipeline": "default<Oz>", "size": 1e400, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": 1, "oz_size": -1e400, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": NaN, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": Infinity, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": -1, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": 1.5, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": 1.0, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": true, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": "1", "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": 1, "oz_size": 99999999999999999999, '
    '"source": "imported"}',
    '{"format": 1, "pipeline": ["default<Oz>"], "size": 1, "oz_size": 2, "source": "imported"}',
    '{"format": 1, "pipeline": "default<Oz>", "size": 1, "oz_size": 2, "source": 7}',
    '{"format": 1, "pipeline": "default<Oz>", "size": 1, "oz_size": 2, "source": null}',
    '{"format": 1, "pipeline": "default<Oz>", "size": 1, "oz_size": 2}',
    '{' + _GOOD + ', "toolchain": false}',
    '{' + _GOOD.replace('"format": 1', '"format": true') + '}',
    '{' + _GOOD.replace('"format": 1', '"format": 1.0') + '}',
    '[' + _GOOD + ']',
    '[' * 20000 + ']' * 20000,
    '{"a": ' * 5000 + '1' + '}' * 5000,
    '{' + _GOOD + '}\xff',
])
def test_malformed_entry_is_corrupt_counted_and_removed(tmp_path, text):
    store = Store(str(tmp_path))
    key = cache_key("ir")
    path = _entry_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("latin-1") if text.endswith("\xff") else text.encode())
    assert store.get(key) is None
    assert store.corrupt == 1 and store.rejected == 0
    assert not path.exists()
    # The next compile searches and stores again.
    store.put(key, Entry("default<Oz>", 1, 2))
    assert store.get(key) == Entry("default<Oz>", 1, 2)


def test_well_formed_entry_parses_strictly():
    e = Entry.from_json('{' + _GOOD + ', "toolchain": "tc", "extra": 1}')
    assert e == Entry("default<Oz>", 1, 2, "imported", "tc")
    assert type(e.size) is int and type(e.oz_size) is int
    with pytest.raises(ValueError):
        Entry.from_json('[' * 20000)


def test_symlinked_entry_is_corrupt_and_never_followed(tmp_path):
    store = Store(str(tmp_path))
    outside = tmp_path / "outside.json"
    outside.write_text('{' + _GOOD + '}')
    key = cache_key("ir")
    path = _entry_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    path.symlink_to(outside)
    assert store.get(key) is None
    assert store.corrupt == 1
    assert not os.path.lexists(path)
    assert outside.read_text() == '{' + _GOOD + '}'


def test_fifo_entry_is_corrupt_and_does_not_block(tmp_path):
    store = Store(str(tmp_path))
    key = cache_key("ir")
    path = _entry_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with deadline(5):
        assert store.get(key) is None
    assert store.corrupt == 1


def test_put_failure_leaves_no_temporary(tmp_path, monkeypatch):
    store = Store(str(tmp_path))
    key = cache_key("ir")
    store.put(key, Entry("default<Oz>", 1, 1))

    def fail(src, dst):
        raise OSError(errno.EIO, "rename failed")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        store.put(key, Entry("default<Oz>", 2, 2))
    monkeypatch.undo()
    shard = _entry_path(tmp_path, key).parent
    assert sorted(p.name for p in shard.iterdir()) == [f"{key}.json"]
    assert store.get(key) == Entry("default<Oz>", 1, 1)


def test_put_is_not_blocked_by_another_writers_pid_named_temporary(tmp_path):
    # Containers sharing a cache reuse process ids: a PID-named temporary collides.
    store = Store(str(tmp_path))
    key = cache_key("ir")
    path = _entry_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    os.mkdir(f"{path}.{os.getpid()}.tmp")
    store.put(key, Entry("default<Oz>", 1, 1))
    assert store.get(key) == Entry("default<Oz>", 1, 1)


def test_symlinked_shard_is_not_written_evicted_counted_or_cleared(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for i in range(5):
        (outside / f"ab{i:030x}.json").write_text("{}")
    cache = tmp_path / "cache"
    (cache / "entries").mkdir(parents=True)
    (cache / "entries" / "ab").symlink_to(outside)
    store = Store(str(cache), max_entries=256)
    with pytest.raises(OSError):
        store.put("ab" + "f" * 30, Entry("default<Oz>", 1, 1))
    assert len(list(outside.iterdir())) == 5
    assert store.count() == 0
    assert list(store.items()) == []
    store.clear()
    assert len(list(outside.iterdir())) == 5


def test_eviction_only_removes_regular_entries(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    store = Store(str(tmp_path / "cache"), max_entries=256)
    keys = ["ab" + f"{i:030x}" for i in range(3)]
    store.put(keys[0], Entry("default<Oz>", 1, 1))
    shard = tmp_path / "cache" / "entries" / "ab"
    (shard / f"{keys[1]}.json").symlink_to(outside)
    (shard / "sub.json").mkdir()
    store.put(keys[2], Entry("default<Oz>", 1, 1))
    assert outside.exists()
    assert sorted(p.name for p in shard.iterdir()) == sorted(
        [f"{keys[1]}.json", "sub.json", f"{keys[2]}.json"])
    assert store.count() == 1


def test_clear_cache_dir_empties_stores_and_memos_but_not_stats_or_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    cache = tmp_path / "cache"
    Store(str(cache)).put(cache_key("a"), Entry("default<Oz>", 1, 1))
    Store(str(cache), kind="preprocessed").put(cache_key("b"), Entry("default<Oz>", 1, 1))
    (cache / "pipelines").mkdir()
    (cache / "pipelines" / "k.txt").write_text("default<Oz>\n")
    (cache / "pipelines" / "link.txt").symlink_to(outside / "keep.txt")
    (cache / "toolchain").mkdir()
    (cache / "toolchain" / "k.json").write_text("{}")
    (cache / "toolchain" / "sub").symlink_to(outside)
    (cache / "stats").mkdir()
    (cache / "stats" / "00.log").write_text('{"cache hits": 1}\n')
    assert clear_cache_dir(str(cache)) == 6
    assert Store(str(cache)).count() == 0
    for d in ("entries", "preprocessed", "pipelines", "toolchain"):
        assert not (cache / d).exists()
    assert (cache / "stats" / "00.log").exists()
    assert (outside / "keep.txt").read_text() == "keep"
    assert clear_cache_dir(str(tmp_path / "missing")) == 0
