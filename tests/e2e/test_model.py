"""The model ranker: shipped artifacts load, rank deterministically, and a broken
model falls back to the static ranker without breaking the build."""

import os

from llmcc import stats
from llmcc.model import ModelRanker
from llmcc.passes import check_pipeline
from tests.conftest import run


def test_model_ranks_the_coreset_deterministically(clang, sample_dir, tmp_path):
    ir = tmp_path / "x.ll"
    run([clang, "-Oz", "-Xclang", "-disable-llvm-passes", "-S", "-emit-llvm", "sample.c", "-o",
         str(ir)], cwd=sample_dir, check=True)
    ranker = ModelRanker()
    text = ir.read_text()
    first = ranker.rank(text)
    # it ranks exactly the pipelines it was trained for, every one allowlisted
    assert sorted(first) == sorted(ranker.pipelines) and len(first) == len(ranker.predict(text))
    assert all(check_pipeline(p) == p for p in first)
    assert ModelRanker().rank(text) == first
    assert all(0.5 < p < 2.0 for p in ranker.predict(text))


def test_driver_with_model_and_with_a_broken_model(llmcc, clang, llmcc_env, sample_dir, tmp_path):
    env = dict(llmcc_env, LLMCC_RANKER="model")
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "m.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0, r.stderr
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model.json").write_text("{not json")
    env = dict(llmcc_env, LLMCC_RANKER="model", LLMCC_MODEL_DIR=str(broken), LLMCC_DEBUG="1",
               LLMCC_CACHE_DIR=str(tmp_path / "c2"))
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "b.o"], env=env, cwd=sample_dir)
    assert r.returncode == 0
    assert b"using the static ranker" in r.stderr
    assert stats.read(env["LLMCC_CACHE_DIR"])["fallback: ranker model unavailable"] >= 1
    run([clang, "-Oz", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    from llmcc.objsize import object_size
    assert object_size(str(sample_dir / "b.o")).total <= object_size(str(sample_dir / "ref.o")).total
