"""The model ranker: the shipped artifacts rank the shipped coreset deterministically, it
is the default, a cache hit never loads it, and a broken model falls back to the static
ranker without breaking the build."""

import json
import shutil

from llmcc.store import stats
from llmcc.rank.model import ModelRanker, model_dir
from llmcc.llvm.objsize import object_size
from llmcc.llvm.passes import check_pipeline
from llmcc.rank.rankers import load_coreset
from tests.conftest import run


def _ir(clang, sample_dir, tmp_path):
    ir = tmp_path / "x.ll"
    run([clang, "-Oz", "-Xclang", "-disable-llvm-passes", "-S", "-emit-llvm", "sample.c", "-o",
         str(ir)], cwd=sample_dir, check=True)
    return ir.read_text()


def test_model_ranks_the_shipped_coreset_deterministically(clang, sample_dir, tmp_path):
    text = _ir(clang, sample_dir, tmp_path)
    ranker = ModelRanker()
    first = ranker.rank(text)
    # it ranks exactly the shipped coreset, every pipeline allowlisted
    assert ranker.pipelines == load_coreset()
    assert sorted(first) == sorted(ranker.pipelines)
    assert all(check_pipeline(p) == p for p in first)
    assert ModelRanker().rank(text) == first
    ratios = ranker.predict(text)
    assert len(ratios) == len(first) and all(0.5 < r <= 1.0 + 1e-6 for r in ratios)
    # the neighbour weights are a distribution over the training TUs
    weights, _ = ranker.run(text)
    assert len(weights) == ranker.card["train_tus"] and abs(float(weights.sum()) - 1) < 1e-3


def _imports(stderr: bytes) -> set[str]:
    """Top-level modules imported, from ``PYTHONPROFILEIMPORTTIME`` output."""
    out = set()
    for line in stderr.decode(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            out.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return out


def test_default_ranker_is_the_model_and_a_cache_hit_does_not_load_it(llmcc, llmcc_env,
                                                                     sample_dir):
    # What a compiler process imports: each call in a process of its own (a call the
    # compile server runs imports in its worker, whose import report is not printed).
    env = dict(llmcc_env, PYTHONPROFILEIMPORTTIME="1", LLMCC_DEBUG="1",
               LLMCC_RANK_SERVER="0", LLMCC_COMPILE_SERVER="0")
    miss = run([llmcc, "-O2", "-c", "sample.c", "-o", "a.o"], env=env, cwd=sample_dir)
    assert miss.returncode == 0, miss.stderr
    assert {"onnxruntime", "tokenizers"} <= _imports(miss.stderr)
    s = stats.read(env["LLMCC_CACHE_DIR"])
    assert s["cache misses"] == 1 and s["candidates compiled"] >= 1
    assert not any(k.startswith("fallback") for k in s)
    # with the ranking server (the default), a miss loads the model in the server only
    served = dict(env, LLMCC_RANK_SERVER="3", LLMCC_CACHE_DIR=env["LLMCC_CACHE_DIR"] + "-s")
    miss = run([llmcc, "-O2", "-c", "sample.c", "-o", "s.o"], env=served, cwd=sample_dir)
    assert miss.returncode == 0, miss.stderr
    assert not {"onnxruntime", "tokenizers", "numpy"} & _imports(miss.stderr)
    assert stats.read(served["LLMCC_CACHE_DIR"])["rank server requests"] == 1
    assert (sample_dir / "s.o").read_bytes() == (sample_dir / "a.o").read_bytes()
    hit = run([llmcc, "-O2", "-c", "sample.c", "-o", "b.o"], env=env, cwd=sample_dir)
    assert hit.returncode == 0, hit.stderr
    assert stats.read(env["LLMCC_CACHE_DIR"])["cache hits"] == 1
    assert not {"onnxruntime", "tokenizers"} & _imports(hit.stderr)
    assert (sample_dir / "a.o").read_bytes() == (sample_dir / "b.o").read_bytes()


def test_broken_model_falls_back_to_the_static_ranker(llmcc, clang, llmcc_env, sample_dir,
                                                      tmp_path):
    run([clang, "-Oz", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    ref = object_size(str(sample_dir / "ref.o")).total
    # unreadable card: the ranker cannot even be constructed
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model.json").write_text("{not json")
    # readable card, corrupt network: it fails when a cache miss first needs a ranking
    corrupt = tmp_path / "corrupt-model"
    shutil.copytree(model_dir(), corrupt)
    (corrupt / "model.onnx").write_bytes(b"\0garbage")
    for i, (d, counter) in enumerate([(broken, "fallback: ranker model unavailable"),
                                      (corrupt, "fallback: ranker failed")]):
        cache = tmp_path / f"c{i}"
        env = dict(llmcc_env, LLMCC_MODEL_DIR=str(d), LLMCC_DEBUG="1", LLMCC_CACHE_DIR=str(cache))
        r = run([llmcc, "-O2", "-c", "sample.c", "-o", f"b{i}.o"], env=env, cwd=sample_dir)
        assert r.returncode == 0, r.stderr
        assert b"using the static ranker" in r.stderr
        s = stats.read(str(cache))
        assert s[counter] == 1 and s["candidates compiled"] >= 1
        assert object_size(str(sample_dir / f"b{i}.o")).total <= ref


def test_a_tu_larger_than_every_training_tu_gets_the_static_order(clang, sample_dir, tmp_path):
    text = _ir(clang, sample_dir, tmp_path)
    small = tmp_path / "model"
    shutil.copytree(model_dir(), small)
    card = json.loads((small / "model.json").read_text())
    assert card["max_ir_bytes"] >= 100_000  # the shipped model saw TUs up to this size
    card["max_ir_bytes"] = len(text.encode()) - 1
    (small / "model.json").write_text(json.dumps(card))
    ranker = ModelRanker(str(small))
    assert ranker.rank(text) == list(load_coreset())
    assert ranker._session is None  # not even loaded
    assert ModelRanker().rank(text) != list(load_coreset())
