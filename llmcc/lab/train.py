"""``llmcc train``: train, export and evaluate the ``model`` ranker.

Reproduces ``llmcc/model/`` from a recorded corpus and the labels of
``llmcc tune broadcast``, deterministically::

    llmcc train fit  --corpus DIR --labels DIR [--out llmcc/model]
    llmcc train eval --corpus DIR --labels DIR [--model llmcc/model]

``fit`` trains the BPE tokenizer on the training split's normalized IR,
describes each training TU by its token histogram and scalar features,
standardizes, fits a PCA projection, picks the softmax temperature and the
uniform share of the neighbour weights by cross-validation over training
packages (whole packages held out per fold, as validation packages are), and
writes ``model.onnx`` (built with ``onnx``, the two large matrix products
quantized to int8 by onnxruntime's dynamic quantization), ``tokenizer.json``,
``neighbours.npy`` and ``model.json``. No validation TU is read.

``eval`` prints, on the validation packages, best-of-top-k reductions against
``-Oz`` for the model and the static ranker, the coreset oracle, the
zero-shot improved/regressed shares (top-1 without the ``-Oz`` backup), and
the inference cost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time

from llmcc.rank import model as M
from llmcc.rank.base import ir_size
from llmcc.lab.jsonl import read_pipelines
from llmcc.lab.metrics import (best_log_ratio, best_of, geomean_reduction, log_geomean, reduction,
                               total_reduction)
from llmcc.lab.report import pct, text_table
from llmcc.lab.tune import load_corpus, load_labels

#: Size ratio given to a pipeline that failed on a TU (it never wins).
FAILED_RATIO = 1.25
SEED = 1234
#: Cross-validated grid: softmax temperature over cosine similarities, and the
#: share of uniform weight mixed into the neighbour weights (1 = the static order).
TAUS = (0.05, 0.1, 0.2)
MIXES = (0.0, 0.25)
CV_FOLDS = 5
#: k values whose mean geomean reduction selects the grid point.
CV_KS = (1, 2, 3, 4, 8)


def _targets(label: dict, pipelines: list[str]) -> list[float] | None:
    oz = label["oz_size"]
    if not oz:
        return None
    out = []
    for p in pipelines:
        s = label["sizes"].get(p, "missing")
        if s == "missing":
            return None
        out.append(FAILED_RATIO if s is None else min(FAILED_RATIO, s / oz))
    return out


def dataset(corpus: str, labels_dir: str, packages: str, pipelines: list[str],
            max_ir_bytes: int = 1 << 62, min_ir_bytes: int = 0) -> list[dict]:
    """Labelled TUs that have a size for every pipeline: dicts with ``ir_path``,
    ``split``, ``package``, ``label`` and ``targets`` (size ratios to -Oz, [K])."""
    tus = {t.ir_hash: t for t in load_corpus(corpus, packages, max_ir_bytes, min_ir_bytes)}
    out = []
    for h, lab in sorted(load_labels(labels_dir).items()):
        t = tus.get(h)
        tg = _targets(lab, pipelines)
        if t is None or tg is None:
            continue
        out.append({"ir_path": t.ir_path, "split": lab["split"], "package": t.package,
                    "label": lab, "targets": tg})
    return out


def ranked_ir(path: str) -> str:
    """The recorded IR at ``path`` as the driver shows it to a ranker: debug records
    stripped (:func:`llmcc.llvm.ir.strip_debug_records`), so a TU built with ``-g``
    is described, trained on and evaluated as it is ranked at compile time."""
    from llmcc.llvm.ir import strip_debug_records
    with open(path, encoding="utf-8", errors="replace") as f:
        return strip_debug_records(f.read())


def train_tokenizer(texts, vocab_size: int, path: str):
    """Train and save a BPE tokenizer on normalized IR chunks."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=M.SPECIAL_TOKENS,
                                  min_frequency=2, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.save(path)
    return tok


def describe(tokenizer, chunks: list[str], features: list[float]):
    """The model's input description of one TU, float32 [V + N_FEATURES]: square
    roots of the token shares of ``chunks`` (:func:`llmcc.rank.model.model_text`), then
    ``features`` (:func:`llmcc.rank.model.features`), as ``model.onnx`` computes it from
    its ``token_counts`` and ``features`` inputs."""
    import numpy as np
    counts = M.token_counts(tokenizer, chunks)
    shares = np.sqrt(counts / max(1.0, float(counts.sum())))
    return np.concatenate([shares, np.asarray(features, np.float32)]).astype(np.float32)


class Projection:
    """Standardization and PCA fitted on training descriptions X [N, D]."""

    def __init__(self, X, dim: int):
        import numpy as np
        self.mu = X.mean(0)
        self.inv_sd = 1.0 / (X.std(0) + 1e-3)
        Z = (X - self.mu) * self.inv_sd
        _, _, vt = np.linalg.svd(Z - Z.mean(0), full_matrices=False)
        self.W = vt[:dim].T.astype(np.float32)  # [D, d]

    def embed(self, X):
        """Unit-length embeddings [N, d]."""
        import numpy as np
        E = ((X - self.mu) * self.inv_sd) @ self.W
        return E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)


def neighbour_weights(sims, tau: float, mix: float):
    """Softmax of cosine similarities [N] at temperature ``tau``, mixed with a
    uniform share ``mix`` (as ``model.onnx`` computes them)."""
    import numpy as np
    w = np.exp((sims - sims.max()) / tau)
    w /= w.sum()
    return (1.0 - mix) * w + mix / len(w)


def cross_validate(X, LY, packages: list[str], dim: int, log=print) -> dict:
    """Grouped cross-validation over :data:`TAUS` x :data:`MIXES`: folds hold out whole
    training packages (single TUs when there are fewer than :data:`CV_FOLDS` packages).
    Returns ``{"tau", "mix", "folds", "table"}`` with the pooled geomean reduction (%)
    at each of :data:`CV_KS` per grid point."""
    import numpy as np
    by = "package" if len(set(packages)) >= CV_FOLDS else "TU"
    groups = packages if by == "package" else [str(i) for i in range(len(packages))]
    names = sorted(set(groups))
    random.Random(SEED).shuffle(names)
    pk = np.asarray(groups)
    log(f"cross-validation: {CV_FOLDS} folds by {by} ({len(names)} {by}s)")
    grid = [(t, m) for t in TAUS for m in MIXES]
    logs = {g: {k: [] for k in CV_KS} for g in grid + ["static"]}
    for f in range(CV_FOLDS):
        held = np.isin(pk, names[f::CV_FOLDS])
        if held.all() or not held.any():
            continue
        proj = Projection(X[~held], dim)
        sims = proj.embed(X[held]) @ proj.embed(X[~held]).T
        lr_train, lr_held = LY[~held], LY[held]
        static = M.weighted_greedy(np.ones(len(lr_train)), lr_train, max(CV_KS))
        for i in range(len(sims)):
            for k in CV_KS:
                logs["static"][k].append(best_log_ratio(lr_held[i], static, k))
            for g in grid:
                order = M.weighted_greedy(neighbour_weights(sims[i], *g), lr_train, max(CV_KS))
                for k in CV_KS:
                    logs[g][k].append(best_log_ratio(lr_held[i], order, k))
    table, rows = [], []
    for g in grid:
        row = {k: reduction(log_geomean(logs[g][k])) for k in CV_KS}
        table.append({"tau": g[0], "mix": g[1], "reduction": row})
        rows.append(["neighbours", str(g[0]), str(g[1])] + [pct(v) for v in row.values()])
    row = {k: reduction(log_geomean(logs["static"][k])) for k in CV_KS}
    rows.append(["static order (fitted per fold)", "", ""] + [pct(v) for v in row.values()])
    for line in text_table(["cv ranker", "tau", "mix"] + [f"k={k}" for k in CV_KS], rows):
        log(line)
    best = max(table, key=lambda r: (round(sum(r["reduction"].values()), 6),
                                      -table.index(r)))
    return {"tau": best["tau"], "mix": best["mix"], "folds": by, "table": table,
            "static": row}


def fit(ns) -> int:
    """Train the tokenizer and the neighbour model; write ``ns.out``."""
    import numpy as np
    from llmcc.rank.rankers import load_coreset
    pipelines = (read_pipelines(ns.coreset, "llmcc train fit: cannot use coreset")
                 if ns.coreset else list(load_coreset()))
    data = dataset(ns.corpus, ns.labels, ns.packages, pipelines)
    train = [d for d in data if d["split"] == "train"]
    if len(train) < 2 * CV_FOLDS:
        print(f"llmcc train: {len(train)} training TUs labelled with all {len(pipelines)} "
              f"pipelines; at least {2 * CV_FOLDS} needed", file=sys.stderr)
        return 1
    os.makedirs(ns.out, exist_ok=True)
    t0 = time.perf_counter()
    texts = []
    for d in train:  # each IR read and normalized once
        ir = ranked_ir(d["ir_path"])
        d["ir_bytes"] = ir_size(ir)  # as in_range counts
        d["chunks"], d["features"] = M.model_text(ir), M.features(ir)
        texts += M.pick_chunks(d["chunks"])
    tok = train_tokenizer(texts, ns.vocab, os.path.join(ns.out, "tokenizer.json"))
    del texts
    X = np.stack([describe(tok, d.pop("chunks"), d["features"]) for d in train])
    Y = np.minimum(np.asarray([d["targets"] for d in train], dtype=np.float64), 1.0)
    LY = np.log(Y).astype(np.float32)
    dim = min(ns.dim, X.shape[0] - 1, X.shape[1])
    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    log(f"{len(train)} training TUs, {len(pipelines)} pipelines, description {X.shape[1]} "
        f"-> embedding {dim} ({time.perf_counter() - t0:.0f} s)")
    if ns.tau is not None:
        cv = {"tau": ns.tau, "mix": ns.mix, "folds": "", "table": []}
    else:
        cv = cross_validate(X, LY, [d["package"] for d in train], dim, log)
    proj = Projection(X, dim)
    export(proj, proj.embed(X), Y, cv["tau"], cv["mix"], X.shape[1] - M.N_FEATURES, ns.out,
           quantize=not ns.no_quantize)
    np.save(os.path.join(ns.out, "neighbours.npy"), LY)
    digest = hashlib.sha256()
    for name in ("model.onnx", "tokenizer.json", "neighbours.npy"):
        with open(os.path.join(ns.out, name), "rb") as f:
            digest.update(f.read())
    max_ir_bytes = max(d["ir_bytes"] for d in train)
    digest.update("\n".join(pipelines + [f"max_ir_bytes={max_ir_bytes}"]).encode())
    card = {"id": digest.hexdigest()[:16], "pipelines": pipelines, "seed": SEED,
            "max_ir_bytes": max_ir_bytes,
            "train_tus": len(train), "train_packages": len({d["package"] for d in train}),
            "vocab": tok.get_vocab_size(), "description": int(X.shape[1]), "embedding": dim,
            "tau": cv["tau"], "mix": cv["mix"], "quantized": not ns.no_quantize,
            "cv_folds": cv["folds"], "cross_validation": cv["table"],
            "cv_static": cv.get("static"),
            "train_seconds": round(time.perf_counter() - t0, 1)}
    with open(os.path.join(ns.out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    print(f"model {card['id']}: {len(train)} train TUs, {len(pipelines)} pipelines, "
          f"tau {cv['tau']}, mix {cv['mix']} -> {ns.out}")
    return 0


def export(proj: Projection, E, Y, tau: float, mix: float, vocab: int, out: str,
           quantize: bool = True) -> None:
    """Write ``out/model.onnx``: inputs ``token_counts`` float [vocab] and ``features``
    float [N_FEATURES]; outputs ``weights`` [N] (one per training TU) and ``ratios`` [K].
    With ``quantize``, the projection and similarity products get int8 weights."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    n, k = Y.shape
    consts = {
        "one": np.ones(1, np.float32), "mu": proj.mu.astype(np.float32),
        "inv_sd": proj.inv_sd.astype(np.float32), "W": proj.W.astype(np.float32),
        "ET": np.ascontiguousarray(E.T).astype(np.float32),
        "inv_tau": np.asarray([1.0 / tau], np.float32),
        "keep": np.asarray([1.0 - mix], np.float32), "uniform": np.asarray([mix / n], np.float32),
        "Y": Y.astype(np.float32), "axis0": np.asarray([0], np.int64),
    }
    N = helper.make_node
    nodes = [
        N("ReduceSum", ["token_counts"], ["total"], keepdims=1),
        N("Max", ["total", "one"], ["total1"]),
        N("Div", ["token_counts", "total1"], ["share"]),
        N("Sqrt", ["share"], ["root_share"]),
        N("Concat", ["root_share", "features"], ["x"], axis=0),
        N("Sub", ["x", "mu"], ["xc"]),
        N("Mul", ["xc", "inv_sd"], ["z"]),
        N("Unsqueeze", ["z", "axis0"], ["z2"]),
        N("MatMul", ["z2", "W"], ["e"], name="project"),
        N("LpNormalization", ["e"], ["e_unit"], axis=-1, p=2),
        N("MatMul", ["e_unit", "ET"], ["sim"], name="similarity"),
        N("Mul", ["sim", "inv_tau"], ["logits"]),
        N("Softmax", ["logits"], ["soft"], axis=-1),
        N("Mul", ["soft", "keep"], ["soft_kept"]),
        N("Add", ["soft_kept", "uniform"], ["w2"]),
        N("Squeeze", ["w2", "axis0"], ["weights"]),
        N("MatMul", ["w2", "Y"], ["r2"], name="predict"),
        N("Squeeze", ["r2", "axis0"], ["ratios"]),
    ]
    graph = helper.make_graph(
        nodes, "llmcc_neighbour_ranker",
        [helper.make_tensor_value_info("token_counts", TensorProto.FLOAT, [vocab]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, [M.N_FEATURES])],
        [helper.make_tensor_value_info("weights", TensorProto.FLOAT, [n]),
         helper.make_tensor_value_info("ratios", TensorProto.FLOAT, [k])],
        [numpy_helper.from_array(v, name) for name, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="llmcc train")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(out, "model.onnx")
    if not quantize:
        onnx.save(model, path)
        return
    import logging
    M.import_onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process graphs
    fp32 = os.path.join(out, "model.fp32.onnx")
    onnx.save(model, fp32)
    try:
        quantize_dynamic(fp32, path, weight_type=QuantType.QInt8,
                         nodes_to_quantize=["project", "similarity"])
    finally:
        os.unlink(fp32)


def evaluate(ns) -> int:
    """Print the model's and the static ranker's best-of-top-k on the validation split."""
    import numpy as np
    from llmcc.rank.rankers import StaticRanker
    ns.model = ns.model or M.model_dir()
    ranker = M.ModelRanker(ns.model)
    pipelines = list(ranker.pipelines)
    data = [d for d in dataset(ns.corpus, ns.labels, ns.packages, pipelines, ns.max_ir_bytes,
                               ns.min_ir_bytes)
            if d["split"] == "validation"]
    if not data:
        print("llmcc train eval: no validation TUs labelled with the model's pipelines",
              file=sys.stderr)
        return 1
    from llmcc.rank.base import load_large_order
    doc = None
    if ns.large_order:
        try:
            with open(ns.large_order, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"llmcc train eval: cannot use {ns.large_order}: {e}", file=sys.stderr)
            return 1
    large = None if ns.no_large_order else load_large_order(tuple(pipelines), doc)
    ranker.large = large
    static_ranker = StaticRanker(tuple(pipelines), large=large)
    lat, greedy, pointwise, statics = [], [], [], []
    n_large = 0
    for d in data:
        ir = ranked_ir(d["ir_path"])
        n_large += large is not None and ir_size(ir) > large[0]
        statics.append(static_ranker.rank(ir))
        t = time.perf_counter()
        greedy.append(ranker.rank(ir))
        lat.append(time.perf_counter() - t)
        ratios = ranker.predict(ir)
        pointwise.append([pipelines[i] for i in np.argsort(ratios, kind="stable")])
    labels = [d["label"] for d in data]
    oz = [lab["oz_size"] for lab in labels]

    def red(ranks, k):
        return geomean_reduction([best_of(lab, r[:k]) / o for lab, r, o in zip(labels, ranks, oz)])

    def total(ranks, k):
        return total_reduction([best_of(lab, r[:k]) for lab, r in zip(labels, ranks)], oz)

    print(f"validation: {len(data)} TUs of {len({d['package'] for d in data})} packages, "
          f"{len(pipelines)} coreset pipelines; geomean % smaller than -Oz, best of top-k + -Oz")
    if large is not None:
        print(f"{n_large} of them over {large[0]:,} bytes of IR, ranked by the order for large TUs")
    rows = [[str(k), pct(red(greedy, k)), pct(red(statics, k)), pct(red(pointwise, k)),
             pct(total(greedy, k)), pct(total(statics, k))] for k in (1, 2, 3, 4, 8)]
    print("\n".join(text_table(["k", "model", "static", "model, ranked by predicted ratio",
                                "total bytes: model", "static"], rows)))
    oracle = red([pipelines] * len(data), len(pipelines))
    print(f"coreset oracle (all {len(pipelines)}): {oracle:.2f}%")
    imp = reg = 0
    for lab, r in zip(labels, greedy):
        s = lab["sizes"].get(r[0])
        s = lab["oz_size"] * FAILED_RATIO if s is None else s
        imp += s < lab["oz_size"]
        reg += s > lab["oz_size"]
    n = len(labels)
    print(f"zero-shot top-1 (no -Oz backup): {100 * imp / n:.0f}% improved, "
          f"{100 * reg / n:.0f}% regressed (LLM Compiler paper: 61% / 12%)")
    lat.sort()
    fresh = M.ModelRanker(ns.model)
    t = time.perf_counter()
    fresh._load()
    print(f"model load (onnxruntime session, tokenizer, neighbour table; modules already "
          f"imported): {1000 * (time.perf_counter() - t):.0f} ms")
    print(f"inference: p50 {1000 * lat[len(lat) // 2]:.1f} ms, p95 "
          f"{1000 * lat[int(len(lat) * 0.95)]:.1f} ms per TU (one thread, after load)")
    load_s, rss_mb = _cold_start(ns.model, data[len(data) // 2]["ir_path"])
    print(f"cold start in a fresh process: first ranking {1000 * load_s:.0f} ms (imports, "
          f"session and tokenizer load, one TU), peak RSS {rss_mb:.0f} MB")
    return 0


_COLD_START = """
import resource, sys, time
t = time.perf_counter()
from llmcc.rank.model import ModelRanker
ModelRanker(sys.argv[1]).rank(open(sys.argv[2], encoding="utf-8", errors="replace").read())
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _cold_start(model_dir: str, ir_path: str) -> tuple[float, float]:
    """(seconds to the first ranking, peak RSS in MB) of a fresh Python process that
    imports the ranker, loads the model and ranks the TU at ``ir_path`` (as a driver
    call on a cache miss does)."""
    import subprocess
    r = subprocess.run([sys.executable, "-c", _COLD_START, model_dir, ir_path],
                       capture_output=True, text=True, check=True)
    load_s, rss_mb = r.stdout.split()
    return float(load_s), float(rss_mb)


def main(argv: list[str]) -> int:
    """Entry point of ``llmcc train``."""
    from llmcc.lab.data import packaged
    default_packages = packaged("packages.toml")
    p = argparse.ArgumentParser(prog="llmcc train", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("fit", "eval"):
        s = sub.add_parser(name)
        s.add_argument("--corpus", required=True, help="directory recorded with LLMCC_RECORD")
        s.add_argument("--labels", required=True, help="tuning directory with labels.jsonl")
        s.add_argument("--packages", default=default_packages,
                       help="packages.toml with splits (default: the corpus's)")
        if name == "fit":
            s.add_argument("--out", required=True, help="directory for the model artifacts")
            s.add_argument("--coreset", default=None,
                           help="coreset JSON whose pipelines the model ranks "
                                "(default: the shipped one)")
            s.add_argument("--vocab", type=int, default=2000, help="BPE vocabulary size")
            s.add_argument("--dim", type=int, default=64, help="embedding (PCA) dimensions")
            s.add_argument("--tau", type=float, default=None,
                           help="softmax temperature; skips cross-validation")
            s.add_argument("--mix", type=float, default=0.0,
                           help="uniform share of the weights, with --tau")
            s.add_argument("--no-quantize", action="store_true",
                           help="keep float32 weights")
            s.set_defaults(fn=fit)
        else:
            s.add_argument("--model", default=None,
                           help="model directory (default: the shipped model)")
            s.add_argument("--max-ir-bytes", type=int, default=1 << 62,
                           help="only validation TUs with at most this much textual IR "
                                "(compare models on the TUs both have labels for)")
            s.add_argument("--min-ir-bytes", type=int, default=0,
                           help="only validation TUs with at least this much textual IR "
                                "(bytes as recorded, debug records included)")
            s.add_argument("--large-order", default=None, metavar="JSON",
                           help="a coreset file whose order for large TUs (large_tus) both "
                                "rankers use (default: the shipped coreset's)")
            s.add_argument("--no-large-order", action="store_true",
                           help="rank large TUs as the coreset order, not by the shipped "
                                "coreset's order for large TUs (to measure what it adds)")
            s.set_defaults(fn=evaluate)
    ns = p.parse_args(argv)
    return ns.fn(ns)
