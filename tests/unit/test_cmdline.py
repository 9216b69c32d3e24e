"""Classification of compiler command lines, case by case."""

import os

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


# --- side outputs of llmcc's own clang runs --------------------------------

SIDE_OUTPUTS = [
    # dependency files requested through the preprocessor: clang's driver turns
    # -Wp,-MD,FILE into -MD -MF FILE with the internal run's -o as target
    (["-c", "-Wp,-MD,x.d", "x.c"], "side output"),
    (["-c", "-Wp,-MMD,obj/.x.o.d", "x.c", "-o", "obj/x.o"], "side output"),
    (["-c", "-Wp,-MMD,x.d,-MT,x.o", "x.c"], "side output"),
    (["-c", "-Wp,-MT,x.o", "x.c"], "side output"),
    (["-c", "-Xpreprocessor", "-MD", "x.c"], "side output"),
    # compilation database fragments, stack usage, statistics, diagnostics files
    (["-c", "-MJ", "x.json", "x.c"], "side output"),
    (["-c", "-MJx.json", "x.c"], "side output"),
    (["-c", "-fstack-usage", "x.c"], "side output"),
    (["-c", "-save-stats", "x.c"], "side output"),
    (["-c", "-save-stats=obj", "x.c"], "side output"),
    (["-c", "-fproc-stat-report=p.csv", "x.c"], "side output"),
    (["-c", "-serialize-diagnostics", "x.dia", "x.c"], "side output"),
    (["-c", "--serialize-diagnostics", "x.dia", "x.c"], "side output"),
    (["-c", "-fdump-record-layouts", "x.c"], "side output"),
    # the command line (with llmcc's temporary paths) recorded in the object
    (["-c", "-frecord-command-line", "x.c"], "records command line"),
    (["-c", "-frecord-gcc-switches", "x.c"], "records command line"),
    (["-c", "-g", "-grecord-command-line", "x.c"], "records command line"),
    (["-c", "-g", "-grecord-gcc-switches", "x.c"], "records command line"),
    # optimization records and remarks, time traces, temporaries, split DWARF
    (["-c", "-foptimization-record-file=x.yaml", "x.c"], "optimization remarks"),
    (["-c", "-foptimization-record-passes=inline", "x.c"], "optimization remarks"),
    (["-c", "-fsave-optimization-record", "x.c"], "optimization remarks"),
    (["-c", "-fsave-optimization-record=bitstream", "x.c"], "optimization remarks"),
    (["-c", "-Rpass=inline", "x.c"], "optimization remarks"),
    (["-c", "-Rpass-missed=.*", "x.c"], "optimization remarks"),
    (["-c", "-ftime-trace", "x.c"], "unsupported option"),
    (["-c", "-ftime-trace=t.json", "x.c"], "unsupported option"),
    (["-c", "--save-temps", "x.c"], "unsupported option"),
    (["-c", "-g", "-gsplit-dwarf=split", "x.c"], "unsupported option"),
    (["-c", "-g", "-gsplit-dwarf=single", "x.c"], "unsupported option"),
]


@pytest.mark.parametrize("args,reason", SIDE_OUTPUTS)
def test_side_outputs_pass_through(args, reason):
    assert classify(args) == PassThrough(reason)


def test_side_output_options_as_arguments_are_not_options():
    # -Wp, or -MJ as the argument of another option (here a macro value) is no option
    job = classify(["-c", "-D", "-MJ", "-I", "-Wp,-MD,x.d", "x.c"])
    assert isinstance(job, Compile)


def test_normal_dependency_options_still_optimize():
    job = classify(["-c", "-MMD", "-MF", "x.d", "-Wp,-DX=1", "-fno-record-command-line", "x.c"])
    assert isinstance(job, Compile)
    assert "-Wp,-DX=1" in job.preprocessor


@pytest.mark.parametrize("alias,canonical", [
    (["--write-dependencies"], ["-MD"]), (["--write-user-dependencies"], ["-MMD"]),
])
def test_gnu_dependency_aliases_write_the_users_file(alias, canonical):
    job = classify(["-c"] + alias + ["x.c", "-o", "obj/x.o"])
    lower = job.lower_args(job.units[0], "/t/x.ll")
    assert canonical[0] in lower and alias[0] not in lower
    assert lower[lower.index("-MF") + 1] == "obj/x.d"
    assert lower[lower.index("-MQ") + 1] == "obj/x.o"


@pytest.mark.parametrize("args,reason", [
    (["--compile", "--preprocess", "x.c"], "preprocessing"),
    (["-c", "--assemble", "x.c"], "assembly output"),
    (["-c", "--dependencies", "x.c"], "dependencies only"),
    (["-c", "--user-dependencies", "x.c"], "dependencies only"),
    (["-c", "--verbose", "x.c"], "verbose driver"),
    (["--compile", "--optimize=0", "x.c"], "debug build"),
])
def test_gnu_aliases_pass_through(args, reason):
    assert classify(args) == PassThrough(reason)


@pytest.mark.parametrize("args,output,language", [
    (["-c", "x.c", "--output=obj/y.o"], "obj/y.o", "c"),
    (["-c", "x.c", "--output", "obj/y.o"], "obj/y.o", "c"),
    (["--compile", "--language=c++", "x.c"], "x.o", "c++"),
    (["-c", "--language", "c++", "x.c"], "x.o", "c++"),
])
def test_gnu_output_and_language_aliases(args, output, language):
    job = classify(args)
    assert isinstance(job, Compile)
    unit = job.units[0]
    assert (unit.output, unit.language, unit.explicit_language) == (output, language,
                                                                    language == "c++")
    assert not any(a.startswith(("--output", "--language")) for a in job.common)


# --- response files: LLVM's GNU tokenizer ----------------------------------

def _rsp(tmp_path, text, name="a.rsp"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return f"@{path}"


@pytest.mark.parametrize("text,expected", [
    ('-o "out\\.o" x.c', ["-o", "out.o", "x.c"]),          # \ escapes any character in "..."
    ("'sq\\x' 'a\\'b'", ["sqx", "a'b"]),                     # ... and in '...' too
    ('"q\\"x" \'x"y\'', ['q"x', 'x"y']),
    ("a\\ b c\\\\d", ["a b", "c\\d"]),                        # outside quotes as well
    ("tail\\", ["tail\\"]),                                   # a final backslash is literal
    ("end\\\nline", ["end\nline"]),                           # an escaped newline is kept
    ("-DA='1 2'\"3\" x", ["-DA=1 23", "x"]),                  # pieces join into one word
    ("'unterminated", ["unterminated"]),                     # an open quote runs to the end
    ("\t-c\r\n  x.c \n", ["-c", "x.c"]),
    ("$HOME `x` #c ~", ["$HOME", "`x`", "#c", "~"]),          # no shell expansion or comments
])
def test_response_file_gnu_tokenizer(tmp_path, text, expected):
    assert expand_response_files([_rsp(tmp_path, text)]) == expected


def test_response_file_byte_order_marks(tmp_path):
    assert expand_response_files([_rsp(tmp_path, b"\xef\xbb\xbf-c x.c")]) == ["-c", "x.c"]
    utf16 = "-c 'é.c'".encode("utf-16")
    assert expand_response_files([_rsp(tmp_path, utf16, "b.rsp")]) == ["-c", "é.c"]


def test_response_file_bytes_survive(tmp_path):
    # arguments are bytes: what is not UTF-8 reaches clang unchanged
    (arg,) = expand_response_files([_rsp(tmp_path, b"caf\xe9.c")])
    assert os.fsencode(arg) == b"caf\xe9.c"


@pytest.mark.parametrize("text", ['-c "" x.c', "-c x.c ''", "-c ''\"\" x.c", '-c "'])
def test_response_file_empty_argument_is_not_guessed(tmp_path, text):
    # LLVM up to 22 drops an empty quoted argument, later versions keep it
    with pytest.raises(ValueError):
        expand_response_files([_rsp(tmp_path, text)])


def test_nested_response_files_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "outer.rsp").write_text("-c @inner.rsp")
    (tmp_path / "sub" / "inner.rsp").write_text("from-sub.c")
    (tmp_path / "inner.rsp").write_text("from-cwd.c")
    monkeypatch.chdir(tmp_path)
    assert expand_response_files(["@sub/outer.rsp"]) == ["-c", "from-cwd.c"]


def test_recursive_response_file_is_an_error(tmp_path):
    (tmp_path / "a.rsp").write_text(f"-c @{tmp_path / 'b.rsp'}")
    (tmp_path / "b.rsp").write_text(f"x.c @{tmp_path / 'a.rsp'}")
    with pytest.raises(RecursionError):
        expand_response_files([f"@{tmp_path / 'a.rsp'}"])


def test_same_response_file_twice_is_no_recursion(tmp_path):
    flags = _rsp(tmp_path, "-DX")
    assert expand_response_files([flags, flags, "x.c"]) == ["-DX", "-DX", "x.c"]


def test_windows_response_file_quoting_is_not_guessed(tmp_path):
    rsp = _rsp(tmp_path, '-c "x.c"')
    with pytest.raises(ValueError):
        expand_response_files(["--rsp-quoting=windows", rsp])
    assert expand_response_files(["--rsp-quoting=windows", "-c", "x.c"]) == [
        "--rsp-quoting=windows", "-c", "x.c"]


# --- already preprocessed inputs --------------------------------------------

@pytest.mark.parametrize("args,language,preprocessed", [
    (["-c", "x.i"], "cpp-output", True),
    (["-c", "x.ii"], "c++-cpp-output", True),
    (["-c", "-x", "cpp-output", "x.c"], "cpp-output", True),
    (["-c", "-x", "c++-cpp-output", "x.txt"], "c++-cpp-output", True),
    (["-c", "x.c"], "c", False),
    (["-c", "x.cc"], "c++", False),
    (["-c", "-x", "c", "x.i"], "c", False),   # clang preprocesses it again
])
def test_preprocessed_inputs_are_marked(args, language, preprocessed):
    (unit,) = classify(args).units
    assert (unit.language, unit.preprocessed) == (language, preprocessed)


def test_c_cpp_output_is_no_clang_language():
    # clang's Types.def names preprocessed C "cpp-output"; it rejects "c-cpp-output"
    assert classify(["-c", "-x", "c-cpp-output", "x.i"]) == PassThrough("unsupported language")


def test_response_file_pipe_is_left_to_clang(tmp_path):
    # a pipe read here would be empty when clang reads it after a pass-through
    fifo = tmp_path / "args.rsp"
    os.mkfifo(fifo)
    with pytest.raises(ValueError):
        expand_response_files(["-c", f"@{fifo}"])
