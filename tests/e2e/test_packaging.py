"""The package works installed from a wheel, outside the source checkout."""

import os
import subprocess
import sys

import pytest

from tests.conftest import run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
@pytest.mark.network
def test_installed_from_a_wheel_outside_the_checkout(tmp_path, llmcc_env, clang):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = run([str(venv / "bin" / "pip"), "install", "-q", REPO], cwd=tmp_path)
    assert pip.returncode == 0, pip.stderr.decode()[-2000:]
    llmcc = str(venv / "bin" / "llmcc")
    work = tmp_path / "work"
    work.mkdir()
    (work / "t.c").write_text("int twice(int x) { return 2 * x; }\n")
    assert run([llmcc, "--version"], env=llmcc_env, cwd=work).returncode == 0
    r = run([llmcc, "-O2", "-c", "t.c", "-o", "t.o"], env=llmcc_env, cwd=work)
    assert r.returncode == 0 and (work / "t.o").exists(), r.stderr.decode()
    for cmd in (["bench"], ["tune", "report"], ["train", "eval"], ["autotune", "run"]):
        h = run([llmcc, *cmd, "--help"], env=llmcc_env, cwd=work)
        assert h.returncode == 0 and b"usage: llmcc" in h.stdout, (cmd, h.stderr)
    # nothing of the installed package points back into the checkout
    assert REPO not in run([str(venv / "bin" / "python"), "-c",
                            "import llmcc; print(llmcc.__file__)"], cwd=work).stdout.decode()
