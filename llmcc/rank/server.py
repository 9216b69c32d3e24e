"""A ranking server: one process holds the model for every compile of a build.

Loading onnxruntime, the tokenizer and the model costs each compiler process
that misses the cache about 0.3 s of CPU and over 100 MB of memory; with
``make -j16`` that is sixteen copies. Instead, the first compile that needs a
ranking starts this server (``python -m llmcc.rank.server``, detached, all
standard streams on ``/dev/null``), which loads the model once and answers
rankings on a Unix socket until it has been idle for ``idle`` seconds; it then
removes its socket and exits (sccache's server works the same way).

Protocol, one request per connection: a 4-byte big-endian length, then that
many bytes of UTF-8 JSON. Request ``{"model": IDENTITY, "ir": TEXT}``; reply
``{"ranked": [PIPELINE, ...], "cpu_ms": N}`` or ``{"error": TEXT}``. A request
for another model identity than the server's is refused, so a server left from
an earlier model never answers for a new one. The reply is what
:meth:`llmcc.rank.model.ModelRanker.rank` returns in-process (same model,
same input, one inference thread): a compile's decision does not depend on
whether the server ran. Whatever it proposes still passes the allowlist and
is measured by the driver, so a process answering on the socket can make
objects no larger than ``-Oz`` and no different in meaning.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time

#: Largest message accepted, in bytes (the IR of one TU as text).
MAX_MESSAGE = 256 << 20


def send_message(sock: socket.socket, obj: dict) -> None:
    """Send one length-prefixed JSON message."""
    data = json.dumps(obj).encode("utf-8", "surrogateescape")
    sock.sendall(struct.pack(">I", len(data)) + data)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed mid-message")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def recv_message(sock: socket.socket) -> dict:
    """Receive one length-prefixed JSON object.

    Raises:
        ConnectionError: the peer closed early; ValueError: not a JSON object or
            longer than :data:`MAX_MESSAGE`.
    """
    (n,) = struct.unpack(">I", _recv_exactly(sock, 4))
    if n > MAX_MESSAGE:
        raise ValueError(f"message of {n} bytes")
    obj = json.loads(_recv_exactly(sock, n).decode("utf-8", "surrogateescape"))
    if not isinstance(obj, dict):
        raise ValueError("message is not a JSON object")
    return obj


def request(path: str, identity: str, ir_text: str, timeout: float) -> tuple[list[str], int]:
    """Ask the server at ``path`` to rank ``ir_text`` with model ``identity``.

    Returns:
        (pipelines best first, server CPU milliseconds spent on the request,
        including loading the model on its first request).

    Raises:
        OSError: no server listens at ``path`` (or it timed out);
        ValueError: it answered with an error or something else than a ranking.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        send_message(sock, {"model": identity, "ir": ir_text})
        reply = recv_message(sock)
    ranked = reply.get("ranked")
    if not isinstance(ranked, list) or not all(isinstance(p, str) for p in ranked):
        raise ValueError(f"rank server: {reply.get('error', 'no ranking in the reply')}")
    cpu_ms = reply.get("cpu_ms", 0)
    return ranked, cpu_ms if isinstance(cpu_ms, int) else 0


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, ranker, idle: float, load_cpu_ms: int):
        self.ranker, self.idle = ranker, idle
        self.last = time.monotonic()
        self.pending_cpu_ms = load_cpu_ms  # the model load, billed to the first request
        self.lock = threading.Lock()
        super().__init__(path, _Handler)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        srv: _Server = self.server  # type: ignore[assignment]
        self.request.settimeout(60)
        try:
            req = recv_message(self.request)
            if req.get("model") != srv.ranker.identity:
                send_message(self.request, {"error": f"this server ranks with "
                                                     f"{srv.ranker.identity}"})
                return
            ir = req.get("ir")
            if not isinstance(ir, str):
                send_message(self.request, {"error": "no IR in the request"})
                return
            t0 = time.thread_time()
            with srv.lock:  # one inference at a time: deterministic, one thread
                ranked = srv.ranker.rank(ir)
                cpu_ms = round(1000 * (time.thread_time() - t0)) + srv.pending_cpu_ms
                srv.pending_cpu_ms = 0
            send_message(self.request, {"ranked": ranked, "cpu_ms": cpu_ms})
        except Exception as e:  # one bad request never stops the server
            try:
                send_message(self.request, {"error": f"{type(e).__name__}: {e}"})
            except OSError:
                pass
        finally:
            srv.last = time.monotonic()


def serve(path: str, model_dir: str | None, idle: float) -> int:
    """Load the model, listen on ``path`` and answer rankings until idle for ``idle``
    seconds. Returns 0, or 1 when another server already listens there."""
    from llmcc.rank.model import ModelRanker
    t0 = time.process_time()
    ranker = ModelRanker(model_dir)
    ranker._load()
    load_ms = round(1000 * (time.process_time() - t0))
    old_umask = os.umask(0o077)  # the socket is the user's alone
    try:
        srv = _Server(path, ranker, idle, load_ms)
    except OSError:  # another server won the race to bind
        return 1
    finally:
        os.umask(old_umask)
    inode = os.stat(path).st_ino

    def watchdog() -> None:
        while time.monotonic() - srv.last < srv.idle:
            time.sleep(min(1.0, srv.idle / 4))
        srv.shutdown()

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        remove_own_socket(path, inode)
    return 0


def remove_own_socket(path: str, inode: int) -> None:
    """Remove the socket a server bound at ``path`` (inode ``inode``) when it stops,
    unless a newer server has replaced it there."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """``python -m llmcc.rank.server --socket PATH [--model-dir DIR] [--idle SEC]``."""
    p = argparse.ArgumentParser(prog="llmcc-rank-server", description=__doc__.split("\n\n")[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--model-dir", default=None)
    p.add_argument("--idle", type=float, default=120.0)
    ns = p.parse_args(argv)
    return serve(ns.socket, ns.model_dir, ns.idle)


if __name__ == "__main__":
    sys.exit(main())
