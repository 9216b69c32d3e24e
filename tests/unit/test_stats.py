"""Statistics: lock-free journal appends, folding, concurrent writers, zeroing."""

import multiprocessing

from llmcc.store import stats


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
