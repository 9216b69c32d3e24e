"""``llmcc bench zlib`` end to end: fetch zlib's Debian source, build it with
clang -Oz and with llmcc (cold and warm cache), run its tests, compare objects.

This takes a minute or two: zlib is small (34 objects) and its tests are quick.
"""

import json
import os
import subprocess


def test_bench_zlib(tmp_path):
    work, report = tmp_path / "work", tmp_path / "report.json"
    env = dict(os.environ, LLMCC_CONFIG=str(tmp_path / "no-config.toml"))
    png = tmp_path / "bench.png"
    r = subprocess.run(["llmcc", "bench", "zlib", "--work", str(work), "--json", str(report),
                        "--plot", str(png)],
                       env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "zlib" in r.stdout and "total" in r.stdout

    data = json.loads(report.read_text())
    (zlib,) = data["projects"]
    assert "error" not in zlib
    s = zlib["summary"]
    assert s["tus"] >= 30
    assert s["regressed"] == 0
    assert s["bytes_llmcc"] <= s["bytes_oz"]
    assert s["tests_oz"] is True and s["tests_llmcc"] is True
    assert s["warm_hit_rate"] == 1.0
    assert s["warm_fallbacks"] == 0
    assert s["warm_differs"] == []
    # every object was matched between the builds and measured
    assert zlib["unmatched"] == []
    assert all(t["llmcc"] <= t["oz"] and t["warm"] == t["llmcc"] for t in zlib["tus"])

    # the size / compile-count trade-off over k: -Oz alone first, never worse with more k
    pts = s["tradeoff"]
    assert [p["k"] for p in pts] == list(range(data["candidates"] + 1))
    assert pts[0]["reduction_pct"] == 0.0
    assert all(a["bytes"] >= b["bytes"] for a, b in zip(pts, pts[1:]))
    assert pts[-1]["bytes"] < pts[0]["bytes"]  # zlib has TUs that improve
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot: {png}" in r.stdout

    # the unpacked source stays in the work directory for the next run
    assert (work / "zlib" / "src" / "zlib.h").exists()


def test_bench_stress_zlib_survives_damaged_cache(tmp_path):
    work, report = tmp_path / "work", tmp_path / "stress.json"
    env = dict(os.environ, LLMCC_CONFIG=str(tmp_path / "no-config.toml"))
    r = subprocess.run(["llmcc", "bench", "--stress", "zlib", "--work", str(work),
                        "--json", str(report)],
                       env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    (z,) = json.loads(report.read_text())["stress"]
    assert z["jobs"] > (os.cpu_count() or 1)
    assert z["objects"] >= 30
    damaged = sum(z["damaged"].values())
    assert damaged >= 3 * z["objects"]  # decisions by IR and by source, stored objects
    assert z["damaged_read"] >= z["objects"]
    assert z["corrupt_counted"] >= z["damaged_read"]
    assert z["differ"] == [] and z["tests"] == [True, True] and z["fallbacks"] == [0, 0]
    assert "passed" in r.stdout


def _bench_project(tmp_path, *args):
    report = tmp_path / "report.json"
    env = dict(os.environ, LLMCC_CONFIG=str(tmp_path / "no-config.toml"))
    r = subprocess.run(["llmcc", "bench", "--work", str(tmp_path / "work"), "--json",
                        str(report), "--candidates", "2", *args],
                       env=env, capture_output=True, text=True, timeout=900)
    return r, (json.loads(report.read_text()) if report.exists() else None)


def test_bench_local_project_with_build_and_test_commands(tmp_path):
    from tests.e2e.project import N_FILES, write_project
    proj = tmp_path / "demo"
    expected = write_project(proj)
    (proj / "expected.txt").write_bytes(expected)
    r, data = _bench_project(tmp_path, "--project", str(proj),
                             "--build", 'make -j"$JOBS" CC="$CC" CFLAGS="$CFLAGS"',
                             "--test", "./prog | cmp - expected.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    (p,) = data["projects"]
    s = p["summary"]
    assert p["name"] == "demo" and s["tus"] == N_FILES + 1 and s["regressed"] == 0
    assert s["tests_oz"] is True and s["tests_llmcc"] is True
    assert not (proj / "prog").exists()  # built in a copy, never in place


def test_bench_standalone_files_use_compile_flags_txt(tmp_path):
    src = tmp_path / "files"
    src.mkdir()
    (src / "compile_flags.txt").write_text("-DSCALE=3\n-Wall\n")
    (src / "a.c").write_text("int a(int x) { return x * SCALE; }\n")
    (src / "b.cc").write_text("int b(int x) { return x + SCALE; }\n")
    r, data = _bench_project(tmp_path, "--project", str(src))
    assert r.returncode == 0, r.stdout + r.stderr
    (p,) = data["projects"]
    assert [t["path"] for t in p["tus"]] == ["a.o", "b.o"]  # SCALE came from the file
    assert p["summary"]["tests_llmcc"] is None

    r, _ = _bench_project(tmp_path, "--project", str(tmp_path / "missing"))
    assert r.returncode == 2 and "not a directory" in r.stderr


def test_bench_force_pipelines_runs_the_tests_per_pipeline(tmp_path):
    from tests.e2e.project import N_FILES, write_project
    proj = tmp_path / "demo"
    (proj / "expected.txt").parent.mkdir(parents=True)
    (proj / "expected.txt").write_bytes(write_project(proj))
    pipes = tmp_path / "pipes.json"
    pipes.write_text(json.dumps({"pipelines": ["function(sroa,instcombine)",
                                               "function(no-such-pass)"]}))
    r, _ = _bench_project(tmp_path, "--project", str(proj),
                          "--build", 'make -j"$JOBS" CC="$CC" CFLAGS="$CFLAGS"',
                          "--test", "./prog | cmp - expected.txt",
                          "--force-pipelines", str(pipes))
    data = json.loads((tmp_path / "report.json").read_text())
    (p,) = data["projects"]
    assert p["reference"] is True
    good, bad = p["pipelines"]
    assert good["forced"] == N_FILES + 1 and good["fallbacks"] == 0 and good["tests"] is True
    # a pipeline the allowlist refuses is never run: every TU falls back to plain clang
    assert bad["forced"] == 0 and bad["fallbacks"] == N_FILES + 1 and bad["tests"] is True
    assert r.returncode == 1  # a pipeline that cannot build the project is reported


def test_bench_autotune_adds_a_tuned_rebuild_per_budget(tmp_path):
    from tests.e2e.project import write_project
    proj = tmp_path / "demo"
    expected = write_project(proj)
    (proj / "expected.txt").write_bytes(expected)
    # a work directory short enough for the ranking server's socket to live in the
    # cache, which each budget's copy of the cache must skip
    import tempfile
    work = tempfile.mkdtemp(prefix="llmcc-b", dir="/tmp")
    r, data = _bench_project(tmp_path, "--project", str(proj), "--no-ccache", "--work", work,
                             "--autotune", "12,6",
                             "--build", 'make -j"$JOBS" CC="$CC" CFLAGS="$CFLAGS"',
                             "--test", "./prog | cmp - expected.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    (p,) = data["projects"]
    s = p["summary"]
    assert sorted(s["tuned"]) == ["12", "6"]
    for budget in ("6", "12"):
        t = s["tuned"][budget]
        assert t["tests"] is True
        assert t["bytes"] <= s["bytes_llmcc"] <= s["bytes_oz"]
        assert 0 < p["autotune"][budget]["compiles"] <= int(budget) * len(p["tus"])
        tuned = p["builds"][f"tuned-{budget}"]["stats"]
        assert tuned.get("cache misses", 0) == 0 and tuned["cache hits"] >= len(p["tus"])
    # one row per budget under the project's default row, and the same for the total
    lines = r.stdout[r.stdout.index("autotune  "):].splitlines()
    assert [ln.split()[0] for ln in lines if ln.startswith(("total", "demo"))] == [
        "demo", "total"]
    assert len([ln for ln in lines if ln.split()[:1] in (["6"], ["12"])]) == 4


def test_bench_resume_keeps_the_projects_already_measured(tmp_path):
    from tests.e2e.project import write_project
    proj = tmp_path / "demo"
    write_project(proj)
    args = ("--project", str(proj), "--no-ccache", "--build",
            'make -j"$JOBS" CC="$CC" CFLAGS="$CFLAGS"')
    r, first = _bench_project(tmp_path, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    r, again = _bench_project(tmp_path, *args, "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "demo: kept from the earlier run" in r.stderr
    assert again["projects"] == first["projects"]
    # other settings (k) are another run: the project is built again
    r, other = _bench_project(tmp_path, *args, "--resume", "--candidates", "1")
    assert "kept from the earlier run" not in r.stderr
    assert other["candidates"] == 1


def test_bench_report_reprints_the_tables_of_a_json_report(tmp_path):
    from tests.e2e.project import write_project
    proj = tmp_path / "demo"
    write_project(proj)
    r, first = _bench_project(tmp_path, "--project", str(proj), "--no-ccache", "--build",
                              'make -j"$JOBS" CC="$CC" CFLAGS="$CFLAGS"')
    assert r.returncode == 0, r.stdout + r.stderr
    again = subprocess.run(["llmcc", "bench", "--report", str(tmp_path / "report.json")],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    tables = r.stdout[: r.stdout.index("\nplot:")] if "\nplot:" in r.stdout else r.stdout
    assert again.stdout.strip() == tables.strip()
    assert "by step" in again.stdout
    bad = subprocess.run(["llmcc", "bench", "--report", str(tmp_path / "missing.json")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "cannot read the report" in bad.stderr
