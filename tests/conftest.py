"""Shared fixtures: an isolated llmcc environment and the real toolchain."""

import contextlib
import os
import shutil
import signal
import subprocess

import pytest

CLANG = shutil.which("clang-19") or shutil.which("clang")


@pytest.fixture
def llmcc_env(tmp_path):
    """Environment for running the installed ``llmcc`` with a private cache and no config file."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("LLMCC_"):
            del env[k]
    env["LLMCC_CACHE_DIR"] = str(tmp_path / "cache")
    env["LLMCC_CONFIG"] = str(tmp_path / "no-config.toml")
    # the ranking server of a test's compiles exits soon after them, not 2 minutes later
    env["LLMCC_RANK_SERVER"] = "3"
    return env


@pytest.fixture
def clang():
    """Path of the real clang (Debian's clang-19)."""
    if CLANG is None:
        pytest.fail("clang-19 is required (apt-get install clang-19 llvm-19)")
    return CLANG


def run(argv, env=None, cwd=None, check=False, **kw):
    """Run ``argv`` and capture bytes output."""
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=check, **kw)


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging when the body blocks (e.g. opening a FIFO)."""
    def expire(signum, frame):
        raise AssertionError(f"blocked for {seconds} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
