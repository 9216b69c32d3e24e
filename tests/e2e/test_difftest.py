"""``llmcc difftest``: Csmith programs built with a forced pipeline must behave as
clang's own builds, and the harness must notice when one does not.

A small slice of the campaign (3 programs x the first 2 static pipelines), then
three broken setups that must each be caught: a build whose output differs, an
``opt`` that crashes, and a pipeline the allowlist refuses.
"""

import json
import shutil
import subprocess
from collections import Counter

import pytest

from llmcc.store import stats
from llmcc.lab.difftest import rejected
from llmcc.rank.rankers import load_coreset

#: The command a user runs.
DIFFTEST = [shutil.which("llmcc") or "llmcc", "difftest"]

#: Csmith seeds 1-3 give programs whose -O0 and -Oz builds finish in milliseconds.
SEED = 1


@pytest.fixture(autouse=True)
def _csmith():
    if shutil.which("csmith") is None:
        pytest.fail("csmith is required (apt-get install csmith libcsmith-dev)")


def difftest(args, env, out):
    """Run a campaign into ``out``; return (exit code, stdout, results.json)."""
    # a generous timeout: a loaded machine must not discard programs as "reference timeout"
    r = subprocess.run(DIFFTEST + ["--out", str(out), "--seed", str(SEED), "--timeout", "20",
                                   *args], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    with open(out / "results.json", encoding="utf-8") as f:
        return r.returncode, r.stdout, json.load(f)


def test_static_pipelines_agree_with_clang(tmp_path, llmcc_env):
    pipelines = list(load_coreset()[:2])
    (tmp_path / "pipelines.json").write_text(json.dumps(pipelines))
    out = tmp_path / "out"
    args = ["--programs", "3", "--jobs", "2", "--pipelines", str(tmp_path / "pipelines.json")]
    code, table, res = difftest(args, llmcc_env, out)

    assert code == 0, table
    assert res["programs_generated"] == 3 and res["programs_usable"] == 3
    assert res["pipelines_tested"] == 2
    for p in pipelines:
        counts = res["pipelines"][p]
        assert (counts["tested"], counts["agree"]) == (3, 3)
        assert counts["disagree"] == counts["compile failure"] == counts["timeout"] == 0
        assert p in table
    assert res["rejected"] == {} and rejected(str(out)) == {}
    assert not (out / "reproducers").exists()

    # every build under test really went through its forced pipeline
    counts = sum((stats.read(str(d)) for d in (out / "work").glob("cache-*")), Counter())
    assert counts["forced pipeline"] == 3 * len(pipelines)
    assert not [k for k in counts if k.startswith(("fallback:", "uncacheable:"))]

    # a rerun resumes: nothing is tested again and the verdict is the same
    lines = (out / "progress.jsonl").read_text().splitlines()
    code2, table2, res2 = difftest(args, llmcc_env, out)
    assert code2 == 0 and res2 == res
    assert (out / "progress.jsonl").read_text().splitlines() == lines


def test_a_build_that_prints_something_else_is_rejected(tmp_path, llmcc_env):
    # The builds under test get -DNOT_PRINT_CHECKSUM, which makes Csmith's runtime
    # skip printing the checksum: a deliberately wrong build the harness must flag.
    pipeline = load_coreset()[0]
    (tmp_path / "pipelines.txt").write_text(f"# one pipeline\n{pipeline}\n")
    out = tmp_path / "out"
    code, table, res = difftest(["--programs", "1", "--pipelines", str(tmp_path / "pipelines.txt"),
                                 "--cflags=-DNOT_PRINT_CHECKSUM"], llmcc_env, out)

    assert code == 1
    assert res["pipelines"][pipeline]["disagree"] == 1
    assert res["pipelines"][pipeline]["agree"] == 0
    assert "wrong output" in rejected(str(out))[pipeline]
    assert "REJECTED" in table

    repro = out / "reproducers" / f"{SEED}-1"
    assert (repro / "pipeline.txt").read_text().strip() == pipeline
    assert (repro / "expected.txt").read_text().startswith("checksum = ")
    assert (repro / "actual.txt").read_text() == ""
    assert "platform_main_end" in (repro / "prog.c").read_text()
    readme = (repro / "README").read_text()
    assert f"csmith --seed {SEED}" in readme and "LLMCC_FORCE_PIPELINE=" in readme
    assert "-DNOT_PRINT_CHECKSUM" in readme
    # the hand-made opt build shows the same failure without llmcc
    assert "reproduces without llmcc" in readme
    assert (repro / "actual.opt.txt").read_text() == ""


def test_a_pipeline_that_crashes_opt_is_rejected(tmp_path, llmcc_env):
    fake = tmp_path / "opt"
    fake.write_text('#!/bin/sh\ncase "$*" in *--version*) exec opt-19 "$@";; esac\n'
                    'echo "opt: crashed" >&2\nkill -SEGV $$\n')
    fake.chmod(0o755)
    env = dict(llmcc_env, LLMCC_OPT=str(fake))
    pipeline = load_coreset()[0]
    (tmp_path / "p.json").write_text(json.dumps([pipeline]))
    out = tmp_path / "out"
    code, table, res = difftest(["--programs", "1", "--pipelines", str(tmp_path / "p.json")],
                                env, out)

    assert code == 1
    assert res["pipelines"][pipeline]["compile failure"] == 1
    assert "opt failed" in rejected(str(out))[pipeline]
    repro = out / "reproducers" / f"{SEED}-1"
    assert "opt: crashed" in (repro / "opt.stderr.txt").read_text()


def test_a_pipeline_outside_the_allowlist_is_rejected(tmp_path, llmcc_env):
    good, bad = load_coreset()[0], "default<Oz>,no-such-pass"
    (tmp_path / "p.json").write_text(json.dumps({"pipelines": [good, bad]}))
    out = tmp_path / "out"
    code, table, res = difftest(["--programs", "1", "--pipelines", str(tmp_path / "p.json")],
                                llmcc_env, out)

    assert code == 1
    assert res["pipelines"][good]["agree"] == 1
    assert res["pipelines"][bad]["compile failure"] == 1
    assert list(rejected(str(out))) == [bad]
    assert "allowlist" in rejected(str(out))[bad]
    assert not (out / "reproducers").exists()
