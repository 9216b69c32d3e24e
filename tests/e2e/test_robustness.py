"""llmcc never breaks a build: parallel builds, corrupt caches, crashing or hanging opt."""

import json
import os
import stat

import pytest

from llmcc.llvm.objsize import object_size
from tests.conftest import run
from tests.e2e.project import objects, N_FILES, write_project


def _stats(llmcc, env):
    from llmcc.store import stats
    return stats.read(env["LLMCC_CACHE_DIR"])


def _make(root, env, *extra):
    r = run(["make", "-j6", f"CC={env['CC']}"] + list(extra), env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    return r


def test_parallel_builds_share_one_cache_and_survive_corruption(llmcc, llmcc_env, tmp_path):
    env = dict(llmcc_env, CC=llmcc)
    root = tmp_path / "proj"
    expected = write_project(root)
    _make(root, env)
    assert run(["./prog"], cwd=root).stdout == expected
    cold = objects(root)
    s = _stats(llmcc, env)
    assert s["cache misses"] == N_FILES + 1 and s["cache hits"] == 0

    _make(root, env, "clean")
    _make(root, env)
    assert objects(root) == cold
    assert _stats(llmcc, env)["cache hits"] == N_FILES + 1

    # decisions by IR and by preprocessed source (see driver.preprocessed_key)
    entries = sorted((tmp_path / "cache" / "entries").rglob("*.json"))
    entries += sorted((tmp_path / "cache" / "preprocessed").rglob("*.json"))
    entries += sorted((tmp_path / "cache" / "objects").rglob("*.obj"))
    assert len(entries) == 3 * (N_FILES + 1)
    for i, p in enumerate(entries):
        p.write_bytes(b"" if i % 2 else b"\x89garbage{\"pipeline\":")
    _make(root, env, "clean")
    _make(root, env)
    assert objects(root) == cold
    assert run(["./prog"], cwd=root).stdout == expected
    assert _stats(llmcc, env)["corrupt cache entries"] == 3 * (N_FILES + 1)


def test_disallowed_pipeline_in_cache_is_rejected(llmcc, llmcc_env, tmp_path):
    env = dict(llmcc_env, CC=llmcc, LLMCC_MAX_OBJECTS="0")  # decisions, not stored objects
    root = tmp_path / "proj"
    expected = write_project(root)
    _make(root, env)
    cold = objects(root)
    marker = tmp_path / "pwned"
    for p in (tmp_path / "cache").glob("*/*/*.json"):
        entry = json.loads(p.read_text())
        entry["pipeline"] = f"function(instcombine),-load-pass-plugin={marker}"
        p.write_text(json.dumps(entry))
    _make(root, env, "clean")
    _make(root, env)
    assert objects(root) == cold
    assert run(["./prog"], cwd=root).stdout == expected
    assert _stats(llmcc, env)["rejected pipelines"] == 2 * (N_FILES + 1)


FAKE_OPT = """#!/bin/sh
for a in "$@"; do
  if [ "$a" = "--version" ]; then exec {real} --version; fi
done
{action}
"""


@pytest.mark.parametrize("action,reason", [
    ("kill -SEGV $$", "crash"),
    ("exec sleep 600", "hang"),
    ("echo 'opt: garbage' >&2; exit 3", "error"),
])
def test_broken_opt_falls_back_to_clang_oz(llmcc, clang, llmcc_env, sample_dir, tmp_path,
                                           action, reason):
    real_opt = os.path.join(os.path.dirname(os.path.realpath(clang)), "opt")
    fake = tmp_path / "bin" / "opt-19"
    fake.parent.mkdir()
    fake.write_text(FAKE_OPT.format(real=real_opt, action=action))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = dict(llmcc_env, PATH=f"{fake.parent}:{os.environ['PATH']}", LLMCC_TIMEOUT="2",
               LLMCC_CANDIDATES="2")
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0 and r.stderr == b""
    run([clang, "-Oz", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    assert (sample_dir / "out.o").read_bytes() == (sample_dir / "ref.o").read_bytes()
    s = _stats(llmcc, env)
    assert s["candidates failed"] == 2 and s["cache misses"] == 1


def test_mismatched_opt_means_plain_clang(llmcc, clang, llmcc_env, sample_dir, tmp_path):
    fake = tmp_path / "opt"
    fake.write_text("#!/bin/sh\necho 'LLVM version 14.0.6'\n")
    fake.chmod(0o755)
    env = dict(llmcc_env, LLMCC_OPT=str(fake), LLMCC_DEBUG="1")
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0
    assert b"no usable opt" in r.stderr and b"LLVM 14" in r.stderr
    run([clang, "-O2", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    assert (sample_dir / "out.o").read_bytes() == (sample_dir / "ref.o").read_bytes()
    assert _stats(llmcc, env)["fallback: opt unavailable"] == 1


def test_unwritable_cache_still_builds(llmcc, clang, llmcc_env, sample_dir, tmp_path):
    if os.geteuid() == 0:
        cache = "/proc/llmcc-cache"  # not creatable even by root
    else:
        cache = str(tmp_path / "ro")
        os.mkdir(cache, 0o500)
    env = dict(llmcc_env, LLMCC_CACHE_DIR=cache)
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0 and r.stderr == b""
    run([clang, "-Oz", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    assert object_size(str(sample_dir / "out.o")).total <= object_size(str(sample_dir / "ref.o")).total


def test_disable_passes_everything_through(llmcc, clang, llmcc_env, sample_dir):
    env = dict(llmcc_env, LLMCC_DISABLE="1")
    run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir, check=True)
    run([clang, "-O2", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    assert (sample_dir / "out.o").read_bytes() == (sample_dir / "ref.o").read_bytes()


def test_readonly_cache_is_not_written(llmcc, llmcc_env, sample_dir, tmp_path):
    env = dict(llmcc_env, LLMCC_READONLY="1")
    run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir, check=True)
    assert not list((tmp_path / "cache").rglob("entries/*/*.json"))


def test_a_hanging_opt_costs_one_budget_and_leaves_no_process(llmcc, clang, llmcc_env,
                                                              sample_dir, tmp_path):
    import time
    real_opt = os.path.join(os.path.dirname(os.path.realpath(clang)), "opt")
    pids = tmp_path / "pids"
    fake = tmp_path / "bin" / "opt-19"
    fake.parent.mkdir()
    # opt that starts a child and hangs: both must be killed
    fake.write_text(FAKE_OPT.format(real=real_opt,
                                    action=f"sleep 600 & echo $! >> {pids}\nwait"))
    fake.chmod(0o755)
    env = dict(llmcc_env, PATH=f"{fake.parent}:{os.environ['PATH']}", LLMCC_TIMEOUT="3",
               LLMCC_CANDIDATES="4", LLMCC_RANKER="static")
    t0 = time.monotonic()
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir,
            timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stderr.decode()
    # four hanging candidates at 3 s each would take 12 s; one budget is 3 s
    assert elapsed < 10, elapsed
    for pid in pids.read_text().split():
        assert not os.path.exists(f"/proc/{pid}") or b"zombie" in open(
            f"/proc/{pid}/status", "rb").read().lower()
    s = _stats(llmcc, env)
    assert s["decisions not cached (timeout)"] == 1
    assert not list((tmp_path / "cache").glob("entries/*/*.json"))


def test_a_wrapper_loop_back_to_llmcc_is_an_error_not_a_hang(llmcc, llmcc_env, sample_dir,
                                                             tmp_path):
    wrapper = tmp_path / "clang-wrapper"
    wrapper.write_text('#!/bin/sh\nexec "$NEXT_COMPILER" "$@"\n')  # names no llmcc
    wrapper.chmod(0o755)
    env = dict(llmcc_env, LLMCC_CLANG=str(wrapper), NEXT_COMPILER=llmcc)
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir,
            timeout=120)
    assert r.returncode != 0
    assert b"called again" in r.stderr
