"""The compile server: calls handed to a warm process give what a process of
their own gives, an interrupted call stops its tools, and nothing but the
user's own server is ever trusted."""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from llmcc.store import stats
from tests.conftest import run
from tests.e2e.conftest import SAMPLE_C, SAMPLE_H


def _server_env(llmcc_env, tmp_path):
    """A private socket directory (a fresh TMPDIR), so this test's server is its own."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(llmcc_env, TMPDIR=str(tmp), LLMCC_COMPILE_SERVER="20")
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def _socket_path(env):
    return os.path.join(env["TMPDIR"], f"llmcc-{os.getuid()}",
                        f"compile-{_stamp()}.sock")


def _stamp():
    from llmcc.compile import client
    return client.code_stamp()


def _wait_for_server(env, seconds=20):
    path = _socket_path(env)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
            return path
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"no compile server at {path}")


CALLS = [
    ["-Oz", "-c", "sample.c", "-o", "out.o"],                 # optimized: object
    ["-Oz", "-c", "sample.c", "-o", "out.o", "-MD", "-MF", "out.d"],
    ["-E", "sample.c"],                                        # pass-through to stdout
    ["-Oz", "-c", "broken.c", "-o", "broken.o"],              # clang's error and exit code
    ["-Oz", "-c", "warn.c", "-o", "warn.o", "-Wall"],         # warnings on stderr
    ["-v", "-Oz", "-c", "sample.c", "-o", "out.o"],           # the driver's own report
]


def test_served_calls_give_what_calls_of_their_own_give(llmcc, llmcc_env, tmp_path):
    env = _server_env(llmcc_env, tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "sample.c").write_text(SAMPLE_C)
    (src / "sample.h").write_text(SAMPLE_H)
    (src / "broken.c").write_text("int f(void) { return undeclared; }\n")
    (src / "warn.c").write_text("int f(int x) { int unused; return x; }\n")
    # The first call runs in its own process and starts the server.
    assert run([llmcc, "-Oz", "-c", "sample.c", "-o", "first.o"], env=env, cwd=src).returncode == 0
    _wait_for_server(env)
    alone = dict(env, LLMCC_COMPILE_SERVER="0")
    for args in CALLS:
        results = []
        for e in (alone, env):
            for f in ("out.o", "out.d", "broken.o", "warn.o"):
                (src / f).unlink(missing_ok=True)
            r = run([llmcc] + args, env=e, cwd=src)
            outputs = {f: (src / f).read_bytes() for f in ("out.o", "out.d", "warn.o")
                       if (src / f).exists()}
            results.append((r.returncode, r.stdout, r.stderr, outputs))
        assert results[0] == results[1], args
    assert results[0][0] == 0
    assert stats.read(env["LLMCC_CACHE_DIR"])["compile server calls"] >= len(CALLS)


def test_an_interrupted_call_stops_its_tools(llmcc, llmcc_env, tmp_path):
    env = _server_env(llmcc_env, tmp_path)
    real_opt = subprocess.run(["sh", "-c", "command -v opt-19"], capture_output=True,
                              text=True).stdout.strip()
    pidfile = tmp_path / "opt.pid"
    fake = tmp_path / "opt-19"
    fake.write_text(f"""#!/bin/sh
case "$1" in --version) exec {real_opt} --version;; esac
echo $$ > {pidfile}
exec sleep 600
""")
    fake.chmod(0o755)
    env["LLMCC_OPT"] = str(fake)
    src = tmp_path / "src"
    src.mkdir()
    (src / "sample.c").write_text(SAMPLE_C)
    (src / "sample.h").write_text(SAMPLE_H)
    run([llmcc, "-E", "sample.c", "-o", "/dev/null"], env=env, cwd=src)  # starts the server
    _wait_for_server(env)
    # SIGINT at its default, as make's jobs have it, even when this test run is a
    # background job (which makes it and every process below it ignore SIGINT)
    proc = subprocess.Popen([llmcc, "-Oz", "-c", "sample.c", "-o", "out.o"], env=env, cwd=src,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "opt never started"
        assert proc.poll() is None
        time.sleep(0.05)
    opt_pid = int(pidfile.read_text())
    proc.send_signal(signal.SIGINT)  # what make does to its jobs on ^C
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(opt_pid):
        assert time.monotonic() < deadline, "the interrupted call's opt is still running"
        time.sleep(0.05)
    assert stats.read(env["LLMCC_CACHE_DIR"])["compile server starts"] == 1


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_server_answering_garbage_costs_nothing_but_time(llmcc, llmcc_env, tmp_path, clang):
    env = _server_env(llmcc_env, tmp_path)
    path = _socket_path(env)
    os.makedirs(os.path.dirname(path), mode=0o700)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    answers = iter([b"\x00\x00\x00", b"\x00\x00\x00\x00", b"garbage!", b""])
    accepted = []

    def serve():
        for answer in answers:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            accepted.append(conn.recv(1 << 16)[:0])
            if answer:
                conn.sendall(answer)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    src = tmp_path / "src"
    src.mkdir()
    (src / "sample.c").write_text(SAMPLE_C)
    (src / "sample.h").write_text(SAMPLE_H)
    # Truncated replies are not statuses: the call runs in its own process.
    r = run([llmcc, "-Oz", "-c", "sample.c", "-o", "a.o"], env=env, cwd=src)
    assert r.returncode == 0 and r.stderr == b""
    ref = run([llmcc, "-Oz", "-c", "sample.c", "-o", "b.o"],
              env=dict(env, LLMCC_COMPILE_SERVER="0", LLMCC_CACHE_DIR=str(tmp_path / "c2")),
              cwd=src)
    assert ref.returncode == 0
    assert (src / "a.o").read_bytes() == (src / "b.o").read_bytes()
    assert accepted  # the fake server was asked
    srv.close()


def test_a_socket_directory_others_can_write_is_never_used(llmcc, llmcc_env, tmp_path):
    env = _server_env(llmcc_env, tmp_path)
    d = os.path.dirname(_socket_path(env))
    os.makedirs(d)
    os.chmod(d, 0o777)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.c").write_text("int f(int x) { return x + 1; }\n")
    assert run([llmcc, "-Oz", "-c", "a.c", "-o", "a.o"], env=env, cwd=src).returncode == 0
    time.sleep(1)
    assert os.listdir(d) == []  # no server started there, no lock file written
    assert stats.read(env["LLMCC_CACHE_DIR"]).get("compile server starts", 0) == 0


def test_pinned_builds_never_start_or_use_a_server(llmcc, llmcc_env, tmp_path):
    env = _server_env(llmcc_env, tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.c").write_text("int f(int x) { return x + 1; }\n")
    pin = tmp_path / "empty.pin"
    pin.write_text("")
    env = dict(env, LLMCC_PINNED=str(pin))
    run([llmcc, "-Oz", "-c", "a.c", "-o", "a.o"], env=env, cwd=src)
    time.sleep(1)
    assert not os.path.exists(os.path.join(env["TMPDIR"], f"llmcc-{os.getuid()}"))


def test_every_spelling_of_the_interpreter_names_the_same_server():
    """An environment's ``bin/python`` and ``bin/python3`` (the shebang pip writes for
    the llmcc script) run the same code, so they name the same server."""
    import sys
    bindir = os.path.dirname(sys.executable)
    spellings = [p for p in (os.path.join(bindir, n) for n in ("python", "python3"))
                 if os.path.exists(p)]
    assert len(spellings) == 2
    code = "from llmcc.compile.client import socket_path; print(socket_path())"
    paths = {subprocess.run([p, "-c", code], capture_output=True, text=True,
                            check=True).stdout for p in spellings}
    assert len(paths) == 1
