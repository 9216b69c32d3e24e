"""A team's decisions shared through Redis: Debian's redis-server on loopback."""

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

from llmcc.store import stats
from tests.conftest import run
from tests.e2e.project import objects, write_project


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is required (apt-get install redis-server)")
    port = _free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", proc, client
    proc.kill()
    proc.wait()


def _build(root, env):
    run(["make", "clean"], cwd=root, check=True)
    r = run(["make", "-j4"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    return objects(root)


def test_a_second_machine_builds_warm_from_the_shared_store(llmcc, llmcc_env, tmp_path,
                                                            redis_url):
    url, proc, client = redis_url
    root = tmp_path / "proj"
    expected = write_project(root)
    first = dict(llmcc_env, CC=llmcc, LLMCC_CACHE_URL=url,
                 LLMCC_CACHE_DIR=str(tmp_path / "cache-a"))
    cold = _build(root, first)
    assert len(client.keys("llmcc:decision:*")) == 13
    second = dict(first, LLMCC_CACHE_DIR=str(tmp_path / "cache-b"))
    assert _build(root, second) == cold
    assert run(["./prog"], cwd=root).stdout == expected
    s = stats.read(second["LLMCC_CACHE_DIR"])
    assert s["cache hits"] == 13 and s.get("cache misses", 0) == 0 and s["remote hits"] == 13

    # the team's decisions become a pinned file
    pin = tmp_path / "team.pin"
    r = run([llmcc, "cache", "export", str(pin), "--from", url], env=llmcc_env)
    assert r.returncode == 0 and b"exported 13 decisions" in r.stdout, r.stderr

    # Redis stopped in the middle of a third machine's build: it completes, same bytes
    third = dict(first, LLMCC_CACHE_DIR=str(tmp_path / "cache-c"))
    run(["make", "clean"], cwd=root, check=True)
    build = subprocess.Popen(["make", "-j2"], env=third, cwd=root, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    while build.poll() is None and not list(root.glob("m*.o")):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert build.wait(timeout=600) == 0, build.stderr.read().decode()
    assert objects(root) == cold
    s3 = stats.read(third["LLMCC_CACHE_DIR"])
    assert s3.get("remote hits", 0) + s3.get("remote errors", 0) >= 1


def _silent_server():
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    conns = []

    def serve():
        while True:
            try:
                conns.append(srv.accept()[0])
            except OSError:
                return
    threading.Thread(target=serve, daemon=True).start()
    return srv


@pytest.mark.parametrize("fault", ["refused", "timeout"])
def test_an_unreachable_store_never_fails_or_stalls_a_build(llmcc, llmcc_env, sample_dir,
                                                            tmp_path, fault):
    srv = None
    if fault == "refused":
        url = f"redis://127.0.0.1:{_free_port()}/0"
    else:
        srv = _silent_server()
        url = f"redis://127.0.0.1:{srv.getsockname()[1]}/0"
    env = dict(llmcc_env, LLMCC_CACHE_URL=url)
    t0 = time.monotonic()
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "s.o"], env=env, cwd=sample_dir, timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0 and r.stderr == b""
    assert elapsed < 30  # one short timeout, not one per call
    assert stats.read(env["LLMCC_CACHE_DIR"])["remote errors"] >= 1
    if srv:
        srv.close()


def test_garbage_and_disallowed_entries_from_the_store_are_ignored(llmcc, llmcc_env, sample_dir,
                                                                   tmp_path, redis_url):
    url, _, client = redis_url
    env = dict(llmcc_env, LLMCC_CACHE_URL=url)
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "ref.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0
    keys = client.keys("llmcc:decision:*")
    assert len(keys) == 1
    good = json.loads(client.get(keys[0]))
    marker = tmp_path / "pwned"
    for value, counter in ((b"\x89garbage{", "corrupt cache entries"),
                           (json.dumps(dict(good, pipeline=f"-load-pass-plugin={marker}")),
                            "rejected pipelines")):
        client.set(keys[0], value)
        fresh = dict(env, LLMCC_CACHE_DIR=str(tmp_path / f"c-{counter[:4]}"))
        r = run([llmcc, "-O2", "-c", "sample.c", "-o", "s.o"], env=fresh, cwd=sample_dir)
        assert r.returncode == 0 and r.stderr == b""
        assert (sample_dir / "s.o").read_bytes() == (sample_dir / "ref.o").read_bytes()
        s = stats.read(fresh["LLMCC_CACHE_DIR"])
        assert s[counter] >= 1 and s.get("remote hits", 0) == 0
    assert not marker.exists()
