"""Pipeline parsing and the pass allowlist."""

import pytest

from llmcc.errors import PipelineError
from llmcc.llvm.passes import (check_pipeline, contains_oz, parse_pipeline, split_decision,
                               substitute_oz)

ACCEPTED = [
    "default<Oz>",
    "default<Oz>,mergefunc",
    "function(instcombine,simplifycfg)",
    "function(simplifycfg<hoist-common-insts;sink-common-insts>)",
    "function(loop-mssa(licm))",
    "cgscc(devirt<4>(inline))",
    "module(globalopt),function(sroa)",
    "default<Oz> -inline-threshold=50",
    "function(sroa),cgscc(inline) -inline-threshold=0",
]

REJECTED = [
    "",
    "-load-pass-plugin=/tmp/x.so",
    "function(instcombine),-load-pass-plugin=/tmp/x.so",
    "default<Oz> -load-pass-plugin=/tmp/x.so",
    "default<O9>",
    "function(print<domtree>)",
    "print-module",
    "function(nonexistent-pass)",
    "internalize",
    "function(instcombine",
    "function(instcombine))",
    "simplifycfg<../../etc/passwd>",
    "mergefunc<x>",
    "unknownadaptor(instcombine)",
    "devirt<x>(inline)",
    "asan",
    "verify",
    "attributor",
    "function(unify-loop-exits)",
    "function(structurizecfg)",
    # options: only vetted ones, in range, once, one space each
    "default<Oz> -inline-threshold=501",
    "default<Oz> -inline-threshold=-1",
    "default<Oz> -inline-threshold=5 -inline-threshold=6",
    "default<Oz>  -inline-threshold=5",
    "default<Oz> -inline-threshold=5 ",
    "default<Oz> -inline-threshold 5",
    "default<Oz> -load=/tmp/x.so",
    "default<Oz> -inline-threshold=5;-load=/tmp/x.so",
    "default<Oz> -print-after-all",
    "default<Oz> -o=/etc/passwd",
    "default<Oz>\t-inline-threshold=5",
    "clang-source<Os> -inline-threshold=50",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted(text):
    assert check_pipeline(text) == text


@pytest.mark.parametrize("text", REJECTED)
def test_rejected(text):
    with pytest.raises(PipelineError):
        check_pipeline(text)


def test_source_os_decision_is_accepted_alone_only():
    assert check_pipeline("clang-source<Os>") == "clang-source<Os>"
    with pytest.raises(PipelineError):
        check_pipeline("clang-source<Os>,mergefunc")


def test_options_are_split_off_and_canonical():
    # a decision reads the same whatever the options' order; the pipeline part
    # is what opt runs with -p, the options go to opt's argv as they are
    text = "function(sroa) -inline-threshold=0050"
    assert check_pipeline(text) == "function(sroa) -inline-threshold=50"
    assert split_decision("default<Oz> -inline-threshold=50") == (
        "default<Oz>", ("-inline-threshold=50",))
    assert split_decision("default<Oz>") == ("default<Oz>", ())


def test_rejection_is_a_value_error():
    with pytest.raises(ValueError):
        check_pipeline("asan")


def test_parse_round_trip_is_canonical():
    elems = parse_pipeline("function(loop-mssa(licm<allowspeculation>)),globaldce")
    assert [e.name for e in elems] == ["function", "globaldce"]
    assert elems[0].children[0].children[0].params == "allowspeculation"


def test_oz_substitution_only_replaces_the_token():
    clang_oz = "annotation2metadata,function(sroa)"
    assert substitute_oz("default<Oz>,mergefunc", clang_oz) == clang_oz + ",mergefunc"
    assert substitute_oz("default<Os>", clang_oz) == "default<Os>"
    assert contains_oz("default<Oz>,default<Oz>")
    assert not contains_oz("function(instcombine)")


def test_always_inliner_is_mandatory_unless_oz_comes_first():
    from llmcc.llvm.passes import with_mandatory_passes
    assert with_mandatory_passes("default<Oz>,mergefunc") == "default<Oz>,mergefunc"
    assert with_mandatory_passes("function(sroa),default<Oz>") == (
        "always-inline,function(sroa),default<Oz>")
    assert with_mandatory_passes("globalopt") == "always-inline,globalopt"


def test_bare_instcombine_runs_without_fixpoint_verification():
    from llmcc.llvm.passes import with_mandatory_passes
    assert with_mandatory_passes("function(instcombine,aggressive-instcombine)") == (
        "always-inline,function(instcombine<no-verify-fixpoint>,aggressive-instcombine)")
    assert with_mandatory_passes("default<Oz>,function(instcombine)") == (
        "default<Oz>,function(instcombine<no-verify-fixpoint>)")
    # explicit parameters are left as written
    assert with_mandatory_passes("function(instcombine<max-iterations=2>)") == (
        "always-inline,function(instcombine<max-iterations=2>)")


def test_the_allowlist_is_read_once_per_process():
    # check_pipeline runs on every candidate and cache hit: no file read each time
    from llmcc.llvm.passes import vetted_options, vocabulary
    assert vocabulary() is vocabulary() and vetted_options() is vetted_options()
