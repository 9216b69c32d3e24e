"""The compiler side of the compile server (:mod:`llmcc.compile.server`).

Every compiler call pays for starting Python and importing the compile path
before it does anything; a configure script makes hundreds of calls, and a
warm rebuild is mostly such fixed costs. When a compile server runs for this
installation, a call is instead handed to it whole: the call's arguments,
working directory, umask, niceness and environment, and its standard input,
output and error as file descriptors (``SCM_RIGHTS``). The server forks a
process that already has the compile path imported, runs the call there with
exactly those, and answers with its exit status, which this process exits
with. Nothing else travels: objects, dependency files and diagnostics are
written by the forked process to the same files and descriptors the call
would have used.

This module is imported on every compiler call, so it uses the C modules
``_socket`` and ``_struct`` only. Any problem (no server, a refused or broken
connection, a socket that is not the user's) makes the call run in this
process instead, as it would without a server.

Protocol, one call per connection: the client sends a 4-byte big-endian
length and that many bytes, fields separated by NUL: :data:`PROTOCOL`, argv[0],
``1``/``0`` for C++, the working directory, the umask and niceness in decimal,
the device and inode of the working directory as the client sees it, this
process's CPU milliseconds so far, the number of arguments, the arguments,
then ``NAME=VALUE`` environment entries; the descriptors 0, 1 and 2 travel with
the first bytes. The server answers 4 bytes: the exit code (0..255), minus the
signal number for a call killed by a signal, or :data:`NOT_SERVED`.
"""

from __future__ import annotations

import os
import sys

#: Version of the request format; a server answers only its own.
PROTOCOL = "llmcc-compile-1"
#: Status meaning "the server did not run this call": the client runs it itself.
NOT_SERVED = -1000
#: Setting that turns the server off (``compile_server = 0`` in the config file
#: stops new servers from starting; this environment variable also stops the
#: client from using a running one).
ENV = "LLMCC_COMPILE_SERVER"

#: Set by :func:`run` when no server answered, so that the in-process call
#: can start one for the calls that follow (:func:`llmcc.compile.server.start`).
wanted: str | None = None


def package_dir() -> str:
    """The installed ``llmcc`` package directory."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def socket_dir() -> str:
    """The user's directory for compile-server sockets: ``$XDG_RUNTIME_DIR/llmcc``,
    else ``$TMPDIR/llmcc-UID`` (``/tmp`` without ``TMPDIR``)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "llmcc")
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, f"llmcc-{os.getuid()}")


def code_stamp(root: str | None = None) -> str:
    """A checksum of the interpreter (the file it resolves to, and its
    environment's prefix) and of every file of the installed package (names,
    sizes, modification times): a server runs the code it imported, so a changed
    installation gets a new server, never the old one's answers. The spelling of
    the interpreter's path does not count: scripts whose shebang names
    ``bin/python3`` and a ``bin/python -m llmcc`` of the same environment share
    one server."""
    import zlib
    root = root or package_dir()
    parts = [os.path.realpath(sys.executable), sys.prefix, root]
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            if e.name == "__pycache__":
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                    continue
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            parts.append(f"{e.path}:{st.st_size}:{st.st_mtime_ns}")
    return format(zlib.crc32("\0".join(parts).encode("utf-8", "surrogateescape")), "08x")


def socket_path() -> str:
    """Where this installation's compile server listens."""
    return os.path.join(socket_dir(), f"compile-{code_stamp()}.sock")


def _usable_dir(path: str) -> bool:
    """The socket directory is the user's own and nobody else may write it."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    import stat
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def encode_request(argv0: str, cxx: bool, args: list[str], env: dict[str, str],
                   cpu_ms: int) -> bytes:
    """The request bytes for one call (see the module docstring)."""
    st = os.stat(".")
    umask = os.umask(0)
    os.umask(umask)
    fields = [PROTOCOL, argv0, "1" if cxx else "0", os.getcwd(), str(umask),
              str(os.nice(0)), str(st.st_dev), str(st.st_ino), str(cpu_ms), str(len(args))]
    fields += args
    fields += [f"{k}={v}" for k, v in env.items()]
    data = b"\0".join(os.fsencode(f) for f in fields)
    return len(data).to_bytes(4, "big") + data


def decode_request(data: bytes) -> dict:
    """The fields of a request's bytes (after the length).

    Raises:
        ValueError: another protocol, or a malformed request.
    """
    fields = [os.fsdecode(f) for f in data.split(b"\0")]
    if len(fields) < 10 or fields[0] != PROTOCOL:
        raise ValueError("not a compile request of this version")
    n = int(fields[9])
    if n < 0 or len(fields) < 10 + n:
        raise ValueError("argument count out of range")
    env = {}
    for item in fields[10 + n:]:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError("environment entry without '='")
        env[name] = value
    return {"argv0": fields[1], "cxx": fields[2] == "1", "cwd": fields[3],
            "umask": int(fields[4]), "nice": int(fields[5]),
            "cwd_id": (int(fields[6]), int(fields[7])), "cpu_ms": int(fields[8]),
            "args": fields[10:10 + n], "env": env}


def _served(args: list[str], cxx: bool) -> int | None:
    """Hand the call to the server; its exit status, or None when not served."""
    global wanted
    import _socket
    path = socket_path()
    if len(os.fsencode(path)) > 100 or not _usable_dir(os.path.dirname(path)):
        wanted = path
        return None
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:  # a closed standard stream cannot be passed
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
        except OSError:
            wanted = path  # none listens (or a dead one's socket)
            return None
        try:
            if os.stat(path).st_uid != os.getuid():
                return None
        except OSError:
            return None
        import _struct
        import resource
        r = resource.getrusage(resource.RUSAGE_SELF)
        data = encode_request(sys.argv[0], cxx, args, dict(os.environ),
                              round(1000 * (r.ru_utime + r.ru_stime)))
        fds = _struct.pack("3i", 0, 1, 2)
        sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        while sent < len(data):
            sent += sock.send(data[sent:])
        reply = b""
        while len(reply) < 4:
            chunk = sock.recv(4 - len(reply))
            if not chunk:
                return None  # the server went away before answering
            reply += chunk
        status = int.from_bytes(reply, "big", signed=True)
    except OSError:
        return None
    finally:
        sock.close()
    if status == NOT_SERVED:
        return None
    if status < 0:  # killed by a signal: end the same way
        import signal
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status


def run(args: list[str], cxx: bool) -> int:
    """Run one compiler call: through the compile server when one answers, else
    in this process (:func:`llmcc.compile.driver.compile_main`)."""
    if os.environ.get(ENV, "").strip().lower() not in ("0", "false", "no", "off") \
            and not os.environ.get("LLMCC_PINNED") and not os.environ.get("LLMCC_DISABLE"):
        try:
            status = _served(args, cxx)
        except KeyboardInterrupt:  # ^C while served: end as an interrupted compiler does
            import signal
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            return 130
        except Exception:  # the server is an optimization: never a reason to fail
            status = None
        if status is not None:
            return status
    from llmcc.compile.driver import compile_main
    return compile_main(args, cxx)
