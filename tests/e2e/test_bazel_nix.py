"""Hermetic builds with Bazel and Nix from a pinned cache: the examples in examples/bazel
and examples/nix, built for real, give the objects a plain llmcc build gives."""

import json
import os
import shutil
import stat

import pytest

from llmcc.store import pinned
from tests.conftest import run

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples")

#: Output of the example program (CRC-32 of the pangram, kind(12), two weighted sums).
EXPECTED = b"414fa339 five 77 95\n"


def _header_only(pin_path, dest):
    """Write to ``dest`` a valid pinned file with the header of ``pin_path`` and no decisions."""
    lines = open(pin_path, encoding="utf-8").read().splitlines()
    with open(dest, "w", encoding="utf-8") as f:
        f.write("\n".join(lines[:3]) + "\n")


def _check_committed_pin(committed_path, fresh_path, update_script, n_entries):
    """The committed pin is well formed and, for this toolchain, covers the same TUs as a
    freshly made one (else the example's sources or flags changed without a new pin)."""
    committed, fresh = pinned.read(committed_path), pinned.read(fresh_path)
    assert committed.rejected == [] and fresh.rejected == []
    assert len(fresh.entries) == n_entries
    if committed.toolchain == fresh.toolchain:
        assert set(committed.entries) == set(fresh.entries), f"stale pin: run {update_script}"


# --- Bazel -----------------------------------------------------------------------------

@pytest.fixture
def bazel_ws(tmp_path, llmcc_env):
    """A copy of examples/bazel with a private Bazel output root; the server is shut down
    afterwards. Yields (workspace, client environment)."""
    if shutil.which("bazel") is None:
        pytest.skip("bazel is not installed (Debian: apt-get install bazel-bootstrap)")
    ws = tmp_path / "ws"
    shutil.copytree(os.path.join(EXAMPLES, "bazel"), ws,
                    ignore=shutil.ignore_patterns("bazel-*"))
    with open(ws / ".bazelrc", "a", encoding="utf-8") as f:
        f.write(f"\nstartup --output_user_root={tmp_path / 'bazel-root'}\n"
                "startup --max_idle_secs=600\n")
    home = tmp_path / "home"
    home.mkdir()
    env = dict(llmcc_env, HOME=str(home))
    try:
        yield ws, env
    finally:
        run(["bazel", "shutdown"], env=env, cwd=ws)


def _bazel(ws, env, *args):
    return run(["nice", "bazel", *args], env=env, cwd=ws)


def _compile_commands(ws, env, *flags):
    """argv of every C compile Bazel would run for //src:hello."""
    r = _bazel(ws, env, "aquery", "--output=jsonproto", *flags,
               'mnemonic("CppCompile", deps(//src:hello))')
    assert r.returncode == 0, r.stderr.decode()
    return [a["arguments"] for a in json.loads(r.stdout)["actions"]]


def test_bazel_build_with_pinned_toolchain_matches_plain_llmcc(llmcc, bazel_ws, tmp_path):
    ws, env = bazel_ws
    r = run(["bash", "update-pin.sh", "//src:hello"], env=dict(env, LLMCC=llmcc), cwd=ws)
    assert r.returncode == 0, r.stderr.decode()
    pin = ws / "toolchain" / "llmcc.pin"
    _check_committed_pin(os.path.join(EXAMPLES, "bazel", "toolchain", "llmcc.pin"), pin,
                         "examples/bazel/update-pin.sh", n_entries=4)  # shared by fastbuild, opt

    # Hermetic build: Bazel's sandbox, no HOME, every TU must have a pinned decision.
    r = _bazel(ws, env, "build", "--config=strict", "//src:hello")
    assert r.returncode == 0, r.stderr.decode()
    assert b"sandbox" in r.stderr  # "INFO: 7 processes: 2 internal, 5 linux-sandbox."
    assert run([str(ws / "bazel-bin" / "src" / "hello")]).stdout == EXPECTED
    r = _bazel(ws, env, "build", "--config=strict", "-c", "opt", "//src:hello")
    assert r.returncode == 0, r.stderr.decode()

    # The same compile commands through a plain llmcc (its own search, its own cache).
    commands = _compile_commands(ws, env)
    assert sorted(os.path.basename(a[a.index("-c") + 1]) for a in commands) == [
        "crc32.c", "kind.c", "main.c", "stats.c"]
    plain = tmp_path / "plain"
    plain.mkdir()
    for argv in commands:
        assert argv[0] == "toolchain/llmcc-cc"
        out = argv[argv.index("-o") + 1]
        name = os.path.basename(out)
        mine = [llmcc] + argv[1:]
        mine[mine.index("-o") + 1] = str(plain / name)
        mine[mine.index("-MF") + 1] = str(plain / (name + ".d"))
        r = run(mine, env=env, cwd=ws)
        assert r.returncode == 0, r.stderr.decode()
        assert (ws / out).read_bytes() == (plain / name).read_bytes(), name

    # Toolchain resolution (the mechanism of newer Bazel) selects the same toolchain.
    resolved = _compile_commands(ws, env, "--incompatible_enable_cc_toolchain_resolution",
                                 "--crosstool_top=@bazel_tools//tools/cpp:toolchain")
    assert sorted(resolved) == sorted(commands)

    # The sandboxed compile really reads the pin: without decisions, strict mode fails.
    _header_only(pin, pin)
    r = _bazel(ws, env, "build", "--config=strict", "//src:hello")
    assert r.returncode != 0
    assert b"no pinned decision for src/" in r.stderr
    r = _bazel(ws, env, "build", "//src:hello")  # lenient: clang -Oz for every TU
    assert r.returncode == 0, r.stderr.decode()
    assert run([str(ws / "bazel-bin" / "src" / "hello")]).stdout == EXPECTED


# --- Nix -------------------------------------------------------------------------------

@pytest.fixture
def nix_dir(tmp_path, llmcc_env):
    """A copy of examples/nix and a private Nix store under tmp_path.
    Yields (example directory, nix-build argv prefix, environment)."""
    if shutil.which("nix-build") is None:
        pytest.skip("nix-build is not installed (Debian: apt-get install nix-bin)")
    ex = tmp_path / "ex"
    shutil.copytree(os.path.join(EXAMPLES, "nix"), ex, ignore=shutil.ignore_patterns("result*"))
    shutil.copytree(os.path.join(EXAMPLES, "src"), tmp_path / "src")  # default.nix: ../src
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in llmcc_env.items() if not k.startswith("NIX_")}
    env["HOME"] = str(home)
    s = tmp_path / "nix"
    store = f"local?store={s}/store&state={s}/state&log={s}/log"
    # Single-user, no substituters (no network), the host compiler outside the store.
    argv = ["nice", "nix-build", "--store", store, "--option", "substituters", "",
            "--option", "sandbox", "false", "--option", "build-users-group", ""]
    try:
        yield ex, argv, env
    finally:
        for d, _, _ in os.walk(s):  # store paths are read-only; let tmp_path be removed
            os.chmod(d, os.stat(d).st_mode | stat.S_IWUSR)


def test_nix_build_with_pinned_cache_matches_plain_llmcc(llmcc, nix_dir, llmcc_env, tmp_path):
    ex, nix_build, env = nix_dir
    r = run(["bash", "update-pin.sh"], env=dict(env, LLMCC=llmcc), cwd=ex)
    assert r.returncode == 0, r.stderr.decode()
    _check_committed_pin(os.path.join(EXAMPLES, "nix", "llmcc.pin"), ex / "llmcc.pin",
                         "examples/nix/update-pin.sh", n_entries=4)

    result = tmp_path / "result"
    r = run(nix_build + ["--argstr", "llmcc", llmcc, "--arg", "strict", "true",
                         "-o", str(result), "default.nix"], env=env, cwd=ex)
    assert r.returncode == 0, r.stderr.decode()
    assert run([str(result / "bin" / "hello")]).stdout == EXPECTED

    # A plain llmcc build of the same sources with the same flags.
    src = tmp_path / "plain"
    shutil.copytree(tmp_path / "src", src)
    for name in ("crc32", "kind", "stats", "main"):
        r = run([llmcc, "-O2", "-c", f"{name}.c", "-o", f"{name}.o"], env=llmcc_env, cwd=src)
        assert r.returncode == 0, r.stderr.decode()
        assert (result / "obj" / f"{name}.o").read_bytes() == (src / f"{name}.o").read_bytes()

    # The builder really reads the pin: without decisions, strict mode fails the build.
    _header_only(ex / "llmcc.pin", ex / "llmcc.pin")
    r = run(nix_build + ["--argstr", "llmcc", llmcc, "--arg", "strict", "true",
                         "--no-out-link", "default.nix"], env=env, cwd=ex)
    assert r.returncode != 0
    assert b"no pinned decision for crc32.c" in r.stderr
