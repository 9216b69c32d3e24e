"""Property-based: command lines drawn from a grammar of real clang flags.

For every generated command line, either llmcc passes it through (then its
outputs, stdout, stderr and exit code are clang's, byte for byte) or it
optimizes it (then the object is no larger than ``clang -Oz`` with the same
flags, and it links into a program that prints the expected output).
"""

import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from llmcc.compile import cmdline
from llmcc.llvm.objsize import object_size
from tests.conftest import run
from tests.e2e.conftest import EXPECTED_OUTPUT, MAIN_C, SAMPLE_C, SAMPLE_H

OPT = st.sampled_from([[], ["-O0"], ["-O1"], ["-O2"], ["-O3"], ["-Os"], ["-Oz"], ["-Og"]])
FLAGS = st.lists(st.sampled_from([
    ["-g"], ["-g1"], ["-gdwarf-4"], ["-fPIC"], ["-fno-pic"], ["-fPIE"], ["-ffunction-sections"],
    ["-fdata-sections"], ["-DNDEBUG"], ["-DLEVEL=3"], ["-Wall"], ["-Wextra"], ["-std=c99"],
    ["-std=gnu11"], ["-fno-builtin"], ["-march=x86-64-v2"], ["-fstack-protector-strong"],
    ["-fno-common"], ["-fno-omit-frame-pointer"], ["-fvisibility=hidden"], ["-w"],
    ["-I", "."], ["-include", "sample.h"], ["-MD"], ["-MMD", "-MF", "deps.d"], ["-pipe"],
]), max_size=5, unique_by=lambda f: f[0])
MODE = st.sampled_from([["-c"], ["-c"], ["-c"], ["-S"], ["-E"], ["-fsyntax-only"]])


def _tree(root):
    return {p: (root / p).read_bytes() for p in sorted(os.listdir(root))
            if (root / p).is_file() and p.endswith((".o", ".s", ".d", ".i", ".out"))}


@pytest.mark.slow
@settings(max_examples=14, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(opt=OPT, flags=FLAGS, mode=MODE)
def test_generated_command_lines(llmcc, clang, llmcc_env, tmp_path, opt, flags, mode):
    base = tmp_path / "case"
    shutil.rmtree(base, ignore_errors=True)
    dirs = {}
    for name in ("ref", "llmcc"):
        d = base / name
        d.mkdir(parents=True)
        (d / "sample.c").write_text(SAMPLE_C)
        (d / "sample.h").write_text(SAMPLE_H)
        (d / "main.c").write_text(MAIN_C)
        dirs[name] = d
    out = {"-c": "sample.o", "-S": "sample.s", "-E": "sample.i"}.get(mode[0])
    args = opt + [f for fl in flags for f in fl] + mode + ["sample.c"] + (["-o", out] if out else [])
    job = cmdline.classify(args)
    env = dict(llmcc_env, LLMCC_CACHE_DIR=str(base / "cache"))
    got = run([llmcc] + args, env=env, cwd=dirs["llmcc"])
    if isinstance(job, cmdline.PassThrough):
        want = run([clang] + args, cwd=dirs["ref"])
        assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout,
                                                            want.stderr)
        assert _tree(dirs["llmcc"]) == _tree(dirs["ref"])
        return
    assert got.returncode == 0, got.stderr.decode()
    oz = [a if not (a.startswith("-O") and len(a) <= 3) else "-Oz" for a in args]
    if not any(a.startswith("-O") for a in oz):
        oz = ["-Oz"] + oz
    want = run([clang] + oz, cwd=dirs["ref"])
    assert want.returncode == 0
    assert object_size(str(dirs["llmcc"] / "sample.o")).total <= \
        object_size(str(dirs["ref"] / "sample.o")).total
    link = run([clang, "-c", "main.c", "-o", "main.o"], cwd=dirs["llmcc"])
    assert link.returncode == 0
    for d in ("deps.d", "sample.d"):  # dependency files as the user's own flags give
        if (dirs["ref"] / d).exists():
            assert (dirs["llmcc"] / d).read_bytes() == (dirs["ref"] / d).read_bytes()
    pie = ["-no-pie"] if "-fno-pic" in args else []
    exe = run([clang, *pie, "main.o", "sample.o", "-o", "prog.out"], cwd=dirs["llmcc"])
    assert exe.returncode == 0, exe.stderr.decode()
    assert run(["./prog.out"], cwd=dirs["llmcc"]).stdout == EXPECTED_OUTPUT
