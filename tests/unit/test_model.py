"""Ranking by neighbours: greedy coverage over the training TUs' measured sizes."""

import math
import random

import numpy as np

from llmcc.rank.model import OPCODES, features, model_text, weighted_greedy
from llmcc.lab.metrics import greedy_coreset


def _labels(n_tus, pipelines, seed):
    rng = random.Random(seed)
    labels = []
    for _ in range(n_tus):
        oz = rng.randint(500, 5000)
        sizes = {p: (None if rng.random() < 0.05 else int(oz * rng.uniform(0.9, 1.1)))
                 for p in pipelines}
        labels.append({"oz_size": oz, "sizes": sizes})
    return labels


def _log_ratios(labels, pipelines):
    return np.asarray([[0.0 if lab["sizes"][p] is None
                        else min(0.0, math.log(lab["sizes"][p] / lab["oz_size"]))
                        for p in pipelines] for lab in labels])


def test_uniform_weights_give_the_static_coreset_order():
    pipelines = [f"p{i}" for i in range(12)]
    labels = _labels(60, pipelines, seed=1)
    static = greedy_coreset(labels, pipelines, len(pipelines))
    order = weighted_greedy(np.ones(len(labels)), _log_ratios(labels, pipelines), len(static))
    assert [pipelines[i] for i in order] == static


def test_a_single_neighbour_puts_its_best_pipeline_first_and_ranks_all():
    pipelines = [f"p{i}" for i in range(8)]
    labels = _labels(30, pipelines, seed=2)
    lr = _log_ratios(labels, pipelines)
    for t in (0, 7, 19):
        w = np.zeros(len(labels))
        w[t] = 1.0
        order = weighted_greedy(w, lr)
        assert sorted(order) == list(range(len(pipelines)))
        if lr[t].min() < 0:
            assert order[0] == int(np.argmin(lr[t]))
        # the neighbour gains nothing after its best: the rest follow in coreset order
        rest = order[1:] if lr[t].min() < 0 else order
        assert rest == sorted(rest)


def test_normalized_text_and_features_ignore_names_and_metadata():
    a = ("define i32 @alpha(i32 %x) !dbg !7 {\nentry:\n  %y = add nsw i32 %x, 1, !dbg !9\n"
         "  ret i32 %y\n}\n!7 = !{}\n")
    b = ("define i32 @beta(i32 %arg) {\nbb0:\n  %tmp = add nsw i32 %arg, 1\n"
         "  ret i32 %tmp\n}\n")
    assert model_text(a) == model_text(b)
    assert features(a) == features(b)
    f = features(a)
    shares = dict(zip(OPCODES, f[len(f) - len(OPCODES):]))
    assert shares["add"] == shares["ret"] > 0 and shares["call"] == 0
