"""The one tool runner: process groups, budgets, logged commands."""

import os
import time

import pytest

from llmcc.compile import process
from llmcc.errors import CandidateError


def _alive(pid):
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            return b"zombie" not in f.read().lower()
    except OSError:
        return False


def test_run_captures_output_and_exit_code():
    r = process.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n")


def test_a_timeout_kills_the_tool_and_its_children(tmp_path):
    pidfile = tmp_path / "child"
    with pytest.raises(process.ToolTimeout):
        process.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=0.5)
    # SIGKILL is sent before run returns; on a loaded machine the child may take a
    # moment to be scheduled and die (it would live 60 s if it had not been killed)
    deadline = time.monotonic() + 5
    while _alive(int(pidfile.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(pidfile.read_text()))


def test_tools_of_one_tu_share_one_budget():
    budget = process.Budget(0.6)
    with pytest.raises(process.ToolTimeout):
        process.run(["sleep", "5"], budget)
    assert budget.timed_out and budget.left() == 0.0
    with pytest.raises(process.ToolTimeout):  # nothing left: not even started
        process.run(["true"], budget)


def test_a_missing_tool_is_a_candidate_error(tmp_path):
    with pytest.raises(CandidateError):
        process.run([str(tmp_path / "no-such-tool")])


def test_run_logged_appends_output_and_reports_a_timeout(tmp_path):
    log = tmp_path / "build.log"
    with open(log, "w") as f:
        assert process.run_logged(["sh", "-c", "echo building"], f, cwd=str(tmp_path)) == 0
        assert process.run_logged(["sleep", "5"], f, timeout=0.3) == process.TIMED_OUT
    text = log.read_text()
    assert "$ sh -c echo building" in text and "building\n" in text and "timed out" in text
    assert os.path.exists(log)
