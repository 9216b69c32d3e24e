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


def _search_task(ir_text: str, tu_fields: dict, extra: int, seed: int, seeds, incumbent,
                 rung: int, timeout: float, identity: str):
    """One TU's search on a worker: returns ``(record, failures)`` as a local job does."""
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
        ev.failures = []
        rec = tune.search_tu(ev, tu, extra, seed, seeds, incumbent, rung)
        return rec, ev.failures


def stream_search(jobs: list[tuple], out_path: str, fail_path: str, address: str,
                  timeout: float, desc: str) -> None:
    """Run search jobs ``(tu, extra, seed, seeds, incumbent, rung)`` on the Ray
    cluster at ``address`` (``auto`` or ``HOST:PORT``), appending each result to
    ``out_path`` and its failures to ``fail_path`` as it arrives.

    Raises:
        SystemExit: Ray cannot be reached, or a worker has another toolchain.
    """
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
    task = ray.remote(max_retries=3, retry_exceptions=False)(_search_task)
    seeds_ref = ray.put(jobs[0][3])
    pending = {}
    for tu, extra, seed, _, incumbent, rung in jobs:
        with open(tu.ir_path, encoding="utf-8", errors="surrogateescape") as f:
            ir_ref = ray.put(f.read())
        fields = {k: getattr(tu, k) for k in ("ir_hash", "codegen_args", "package", "split",
                                              "ir_bytes")}
        ref = task.remote(ir_ref, fields, extra, seed, seeds_ref, incumbent, rung, timeout,
                          identity)
        pending[ref] = tu.ir_hash
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
                raise SystemExit(f"llmcc: the search of {pending[done[0]]} failed on the "
                                 f"cluster: {e}")
            append_jsonl(out, [rec])
            append_jsonl(fails, [{"ir_hash": h, "pipeline": p, "error": err}
                                 for h, p, err in failures], sort_keys=False)
            bar.update(1)
