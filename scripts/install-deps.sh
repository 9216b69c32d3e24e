#!/usr/bin/env bash
# Install what llmcc needs on a Debian (bookworm) machine: the reference
# toolchain (clang-19, llvm-19), build tools for the real-project benchmarks and
# tests, a deb-src entry for `apt-get source`, and llmcc itself (editable).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ! -f /etc/apt/sources.list.d/llmcc-src.sources ] && ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
   && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      | $SUDO tee /etc/apt/sources.list.d/llmcc-src.sources >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
      | $SUDO tee /etc/apt/sources.list.d/llmcc-src.list >/dev/null
  fi
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  clang-19 llvm-19 make cmake dpkg-dev build-essential ca-certificates \
  csmith libcsmith-dev bazel-bootstrap nix-bin ccache autoconf automake libtool >/dev/null
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
