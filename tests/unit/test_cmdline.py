"""Classification of compiler command lines, case by case."""

import pytest

from llmcc.compile.cmdline import Compile, PassThrough, classify, expand_response_files

PASS = [
    (["x.c", "-o", "x"], "link"),
    (["x.o", "y.o", "-o", "prog"], "link"),
    (["-E", "x.c"], "preprocessing"),
    (["-c", "-E", "x.c"], "preprocessing"),
    (["-S", "x.c"], "assembly output"),
    (["-M", "x.c"], "dependencies only"),
    (["-MM", "x.c"], "dependencies only"),
    (["-c", "-MM", "x.c"], "dependencies only"),
    (["-fsyntax-only", "x.c"], "syntax only"),
    (["-c", "-emit-llvm", "x.c"], "IR output"),
    (["-c", "-flto", "x.c"], "LTO"),
    (["-c", "-flto=thin", "x.c"], "LTO"),
    (["-c", "x.s"], "unsupported input"),
    (["-c", "x.S"], "unsupported input"),
    (["-c", "x.ll"], "unsupported input"),
    (["-c", "x.bc"], "unsupported input"),
    (["-c", "x.m"], "unsupported input"),
    (["-c", "x.c", "-o", "-"], "output to stdout"),
    (["-c", "x.c", "-o", "/dev/null"], "output to a device"),
    (["-c", "-x", "c", "-"], "stdin input"),
    (["--version"], "version query"),
    (["-###", "-c", "x.c"], "driver dry run"),
    (["-c", "-x", "cuda", "x.cu"], "unsupported language"),
    (["-c", "-x", "assembler", "x.c"], "unsupported language"),
    (["-c", "-O0", "x.c"], "debug build"),
    (["-c", "-Og", "x.c"], "debug build"),
    (["-c", "-fsanitize=address", "x.c"], "instrumentation"),
    (["-c", "--coverage", "x.c"], "instrumentation"),
    (["-c", "-fprofile-instr-generate", "x.c"], "profile"),
    (["-c", "-Xclang", "-foo", "x.c"], "unsupported option"),
    (["-c", "-mllvm", "-inline-threshold=5", "x.c"], "unsupported option"),
    (["-c", "-save-temps", "x.c"], "unsupported option"),
    (["-c", "a.c", "b.c", "-o", "x.o"], "-o with several sources"),
    (["-c"], "no source input"),
    (["-c", "x.h"], "unsupported input"),
    (["-c", "-o"], "malformed command line"),
]


@pytest.mark.parametrize("args,reason", PASS)
def test_passes_through(args, reason):
    assert classify(args) == PassThrough(reason)


OPTIMIZE = [
    # args, [(source, output, language)], opt level
    (["-c", "x.c"], [("x.c", "x.o", "c")], None),
    (["-c", "-O2", "src/x.c", "-o", "obj/x.o"], [("src/x.c", "obj/x.o", "c")], "-O2"),
    (["-c", "-Os", "x.cpp"], [("x.cpp", "x.o", "c++")], "-Os"),
    (["-c", "-O3", "dir/a.c", "b.cc"], [("dir/a.c", "a.o", "c"), ("b.cc", "b.o", "c++")], "-O3"),
    (["-c", "-x", "c", "weird.txt"], [("weird.txt", "weird.o", "c")], None),
    (["-c", "-x", "c++", "a.c", "-x", "none", "b.c"], [("a.c", "a.o", "c++"), ("b.c", "b.o", "c")], None),
    (["-c", "x.i", "-oout.o"], [("x.i", "out.o", "cpp-output")], None),
    (["-c", "-O", "x.c"], [("x.c", "x.o", "c")], "-O1"),
    (["-c", "-O0", "-O2", "x.c"], [("x.c", "x.o", "c")], "-O2"),
]


@pytest.mark.parametrize("args,units,level", OPTIMIZE)
def test_optimizes(args, units, level):
    job = classify(args)
    assert isinstance(job, Compile)
    assert [(u.source, u.output, u.language) for u in job.units] == units
    assert job.opt_level == level


@pytest.mark.parametrize("policy,level,optimized", [
    ("default", "-O0", False), ("default", "-Og", False), ("default", "-O2", True),
    ("default", None, True), ("explicit", "-O2", False), ("explicit", "-Oz", True),
    ("explicit", "-Os", True), ("explicit", None, False), ("all", "-O0", True),
])
def test_policy(policy, level, optimized):
    args = ["-c", "x.c"] + ([level] if level else [])
    assert isinstance(classify(args, policy=policy), Compile) == optimized


def test_unknown_policy_is_an_error():
    with pytest.raises(ValueError):
        classify(["-c", "x.c"], policy="fast")


def test_flags_are_split_between_lowering_and_codegen():
    job = classify(["-c", "-O2", "-Iinc", "-DX=1", "-include", "cfg.h", "-fPIC", "-g",
                    "-Wall", "-MMD", "-MP", "x.c", "-o", "o/x.o"])
    lower = job.lower_args(job.units[0], "/t/x.ll")
    for flag in ("-Iinc", "-DX=1", "cfg.h", "-fPIC", "-g", "-MMD", "-MP"):
        assert flag in lower
    assert lower[-1] == "x.c" and "-O2" not in lower
    assert lower[lower.index("-MF") + 1] == "o/x.d"
    assert lower[lower.index("-MQ") + 1] == "o/x.o"
    cg = job.codegen_args("in.bc", "out.o", optimize=False)
    assert "-fPIC" in cg and "-g" in cg and "-Wall" in cg
    for flag in ("-Iinc", "-DX=1", "cfg.h", "-MMD", "x.c", "o/x.o"):
        assert flag not in cg
    assert cg[cg.index("-x") + 1] == "ir"


def test_dependency_defaults_without_o():
    job = classify(["-c", "-MD", "src/x.c"])
    lower = job.lower_args(job.units[0], "/t/x.ll")
    assert lower[lower.index("-MF") + 1] == "x.d"
    assert lower[lower.index("-MQ") + 1] == "x.o"


def test_user_dependency_target_is_kept():
    job = classify(["-c", "-MD", "-MT", "custom", "-MF", "deps/x.dep", "x.c"])
    lower = job.lower_args(job.units[0], "/t/x.ll")
    assert "-MQ" not in lower and lower.count("-MF") == 1
    assert "custom" in lower and "deps/x.dep" in lower


def test_ofast_keeps_fast_math():
    job = classify(["-c", "-Ofast", "x.c"])
    assert "-ffast-math" in job.common


def test_response_files_expand_recursively(tmp_path):
    inner = tmp_path / "inner.rsp"
    inner.write_text("-DINNER '-DQUOTED=a b'\n")
    outer = tmp_path / "outer.rsp"
    outer.write_text(f'-c "x.c" @{inner}\n')
    assert expand_response_files(["-O2", f"@{outer}"]) == [
        "-O2", "-c", "x.c", "-DINNER", "-DQUOTED=a b"]


def test_missing_response_file_is_kept_for_clang():
    assert expand_response_files(["@/nonexistent/file.rsp"]) == ["@/nonexistent/file.rsp"]


def test_cache_identity_ignores_warnings_and_prefix_maps():
    a = classify(["-c", "-O2", "-fPIC", "-Wall", "-ffile-prefix-map=/a=/src", "x.c"])
    b = classify(["-c", "-O2", "-fPIC", "-Wextra", "-ffile-prefix-map=/b/c=/src",
                  "-frandom-seed=bazel-out/k8-opt/bin/x.o", "-iquote", "bazel-out/k8-opt/bin", "x.c"])
    c = classify(["-c", "-O2", "-Wa,--noexecstack", "x.c"])
    assert a.codegen_identity() == b.codegen_identity() == ("-fPIC",)
    assert c.codegen_identity() == ("-Wa,--noexecstack",)
