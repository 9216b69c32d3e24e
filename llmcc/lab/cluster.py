"""Tuning beyond one machine: search batches on a Ray cluster.

``llmcc tune search --ray ADDRESS`` and ``llmcc autotune run --ray ADDRESS`` ship
each translation unit's search (one TU, its whole budget of candidate
pipelines) as one Ray task. The TU's IR travels through Ray's object store once;
the worker writes it to a temporary directory and measures with its own
``clang``/``opt``, which must have the driver's toolchain identity (a worker
with another toolchain fails its task with a clear message). Results and the
resume state are written by the driver process exactly as a ``--jobs`` run
writes them, so both give the same records. A task whose worker dies is run
again by Ray (``max_retries``); a result is recorded only once, when it arrives.

Ray is an extra (``pip install 'llmcc[cluster]'``), imported only here.
"""

from __future__ import annotations

import os
import sys


class WorkerToolchainError(RuntimeError):
    """A Ray worker's clang/opt differ from the driver's."""


def _task(kind: str, ir_text: str, tu_fields: dict, timeout: float, identity: str, *args):
    """One TU's job on a worker, ``kind`` ``"search"`` or ``"label"``: the same
    function a local ``--jobs`` process runs (``tune._search_job``/``_label_job``);
    returns its ``(record, failures)``."""
    import tempfile
    from llmcc.lab import tune
    with tempfile.TemporaryDirectory(prefix="llmcc-ray-") as d:
        path = os.path.join(d, "tu.ll")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(ir_text)
        ev = tune.Evaluator(d, timeout)
        if ev.ctx.tc.identity != identity:
            raise WorkerToolchainError(
                f"worker {os.uname().nodename} has clang {ev.ctx.tc.version} at "
                f"{ev.ctx.tc.clang} (identity {ev.ctx.tc.identity[:12]}), the driver "
                f"{identity[:12]}: install the same toolchain on every node")
        tu = tune.TU(**dict(tu_fields, ir_path=path))
        tune._WORKER["ev"] = ev
        job = tune._search_job if kind == "search" else tune._label_job
        return job((tu,) + tuple(args))


def stream_search(jobs: list[tuple], out_path: str, fail_path: str, address: str,
                  timeout: float, desc: str) -> None:
    """Run search jobs ``(tu, extra, seed, seeds, incumbent, rung)`` on the Ray
    cluster at ``address`` (``auto`` or ``HOST:PORT``), appending each result to
    ``out_path`` and its failures to ``fail_path`` as it arrives.

    Raises:
        SystemExit: Ray cannot be reached, or a worker has another toolchain.
    """
    _stream("search", jobs, out_path, fail_path, address, timeout, desc)


def stream_labels(jobs: list[tuple], out_path: str, fail_path: str, address: str,
                  timeout: float, desc: str) -> None:
    """Run label jobs ``(tu, pipelines)`` (``llmcc tune broadcast``) on the cluster,
    as :func:`stream_search` does."""
    _stream("label", jobs, out_path, fail_path, address, timeout, desc)


def _stream(kind: str, jobs: list[tuple], out_path: str, fail_path: str, address: str,
            timeout: float, desc: str) -> None:
    import ray
    from tqdm import tqdm
    from llmcc.compile.toolchain import resolve, self_paths
    from llmcc.lab.jsonl import append_jsonl
    if not jobs:
        return
    identity = resolve(False, self_paths(), dict(os.environ), None).identity
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False,
                 ignore_reinit_error=True)
    except Exception as e:  # noqa: BLE001 - any failure to connect is the user's to fix
        raise SystemExit(f"llmcc: cannot connect to the Ray cluster at {address}: {e}")
    task = ray.remote(max_retries=3, retry_exceptions=False)(_task)
    shared = {}  # one object-store copy of arguments every job shares (seed lists)
    pending = {}
    for tu, *args in jobs:
        for a in args:
            if isinstance(a, list) and len(a) > 8 and id(a) not in shared:
                shared[id(a)] = ray.put(a)
        # top-level arguments: Ray resolves object references only there
        args = [shared.get(id(a), a) for a in args]
        with open(tu.ir_path, encoding="utf-8", errors="surrogateescape") as f:
            ir_ref = ray.put(f.read())
        fields = {k: getattr(tu, k) for k in ("ir_hash", "codegen_args", "package", "split",
                                              "ir_bytes")}
        pending[task.remote(kind, ir_ref, fields, timeout, identity, *args)] = tu.ir_hash
    with open(out_path, "a", encoding="utf-8") as out, \
            open(fail_path, "a", encoding="utf-8") as fails, \
            tqdm(total=len(pending), desc=desc, unit="TU", file=sys.stderr) as bar:
        refs = list(pending)
        while refs:
            done, refs = ray.wait(refs, num_returns=1)
            try:
                rec, failures = ray.get(done[0])
            except ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, WorkerToolchainError):
                    raise SystemExit(f"llmcc: {cause}")
                raise SystemExit(f"llmcc: the job of {pending[done[0]]} failed on the "
                                 f"cluster: {e}")
            append_jsonl(out, [rec])
            append_jsonl(fails, [{"ir_hash": h, "pipeline": p, "error": err}
                                 for h, p, err in failures], sort_keys=False)
            bar.update(1)
