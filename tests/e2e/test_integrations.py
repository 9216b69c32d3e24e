"""Integrations that build something real: masquerade shims, CMake, IR recording."""

import json
import os
import shutil
import sys

import pytest

from llmcc.store import stats
from tests.conftest import run
from tests.e2e.project import N_FILES, write_project

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_masquerade_shims_build_a_makefile_project(llmcc, llmcc_env, tmp_path):
    root = tmp_path / "proj"
    expected = write_project(root)
    env = dict(llmcc_env, PATH=f"{REPO}/shims:{llmcc_env['PATH']}")
    version = run(["cc", "--version"], env=env)
    assert b"clang version 19" in version.stdout  # the real clang answers
    r = run(["make", "-j4", "CC=cc"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    assert run(["./prog"], cwd=root).stdout == expected
    s = stats.read(env["LLMCC_CACHE_DIR"])
    assert s["cache misses"] == N_FILES + 1 and s["uncacheable: link"] == 1


def test_symlink_named_clang_is_the_compiler(llmcc_env, sample_dir, tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "llmcc")
    if not os.path.exists(script):
        script = shutil.which("llmcc")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(os.path.realpath(script), bindir / "clang")
    env = dict(llmcc_env, PATH=f"{bindir}:{llmcc_env['PATH']}")
    assert b"clang version 19" in run(["clang", "--version"], env=env).stdout
    r = run(["clang", "-O2", "-c", "sample.c"], env=env, cwd=sample_dir)
    assert r.returncode == 0, r.stderr
    assert stats.read(env["LLMCC_CACHE_DIR"])["cache misses"] == 1


def test_cmake_toolchain_file(llmcc_env, tmp_path):
    if shutil.which("cmake") is None:
        pytest.fail("cmake is required (apt-get install cmake)")
    src = tmp_path / "src"
    write_project(src)
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(demo C)\n"
        f"add_executable(prog main.c {' '.join(f'm{i}.c' for i in range(N_FILES))})\n")
    build = tmp_path / "build"
    r = run(["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
             f"-DCMAKE_TOOLCHAIN_FILE={REPO}/cmake/llmcc-toolchain.cmake"], env=llmcc_env)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert b"llmcc" in (build / "CMakeCache.txt").read_bytes()
    r = run(["cmake", "--build", str(build), "-j", "4"], env=llmcc_env)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    out = run([str(build / "prog")]).stdout
    assert out == write_project(tmp_path / "again")
    assert stats.read(llmcc_env["LLMCC_CACHE_DIR"])["cache misses"] == N_FILES + 1


def test_record_mode_stores_ir_and_manifest(llmcc, llmcc_env, sample_dir, tmp_path):
    rec = tmp_path / "rec"
    env = dict(llmcc_env, LLMCC_RECORD=str(rec), LLMCC_RECORD_PACKAGE="demo",
               LLMCC_CANDIDATES="0")
    for _ in range(2):
        run([llmcc, "-O2", "-fPIC", "-c", "sample.c", "main.c"], env=env, cwd=sample_dir,
            check=True)
    lines = [json.loads(x) for x in (rec / "records.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and {x["package"] for x in lines} == {"demo"}
    assert len(list(rec.rglob("*.ll"))) == 2
    first = lines[0]
    assert first["codegen_args"] == ["-fPIC"] and first["oz_size"] > 0
    assert (rec / "ir" / first["ir_hash"][:2] / f"{first['ir_hash']}.ll").read_text().startswith(
        "; ModuleID")


def test_static_ranker_pipelines_are_accepted_by_opt(clang, sample_dir, tmp_path):
    from llmcc.llvm.passes import check_pipeline
    from llmcc.rank.rankers import STARTER_PIPELINES, load_coreset
    ir = tmp_path / "x.ll"
    run([clang, "-Oz", "-Xclang", "-disable-llvm-passes", "-S", "-emit-llvm", "sample.c", "-o",
         str(ir)], cwd=sample_dir, check=True)
    opt = os.path.join(os.path.dirname(os.path.realpath(clang)), "opt")
    from llmcc.llvm.passes import split_decision, with_mandatory_passes
    assert load_coreset() != STARTER_PIPELINES  # the tuned coreset ships
    for p in STARTER_PIPELINES + load_coreset():
        assert check_pipeline(p) == p
        pipeline, options = split_decision(p)  # vetted options go to opt's argv
        r = run([opt, *options, "-p", with_mandatory_passes(pipeline), str(ir), "-o",
                 os.devnull])
        assert r.returncode == 0, (p, r.stderr)


def test_ccache_in_front_keys_on_llmcc_identity(llmcc, llmcc_env, sample_dir, tmp_path):
    """CC="ccache llmcc" with compiler_check on `llmcc --identity`: a change of what
    decides llmcc's objects (here k) is a ccache miss; the same settings hit."""
    if shutil.which("ccache") is None:
        pytest.fail("ccache is required (apt-get install ccache)")
    env = dict(llmcc_env, CCACHE_DIR=str(tmp_path / "ccache"), CCACHE_NOHASHDIR="1",
               CCACHE_COMPILERCHECK="%compiler% --identity")

    def build(k):
        e = dict(env, LLMCC_CANDIDATES=str(k))
        r = run(["ccache", llmcc, "-O2", "-c", "sample.c", "-o", "s.o"], env=e, cwd=sample_dir)
        assert r.returncode == 0, r.stderr
        return stats.read(env["LLMCC_CACHE_DIR"])["cache misses"]

    assert build(0) == 1
    assert build(0) == 1   # ccache hit: llmcc did not run
    assert build(2) == 2   # new identity: ccache miss, llmcc searched again
    assert build(2) == 2


def test_ccache_documented_settings_give_direct_mode_hits_without_llmcc(llmcc, llmcc_env,
                                                                         sample_dir, tmp_path):
    """README's settings: compiler_check on the identity string computed once, compiler
    type clang. The second compile is a ccache direct-mode hit: llmcc never starts."""
    if shutil.which("ccache") is None:
        pytest.fail("ccache is required (apt-get install ccache)")
    ident = run([llmcc, "--identity"], env=llmcc_env, check=True).stdout.decode().strip()
    env = dict(llmcc_env, CCACHE_DIR=str(tmp_path / "ccache"), CCACHE_COMPILERTYPE="clang",
               CCACHE_COMPILERCHECK=f"string:{ident}", CCACHE_DIRECT="1")
    for out in ("a.o", "b.o"):
        r = run(["ccache", llmcc, "-O2", "-MD", "-c", "sample.c", "-o", out], env=env,
                cwd=sample_dir)
        assert r.returncode == 0, r.stderr
    assert (sample_dir / "a.o").read_bytes() == (sample_dir / "b.o").read_bytes()
    counters = stats.read(env["LLMCC_CACHE_DIR"])
    assert counters["cache misses"] == 1 and counters.get("cache hits", 0) == 0
    printed = run(["ccache", "--print-stats"], env=env).stdout.decode()
    ccache_stats = dict(line.split("\t", 1) for line in printed.splitlines() if "\t" in line)
    assert int(ccache_stats["direct_cache_hit"]) == 1


def test_prefix_runs_handed_over_calls_through_ccache(llmcc, llmcc_env, sample_dir, tmp_path):
    """LLMCC_PREFIX=ccache: calls llmcc hands to clang whole (here a -O0 debug compile)
    go through ccache, so the second one is a ccache hit."""
    if shutil.which("ccache") is None:
        pytest.fail("ccache is required (apt-get install ccache)")
    env = dict(llmcc_env, LLMCC_PREFIX="ccache", CCACHE_DIR=str(tmp_path / "ccache"))
    for _ in range(2):
        r = run([llmcc, "-O0", "-c", "sample.c", "-o", "dbg.o"], env=env, cwd=sample_dir)
        assert r.returncode == 0, r.stderr
    out = run(["ccache", "--print-stats"], env=env).stdout.decode()
    hits = {line.split("\t")[0]: int(line.split("\t")[1]) for line in out.splitlines()
            if "\t" in line and line.split("\t")[1].isdigit()}
    assert hits.get("direct_cache_hit", 0) + hits.get("preprocessed_cache_hit", 0) == 1
    assert stats.read(env["LLMCC_CACHE_DIR"])["uncacheable: debug build"] == 2


EXAMPLE_OUTPUT = b"414fa339 five 77 95\n"


def test_cmake_example_with_the_toolchain_file(llmcc_env, tmp_path):
    src = tmp_path / "cmake"
    shutil.copytree(os.path.join(REPO, "examples", "cmake"), src)
    shutil.copytree(os.path.join(REPO, "examples", "src"), tmp_path / "src")
    build = tmp_path / "build"
    r = run(["cmake", "-S", str(src), "-B", str(build),
             f"-DCMAKE_TOOLCHAIN_FILE={REPO}/cmake/llmcc-toolchain.cmake"], env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    r = run(["cmake", "--build", str(build), "-j", "2"], env=llmcc_env)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert run([str(build / "hello")]).stdout == EXAMPLE_OUTPUT
    assert stats.read(llmcc_env["LLMCC_CACHE_DIR"])["cache misses"] == 4


def test_make_example_with_masquerade_shims(llmcc_env, tmp_path):
    src = tmp_path / "make"
    shutil.copytree(os.path.join(REPO, "examples", "make"), src)
    shutil.copytree(os.path.join(REPO, "examples", "src"), tmp_path / "src")
    env = dict(llmcc_env, PATH=f"{REPO}/shims:{llmcc_env['PATH']}")
    r = run(["make", "-j2"], env=env, cwd=src)
    assert r.returncode == 0, r.stderr.decode()
    assert run([str(src / "hello")]).stdout == EXAMPLE_OUTPUT
    s = stats.read(env["LLMCC_CACHE_DIR"])
    assert s["cache misses"] == 4 and s["uncacheable: link"] == 1
