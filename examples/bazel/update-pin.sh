#!/usr/bin/env bash
# Regenerate toolchain/llmcc.pin, the size decisions the toolchain reads.
#
# Builds the given targets (default: //...) once per compilation mode with
# llmcc's normal search, outside the sandbox and with a fresh private cache,
# then exports the decisions of those builds. Commit the result; run it again
# after changing sources, flags or the compiler (a compile without a decision
# gets clang -Oz, or fails with --config=strict).
#
# Every mode that compiles with optimization is built once; modes with the
# same code-generation flags share decisions (preprocessor flags such as
# -iquote bazel-out/k8-opt/bin are not part of the key). -c dbg compiles at
# -O0, which llmcc leaves to clang, so it needs no decisions.
#
#   ./update-pin.sh [TARGET...]
#   LLMCC=/path/to/llmcc ./update-pin.sh       (default: llmcc on PATH)
#   MODES="fastbuild opt" ./update-pin.sh      (the default)
set -euo pipefail
cd "$(dirname "$0")"
[ $# -gt 0 ] || set -- //...
llmcc=${LLMCC:-llmcc}
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
for mode in ${MODES:-fastbuild opt}; do
    bazel build -c "$mode" --spawn_strategy=local \
        --action_env=LLMCC_UNPINNED=1 --action_env=LLMCC_CACHE_DIR="$cache" \
        --action_env=LLMCC="$llmcc" "$@"
done
LLMCC_CACHE_DIR=$cache "$llmcc" cache export toolchain/llmcc.pin
