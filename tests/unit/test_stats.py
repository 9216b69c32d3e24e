"""Statistics: lock-free journal appends, folding, concurrent writers, zeroing."""

import errno
import multiprocessing
import os

from llmcc.store import stats
from tests.conftest import deadline


def _worker(cache_dir, n):
    for _ in range(n):
        stats.add(cache_dir, {"cache hits": 1, "bytes -Oz": 10})


def test_concurrent_processes_lose_no_update(tmp_path, monkeypatch):
    monkeypatch.setattr(stats, "FOLD_BYTES", 2000)
    monkeypatch.setattr(stats, "SETTLE_SECONDS", 0.0)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), 200)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    total = stats.read(str(tmp_path))
    assert total["cache hits"] == 1200 and total["bytes -Oz"] == 12000
    assert any(p.name.endswith(".json") for p in (tmp_path / "stats").iterdir())  # folded


def test_zero_and_unwritable_dir(tmp_path):
    stats.add(str(tmp_path), {"cache misses": 2})
    assert stats.read(str(tmp_path))["cache misses"] == 2
    stats.zero(str(tmp_path))
    assert stats.read(str(tmp_path)) == {}
    stats.add("/proc/no-such-dir", {"x": 1})  # swallowed
    assert stats.read("/proc/no-such-dir") == {}


def test_corrupt_journal_lines_are_skipped(tmp_path):
    stats.add(str(tmp_path), {"cache hits": 1})
    with open(next((tmp_path / "stats").glob("*.log")), "a") as f:
        f.write("{garbage\n")
    stats.add(str(tmp_path), {"cache hits": 1})
    assert stats.read(str(tmp_path))["cache hits"] == 2


def _journal_name():
    return f"{os.getpid() % stats.SHARDS:02d}.log"


def test_malformed_counter_lines_are_skipped_without_raising(tmp_path):
    d = tmp_path / "stats"
    d.mkdir()
    bad = ['{"cache hits": 1e400}', '{"cache hits": -1e400}', '{"cache hits": NaN}',
           '{"cache hits": Infinity}', '{"cache hits": true}', '{"cache hits": -3}',
           '{"cache hits": 1.5}', '{"cache hits": "7"}', '{"cache hits": 1, "x": null}',
           '[1, 2]', '"text"', '[' * 20000, '{"a": ' * 5000 + '1' + '}' * 5000]
    (d / _journal_name()).write_text("\n".join(bad + ['{"cache hits": 2}']) + "\n")
    (d / "03.json").write_bytes(b'{"cache hits": 1e400}\n\xff\xfe\n{"cache misses": 4}\n')
    total = stats.read(str(tmp_path))
    assert total == {"cache hits": 2, "cache misses": 4}
    stats.add(str(tmp_path), {"cache hits": 1})
    assert stats.read(str(tmp_path))["cache hits"] == 3


def test_symlinked_journal_is_not_followed_written_or_counted(tmp_path):
    target = tmp_path / "target"
    target.write_text('{"cache hits": 5}\n')
    d = tmp_path / "cache" / "stats"
    d.mkdir(parents=True)
    (d / _journal_name()).symlink_to(target)
    (d / "07.json").symlink_to(target)
    stats.add(str(tmp_path / "cache"), {"cache hits": 1})  # skipped, no error
    assert target.read_text() == '{"cache hits": 5}\n'
    assert stats.read(str(tmp_path / "cache")) == {}
    stats.zero(str(tmp_path / "cache"))
    assert target.read_text() == '{"cache hits": 5}\n'


def test_symlinked_stats_directory_is_not_written_read_or_zeroed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "00.json").write_text('{"cache hits": 5}\n')
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "stats").symlink_to(outside)
    stats.add(str(cache), {"cache hits": 1})
    assert sorted(p.name for p in outside.iterdir()) == ["00.json"]
    assert stats.read(str(cache)) == {}
    stats.zero(str(cache))
    assert (outside / "00.json").read_text() == '{"cache hits": 5}\n'


def test_fifo_journal_does_not_block(tmp_path):
    d = tmp_path / "stats"
    d.mkdir()
    os.mkfifo(d / _journal_name())
    with deadline(5):
        stats.add(str(tmp_path), {"cache hits": 1})
        assert stats.read(str(tmp_path)) == {}


def test_failed_fold_leaves_no_temporary_and_loses_no_count(tmp_path, monkeypatch):
    monkeypatch.setattr(stats, "FOLD_BYTES", 10)
    monkeypatch.setattr(stats, "SETTLE_SECONDS", -1.0)
    real = os.replace

    def fail_on_totals(src, dst, **kw):
        if str(dst).endswith(".json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", fail_on_totals)
    stats.add(str(tmp_path), {"cache hits": 1})
    stats.add(str(tmp_path), {"cache hits": 1})
    names = [p.name for p in (tmp_path / "stats").iterdir()]
    assert not [n for n in names if n.endswith(".tmp")]
    assert stats.read(str(tmp_path))["cache hits"] == 2
    monkeypatch.setattr(os, "replace", real)
    stats.add(str(tmp_path), {"cache hits": 1})
    assert stats.read(str(tmp_path))["cache hits"] == 3
    assert (tmp_path / "stats" / f"{os.getpid() % stats.SHARDS:02d}.json").exists()


def test_settling_journal_names_are_not_process_ids(tmp_path, monkeypatch):
    # Two containers may fold with the same process id in the same nanosecond.
    monkeypatch.setattr(stats, "FOLD_BYTES", 10)
    monkeypatch.setattr(stats, "SETTLE_SECONDS", 1e9)
    monkeypatch.setattr(stats.time, "time_ns", lambda: 1)
    stats.add(str(tmp_path), {"cache hits": 1})
    stats.add(str(tmp_path), {"cache hits": 1})
    settling = [p.name for p in (tmp_path / "stats").iterdir() if p.name.endswith(".settling")]
    assert len(settling) == 2
    assert stats.read(str(tmp_path))["cache hits"] == 2


def test_symlinked_lock_file_is_not_followed(tmp_path, monkeypatch):
    monkeypatch.setattr(stats, "FOLD_BYTES", 10)
    monkeypatch.setattr(stats, "SETTLE_SECONDS", -1.0)
    target = tmp_path / "target"
    target.write_text("keep")
    d = tmp_path / "stats"
    d.mkdir()
    (d / f"{os.getpid() % stats.SHARDS:02d}.json.lock").symlink_to(target)
    stats.add(str(tmp_path), {"cache hits": 1})
    assert target.read_text() == "keep"
    assert stats.read(str(tmp_path))["cache hits"] == 1
