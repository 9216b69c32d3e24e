"""Finding the real clang as ccache finds the compiler it wraps."""

import os

import pytest

from llmcc.compile.toolchain import find_clang
from llmcc.errors import ToolchainError


def _exe(path, text="#!/bin/sh\nexit 0\n"):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_the_first_clang_on_path_that_is_not_llmcc(tmp_path):
    shims, real = tmp_path / "shims", tmp_path / "real"
    shims.mkdir()
    real.mkdir()
    shim = _exe(shims / "clang", "#!/bin/sh\nexec llmcc \"$@\"\n")  # a masquerade shim
    _exe(real / "clang-19")
    env = {"PATH": f"{shims}:{real}"}
    assert find_clang(False, (os.path.realpath(shim),), env) == str(real / "clang-19")
    _exe(real / "clang++-19")
    assert find_clang(True, (), env) == str(real / "clang++-19")


@pytest.mark.parametrize("setting,error", [
    ("self", "is llmcc itself"), ("missing", "is not executable"),
])
def test_llmcc_clang_must_be_a_real_compiler(tmp_path, setting, error):
    me = _exe(tmp_path / "llmcc-wrapper", "#!/usr/bin/env python3\n# llmcc\n")
    path = me if setting == "self" else str(tmp_path / "nope")
    with pytest.raises(ToolchainError, match=error):
        find_clang(False, (os.path.realpath(me),), {"LLMCC_CLANG": path, "PATH": ""})


def test_no_clang_at_all_is_a_clear_error(tmp_path):
    with pytest.raises(ToolchainError, match="no real clang on PATH"):
        find_clang(False, (), {"PATH": str(tmp_path)})
