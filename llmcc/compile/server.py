"""The compile server: one process per installation and user that has the
compile path imported, and forks it for each compiler call (the client side
and the protocol are in :mod:`llmcc.compile.client`).

A compiler call that found no server runs in its own process as before and
starts one (:func:`start`), detached, with all standard streams on
``/dev/null``; it listens on a Unix socket in a directory only the user can
write, accepts connections from the same user only (``SO_PEERCRED``), and
exits once no call has come for ``idle`` seconds (``compile_server``), as
sccache's and the ranking server do.

For each call the server forks a *handler*, which reads the request and forks
the *worker*: the worker takes the call's standard streams, working directory,
umask, niceness and environment, and runs :func:`llmcc.compile.driver.compile_main`,
which may ``exec`` the real clang as a call in its own process would. The
handler waits for the worker and sends its status; if the client goes away
first (its build was interrupted), the handler interrupts the worker's
process group, then kills it, so no compile outlives the call that asked for
it. Every call starts from the same freshly imported state (a fork), so calls
cannot affect each other; a call whose working directory is not the one the
client sees (another mount namespace, a container) is not served.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import threading
import time

from llmcc.compile import client

#: Largest request accepted, in bytes (arguments and environment of one call).
MAX_REQUEST = 64 << 20
#: Seconds the worker of an abandoned call gets to stop after SIGINT before SIGKILL.
KILL_GRACE = 2.0
#: Seconds a started server has to begin listening before another call may start one.
START_WAIT = 10.0


def _preload() -> None:
    """Import everything a compile call imports, and read the package data it reads."""
    from llmcc.compile import driver, cmdline, toolchain  # noqa: F401
    from llmcc.store import cache, objects, stats, pinned, files  # noqa: F401
    from llmcc.llvm import objsize, passes, ir  # noqa: F401
    from llmcc.rank import rankers  # noqa: F401
    from llmcc import config  # noqa: F401
    import platformdirs  # noqa: F401
    import xxhash  # noqa: F401
    import tomllib  # noqa: F401
    passes.vocabulary()


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    """Read one request and the descriptors that came with it.

    Raises:
        ValueError: malformed, too large, or not three descriptors.
        ConnectionError: the client closed early.
    """
    fds: list[int] = []
    data = b""
    while len(data) < 4 or not fds:
        msg, anc, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_SPACE(3 * 4))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(struct.unpack(f"{len(payload) // 4}i", payload[:len(payload) // 4 * 4]))
        if not msg:
            raise ConnectionError("client closed before its request")
        data += msg
        if len(data) >= 4 and not fds:
            raise ValueError("request without its standard streams")
    (n,) = struct.unpack(">I", data[:4])
    if n > MAX_REQUEST:
        raise ValueError(f"request of {n} bytes")
    while len(data) < 4 + n:
        chunk = conn.recv(min(1 << 20, 4 + n - len(data)))
        if not chunk:
            raise ConnectionError("client closed mid-request")
        data += chunk
    if len(fds) != 3:
        raise ValueError(f"{len(fds)} descriptors instead of 3")
    return client.decode_request(data[4:4 + n]), fds


def _worker(req: dict, fds: list[int]) -> None:
    """Become the call: its streams, directory, umask, niceness and environment;
    run it and exit with its status (never returns)."""
    status = 1
    try:
        os.setpgid(0, 0)  # the handler can stop this call and all it started
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(req["cwd"])
        os.umask(req["umask"])
        gap = req["nice"] - os.nice(0)
        if gap > 0:
            os.nice(gap)
        os.environ.clear()
        os.environ.update(req["env"])
        sys.argv = [req["argv0"]] + req["args"]
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from llmcc.compile import driver
        driver.SERVED_START_CPU_MS = req["cpu_ms"]
        status = driver.compile_main(req["args"], req["cxx"], dict(req["env"]))
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    except BaseException:  # compile_main ends in clang itself for any error of its own
        status = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(status & 0xFF)


def _handle(conn: socket.socket) -> None:
    """One call (in a process of its own): read it, fork its worker, wait, answer."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        req, fds = _recv_request(conn)
        st = os.stat(req["cwd"])
        if (st.st_dev, st.st_ino) != req["cwd_id"]:
            raise ValueError("the working directory is not the client's")
    except (OSError, ValueError):
        try:
            conn.sendall(struct.pack(">i", client.NOT_SERVED))
        except OSError:
            pass
        os._exit(0)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _worker(req, fds)
    for fd in fds:
        os.close(fd)

    def watch_client() -> None:
        # The client never sends more: readable means it closed (interrupted build).
        try:
            conn.recv(1)
        except OSError:
            pass
        try:
            os.killpg(pid, signal.SIGINT)
            time.sleep(KILL_GRACE)
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass

    threading.Thread(target=watch_client, daemon=True).start()
    _, wstatus = os.waitpid(pid, 0)
    code = (-os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus)
            else os.WEXITSTATUS(wstatus))
    try:
        conn.sendall(struct.pack(">i", code))
    except OSError:
        pass
    os._exit(0)


def serve(path: str, idle: float) -> int:
    """Listen on ``path`` and serve calls until none came for ``idle`` seconds.
    Returns 0, or 1 when another server already listens there."""
    _preload()
    old = os.umask(0o077)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
        except OSError:
            return 1
    finally:
        os.umask(old)
    sock.listen(128)
    inode = os.stat(path).st_ino
    last = time.monotonic()
    uid = os.getuid()
    try:
        while True:
            try:
                sock.settimeout(max(0.05, min(1.0, idle - (time.monotonic() - last))))
                conn, _ = sock.accept()
            except socket.timeout:
                conn = None
            while True:  # reap finished handlers
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        break
                except ChildProcessError:
                    break
            if conn is None:
                try:
                    if os.stat(path).st_ino != inode:
                        return 0  # replaced by a newer server
                except OSError:
                    return 0
                if time.monotonic() - last >= idle:
                    return 0
                continue
            last = time.monotonic()
            conn.settimeout(None)
            try:
                cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                       struct.calcsize("3i"))
                if struct.unpack("3i", cred)[1] != uid:
                    conn.close()
                    continue
                pid = os.fork()
            except OSError:
                conn.close()
                continue
            if pid == 0:
                sock.close()
                try:
                    _handle(conn)
                finally:
                    os._exit(0)
            conn.close()
    finally:
        sock.close()
        from llmcc.rank.server import remove_own_socket
        remove_own_socket(path, inode)


def start(path: str, idle: float, env: dict[str, str]) -> bool:
    """Start a server at ``path`` unless one is starting; True if one was started.

    The directory is created owner-only; a lock next to the socket makes one
    call of a parallel build start it; a stale socket is removed first.
    """
    import subprocess
    from llmcc.store import files
    d = os.path.dirname(path)
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        if not client._usable_dir(d):
            return False
        with files.locked(path + ".lock", timeout=0):
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(path)
                return False  # one listens already
            except OSError:
                pass
            marker = path + ".starting"
            try:  # another call started one that is still importing
                if time.time() - os.stat(marker).st_mtime < START_WAIT:
                    return False
            except FileNotFoundError:
                pass
            files.atomic_write(marker, b"")
            try:
                os.unlink(path)  # a server that died left its socket
            except FileNotFoundError:
                pass
            clean = {k: v for k, v in env.items() if not k.startswith("LLMCC_")}
            subprocess.Popen(
                [sys.executable, "-m", "llmcc.compile.server", "--socket", path,
                 "--idle", str(idle)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                close_fds=True, start_new_session=True, env=clean, cwd="/")
            return True
    except (OSError, TimeoutError):
        return False


def main(argv: list[str] | None = None) -> int:
    """``python -m llmcc.compile.server --socket PATH [--idle SEC]``."""
    import argparse
    p = argparse.ArgumentParser(prog="llmcc-compile-server", description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--idle", type=float, default=300.0)
    ns = p.parse_args(argv)
    return serve(ns.socket, ns.idle)


if __name__ == "__main__":
    sys.exit(main())
