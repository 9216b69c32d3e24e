"""A C/C++ toolchain whose compiler is llmcc in pinned mode (see llmcc-cc).

The toolchain is configured the Bazel 4 way (cc_toolchain_config with
tool_paths, selected with --crosstool_top); it is also registered for
toolchain resolution (--incompatible_enable_cc_toolchain_resolution, the
default from Bazel 7). It targets Debian's clang-19 on x86_64 Linux: adjust
the tool paths and include directories for another system.
"""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")
load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
    "with_feature_set",
)

_COMPILE = [
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
]

_LINK = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _impl(ctx):
    tool_paths = [
        # Relative to this package: the wrapper script, which execs llmcc.
        tool_path(name = "gcc", path = "llmcc-cc"),
        tool_path(name = "cpp", path = "llmcc-cc"),
        tool_path(name = "ld", path = "/usr/bin/ld"),
        tool_path(name = "ar", path = "/usr/bin/ar"),
        tool_path(name = "nm", path = "/usr/bin/nm"),
        tool_path(name = "objdump", path = "/usr/bin/objdump"),
        tool_path(name = "strip", path = "/usr/bin/strip"),
        tool_path(name = "gcov", path = "/bin/false"),
    ]
    features = [
        # Bazel enables the feature named after the compilation mode (-c).
        feature(name = "dbg"),
        feature(name = "fastbuild"),
        feature(name = "opt"),
        feature(
            name = "default_compile_flags",
            enabled = True,
            flag_sets = [
                # llmcc optimizes -O2 for size (as clang -Oz, or smaller).
                flag_set(
                    actions = _COMPILE,
                    flag_groups = [flag_group(flags = ["-O2"])],
                    with_features = [with_feature_set(not_features = ["dbg"])],
                ),
                # Debug builds: llmcc passes -O0 to clang unchanged.
                flag_set(
                    actions = _COMPILE,
                    flag_groups = [flag_group(flags = ["-O0", "-g"])],
                    with_features = [with_feature_set(features = ["dbg"])],
                ),
            ],
        ),
        feature(
            name = "default_link_flags",
            enabled = True,
            flag_sets = [flag_set(actions = _LINK, flag_groups = [flag_group(flags = ["-lm"])])],
        ),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        toolchain_identifier = "llmcc-clang-19",
        host_system_name = "local",
        target_system_name = "x86_64-linux-gnu",
        target_cpu = "k8",
        target_libc = "glibc",
        compiler = "llmcc",
        abi_version = "local",
        abi_libc_version = "local",
        tool_paths = tool_paths,
        features = features,
        # System headers clang-19 may include; Bazel checks every header a
        # compile reads is either declared or under one of these.
        cxx_builtin_include_directories = [
            "/usr/lib/llvm-19/lib/clang/19/include",
            "/usr/local/include",
            "/usr/include/x86_64-linux-gnu",
            "/usr/include",
        ],
    )

cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {},
    provides = [CcToolchainConfigInfo],
)
