"""Offline stand-in for @rules_java//java:defs.bzl.

Bazel 4 registers the JDK toolchains of @bazel_tools//tools/jdk for every build,
and that package loads @rules_java, which its built-in WORKSPACE suffix declares
as a download. A C build never uses Java; these wrappers forward to the native
rules so the package loads without network. Declared as a local_repository in
../../WORKSPACE; drop it if your Bazel can fetch rules_java.
"""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
