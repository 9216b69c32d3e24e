"""``llmcc train``: train, export and evaluate the ``model`` ranker.

Reproduces ``llmcc/model/`` from a recorded corpus and the labels of
``llmcc tune broadcast`` with a fixed seed::

    llmcc train fit  --corpus DIR --labels DIR [--epochs N] [--out llmcc/model]
    llmcc train eval --corpus DIR --labels DIR [--model llmcc/model]

``fit`` trains the BPE tokenizer on the training split's normalized IR, then a
small transformer encoder (per-chunk encoder, masked mean pooling over tokens
and chunks, scalar features, linear head: one predicted size ratio per
coreset pipeline), exports it to ONNX and quantizes it to int8 with
onnxruntime's dynamic quantization. torch is needed here only, never to compile.
``eval`` prints, on the validation packages, best-of-top-k reductions against
``-Oz`` for the model and the static ranker, the coreset oracle, and the
zero-shot improved/regressed shares (top-1 without the ``-Oz`` backup).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

from . import model as M
from .tune import best_of, geomean_reduction, load_corpus, load_labels

FAILED_RATIO = 1.25
SEED = 1234


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


def dataset(corpus: str, labels_dir: str, packages: str, pipelines: list[str]) -> list[dict]:
    """Labelled TUs: dicts with ``ir_path``, ``split``, ``label``, ``targets`` (ratios)."""
    tus = {t.ir_hash: t for t in load_corpus(corpus, packages)}
    out = []
    for h, lab in sorted(load_labels(labels_dir).items()):
        t = tus.get(h)
        tg = _targets(lab, pipelines)
        if t is None or tg is None:
            continue
        out.append({"ir_path": t.ir_path, "split": lab["split"], "label": lab, "targets": tg})
    return out


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


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


def build_model(vocab: int, n_out: int, d: int = 64, layers: int = 2):
    """The torch model: tokens [C, T] int64, features [F] float -> scores [K].

    ``forward`` scores one TU (the exported ONNX graph); :meth:`forward_batch`
    scores several TUs at once for training (their chunks run through the encoder
    as one batch, then are averaged per TU). Lower scores rank first.
    """
    import torch
    from torch import nn

    class Ranker(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, d, padding_idx=M.PAD)
            self.pos = nn.Parameter(torch.zeros(M.CHUNK_TOKENS, d))
            layer = nn.TransformerEncoderLayer(d, 4, 2 * d, dropout=0.1, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.feat = nn.Linear(M.N_FEATURES, d)
            self.head = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, n_out))

        def chunks(self, tokens):
            """[C, T] tokens -> [C, d] chunk vectors (masked mean over tokens)."""
            mask = tokens != M.PAD
            x = self.emb(tokens) + self.pos[: tokens.shape[1]]
            x = self.enc(x, src_key_padding_mask=~mask)
            m = mask.unsqueeze(-1).to(x.dtype)
            return (x * m).sum(1) / m.sum(1).clamp(min=1.0)

        def score(self, tu, features):
            h = torch.cat([tu, torch.relu(self.feat(features))], -1)
            return 1.0 + 0.1 * self.head(h)                   # ratios near 1

        def forward(self, tokens, features):
            return self.score(self.chunks(tokens).mean(0), features)

        def forward_batch(self, tokens: list, features):
            """tokens: list of [C_i, T]; features [B, F] -> [B, K]."""
            sizes = [t.shape[0] for t in tokens]
            vecs = self.chunks(torch.cat(tokens, 0)).split(sizes, 0)
            tu = torch.stack([v.mean(0) for v in vecs])
            return self.score(tu, features)

    return Ranker()


def ranking_loss(pred, y, temperature: float = 0.01):
    """Listwise loss (ListNet): cross-entropy between softmax(-y / t) and
    softmax(-pred / t) over the pipelines of each TU. ``pred``, ``y``: [B, K]
    size ratios; ``t`` in ratio units (0.01 = 1% of the -Oz size)."""
    import torch
    target = torch.softmax(-y / temperature, -1)
    return -(target * torch.log_softmax(-pred / temperature, -1)).sum(-1).mean()


def fit(ns) -> int:
    """Train the tokenizer and model; export and quantize into ``ns.out``."""
    import numpy as np
    import torch
    from .rankers import load_coreset
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, ns.threads))
    torch.use_deterministic_algorithms(True)
    pipelines = list(load_coreset(ns.coreset))
    data = dataset(ns.corpus, ns.labels, ns.packages, pipelines)
    train = [d for d in data if d["split"] == "train"]
    if not train:
        print("llmcc train: no labelled training TUs", file=sys.stderr)
        return 1
    os.makedirs(ns.out, exist_ok=True)
    t0 = time.perf_counter()
    texts = []
    for d in train:
        d["chunks"] = M.pick_chunks(M.model_text(_read(d["ir_path"])))
        texts += d["chunks"]
    tok = train_tokenizer(texts, ns.vocab, os.path.join(ns.out, "tokenizer.json"))
    for d in data:
        ir = _read(d["ir_path"])
        d["tokens"] = torch.from_numpy(M.encode(tok, M.model_text(ir)))
        d["features"] = torch.tensor(M.features(ir), dtype=torch.float32)
        d["y"] = torch.tensor(d["targets"], dtype=torch.float32)
    net = build_model(tok.get_vocab_size(), len(pipelines), ns.dim, ns.layers)
    opt = torch.optim.AdamW(net.parameters(), lr=ns.lr, weight_decay=0.01)
    rng = random.Random(SEED)
    train_chunks = max(1, min(ns.train_chunks, M.MAX_CHUNKS))
    for epoch in range(ns.epochs):
        net.train()
        order = list(range(len(train)))
        rng.shuffle(order)
        total, steps = 0.0, 0
        for start in range(0, len(order), ns.batch):
            batch = [train[i] for i in order[start:start + ns.batch]]
            # at most train_chunks chunks per TU per step, a seeded random subset
            toks = []
            for d in batch:
                t = d["tokens"]
                if t.shape[0] > train_chunks:
                    keep = sorted(rng.sample(range(t.shape[0]), train_chunks))
                    t = t[keep]
                toks.append(t)
            feats = torch.stack([d["features"] for d in batch])
            y = torch.stack([d["y"] for d in batch])
            opt.zero_grad()
            pred = net.forward_batch(toks, feats)
            if ns.loss == "listwise":
                loss = ranking_loss(pred, y) + 0.1 * ((pred - y) * 100).pow(2).mean()
            else:
                # squared error on the ratio, scaled so a 1% error costs 1
                loss = ((pred - y) * 100).pow(2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            total += float(loss)
            steps += 1
        print(f"epoch {epoch + 1}/{ns.epochs}: loss {total / max(1, steps):.3f} "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    net.eval()
    export(net, tok.get_vocab_size(), ns.out)
    import hashlib
    digest = hashlib.sha256()
    for name in ("model.onnx", "tokenizer.json"):
        with open(os.path.join(ns.out, name), "rb") as f:
            digest.update(f.read())
    digest.update("\n".join(pipelines).encode())
    card = {"id": digest.hexdigest()[:16], "pipelines": pipelines, "seed": SEED,
            "train_tus": len(train), "epochs": ns.epochs, "dim": ns.dim, "layers": ns.layers,
            "loss": ns.loss, "batch": ns.batch, "lr": ns.lr, "train_chunks": train_chunks,
            "vocab": tok.get_vocab_size(), "chunk_tokens": M.CHUNK_TOKENS,
            "max_chunks": M.MAX_CHUNKS, "train_seconds": round(time.perf_counter() - t0, 1)}
    with open(os.path.join(ns.out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    print(f"model {card['id']}: {len(train)} train TUs, {len(pipelines)} pipelines -> {ns.out}")
    return 0


def export(net, vocab: int, out: str) -> None:
    """Export to ONNX (dynamic chunk count) and quantize weights to int8."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    fp32 = os.path.join(out, "model.fp32.onnx")
    tokens = torch.ones((3, M.CHUNK_TOKENS), dtype=torch.int64)
    feats = torch.zeros(M.N_FEATURES)
    torch.onnx.export(net, (tokens, feats), fp32, input_names=["tokens", "features"],
                      output_names=["ratios"], dynamic_axes={"tokens": {0: "chunks"}},
                      opset_version=17, dynamo=False)
    quantize_dynamic(fp32, os.path.join(out, "model.onnx"), weight_type=QuantType.QInt8)
    os.unlink(fp32)


def evaluate(ns) -> int:
    """Print the model's and the static ranker's best-of-top-k on the validation split."""
    import numpy as np  # noqa: F401
    from .rankers import StaticRanker
    ranker = M.ModelRanker(ns.model)
    pipelines = list(ranker.pipelines)
    data = [d for d in dataset(ns.corpus, ns.labels, ns.packages, pipelines)
            if d["split"] == "validation"]
    if not data:
        print("llmcc train eval: no labelled validation TUs", file=sys.stderr)
        return 1
    static = StaticRanker().rank("")
    lat = []
    model_rank = []
    for d in data:
        ir = _read(d["ir_path"])
        t = time.perf_counter()
        model_rank.append(ranker.rank(ir))
        lat.append(time.perf_counter() - t)
    labels = [d["label"] for d in data]
    oz = [lab["oz_size"] for lab in labels]
    print(f"validation: {len(data)} TUs, {len(pipelines)} coreset pipelines")
    for k in (1, 2, 3, 4, 8):
        m = geomean_reduction([best_of(lab, r[:k]) / o for lab, r, o in zip(labels, model_rank, oz)])
        s = geomean_reduction([best_of(lab, static[:k]) / o for lab, o in zip(labels, oz)])
        print(f"k={k}: model {m:.2f}%  static {s:.2f}%  (geomean smaller than -Oz, best of top-k + -Oz)")
    orac = geomean_reduction([best_of(lab, pipelines) / o for lab, o in zip(labels, oz)])
    print(f"coreset oracle: {orac:.2f}%")
    imp = reg = 0
    for lab, r in zip(labels, model_rank):
        s = lab["sizes"].get(r[0])
        s = lab["oz_size"] * FAILED_RATIO if s is None else s
        imp += s < lab["oz_size"]
        reg += s > lab["oz_size"]
    n = len(labels)
    print(f"zero-shot top-1 (no -Oz backup): {100 * imp / n:.0f}% improved, "
          f"{100 * reg / n:.0f}% regressed (paper: 61% / 12%)")
    lat.sort()
    print(f"inference: p50 {1000 * lat[len(lat) // 2]:.1f} ms, p95 "
          f"{1000 * lat[int(len(lat) * 0.95)]:.1f} ms per TU (one thread, after load)")
    load_s, rss_mb = _cold_start(ns.model, data[len(data) // 2]["ir_path"])
    print(f"cold start in a fresh process: first ranking {1000 * load_s:.0f} ms (imports, "
          f"session and tokenizer load, one TU), peak RSS {rss_mb:.0f} MB")
    return 0


_COLD_START = """
import resource, sys, time
t = time.perf_counter()
from llmcc.model import ModelRanker
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
    here = os.path.dirname(os.path.abspath(__file__))
    default_packages = os.path.join(os.path.dirname(here), "corpus", "packages.toml")
    p = argparse.ArgumentParser(prog="llmcc train", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("fit", "eval"):
        s = sub.add_parser(name)
        s.add_argument("--corpus", required=True)
        s.add_argument("--labels", required=True, help="tuning directory with labels.jsonl")
        s.add_argument("--packages", default=default_packages)
        if name == "fit":
            s.add_argument("--out", default=os.path.join(here, "model"))
            s.add_argument("--coreset", default=None)
            s.add_argument("--epochs", type=int, default=20)
            s.add_argument("--batch", type=int, default=16)
            s.add_argument("--lr", type=float, default=2e-3)
            s.add_argument("--dim", type=int, default=64)
            s.add_argument("--layers", type=int, default=2)
            s.add_argument("--vocab", type=int, default=2000)
            s.add_argument("--threads", type=int, default=2)
            s.add_argument("--loss", default="listwise", choices=("listwise", "mse"),
                           help="listwise ranking loss (ListNet, plus a small squared error "
                                "on the ratios) or squared error alone")
            s.add_argument("--train-chunks", type=int, default=8,
                           help="chunks per TU per training step (a seeded random subset; "
                                "inference uses up to %d)" % M.MAX_CHUNKS)
            s.set_defaults(fn=fit)
        else:
            s.add_argument("--model", default=os.path.join(here, "model"))
            s.set_defaults(fn=evaluate)
    ns = p.parse_args(argv)
    return ns.fn(ns)
