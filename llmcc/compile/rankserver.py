"""The compile side of the ranking server (:mod:`llmcc.rank.server`).

:class:`ServedRanker` ranks like the model ranker it wraps (same identity,
same rankings) but asks the build's shared server, starting it on first use;
when no server can be reached it ranks in-process, so a build never waits on
or fails because of the server.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

from llmcc.rank.base import Ranker
from llmcc.rank import server
from llmcc.store import files

#: Seconds a compile waits for a server it started to answer.
START_WAIT = 10.0
#: Seconds one ranking request may take before the compile ranks in-process.
REQUEST_TIMEOUT = 60.0
#: Longest Unix socket path (``sun_path`` holds 108 bytes on Linux).
MAX_SOCKET_PATH = 100


def socket_path(cache_dir: str, identity: str) -> str:
    """Where the server for model ``identity`` listens: ``CACHE/rank/<id>.sock``, or
    a per-user name in the temporary directory when that path is too long for a
    Unix socket."""
    name = identity.replace(":", "-") + ".sock"
    path = os.path.join(cache_dir, "rank", name)
    if len(path.encode()) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.path.abspath(cache_dir).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"llmcc-{os.getuid()}-{digest}-{name}")


class ServedRanker(Ranker):
    """The model ranker, served by one process per build.

    Args:
        local: the :class:`llmcc.rank.model.ModelRanker` whose identity it
            carries; it ranks in-process when the server cannot.
        path: the server's socket (:func:`socket_path`).
        idle: seconds the server stays up without requests.
        counts: the compile's counters (server CPU is added to ``cpu ms: ranking``).
    """

    name = "model"

    def __init__(self, local, path: str, idle: float, counts: Counter, env: dict[str, str]):
        self.local, self.path, self.idle, self.counts = local, path, idle, counts
        self.identity = local.identity
        self.pipelines = local.pipelines
        self.env = env

    def rank(self, ir_text: str) -> list[str]:
        """Pipelines best first, from the server (started if needed) or in-process."""
        if not self.local.in_range(ir_text):
            return list(self.pipelines)
        ranked = None
        try:
            ranked = self._ask(ir_text)
        except OSError:  # no server yet, or a dead one's socket (TimeoutError included)
            try:
                if self._start():
                    ranked = self._ask(ir_text)
            except (OSError, ValueError):
                pass
        except ValueError:  # it answered something else than a ranking
            pass
        if ranked is None:
            self.counts["rank server unreachable"] += 1
            return self.local.rank(ir_text)
        self.counts["rank server requests"] += 1
        return ranked

    def _ask(self, ir_text: str) -> list[str]:
        if os.lstat(self.path).st_uid != os.getuid():  # another user's socket: not ours
            raise ValueError(f"{self.path} belongs to another user")
        ranked, cpu_ms = server.request(self.path, self.identity, ir_text, REQUEST_TIMEOUT)
        self.counts["cpu ms: ranking"] += cpu_ms
        return ranked

    def _start(self) -> bool:
        """Start a server unless another compile just did; True once one answers
        connections. Holds ``PATH.lock`` so that one compile of a parallel build
        starts it."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with files.locked(self.path + ".lock", timeout=START_WAIT):
            if self._listening():
                return True
            try:
                os.unlink(self.path)  # a server that died left its socket
            except FileNotFoundError:
                pass
            env = {k: v for k, v in self.env.items() if not k.startswith("LLMCC_")}
            proc = subprocess.Popen(
                [sys.executable, "-m", "llmcc.rank.server", "--socket", self.path,
                 "--model-dir", self.local.directory, "--idle", str(self.idle)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                close_fds=True, start_new_session=True, env=env, cwd="/")
            self.counts["rank server starts"] += 1
            deadline = time.monotonic() + START_WAIT
            while time.monotonic() < deadline:
                if self._listening():
                    return True
                if proc.poll() is not None:  # it could not load the model, or lost a race
                    return self._listening()
                time.sleep(0.02)
        return False

    def _listening(self) -> bool:
        import socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(self.path)
                return True
            except OSError:
                return False
