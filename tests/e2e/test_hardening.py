"""Hostile cache contents and side channels: nothing unchecked reaches ``opt`` or
runs, and the user sees clang's own diagnostics."""

import glob
import json
import os
import shutil
import textwrap

import xxhash

from llmcc.store import stats
from tests.conftest import run

WARNS_C = textwrap.dedent("""\
    extern void old(void) __attribute__((warning("old() is deprecated here")));
    int big(int i) {
        volatile char buf[4096];
        buf[i] = 1;
        old();
        return buf[i / 2];
    }
""")


def _compile(llmcc, env, cwd, *args):
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "sample.o", *args], env=env, cwd=cwd)
    assert r.returncode == 0, r.stderr.decode()
    return (cwd / "sample.o").read_bytes(), r


def _forget_decisions(cache):
    for sub in ("entries", "preprocessed", "objects"):
        shutil.rmtree(cache / sub, ignore_errors=True)


def test_a_planted_oz_pipeline_memo_never_reaches_opt(llmcc, llmcc_env, sample_dir, tmp_path):
    cache = tmp_path / "cache"
    first, _ = _compile(llmcc, llmcc_env, sample_dir)
    memos = glob.glob(str(cache / "pipelines" / "*.txt"))
    assert memos
    hostile = "internalize,globaldce"  # would turn every default<Oz> candidate into nothing
    for m in memos:
        with open(m, "w") as f:
            f.write(f"{hostile}\nxxh3 {xxhash.xxh3_64_hexdigest(hostile.encode())}\n")
    _forget_decisions(cache)
    again, _ = _compile(llmcc, llmcc_env, sample_dir)
    assert again == first
    assert stats.read(str(cache))["corrupt cache entries"] >= 1
    # a truncated memo is noticed too, and the object is still the same
    for m in memos:
        with open(m, "w") as f:
            f.write("annotation2metadata,forceattrs\n")
    _forget_decisions(cache)
    assert _compile(llmcc, llmcc_env, sample_dir)[0] == first


def test_an_executable_named_in_the_toolchain_memo_is_never_run(llmcc, llmcc_env, sample_dir,
                                                                 tmp_path):
    cache = tmp_path / "cache"
    first, _ = _compile(llmcc, llmcc_env, sample_dir)
    marker = tmp_path / "pwned"
    fake = tmp_path / "evil-opt"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake.chmod(0o755)
    st = os.stat(fake)
    memos = glob.glob(str(cache / "toolchain" / "*.json"))
    assert memos
    for m in memos:
        rec = json.load(open(m))
        rec["opt"] = str(fake)
        rec["opt_stat"] = f"{os.path.realpath(fake)}:{st.st_size}:{st.st_mtime_ns}"
        json.dump(rec, open(m, "w"))
    _forget_decisions(cache)
    again, _ = _compile(llmcc, llmcc_env, sample_dir)
    assert not marker.exists()
    assert again == first


def test_backend_diagnostics_are_clangs_when_another_pipeline_wins(llmcc, clang, llmcc_env,
                                                                   tmp_path):
    src = tmp_path / "w"
    src.mkdir()
    (src / "warns.c").write_text(WARNS_C)
    flags = ["-O2", "-Wframe-larger-than=64", "-c", "warns.c"]
    want = run([clang, "-Oz"] + flags + ["-o", "ref.o"], cwd=src)
    assert b"frame size" in want.stderr and b"deprecated" in want.stderr
    env = dict(llmcc_env, LLMCC_FORCE_PIPELINE="default<Oz>,mergefunc")
    got = run([llmcc] + flags + ["-o", "warns.o"], env=env, cwd=src)
    assert got.returncode == 0
    assert got.stderr == want.stderr
    assert b".bc" not in got.stderr


def test_the_model_writes_nothing_outside_the_cache_and_prints_nothing(llmcc, clang, llmcc_env,
                                                                       sample_dir, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(llmcc_env, HOME=str(home), LLMCC_RANKER="model")
    env.pop("XDG_CACHE_HOME", None)
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "sample.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0 and r.stderr == b""
    assert list(home.iterdir()) == []
    env["HOME"] = str(tmp_path / "homeless-shelter")  # Nix: a HOME that does not exist
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "sample.o"],
            env=dict(env, LLMCC_CACHE_DIR=str(tmp_path / "cache2")), cwd=sample_dir)
    assert r.returncode == 0 and r.stderr == b""
    assert not (tmp_path / "homeless-shelter").exists()


def _candidates(stderr: bytes) -> list[str]:
    """Pipelines of the search line under LLMCC_DEBUG, in order."""
    line = [ln for ln in stderr.decode().splitlines() if " -> " in ln and "default<Oz>=" in ln]
    assert len(line) == 1, stderr.decode()
    return [c.rsplit("=", 1)[0] for c in line[0].split(": ", 1)[1].split(" -> ")[0].split(", ")]


def test_debug_info_does_not_change_the_candidates(llmcc, llmcc_env, sample_dir, tmp_path):
    env = dict(llmcc_env, LLMCC_DEBUG="1", LLMCC_RANKER="model")
    seen = []
    for g, cache in (([], "c1"), (["-g"], "c2")):
        r = run([llmcc, "-O2", *g, "-c", "sample.c", "-o", "sample.o"],
                env=dict(env, LLMCC_CACHE_DIR=str(tmp_path / cache)), cwd=sample_dir)
        assert r.returncode == 0
        seen.append(_candidates(r.stderr))
    assert seen[0] == seen[1] and len(seen[0]) > 1


def test_preprocessed_input_is_optimized(llmcc, clang, llmcc_env, sample_dir):
    pre = run([clang, "-E", "sample.c", "-o", "sample.i"], cwd=sample_dir)
    assert pre.returncode == 0
    env = dict(llmcc_env, LLMCC_DEBUG="1")
    r = run([llmcc, "-O2", "-c", "sample.i", "-o", "pre.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0, r.stderr.decode()
    assert b"falling back" not in r.stderr and b"passing through" not in r.stderr
    counters = stats.read(env["LLMCC_CACHE_DIR"])
    assert counters.get("fallback: internal error", 0) == 0
    assert counters.get("cache misses", 0) == 1
    ref = run([clang, "-Oz", "-c", "sample.i", "-o", "ref.o"], cwd=sample_dir)
    assert ref.returncode == 0
    from llmcc.llvm.objsize import object_size
    assert object_size(str(sample_dir / "pre.o")).total <= object_size(str(sample_dir / "ref.o")).total
    # a rebuild is a hit keyed on the preprocessed file itself
    r = run([llmcc, "-O2", "-c", "sample.i", "-o", "pre2.o"], env=env, cwd=sample_dir)
    assert (sample_dir / "pre2.o").read_bytes() == (sample_dir / "pre.o").read_bytes()


def test_a_response_file_too_large_for_a_command_line_is_optimized(llmcc, clang, llmcc_env,
                                                                    sample_dir):
    # 50,000 definitions: about 3 MB of arguments, more than a command line may carry
    import tempfile
    before = set(os.listdir(tempfile.gettempdir()))
    flags = [f'-DLLMCC_FLAG_{i}="value with spaces \\\\ and \\"quotes\\" {i}"'
             for i in range(50000)]
    (sample_dir / "flags.rsp").write_text("\n".join(flags) + "\n")
    r = run([llmcc, "-O2", "@flags.rsp", "-c", "sample.c", "-o", "s.o"], env=llmcc_env,
            cwd=sample_dir)
    assert r.returncode == 0, r.stderr.decode()[-500:]
    counters = stats.read(llmcc_env["LLMCC_CACHE_DIR"])
    assert counters["cache misses"] == 1
    assert not any(k.startswith(("fallback", "uncacheable")) for k in counters)
    ref = run([clang, "-Oz", "@flags.rsp", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir)
    assert ref.returncode == 0
    from llmcc.llvm.objsize import object_size
    assert object_size(str(sample_dir / "s.o")).total <= object_size(str(sample_dir / "ref.o")).total
    leaked = [n for n in set(os.listdir(tempfile.gettempdir())) - before if n.endswith(".rsp")]
    assert leaked == []


def test_a_cached_pipeline_whose_object_has_another_size_is_not_used(llmcc, clang, llmcc_env,
                                                                     sample_dir, tmp_path):
    """An allowlisted but planted pipeline (-O3 makes larger code) in a cache entry:
    the hit is measured against the entry's size and searched again instead."""
    cache = tmp_path / "cache"
    env = dict(llmcc_env, LLMCC_MAX_OBJECTS="0")
    # a loop that -O3 vectorizes and unrolls: larger than under -Oz
    (sample_dir / "sample.c").write_text(
        "void scale(float *a, int n) { for (int i = 0; i < n; i++) a[i] = a[i] * 3.0f + 1.0f; }\n")
    first, _ = _compile(llmcc, env, sample_dir)
    entries = list((cache / "entries").rglob("*.json"))
    assert len(entries) == 1
    entry = json.loads(entries[0].read_text())
    entry["pipeline"] = "default<O3>"
    entries[0].write_text(json.dumps(entry))
    shutil.rmtree(cache / "preprocessed", ignore_errors=True)
    again, _ = _compile(llmcc, env, sample_dir)
    assert again == first
    assert stats.read(str(cache))["cache entries with another size"] == 1
