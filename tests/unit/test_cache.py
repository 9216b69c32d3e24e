"""The decision cache: round trip, corruption, allowlist, eviction, keys."""

import json
import os

from llmcc.store.cache import Entry, Store, cache_key, normalize_ir


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
