"""Compiling real C through ``llmcc``: sizes, identity with clang -Oz, pass-through."""

import os

import pytest

from llmcc.llvm.objsize import object_size
from tests.conftest import run
from tests.e2e.conftest import EXPECTED_OUTPUT


def _stats(llmcc, env):
    """Counters from ``llmcc --print-stats`` (ID<TAB>VALUE lines)."""
    out = run([llmcc, "--print-stats"], env=env, check=True).stdout.decode()
    return {k: int(v) for k, v in (ln.split("\t") for ln in out.splitlines())}


def test_object_is_never_larger_than_oz_and_program_works(llmcc, clang, llmcc_env, sample_dir):
    run([clang, "-Oz", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "out.o"], env=llmcc_env, cwd=sample_dir)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    assert object_size(str(sample_dir / "out.o")).total <= object_size(str(sample_dir / "ref.o")).total
    run([llmcc, "-O2", "-c", "main.c"], env=llmcc_env, cwd=sample_dir, check=True)
    run([llmcc, "main.o", "out.o", "-o", "prog"], env=llmcc_env, cwd=sample_dir, check=True)
    assert run(["./prog"], cwd=sample_dir).stdout == EXPECTED_OUTPUT


def test_oz_baseline_is_byte_identical_to_clang(llmcc, clang, llmcc_env, sample_dir):
    run([clang, "-Oz", "-fPIC", "-g", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    env = dict(llmcc_env, LLMCC_CANDIDATES="0")
    run([llmcc, "-Oz", "-fPIC", "-g", "-c", "sample.c", "-o", "out.o"], env=env, cwd=sample_dir,
        check=True)
    assert (sample_dir / "out.o").read_bytes() == (sample_dir / "ref.o").read_bytes()


@pytest.mark.parametrize("flags", [[], ["-fPIC"], ["-fno-pie"], ["-mcmodel=medium"], ["-g"]])
def test_clang_oz_pipeline_through_opt_is_byte_identical(clang, sample_dir, tmp_path, flags):
    """clang's printed -Oz pipeline through opt-19, then codegen, reproduces clang -Oz."""
    from llmcc.compile.cmdline import classify
    from llmcc.config import Config
    from llmcc.compile.driver import Candidate, Context, compile_candidate
    from llmcc.compile.toolchain import resolve
    tc = resolve(False, (), dict(os.environ, LLMCC_CLANG=clang), None)
    comp = classify(["-c", "-Oz", "sample.c"] + flags)
    ir = tmp_path / "x.ll"
    run([clang] + comp.lower_args(comp.units[0], str(ir)), cwd=sample_dir, check=True)
    ctx = Context(cfg=Config(cache_dir=str(tmp_path / "c")), tc=tc, env={})
    via_opt = Candidate("default<Oz>", str(tmp_path / "via_opt.o"))
    compile_candidate(ctx, comp, str(ir), ir.read_text(), via_opt, direct_oz=False)
    run([clang, "-Oz", "-c", "sample.c", "-o", str(tmp_path / "ref.o")] + flags, cwd=sample_dir,
        check=True)
    assert (tmp_path / "via_opt.o").read_bytes() == (tmp_path / "ref.o").read_bytes()


def test_warm_build_hits_and_gives_the_same_bytes(llmcc, llmcc_env, sample_dir):
    run([llmcc, "-c", "sample.c", "-o", "cold.o"], env=llmcc_env, cwd=sample_dir, check=True)
    run([llmcc, "-c", "sample.c", "-o", "warm.o"], env=llmcc_env, cwd=sample_dir, check=True)
    assert (sample_dir / "cold.o").read_bytes() == (sample_dir / "warm.o").read_bytes()
    s = _stats(llmcc, llmcc_env)
    assert s["cache hits"] == 1 and s["cache misses"] == 1


def test_warm_oz_decision_compiles_directly_with_the_same_dependency_file(
        llmcc, clang, llmcc_env, sample_dir):
    """A TU whose decision is -Oz is rebuilt by plain clang -Oz, keyed on its
    preprocessed source: same object, same dependency file, no lowering."""
    env = dict(llmcc_env, LLMCC_CANDIDATES="0", LLMCC_MAX_OBJECTS="0")  # no stored objects
    run([llmcc, "-O2", "-MMD", "-c", "sample.c", "-o", "cold.o"], env=env, cwd=sample_dir,
        check=True)
    cold_dep = (sample_dir / "cold.d").read_text()
    run([llmcc, "-O2", "-MMD", "-c", "sample.c", "-o", "warm.o"], env=env, cwd=sample_dir,
        check=True)
    assert (sample_dir / "warm.o").read_bytes() == (sample_dir / "cold.o").read_bytes()
    assert (sample_dir / "warm.d").read_text() == cold_dep.replace("cold.o", "warm.o")
    from llmcc.store import stats
    s = stats.read(env["LLMCC_CACHE_DIR"])
    assert s["direct -Oz compiles"] == 1 and s["cache hits"] == 1


@pytest.mark.parametrize("args", [
    ["-E", "sample.c"],
    ["-S", "-O2", "sample.c", "-o", "-"],
    ["-M", "sample.c"],
    ["-O0", "-c", "sample.c", "-o", "/dev/stdout"],
])
def test_pass_through_output_is_byte_identical(llmcc, clang, llmcc_env, sample_dir, args):
    ref = run([clang] + args, cwd=sample_dir)
    got = run([llmcc] + args, env=llmcc_env, cwd=sample_dir)
    assert (got.returncode, got.stdout, got.stderr) == (ref.returncode, ref.stdout, ref.stderr)


def test_link_is_byte_identical(llmcc, clang, llmcc_env, sample_dir):
    run([clang, "-Oz", "-c", "sample.c", "main.c"], cwd=sample_dir, check=True)
    run([clang, "main.o", "sample.o", "-o", "ref"], cwd=sample_dir, check=True)
    run([llmcc, "main.o", "sample.o", "-o", "got"], env=llmcc_env, cwd=sample_dir, check=True)
    assert (sample_dir / "got").read_bytes() == (sample_dir / "ref").read_bytes()


@pytest.mark.parametrize("source,code", [
    ("int f(void) { return undeclared_thing; }\n", "error"),
    ("#include \"no_such_header.h\"\n", "error"),
    ("int f(int x) { int unused; return x; }\n", "warning"),
])
def test_diagnostics_and_exit_code_match_clang(llmcc, clang, llmcc_env, tmp_path, source, code):
    src = tmp_path / "bad.c"
    src.write_text(source)
    flags = ["-Wall", "-O2", "-c", "bad.c", "-o", "bad.o"]
    ref = run([clang] + flags, cwd=tmp_path)
    got = run([llmcc] + flags, env=llmcc_env, cwd=tmp_path)
    assert got.returncode == ref.returncode
    assert got.stderr == ref.stderr
    assert got.stderr.count(code.encode() + b":") == 1


def test_several_sources_in_one_call(llmcc, llmcc_env, sample_dir):
    r = run([llmcc, "-O2", "-c", "sample.c", "main.c"], env=llmcc_env, cwd=sample_dir)
    assert r.returncode == 0, r.stderr
    assert (sample_dir / "sample.o").exists() and (sample_dir / "main.o").exists()
    assert _stats(llmcc, llmcc_env)["cache misses"] == 2


@pytest.mark.parametrize("depflags", [
    ["-MD"], ["-MMD"], ["-MMD", "-MP"], ["-MD", "-MF", "deps.d"], ["-MMD", "-MT", "custom"],
    ["-MD", "-MQ", "$(odd) target"],
])
def test_dependency_files_match_clang(llmcc, clang, llmcc_env, sample_dir, depflags):
    """Same dependency file as plain clang at -Oz, the level llmcc compiles at
    (glibc headers include different files under -O2, since -Oz defines __OPTIMIZE_SIZE__)."""
    os.mkdir(sample_dir / "obj")
    ref = run([clang, "-Oz", "-c", "sample.c", "-o", "obj/sample.o"] + depflags, cwd=sample_dir)
    assert ref.returncode == 0
    dep_files = sorted(p for p in sample_dir.rglob("*.d"))
    assert dep_files
    expected = {p: p.read_bytes() for p in dep_files}
    for p in dep_files:
        p.unlink()
    got = run([llmcc, "-Oz", "-c", "sample.c", "-o", "obj/sample.o"] + depflags,
              env=llmcc_env, cwd=sample_dir)
    assert got.returncode == 0, got.stderr
    assert {p: p.read_bytes() for p in sorted(sample_dir.rglob("*.d"))} == expected


def test_dependency_file_without_o(llmcc, clang, llmcc_env, sample_dir):
    run([clang, "-c", "-MMD", "sample.c"], cwd=sample_dir, check=True)
    expected = (sample_dir / "sample.d").read_bytes()
    (sample_dir / "sample.d").unlink()
    run([llmcc, "-c", "-MMD", "sample.c"], env=llmcc_env, cwd=sample_dir, check=True)
    assert (sample_dir / "sample.d").read_bytes() == expected


def test_response_file(llmcc, clang, llmcc_env, sample_dir):
    (sample_dir / "args.rsp").write_text('-O2 -c "sample.c" -o rsp.o -DUNUSED="a b"\n')
    r = run([llmcc, "@args.rsp"], env=llmcc_env, cwd=sample_dir)
    assert r.returncode == 0, r.stderr
    assert _stats(llmcc, llmcc_env)["cache misses"] == 1
    assert object_size(str(sample_dir / "rsp.o")).total > 0


def test_cxx_compile(clang, llmcc_env, tmp_path):
    from tests.e2e.conftest import LLMCCXX
    (tmp_path / "v.cpp").write_text(
        "#include <vector>\n#include <algorithm>\n"
        "int f(std::vector<int> v) { std::sort(v.begin(), v.end()); return v.empty() ? 0 : v[0]; }\n")
    r = run([LLMCCXX, "-O2", "-c", "v.cpp"], env=llmcc_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    clangxx = clang.replace("clang", "clang++")
    run([clangxx, "-Oz", "-c", "v.cpp", "-o", "ref.o"], cwd=tmp_path, check=True)
    assert object_size(str(tmp_path / "v.o")).total <= object_size(str(tmp_path / "ref.o")).total


def test_c_and_cxx_drivers_stay_apart(llmcc, llmcc_env, tmp_path):
    """llmcc and llmcc++ share a cache directory but never each other's clang."""
    from tests.e2e.conftest import LLMCCXX
    (tmp_path / "t.c").write_text(
        "#ifdef __cplusplus\nint which(void){return 2;}\n#else\nint which(void){return 1;}\n#endif\n")
    for first, second in ((llmcc, LLMCCXX), (LLMCCXX, llmcc)):
        run([first, "-Oz", "-c", "t.c", "-o", "first.o"], env=llmcc_env, cwd=tmp_path, check=True)
        run([second, "-Oz", "-c", "t.c", "-o", "second.o"], env=llmcc_env, cwd=tmp_path, check=True)
        syms = {}
        for name, tool in (("first.o", first), ("second.o", second)):
            out = run(["nm", name], cwd=tmp_path, check=True).stdout
            syms[tool] = b"_Z5whichv" in out
        assert syms == {llmcc: False, LLMCCXX: True}


def test_os_compile_is_never_larger_than_clang_os(llmcc, clang, llmcc_env, tmp_path):
    """A user's -Os is honoured: clang -Os from source is a candidate. Here a small
    lexer-style switch loop, where -Os is smaller than -Oz at clang 19."""
    (tmp_path / "lex.c").write_text(
        "int next(const char *s, int *pos) {\n"
        "  for (;;) { char c = s[(*pos)++];\n"
        "    switch (c) { case ' ': case '\\t': case '\\n': continue;\n"
        "      case '(': return 1; case ')': return 2; case '+': return 3; case '-': return 4;\n"
        "      case '*': return 5; case '/': return 6; case 0: return 0;\n"
        "      default: if (c >= '0' && c <= '9') { while (s[*pos] >= '0' && s[*pos] <= '9') (*pos)++;\n"
        "        return 7; } return -1; } } }\n")
    for level in ("-Os", "-Oz"):
        run([clang, level, "-c", "lex.c", "-o", f"ref{level}.o"], cwd=tmp_path, check=True)
    r = run([llmcc, "-Os", "-c", "lex.c", "-o", "out.o"], env=llmcc_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    size = object_size(str(tmp_path / "out.o")).total
    assert size <= object_size(str(tmp_path / "ref-Os.o")).total
    assert size <= object_size(str(tmp_path / "ref-Oz.o")).total


def test_oz_decision_is_byte_identical_cold_and_warm(llmcc, clang, llmcc_env, tmp_path):
    """printf-to-puts strings get private names (.Lstr.N) that depend on the module's
    history: compiled from re-parsed IR they differ from clang's. An -Oz decision is
    therefore compiled from source, cold and warm, giving clang's exact bytes."""
    (tmp_path / "pz.c").write_text(
        "#include <stdio.h>\nvoid a(void) { printf(\"alpha\\n\"); }\n"
        "void b(int x) { printf(\"beta %d\\n\", x); printf(\"gamma\\n\"); }\n"
        "void c(void) { printf(\"delta\\n\"); printf(\"epsilon\\n\"); }\n")
    run([clang, "-Oz", "-c", "pz.c", "-o", "ref.o"], cwd=tmp_path, check=True)
    env = dict(llmcc_env, LLMCC_CANDIDATES="0")
    for name in ("cold.o", "warm.o"):
        run([llmcc, "-O2", "-c", "pz.c", "-o", name], env=env, cwd=tmp_path, check=True)
        assert (tmp_path / name).read_bytes() == (tmp_path / "ref.o").read_bytes()


def test_output_to_dev_null_leaves_it_a_device(llmcc, llmcc_env, sample_dir):
    """configure scripts compile probes with -o /dev/null: it must stay /dev/null."""
    import stat
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "/dev/null"], env=llmcc_env, cwd=sample_dir)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_special_file_output_is_written_into_not_replaced(tmp_path):
    from llmcc.compile.driver import _install
    src = tmp_path / "obj.o"
    src.write_bytes(b"\x7fELF object")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    _install(str(src), str(fifo))
    reader.join(10)
    assert got == [b"\x7fELF object"]
    assert stat_is_fifo(fifo)


def stat_is_fifo(path):
    import stat
    return stat.S_ISFIFO(os.stat(path).st_mode)


FIXPOINT_C = """\
unsigned char *back_ref(const unsigned char *ip, unsigned char *op)
{
    unsigned t;
    unsigned char *m_pos;
    for (;;) {
        m_pos = op;
        t = *ip++ & 63;
        m_pos -= t;
        if (m_pos == op)
            break;
    }
    return m_pos;
}
"""


def test_bare_instcombine_runs_without_its_fixpoint_check(llmcc, clang, llmcc_env, tmp_path):
    """LLVM 19's opt aborts on a bare `instcombine` that needs a second iteration (a
    check clang's own pipelines turn off); llmcc runs it as clang does."""
    src = tmp_path / "fp.c"
    src.write_text(FIXPOINT_C)
    ir = tmp_path / "fp.ll"
    run([clang, "-Oz", "-Xclang", "-disable-llvm-passes", "-S", "-emit-llvm", str(src), "-o",
         str(ir)], check=True)
    opt = os.path.join(os.path.dirname(os.path.realpath(clang)), "opt")
    r = run([opt, "-p", "function(instcombine)", str(ir), "-o", str(tmp_path / "x.bc")])
    assert r.returncode != 0 and b"did not reach a fixpoint" in r.stderr  # LLVM's behaviour
    env = dict(llmcc_env, LLMCC_FORCE_PIPELINE="function(instcombine)", LLMCC_DEBUG="1")
    r = run([llmcc, "-O2", "-c", str(src), "-o", str(tmp_path / "fp.o")], env=env)
    assert r.returncode == 0 and b"falling back" not in r.stderr, r.stderr
    assert b"forced pipeline function(instcombine):" in r.stderr


def test_build_system_probes_are_compiled_by_clang_alone(llmcc, clang, llmcc_env, tmp_path):
    """autoconf's conftest.c and a CMake try_compile: clang's own object, counted,
    nothing optimized or cached; the same file elsewhere is optimized."""
    from llmcc.store import stats
    body = "static int sq(int x) { return x * x; }\nint probe(int n) { return sq(n) + 1; }\n"
    scratch = tmp_path / "build" / "CMakeFiles" / "CMakeScratch" / "TryCompile-abc"
    scratch.mkdir(parents=True)
    for d, name in ((tmp_path, "conftest.c"), (scratch, "src.c")):
        (d / name).write_text(body)
        run([clang, "-O2", "-c", name, "-o", "ref.o"], cwd=d, check=True)
        r = run([llmcc, "-O2", "-c", name, "-o", "out.o"], env=llmcc_env, cwd=d)
        assert r.returncode == 0 and r.stderr == b""
        assert (d / "out.o").read_bytes() == (d / "ref.o").read_bytes()
    s = stats.read(llmcc_env["LLMCC_CACHE_DIR"])
    assert s["uncacheable: build-system probe"] == 2 and not s.get("cache misses")
    (tmp_path / "probe.c").write_text(body)
    run([llmcc, "-O2", "-c", "probe.c"], env=llmcc_env, cwd=tmp_path, check=True)
    assert stats.read(llmcc_env["LLMCC_CACHE_DIR"])["cache misses"] == 1
