"""The package's layering, as setup.cfg's import-linter contract states it."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter not installed")
def test_the_compile_path_never_imports_the_lab():
    r = subprocess.run(["lint-imports", "--config", os.path.join(REPO, "setup.cfg")],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout
