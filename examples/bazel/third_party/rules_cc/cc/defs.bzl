"""Offline stand-in for @rules_cc//cc:defs.bzl.

Bazel 4's built-in WORKSPACE suffix declares @rules_cc as an http_archive, and
@bazel_tools//tools/cpp loads it, so a C build without network fails with
"Unknown host: mirror.bazel.build". The rules themselves are native in Bazel 4;
these wrappers forward to them. Declared as a local_repository named rules_cc in
../../WORKSPACE, which takes precedence over the download. Drop this directory
and that declaration if your Bazel can fetch rules_cc (or has it in --distdir).
"""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)
