#!/usr/bin/env bash
# Regenerate llmcc.pin, the size decisions default.nix builds with.
#
# Runs build.sh outside Nix, with llmcc's normal search and a fresh private
# cache, then exports that build's decisions. Commit the result; run it again
# after changing sources, flags or the compiler.
#
#   LLMCC=/path/to/llmcc ./update-pin.sh     (default: llmcc on PATH)
#   NIX_BUILD_PATH=...                       (default /usr/bin:/bin, as default.nix's path)
set -euo pipefail
cd "$(dirname "$0")"
llmcc=$(command -v "${LLMCC:-llmcc}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
env -i PATH="${NIX_BUILD_PATH:-/usr/bin:/bin}" LLMCC_CACHE_DIR="$tmp/cache" \
    src="$PWD/../src" out="$tmp/out" llmcc="$llmcc" /bin/sh build.sh
env -i PATH="${NIX_BUILD_PATH:-/usr/bin:/bin}" LLMCC_CACHE_DIR="$tmp/cache" "$llmcc" cache export llmcc.pin
