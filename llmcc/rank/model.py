"""The ``model`` ranker: a neighbour model over tokenized IR that ranks coreset pipelines.

Input: the unoptimized IR of one TU, normalized (:func:`model_text`) and
tokenized whole by a BPE tokenizer trained on IR (``tokenizer.json``); no
context window, so a long TU is never cut. The TU is described by its token
histogram plus scalar features (:func:`features`: log counts and opcode mix).

``model.onnx`` (int8-quantized, built by ``llmcc train fit``) standardizes that
description, projects it to an embedding (PCA fitted on the training TUs) and
compares it by cosine similarity with the embeddings of the training TUs; a
softmax at temperature ``tau`` gives one weight per training TU (its
neighbours). Outputs: ``weights`` [N] and ``ratios`` [K], the neighbours'
weighted size of each coreset pipeline relative to ``-Oz`` (normalized value
prediction, Liang et al. 2023).

A TU larger than every training TU (``max_ir_bytes``) is outside what the model
has labels for: it gets the static coreset order, or, beyond the coreset file's
large-TU limit, the order chosen on large training TUs (``large_tus``, written
by ``llmcc tune large-order``).

Ranking (:func:`weighted_greedy`): not by ``ratios`` alone, since the k best
single pipelines are often near-duplicates, but by greedy coverage over the
neighbours' measured sizes (``neighbours.npy``): each next pipeline is the one
that most lowers the weighted sum of log(best size so far / -Oz). With uniform
weights this is exactly the ``static`` coreset order; pipelines that gain
nothing follow in coreset order.

Inference runs on onnxruntime with one intra-op thread (deterministic). This
module imports onnxruntime and tokenizers only when a ranking is needed, so a
cache hit never loads them. Artifacts live in ``llmcc/model/``: ``model.onnx``,
``tokenizer.json``, ``neighbours.npy`` and ``model.json`` (identity, coreset,
shapes, training figures).
"""

from __future__ import annotations

import json
import math
import os
import re
from importlib import resources

from llmcc.rank.base import Ranker

#: Function chunks per TU used to train the tokenizer (evenly spaced; inference
#: tokenizes every chunk).
TOKENIZER_CHUNKS = 24
#: Special token ids of ``tokenizer.json``: padding, unknown, start of chunk.
PAD, UNK, BOS = 0, 1, 2
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[BOS]"]
#: LLVM 19 IR instruction opcodes (LangRef); their shares among a TU's instructions
#: are features.
OPCODES = (
    "ret", "br", "switch", "indirectbr", "invoke", "callbr", "resume", "catchswitch",
    "catchret", "cleanupret", "unreachable", "fneg", "add", "fadd", "sub", "fsub", "mul",
    "fmul", "udiv", "sdiv", "fdiv", "urem", "srem", "frem", "shl", "lshr", "ashr", "and",
    "or", "xor", "extractelement", "insertelement", "shufflevector", "extractvalue",
    "insertvalue", "alloca", "load", "store", "fence", "cmpxchg", "atomicrmw",
    "getelementptr", "trunc", "zext", "sext", "fptrunc", "fpext", "fptoui", "fptosi",
    "uitofp", "sitofp", "ptrtoint", "inttoptr", "bitcast", "addrspacecast", "icmp", "fcmp",
    "phi", "select", "freeze", "call", "va_arg", "landingpad", "catchpad", "cleanuppad",
)
N_COUNTS = 8
N_FEATURES = N_COUNTS + len(OPCODES)

_DROP_LINE = re.compile(r"^(; .*|;.*|!.*|attributes #\d+ = .*|target .*|source_filename .*|"
                        r"declare .*)$")
_META = re.compile(r",? ![A-Za-z_.]+ !\d+|, !\d+| !\d+|#\d+")
_STRING = re.compile(r'c"(?:[^"\\]|\\.)*"')
_GLOBAL = re.compile(r"@(?!llvm\.)[-A-Za-z$._0-9]+|@\"[^\"]*\"")
_LOCAL = re.compile(r"%[-A-Za-z$._0-9]+|%\"[^\"]*\"")
_LABEL = re.compile(r"^[-A-Za-z$._0-9]+:", re.M)
_BIGNUM = re.compile(r"(?<![\w.])-?\d{4,}(?![\w.])")
_OPCODE = re.compile(r"^\s+(?:%[-A-Za-z$._0-9\"]+ = )?(?:tail |musttail |notail )?([a-z_]+)")


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
    functions, basic blocks, calls, loads/stores, branches, switches and globals,
    then the square root of each :data:`OPCODES` entry's share of the instructions
    inside function bodies."""
    n_inst = n_fn = n_bb = n_call = n_mem = n_br = n_sw = n_glob = 0
    ops = dict.fromkeys(OPCODES, 0)
    in_fn = False
    for line in ir_text.splitlines():
        s = line.strip()
        if s.startswith("define "):
            n_fn += 1
            in_fn = True
        elif line.startswith("}"):
            in_fn = False
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
            m = _OPCODE.match(line) if in_fn else None
            if m and m.group(1) in ops:
                ops[m.group(1)] += 1
        elif s.endswith(":") or (s and s.split(":")[0].isdigit() and "preds" in s):
            n_bb += 1
    total = max(1, sum(ops.values()))
    counts = [math.log1p(x) for x in (n_inst, n_fn, n_bb, n_call, n_mem, n_br, n_sw, n_glob)]
    return counts + [math.sqrt(ops[o] / total) for o in OPCODES]


def pick_chunks(chunks: list[str], n: int = TOKENIZER_CHUNKS) -> list[str]:
    """The globals chunk plus up to ``n - 1`` function chunks, evenly spaced."""
    if len(chunks) <= n:
        return chunks
    fns = chunks[1:]
    step = len(fns) / (n - 1)
    return [chunks[0]] + [fns[int(i * step)] for i in range(n - 1)]


def token_counts(tokenizer, chunks: list[str]):
    """Histogram of the token ids of every chunk (float32 [vocabulary size]), each
    chunk counted with a leading ``[BOS]``."""
    import numpy as np
    counts = np.zeros(tokenizer.get_vocab_size(), dtype=np.float32)
    for enc in tokenizer.encode_batch(chunks):
        counts += np.bincount(np.asarray(enc.ids, dtype=np.int64),
                              minlength=len(counts)).astype(np.float32)
    counts[BOS] += len(chunks)
    return counts


def weighted_greedy(weights, log_ratios, k: int | None = None) -> list[int]:
    """Greedy coverage over neighbours: indices of the coreset pipelines, best first.

    Args:
        weights: float [N], one non-negative weight per training TU.
        log_ratios: float [N, K], log(min(1, size under pipeline / -Oz size)) of each
            training TU (0 where a pipeline failed or was not smaller).
        k: stop after this many (default: all K).

    Each step picks the pipeline that most lowers sum_i w_i * log(best_i / -Oz_i)
    given the pipelines already picked (ties: lowest index); once no pipeline
    gains, the rest follow in index (coreset) order.
    """
    import numpy as np
    n_pipelines = log_ratios.shape[1]
    k = n_pipelines if k is None else min(k, n_pipelines)
    w = np.asarray(weights, dtype=np.float64)
    lr = np.asarray(log_ratios, dtype=np.float64)
    cur = np.zeros(lr.shape[0])
    out: list[int] = []
    free = np.ones(n_pipelines, dtype=bool)
    while len(out) < k:
        gain = w @ np.maximum(cur[:, None] - lr, 0.0)
        gain = np.where(free, np.round(gain, 9), -1.0)
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        out.append(j)
        free[j] = False
        cur = np.minimum(cur, lr[:, j])
    out += [j for j in range(n_pipelines) if free[j]][: k - len(out)]
    return out


def import_onnxruntime():
    """Import onnxruntime without its telemetry.

    On import, onnxruntime 1.2x+ persists a telemetry device id under
    ``$XDG_CACHE_HOME`` or ``~/.cache/Microsoft/DeveloperTools/.onnxruntime``,
    and with a read-only or missing ``HOME`` (Nix's ``/homeless-shelter``) it
    prints a coloured warning on stderr, which a compiler must not do (configure
    checks read it). ``ORT_DISABLE_TELEMETRY=1`` before the import turns both off
    (onnxruntime's ``telemetry_1ds.cc``); it is set for this process only.
    """
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime
    return onnxruntime


def model_dir() -> str:
    """Directory of the shipped model artifacts."""
    return str(resources.files("llmcc").joinpath("model"))


class ModelRanker(Ranker):
    """Ranks the coreset with the shipped model (see the module docstring).

    Raises (at construction):
        OSError, ValueError, KeyError: ``model.json`` missing or unreadable. The
        other artifacts are read on the first ranking (a cache miss) and raise
        the same errors there.
    """

    name = "model"

    def __init__(self, directory: str | None = None):
        self.directory = directory or model_dir()
        with open(os.path.join(self.directory, "model.json"), encoding="utf-8") as f:
            self.card = json.load(f)
        self.pipelines = tuple(self.card["pipelines"])
        self.identity = "model:" + self.card["id"]
        from llmcc.rank.base import large_order_identity, load_large_order
        self.large = load_large_order(self.pipelines)
        if self.large is not None:
            self.identity += ":" + large_order_identity(self.large)
        self._session = None
        self._tokenizer = None
        self._log_ratios = None

    def _load(self) -> None:
        import numpy as np
        ort = import_onnxruntime()
        from tokenizers import Tokenizer
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(os.path.join(self.directory, "model.onnx"), opts,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(os.path.join(self.directory, "tokenizer.json"))
        lr = np.load(os.path.join(self.directory, "neighbours.npy"), allow_pickle=False)
        if lr.ndim != 2 or lr.shape[1] != len(self.pipelines):
            raise ValueError(f"neighbours.npy has shape {lr.shape}, expected [N, "
                             f"{len(self.pipelines)}]")
        self._log_ratios = lr

    def run(self, ir_text: str):
        """(weights [N], ratios [K]) for the unoptimized IR ``ir_text``: the weight of
        each training TU and the predicted size of each pipeline relative to -Oz."""
        import numpy as np
        if self._session is None:
            self._load()
        counts = token_counts(self._tokenizer, model_text(ir_text))
        feats = np.asarray(features(ir_text), dtype=np.float32)
        weights, ratios = self._session.run(["weights", "ratios"],
                                            {"token_counts": counts, "features": feats})
        return weights, ratios

    def predict(self, ir_text: str) -> list[float]:
        """Predicted size ratio (pipeline / -Oz, at most 1: -Oz is always a candidate)
        for each coreset pipeline, in coreset order."""
        return [float(x) for x in self.run(ir_text)[1]]

    def in_range(self, ir_text: str) -> bool:
        """Whether the TU is no larger than the largest training TU (``max_ir_bytes`` of
        ``model.json``, bytes of textual IR): the model has no labels beyond it."""
        from llmcc.rank.base import ir_size
        limit = self.card.get("max_ir_bytes")
        return not limit or ir_size(ir_text) <= limit

    def rank(self, ir_text: str) -> list[str]:
        """Coreset pipelines best first: :func:`weighted_greedy` over the neighbours;
        for a TU larger than the shipped coreset's large-TU limit, its order for
        large TUs (:func:`~llmcc.rank.base.load_large_order`); for any other TU
        larger than every training TU, the coreset order."""
        from llmcc.rank.base import ir_size
        if self.large is not None and ir_size(ir_text) > self.large[0]:
            return list(self.large[1])
        if not self.in_range(ir_text):
            return list(self.pipelines)
        weights, _ = self.run(ir_text)
        return [self.pipelines[i] for i in weighted_greedy(weights, self._log_ratios)]
