"""The shared ranking server: one per build, same decisions as in-process ranking,
gone when idle, and never a reason for a build to fail or differ."""

import os
import socket
import threading
import time

from llmcc.compile.rankserver import MAX_SOCKET_PATH, socket_path
from llmcc.rank.model import ModelRanker
from llmcc.store import stats
from tests.conftest import run
from tests.e2e.project import N_FILES, objects, write_project


def _build(root, env):
    run(["make", "clean"], cwd=root)
    r = run(["make", "-j4", f"CC={env['CC']}"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    return objects(root)


def _servers(path):
    out = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if b"llmcc.rank.server" in cmd and path.encode() in cmd:
            out.append(int(pid))
    return out


def test_one_server_ranks_a_parallel_build_as_each_compile_would(llmcc, llmcc_env, tmp_path):
    root = tmp_path / "proj"
    write_project(root)
    alone = dict(llmcc_env, CC=llmcc, LLMCC_RANK_SERVER="0",
                 LLMCC_CACHE_DIR=str(tmp_path / "alone"))
    expected = _build(root, alone)
    s = stats.read(alone["LLMCC_CACHE_DIR"])
    assert not s.get("rank server requests") and s["cache misses"] == N_FILES + 1

    # idle for 6 s: long enough not to exit between two compiles of a loaded machine
    served = dict(llmcc_env, CC=llmcc, LLMCC_RANK_SERVER="6")
    assert _build(root, served) == expected  # the same decisions, byte for byte
    s = stats.read(served["LLMCC_CACHE_DIR"])
    assert s["rank server starts"] == 1
    assert s["rank server requests"] == N_FILES + 1 and not s.get("rank server unreachable")
    path = socket_path(served["LLMCC_CACHE_DIR"], ModelRanker().identity)
    assert os.path.exists(path) and len(_servers(path)) == 1
    assert oct(os.stat(path).st_mode & 0o777) == "0o700"
    deadline = time.monotonic() + 30  # idle for 6 s: it removes its socket and exits
    while (os.path.exists(path) or _servers(path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(path) and not _servers(path)


def _fake_server(path, reply: bytes, stop):
    """Something else listening on the socket: answers every connection with ``reply``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    srv.settimeout(0.2)

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.recv(1 << 16)
                    conn.sendall(reply)
                except OSError:
                    pass
        srv.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def test_a_broken_or_foreign_server_changes_nothing(llmcc, llmcc_env, tmp_path):
    import json
    import struct
    root = tmp_path / "proj"
    write_project(root)
    alone = dict(llmcc_env, CC=llmcc, LLMCC_RANK_SERVER="0",
                 LLMCC_CACHE_DIR=str(tmp_path / "alone"))
    expected = _build(root, alone)
    bad = json.dumps({"ranked": ["internalize,globaldce"] * 4}).encode()
    for n, reply in enumerate((b"\xff\xff\xff\xffgarbage", struct.pack(">I", len(bad)) + bad)):
        env = dict(llmcc_env, CC=llmcc, LLMCC_CACHE_DIR=str(tmp_path / f"c{n}"))
        path = socket_path(env["LLMCC_CACHE_DIR"], ModelRanker().identity)
        stop = threading.Event()
        t = _fake_server(path, reply, stop)
        try:
            got = _build(root, env)
        finally:
            stop.set()
            t.join()
        s = stats.read(env["LLMCC_CACHE_DIR"])
        if n == 0:  # garbage: every compile ranks in-process, same decisions
            assert got == expected
            assert s["rank server unreachable"] == N_FILES + 1
        else:  # pipelines outside the allowlist never reach opt: -Oz objects at worst
            assert s["rejected pipelines"] >= N_FILES + 1
            assert s.get("TUs improved", 0) == 0
            assert not s.get("candidates compiled")


def test_a_stale_socket_is_replaced_and_long_paths_move_to_the_temporary_directory(
        llmcc, llmcc_env, tmp_path, sample_dir):
    env = dict(llmcc_env)
    path = socket_path(env["LLMCC_CACHE_DIR"], ModelRanker().identity)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)  # bound, never listening: what a killed server leaves behind
    s.close()
    r = run([llmcc, "-Oz", "-c", "sample.c", "-o", str(tmp_path / "x.o")], env=env,
            cwd=sample_dir)
    assert r.returncode == 0 and r.stderr == b""
    st = stats.read(env["LLMCC_CACHE_DIR"])
    assert st["rank server starts"] == 1 and st["rank server requests"] == 1
    deep = str(tmp_path / ("d" * 120))
    p = socket_path(deep, "model:0123456789abcdef")
    assert len(p.encode()) <= MAX_SOCKET_PATH and p.startswith("/") and "model-0123" in p
    assert p != socket_path(deep + "x", "model:0123456789abcdef")
