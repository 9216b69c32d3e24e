"""``llmcc train`` end to end: label a small recorded corpus, fit twice (same model),
evaluate on a validation package, and compile with the trained model."""

import json

from llmcc.store import stats
from tests.conftest import run
from tests.e2e.project import write_project

PIPELINES = [
    "default<Oz>,mergefunc",
    "default<Oz>,function(simplifycfg<hoist-common-insts;sink-common-insts>,instcombine)",
    "default<Oz>,deadargelim,globaldce,constmerge",
]
#: Package -> (CFLAGS, split): different flags give different IR, so distinct TUs.
PACKAGES = {"demo_a": ("-O2", "train"), "demo_b": ("-O2 -fwrapv", "train"),
            "demo_c": ("-O2 -fno-strict-aliasing", "validation")}


def test_fit_is_reproducible_and_eval_reports_against_static(llmcc, llmcc_env, tmp_path):
    proj = tmp_path / "proj"
    write_project(proj)
    rec = tmp_path / "rec"
    for pkg, (cflags, _) in PACKAGES.items():
        env = dict(llmcc_env, LLMCC_RECORD=str(rec), LLMCC_RECORD_PACKAGE=pkg,
                   LLMCC_CANDIDATES="0")
        run(["make", "clean"], cwd=proj)
        r = run(["make", "-j2", f"CC={llmcc}", f"CFLAGS={cflags}"], env=env, cwd=proj)
        assert r.returncode == 0, r.stderr.decode()
    pk = tmp_path / "packages.toml"
    pk.write_text("".join(f'[{p}]\nsplit = "{s}"\n' for p, (_, s) in PACKAGES.items()))
    cs = tmp_path / "coreset.json"
    cs.write_text(json.dumps({"pipelines": PIPELINES}))
    labels = tmp_path / "tune"
    common = ["--corpus", str(rec), "--packages", str(pk)]
    r = run([llmcc, "tune", "broadcast", "--out", str(labels), "--jobs", "2", "--pipelines",
             str(cs)] + common, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()

    cards = []
    for name in ("m1", "m2"):
        r = run([llmcc, "train", "fit", "--labels", str(labels), "--coreset", str(cs),
                 "--vocab", "300", "--dim", "8", "--out", str(tmp_path / name)] + common,
                env=llmcc_env)
        assert r.returncode == 0, r.stderr.decode()
        assert b"cross-validation: 5 folds by TU" in r.stderr  # 2 training packages only
        cards.append(json.loads((tmp_path / name / "model.json").read_text()))
    assert cards[0]["id"] == cards[1]["id"]
    assert cards[0]["pipelines"] == PIPELINES and cards[0]["train_tus"] >= 20
    for f in ("model.onnx", "tokenizer.json", "neighbours.npy"):
        assert (tmp_path / "m1" / f).read_bytes() == (tmp_path / "m2" / f).read_bytes()

    r = run([llmcc, "train", "eval", "--labels", str(labels), "--model", str(tmp_path / "m1")]
            + common, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "validation: " in out and "of 1 packages, 3 coreset pipelines" in out
    rows = [line.split() for line in out.splitlines() if line[:3].strip() in "1 2 3 4 8".split()]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "8"]
    oracle = float(out.split("coreset oracle (all 3): ")[1].split("%")[0])
    for row in rows:  # geomeans (model, static, by ratio) are at most the oracle, never < 0
        assert len(row) == 6 and all(0 <= float(v.rstrip("%")) <= oracle + 1e-9
                                     for v in row[1:4])
        assert all(float(v.rstrip("%")) >= 0 for v in row[4:])  # total bytes
    assert "zero-shot top-1" in out and "p95" in out and "peak RSS" in out
    # an order for large TUs over 0 bytes ranks every TU, in both columns
    lo = tmp_path / "large.json"
    lo.write_text(json.dumps({"large_tus": {"min_ir_bytes": 0,
                                            "pipelines": list(reversed(PIPELINES))}}))
    r = run([llmcc, "train", "eval", "--labels", str(labels), "--model", str(tmp_path / "m1"),
             "--large-order", str(lo)] + common, env=llmcc_env)
    assert r.returncode == 0, r.stderr.decode()
    n = int(out.split("validation: ")[1].split()[0])
    assert f"{n} of them over 0 bytes of IR, ranked by the order for large TUs" in r.stdout.decode()
    rows = [line.split() for line in r.stdout.decode().splitlines()
            if line[:3].strip() in "1 2 3 4 8".split()]
    assert all(row[1] == row[2] and row[4] == row[5] for row in rows)
    # only TUs up to a size: none of these is a single byte
    r = run([llmcc, "train", "eval", "--labels", str(labels), "--model", str(tmp_path / "m1"),
             "--max-ir-bytes", "1"] + common, env=llmcc_env)
    assert r.returncode == 1 and b"no validation TUs" in r.stderr

    # the driver compiles with the trained model, and its identity keys the decisions
    env = dict(llmcc_env, LLMCC_MODEL_DIR=str(tmp_path / "m1"))
    r = run([llmcc, "-O2", "-c", "m3.c", "-o", "m3.o"], env=env, cwd=proj)
    assert r.returncode == 0, r.stderr.decode()
    s = stats.read(env["LLMCC_CACHE_DIR"])
    assert s["candidates compiled"] == 3 and not any(k.startswith("fallback") for k in s)
    r = run([llmcc, "--identity"], env=env)
    r2 = run([llmcc, "--identity"], env=dict(env, LLMCC_MODEL_DIR=""))
    assert r.returncode == 0 and r.stdout and r.stdout != r2.stdout


def test_fit_on_a_missing_corpus_or_without_labels_says_so(llmcc, llmcc_env, tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "rec").mkdir()
    r = run([llmcc, "train", "fit", "--corpus", str(tmp_path / "rec"), "--labels",
             str(tmp_path / "labels"), "--out", str(tmp_path / "m")], env=llmcc_env)
    assert r.returncode == 1 and b"llmcc train: No such file or directory" in r.stderr
    assert b"records.jsonl" in r.stderr and b"Traceback" not in r.stderr
    # a recorded corpus without labels
    (tmp_path / "rec" / "records.jsonl").write_text("")
    r = run([llmcc, "train", "fit", "--corpus", str(tmp_path / "rec"), "--labels",
             str(tmp_path / "labels"), "--out", str(tmp_path / "m")], env=llmcc_env)
    assert r.returncode == 1 and b"0 training TUs labelled" in r.stderr
    # a coreset file that is not one: said, not replaced by a default pipeline list
    r = run([llmcc, "train", "fit", "--corpus", str(tmp_path / "rec"), "--labels",
             str(tmp_path / "labels"), "--coreset", str(tmp_path / "none.json"), "--out",
             str(tmp_path / "m")], env=llmcc_env)
    assert r.returncode == 1 and b"llmcc train fit: cannot use coreset" in r.stderr



def test_training_and_evaluation_read_a_tu_as_the_driver_ranks_it(llmcc, llmcc_env, tmp_path):
    """The driver shows a ranker the IR without its debug records; fit and eval read
    recorded IR so too, so a TU built with -g is described, trained on and evaluated
    as the same TU built without it."""
    from llmcc.lab import train
    from llmcc.lab.tune import load_corpus
    from llmcc.rank import model as M
    proj = tmp_path / "proj"
    write_project(proj)
    paths = []
    for name, flags in (("plain", []), ("debug", ["-g"])):
        rec = tmp_path / name
        env = dict(llmcc_env, LLMCC_RECORD=str(rec), LLMCC_RECORD_PACKAGE="demo",
                   LLMCC_CANDIDATES="0")
        r = run([llmcc, "-O2", *flags, "-c", "m0.c", "-o", f"{name}.o"], env=env, cwd=proj)
        assert r.returncode == 0, r.stderr.decode()
        pk = tmp_path / "packages.toml"
        pk.write_text('[demo]\nsplit = "train"\n')
        (tu,) = load_corpus(str(rec), str(pk), 1 << 62)
        paths.append(tu.ir_path)
    raw = [open(p, encoding="utf-8").read() for p in paths]
    assert "#dbg_" in raw[1] or "llvm.dbg." in raw[1]  # the -g IR does carry records
    assert M.model_text(raw[0]) != M.model_text(raw[1])  # and read as it is, differs
    plain, debug = (train.ranked_ir(p) for p in paths)
    assert M.features(plain) == M.features(debug)
    assert M.model_text(plain) == M.model_text(debug)
    ranker = M.ModelRanker()
    assert ranker.run(plain)[0].tolist() == ranker.run(debug)[0].tolist()
