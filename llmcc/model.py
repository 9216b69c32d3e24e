"""The ``model`` ranker: a small int8 ONNX transformer that scores coreset pipelines.

Input: the unoptimized IR of one TU, normalized (:func:`model_text`), split
into chunks (one per function, globals first), each tokenized by a BPE
tokenizer trained on IR (``tokenizer.json``) and cut to :data:`CHUNK_TOKENS`
tokens; at most :data:`MAX_CHUNKS` chunks, evenly spaced, plus a few scalar
features (:func:`features`). Output: one predicted object size relative to
``-Oz`` per coreset pipeline (normalized value prediction, Liang et al. 2023);
the driver tries the pipelines with the smallest predictions.

Inference runs on onnxruntime with one intra-op thread (deterministic). This
module imports onnxruntime and tokenizers only when a ranking is needed, so a
cache hit never loads them. Artifacts live in ``llmcc/model/``:
``model.onnx``, ``tokenizer.json`` and ``model.json`` (identity, coreset, shapes).
"""

from __future__ import annotations

import json
import math
import os
import re
from importlib import resources

from .rankers import Ranker

CHUNK_TOKENS = 256
MAX_CHUNKS = 24
N_FEATURES = 8
#: Special token ids of ``tokenizer.json``: padding, unknown, start of chunk.
PAD, UNK, BOS = 0, 1, 2
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[BOS]"]

_DROP_LINE = re.compile(r"^(; .*|;.*|!.*|attributes #\d+ = .*|target .*|source_filename .*|"
                        r"declare .*)$")
_META = re.compile(r", ![A-Za-z_.]+ !\d+|, !\d+| !\d+|#\d+")
_STRING = re.compile(r'c"(?:[^"\\]|\\.)*"')
_GLOBAL = re.compile(r"@(?!llvm\.)[-A-Za-z$._0-9]+|@\"[^\"]*\"")
_LOCAL = re.compile(r"%[-A-Za-z$._0-9]+|%\"[^\"]*\"")
_LABEL = re.compile(r"^[-A-Za-z$._0-9]+:", re.M)
_BIGNUM = re.compile(r"(?<![\w.])-?\d{4,}(?![\w.])")


def model_text(ir_text: str) -> list[str]:
    """Normalized chunks of a TU's IR: [globals, function 1, function 2, ...].

    Normalization (documented in the model card): comments, metadata,
    attribute groups, declarations and target lines are dropped; local value
    and label names become ``%v``/``bb:``; global names (not intrinsics) become
    ``@g``; string constants ``c"<s>"``; integers of 4+ digits ``N``.
    """
    chunks: list[str] = []
    globals_: list[str] = []
    cur: list[str] | None = None
    for line in ir_text.splitlines():
        if not line.strip() or _DROP_LINE.match(line):
            continue
        line = _META.sub("", line)
        line = _STRING.sub('c"<s>"', line)
        line = _GLOBAL.sub("@g", line)
        line = _LOCAL.sub("%v", line)
        line = _BIGNUM.sub("N", line)
        if line.startswith("define "):
            cur = [line]
            continue
        if cur is not None:
            if line.startswith("}"):
                chunks.append("\n".join(cur))
                cur = None
            else:
                cur.append(_LABEL.sub("bb:", line.split(";")[0].rstrip()))
            continue
        globals_.append(line)
    return ["\n".join(globals_)] + chunks


def features(ir_text: str) -> list[float]:
    """:data:`N_FEATURES` scalar features of the IR: log counts of instructions,
    functions, basic blocks, calls, loads/stores, branches, switches and globals."""
    n_inst = n_fn = n_bb = n_call = n_mem = n_br = n_sw = n_glob = 0
    for line in ir_text.splitlines():
        s = line.strip()
        if s.startswith("define "):
            n_fn += 1
        elif line.startswith("@"):
            n_glob += 1
        elif line.startswith("  ") and s and not s.startswith(";"):
            n_inst += 1
            if "call " in s or s.startswith("invoke "):
                n_call += 1
            if " load " in s or s.startswith("store "):
                n_mem += 1
            if s.startswith("br "):
                n_br += 1
            elif s.startswith("switch "):
                n_sw += 1
        elif s.endswith(":") or (s and s.split(":")[0].isdigit() and "preds" in s):
            n_bb += 1
    return [math.log1p(x) for x in (n_inst, n_fn, n_bb, n_call, n_mem, n_br, n_sw, n_glob)]


def pick_chunks(chunks: list[str], n: int = MAX_CHUNKS) -> list[str]:
    """The globals chunk plus up to ``n - 1`` function chunks, evenly spaced."""
    if len(chunks) <= n:
        return chunks
    fns = chunks[1:]
    step = len(fns) / (n - 1)
    return [chunks[0]] + [fns[int(i * step)] for i in range(n - 1)]


def model_dir() -> str:
    """Directory of the shipped model artifacts."""
    return str(resources.files("llmcc").joinpath("model"))


class ModelRanker(Ranker):
    """Ranks the coreset with the shipped ONNX model.

    Raises (at construction):
        OSError, ValueError, KeyError: artifacts missing or unreadable.
    """

    name = "model"

    def __init__(self, directory: str | None = None):
        self.directory = directory or model_dir()
        with open(os.path.join(self.directory, "model.json"), encoding="utf-8") as f:
            self.card = json.load(f)
        self.pipelines = tuple(self.card["pipelines"])
        self.identity = "model:" + self.card["id"]
        self._session = None
        self._tokenizer = None

    def _load(self) -> None:
        import numpy as np  # noqa: F401  (onnxruntime needs it)
        import onnxruntime as ort
        from tokenizers import Tokenizer
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(os.path.join(self.directory, "model.onnx"), opts,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(os.path.join(self.directory, "tokenizer.json"))

    def predict(self, ir_text: str) -> list[float]:
        """Predicted size ratio (pipeline / -Oz) for each coreset pipeline."""
        import numpy as np
        if self._session is None:
            self._load()
        tokens = encode(self._tokenizer, model_text(ir_text))
        feats = np.asarray(features(ir_text), dtype=np.float32)
        out = self._session.run(None, {"tokens": tokens, "features": feats})[0]
        return [float(x) for x in out]

    def rank(self, ir_text: str) -> list[str]:
        """Coreset pipelines by predicted size, smallest first (ties: coreset order)."""
        pred = self.predict(ir_text)
        order = sorted(range(len(self.pipelines)), key=lambda i: (round(pred[i], 6), i))
        return [self.pipelines[i] for i in order]


def encode(tokenizer, chunks: list[str]):
    """Token ids [n_chunks, CHUNK_TOKENS] (int64, 0-padded) for the chosen chunks."""
    import numpy as np
    chosen = pick_chunks(chunks)
    ids = np.zeros((len(chosen), CHUNK_TOKENS), dtype=np.int64)
    for i, enc in enumerate(tokenizer.encode_batch(chosen)):
        row = [BOS] + enc.ids[:CHUNK_TOKENS - 1]
        ids[i, :len(row)] = row
    return ids
