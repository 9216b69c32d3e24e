"""Tuning on a local Ray cluster (``ray start --head`` on 127.0.0.1, two CPUs)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import run
from tests.e2e.test_tune import _record_demo


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_cluster():
    # ray's command is installed beside the interpreter running the tests (llmcc's
    # own virtual environment), which need not be on PATH
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if ray is None:
        pytest.fail("ray is required (pip install 'llmcc[cluster]')")
    import tempfile
    port = _free_port()
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # socket paths: at most 107 bytes
    r = run([ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
             f"--temp-dir={temp}"], env=env, timeout=180)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    yield f"127.0.0.1:{port}", env
    run([ray, "stop", "--force"], env=env, timeout=120)
    shutil.rmtree(temp, ignore_errors=True)


def _records(path):
    out = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        r.pop("seconds", None)
        out.setdefault(r["ir_hash"], []).append(r)
    return out


@pytest.mark.slow
def test_a_ray_run_gives_the_same_search_as_local_processes(llmcc, llmcc_env, tmp_path,
                                                            ray_cluster):
    address, ray_env = ray_cluster
    _, rec, _ = _record_demo(llmcc, llmcc_env, tmp_path)
    pk = tmp_path / "packages.toml"
    pk.write_text('[demo]\nsource = "demo"\nsplit = "train"\n')
    common = ["--corpus", str(rec), "--packages", str(pk), "--rungs", "6,12", "--keep", "0.5"]
    env = dict(llmcc_env, **{k: v for k, v in ray_env.items() if k.startswith("RAY_")})
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    r = run([llmcc, "tune", "search", "--out", str(local), "--jobs", "2"] + common, env=env)
    assert r.returncode == 0, r.stderr.decode()
    t0 = time.monotonic()
    proc = subprocess.Popen([llmcc, "tune", "search", "--out", str(cluster), "--ray", address]
                            + common, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # kill one Ray worker in the middle of a task: its batch is run again
    killed = False
    while proc.poll() is None and not killed and time.monotonic() - t0 < 120:
        ps = subprocess.run(["pgrep", "-f", "ray::_task"], capture_output=True, text=True)
        pids = [int(p) for p in ps.stdout.split()]
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed = True
        time.sleep(0.2)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert killed
    a, b = _records(local / "search.jsonl"), _records(cluster / "search.jsonl")
    assert a == b  # same records, each TU and rung once
    # labels: the broadcast of the winners, on the cluster and locally
    bc = ["--corpus", str(rec), "--packages", str(pk), "--top", "4"]
    for d in (local, cluster):
        (d / "broadcast.json").unlink(missing_ok=True)
    r1 = run([llmcc, "tune", "broadcast", "--out", str(local), "--jobs", "2"] + bc, env=env)
    r2 = run([llmcc, "tune", "broadcast", "--out", str(cluster), "--ray", address] + bc, env=env)
    assert r1.returncode == 0 and r2.returncode == 0, r2.stderr.decode()[-2000:]
    assert _records(local / "labels.jsonl") == _records(cluster / "labels.jsonl")


def test_a_worker_with_another_toolchain_is_refused(llmcc, llmcc_env, tmp_path, ray_cluster):
    """The identity check itself: a task told another identity refuses to search."""
    import ray
    from llmcc.lab import cluster
    address, _ = ray_cluster
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    try:
        task = ray.remote(max_retries=0)(cluster._task)
        ref = task.remote("search", "", {"ir_hash": "x", "codegen_args": (), "package": "",
                                         "split": "train", "ir_bytes": 0},
                          10.0, "0" * 32, 1, 0, [], None, 0)
        with pytest.raises(ray.exceptions.RayTaskError) as e:
            ray.get(ref)
        assert isinstance(e.value.cause, cluster.WorkerToolchainError)
        assert "install the same toolchain on every node" in str(e.value.cause)
    finally:
        ray.shutdown()
