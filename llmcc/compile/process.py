"""Running llmcc's tools: one subprocess runner for the compile path and the lab.

Every tool runs from an argv list (never a shell) in a process group of its own,
so a timeout kills the tool *and* its children (clang's ``-cc1``, a hung
``opt``), not just the driver process. Time is counted against a deadline
shared by all the tools of one translation unit (see :class:`Budget`), so a
hanging ``opt`` costs at most the per-TU budget, however many candidates remain.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from llmcc.errors import CandidateError


class ToolTimeout(CandidateError):
    """A tool ran past its deadline and was killed with its process group."""


@dataclass
class Budget:
    """Seconds of wall time left for one translation unit's tools.

    Attributes:
        seconds: the whole budget (``Config.timeout``).
        start: ``time.monotonic()`` when it started.
        timed_out: set once a tool was killed for running out of it.
    """

    seconds: float
    start: float = field(default_factory=time.monotonic)
    timed_out: bool = False

    def left(self) -> float:
        """Seconds left (0.0 when spent)."""
        return max(0.0, self.seconds - (time.monotonic() - self.start))


def run(argv: list[str], budget: Budget | None = None, *, timeout: float | None = None,
        env: dict[str, str] | None = None, cwd: str | None = None,
        input: bytes = b"") -> subprocess.CompletedProcess:
    """Run ``argv`` and capture its stdout and stderr as bytes.

    Args:
        argv: program and arguments (no shell).
        budget: the translation unit's :class:`Budget`; the tool gets what is left.
        timeout: a cap in seconds of its own (the smaller of the two applies).
        input: bytes for its stdin (empty: a tool never waits for a terminal).

    Raises:
        ToolTimeout: it ran out of time; it and its children were killed.
        CandidateError: it could not be started (``OSError``).
    """
    limit = timeout
    if budget is not None:
        limit = budget.left() if limit is None else min(limit, budget.left())
        if limit <= 0:
            budget.timed_out = True
            raise ToolTimeout(f"{os.path.basename(argv[0])}: per-TU time budget of "
                              f"{budget.seconds:g} s spent")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd,
                                start_new_session=True)
    except OSError as e:
        raise CandidateError(f"cannot run {argv[0]}: {e}") from e
    try:
        out, err = proc.communicate(input, timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        if budget is not None:
            budget.timed_out = True
        raise ToolTimeout(f"{os.path.basename(argv[0])} timed out after {limit:g} s") from None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


#: Exit code :func:`run_logged` returns for a command killed at its timeout (as timeout(1)).
TIMED_OUT = 124


def run_logged(argv: list[str], logf, *, cwd: str | None = None,
               env: dict[str, str] | None = None, timeout: float | None = None) -> int:
    """Run a long command (a configure or build step) with its stdout and stderr
    appended to the open file ``logf``, after a ``$ command`` line; return its
    exit code, :data:`TIMED_OUT` when it ran past ``timeout`` seconds.

    Like :func:`run`, the command gets a process group of its own, killed whole
    on timeout or interrupt, so no stray ``make`` keeps compiling.
    """
    logf.write(f"\n$ {' '.join(argv)}   (in {cwd or os.getcwd()})\n")
    logf.flush()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=logf, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()
        logf.write(f"\n### timed out after {timeout:g} s\n")
        return TIMED_OUT
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
