"""Pinned caches and determinism: same bytes in any directory, cold, warm or pinned."""

import os
import shutil
import stat

from llmcc.llvm.objsize import object_size
from llmcc.store import stats
from tests.conftest import run
from tests.e2e.project import N_FILES, write_project


def _build(root, env, cflags):
    r = run(["make", "-j4", f"CC={env['CC']}", f"CFLAGS={cflags}"], env=env, cwd=root)
    assert r.returncode == 0, r.stderr.decode()
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.o"))}


def _pin(llmcc, env, path):
    r = run([llmcc, "cache", "export", str(path)], env=env)
    assert r.returncode == 0, r.stderr
    return path


def test_two_directories_cold_warm_pinned_give_identical_objects(llmcc, llmcc_env, tmp_path):
    env = dict(llmcc_env, CC=llmcc)
    a, b, c = tmp_path / "a" / "src", tmp_path / "b" / "elsewhere" / "src", tmp_path / "c" / "src"
    expected = write_project(a)
    write_project(b)
    write_project(c)
    flags = lambda d: f"-O2 -g -ffile-prefix-map={d}=/src"
    cold = _build(a, env, flags(a))
    warm = _build(b, env, flags(b))
    assert cold == warm
    s = stats.read(env["LLMCC_CACHE_DIR"])
    assert s["cache hits"] == N_FILES + 1 and s["cache misses"] == N_FILES + 1

    pin = _pin(llmcc, env, tmp_path / "llmcc.pin")
    text = pin.read_text().splitlines()
    assert text[1] == "format 1" and text[2].startswith("toolchain 19.")
    assert text[3:] == sorted(text[3:]) and len(text[3:]) == N_FILES + 1

    home = tmp_path / "home"
    home.mkdir()
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    unreadable_model = tmp_path / "model"
    unreadable_model.mkdir(mode=0)
    pinned_env = dict(env, HOME=str(home), LLMCC_PINNED=str(pin), LLMCC_PINNED_STRICT="1",
                      LLMCC_CACHE_DIR="/proc/llmcc-no-cache", LLMCC_RANKER="model",
                      LLMCC_MODEL_DIR=str(unreadable_model))  # pinned builds never load it
    pinned_env.pop("XDG_CACHE_HOME", None)
    pinned = _build(c, pinned_env, flags(c))
    assert pinned == cold
    assert run(["./prog"], cwd=c).stdout == expected


def test_pinned_build_writes_nothing_and_needs_no_home(llmcc, llmcc_env, tmp_path):
    env = dict(llmcc_env, CC=llmcc)
    a, b = tmp_path / "a", tmp_path / "b"
    write_project(a)
    write_project(b)
    cold = _build(a, env, "-O2")
    pin = _pin(llmcc, env, tmp_path / "llmcc.pin")
    shutil.rmtree(tmp_path / "cache")
    pinned_env = dict(env, LLMCC_PINNED=str(pin))
    pinned_env.pop("HOME", None)
    before = set(os.listdir(tmp_path))
    assert _build(b, pinned_env, "-O2") == cold
    assert set(os.listdir(tmp_path)) == before  # no cache dir was created


def test_strict_pinned_miss_is_a_clear_error(llmcc, llmcc_env, tmp_path, sample_dir):
    env = dict(llmcc_env)
    pin = tmp_path / "empty.pin"
    run([llmcc, "-O2", "-c", "main.c"], env=env, cwd=sample_dir, check=True)
    _pin(llmcc, env, pin)
    strict = dict(env, LLMCC_PINNED=str(pin), LLMCC_PINNED_STRICT="1")
    r = run([llmcc, "-O2", "-c", "sample.c"], env=strict, cwd=sample_dir)
    assert r.returncode == 1
    assert b"no pinned decision for sample.c" in r.stderr
    lenient = dict(env, LLMCC_PINNED=str(pin))
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "lenient.o"], env=lenient, cwd=sample_dir)
    assert r.returncode == 0 and r.stderr == b""


def test_foreign_and_disallowed_pinned_entries_are_ignored(llmcc, clang, llmcc_env, tmp_path,
                                                          sample_dir):
    env = dict(llmcc_env)
    run([llmcc, "-O2", "-c", "sample.c", "-o", "cold.o"], env=env, cwd=sample_dir, check=True)
    pin = _pin(llmcc, env, tmp_path / "good.pin")
    lines = pin.read_text().splitlines()
    key = lines[3].split()[0]
    bad = tmp_path / "bad.pin"
    bad.write_text("\n".join(lines[:3] + [f"{key} 1 2 default<Oz>,-load-pass-plugin=/tmp/x.so"])
                   + "\n")
    foreign = tmp_path / "foreign.pin"
    foreign.write_text("\n".join(lines[:2] + ["toolchain 18.1.0 " + "0" * 32] + lines[3:]) + "\n")
    run([clang, "-Oz", "-c", "sample.c", "-o", "ref.o"], cwd=sample_dir, check=True)
    for pinfile, expect in ((bad, b"pinned entry ignored"), (foreign, b"made with clang 18.1.0")):
        e = dict(env, LLMCC_PINNED=str(pinfile), LLMCC_DEBUG="1")
        r = run([llmcc, "-O2", "-c", "sample.c", "-o", "p.o"], env=e, cwd=sample_dir)
        assert r.returncode == 0 and expect in r.stderr
        assert (sample_dir / "p.o").read_bytes() == (sample_dir / "ref.o").read_bytes()
    r = run([llmcc, "-O2", "-c", "sample.c", "-o", "s.o"],
            env=dict(env, LLMCC_PINNED=str(foreign), LLMCC_PINNED_STRICT="1"), cwd=sample_dir)
    assert r.returncode == 1 and b"made with clang 18.1.0" in r.stderr


def test_import_and_merge(llmcc, llmcc_env, tmp_path, sample_dir):
    env = dict(llmcc_env)
    run([llmcc, "-O2", "-c", "sample.c"], env=env, cwd=sample_dir, check=True)
    one = _pin(llmcc, env, tmp_path / "one.pin")
    run([llmcc, "-O2", "-c", "main.c"], env=env, cwd=sample_dir, check=True)
    both = _pin(llmcc, env, tmp_path / "both.pin")
    r = run([llmcc, "cache", "merge", str(one), str(both), "-o", str(tmp_path / "m.pin")], env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.pin").read_text() == both.read_text()
    fresh = dict(env, LLMCC_CACHE_DIR=str(tmp_path / "fresh"))
    assert run([llmcc, "cache", "import", str(both)], env=fresh).returncode == 0
    run([llmcc, "-O2", "-c", "sample.c", "main.c"], env=fresh, cwd=sample_dir, check=True)
    s = stats.read(fresh["LLMCC_CACHE_DIR"])
    assert s["cache hits"] == 2 and s.get("cache misses", 0) == 0


INLINE_C = """\
static int mix(const int *p, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s = s * 31 + (p[i] ^ (s >> 3)) + i * 7;
    return s ^ (s >> 11);
}
int f(const int *a, const int *b, const int *c) { return mix(a, 4) + mix(b, 8) - mix(c, 16); }
"""


def test_a_decision_with_a_vetted_option_reaches_opt_and_its_pinned_file(llmcc, clang,
                                                                          llmcc_env, tmp_path):
    """``PIPELINE -inline-threshold=N``: the option changes what opt does, a pinned
    line carries it, and a value outside the vetted range is ignored, not run."""
    (tmp_path / "inl.c").write_text(INLINE_C)
    env = dict(llmcc_env)

    def forced(decision, out):
        e = dict(env, LLMCC_FORCE_PIPELINE=decision, LLMCC_DEBUG="1")
        r = run([llmcc, "-Oz", "-c", "inl.c", "-o", out], env=e, cwd=tmp_path)
        assert r.returncode == 0 and b"forced pipeline " + decision.encode() in r.stderr, r.stderr
        return (tmp_path / out).read_bytes()

    inlined = forced("default<Oz> -inline-threshold=500", "hi.o")
    assert inlined != forced("default<Oz> -inline-threshold=0", "lo.o")

    run([llmcc, "-Oz", "-c", "inl.c", "-o", "cold.o"], env=env, cwd=tmp_path, check=True)
    run([clang, "-Oz", "-c", "inl.c", "-o", "ref.o"], cwd=tmp_path, check=True)
    lines = _pin(llmcc, env, tmp_path / "one.pin").read_text().splitlines()
    key, _, oz_size, _ = lines[3].split(None, 3)
    size = object_size(str(tmp_path / "hi.o")).total
    for value, expect in ((500, inlined), (900, (tmp_path / "ref.o").read_bytes())):
        pin = tmp_path / f"t{value}.pin"
        pin.write_text("\n".join(lines[:3] + [
            f"{key} {size} {oz_size} default<Oz> -inline-threshold={value}"]) + "\n")
        e = dict(env, LLMCC_PINNED=str(pin), LLMCC_CACHE_DIR=str(tmp_path / f"c{value}"),
                 LLMCC_DEBUG="1")
        r = run([llmcc, "-Oz", "-c", "inl.c", "-o", f"p{value}.o"], env=e, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / f"p{value}.o").read_bytes() == expect
        if value == 900:
            assert b"pinned entry ignored" in r.stderr and b"vetted range" in r.stderr
