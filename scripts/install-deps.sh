#!/usr/bin/env bash
# Install what llmcc needs on a Debian (bookworm) machine: the reference
# toolchain (clang-19, llvm-19), build tools for the real-project benchmarks and
# tests, a deb-src entry for `apt-get source`, and llmcc itself (editable) in a
# virtual environment of its own (.venv), linked onto PATH as llmcc and llmcc++.
# Its own environment, as pipx gives: every compiler call starts this interpreter,
# and a shared site-packages runs every other package's .pth start-up hooks too.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# deb-src entries for `apt-get source`. The tools (llmcc bench, llmcc corpus build)
# use llmcc.lab.debian for this, on python-debian's deb822 parser; this is a minimal
# shell version of it for a fresh machine, before llmcc and python-debian are
# installed. Like llmcc.lab.debian it looks for an enabled deb-src entry (a deb822
# stanza without `Enabled: no`, or a one-line `deb-src` line) and leaves apt's
# sources alone when one exists; else it writes the same llmcc-src.sources.
has_deb_src() {
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # one record per stanza (paragraph mode); comment lines are dropped first
    grep -v '^#' "$f" | awk 'BEGIN { RS = ""; found = 1 }
      /(^|\n)[Tt]ypes:[^\n]*deb-src/ && !/(^|\n)[Ee]nabled:[ \t]*[Nn][Oo][ \t]*(\n|$)/ { found = 0 }
      END { exit found }' && return 0
  done
  grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list
}
if ! has_deb_src; then
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
  csmith libcsmith-dev bazel-bootstrap nix-bin ccache autoconf automake libtool \
  redis-server >/dev/null
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' \
  --config-settings editable_mode=compat
BIN=${LLMCC_BIN_DIR:-/usr/local/bin}
for tool in llmcc llmcc++; do
  $SUDO ln -sf "$PWD/.venv/bin/$tool" "$BIN/$tool"
done
