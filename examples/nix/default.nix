# A small C program compiled with llmcc in pinned (hermetic) mode, using only
# builtins.derivation: no nixpkgs, no network. Size decisions come from
# llmcc.pin (made by ./update-pin.sh); llmcc runs no ranker and writes nothing
# outside $out. The result holds bin/hello and the objects in obj/.
#
# The compiler is the host's llmcc and clang-19/opt-19, outside the Nix store, so
# the build needs `sandbox = false` or `sandbox = relaxed` (see __noChroot), and
# the build user must be able to read llmcc's installation:
#
#   nix-build --option sandbox false --argstr llmcc "$(command -v llmcc)"
{ llmcc ? "/usr/local/bin/llmcc"   # absolute path of the llmcc executable
, path ? "/usr/bin:/bin"           # PATH of the build: clang-19, opt-19, sh tools
, strict ? false                   # true: a TU without a pinned decision fails the build
, system ? builtins.currentSystem
}:

builtins.derivation {
  name = "llmcc-example-hello";
  inherit system llmcc;
  builder = "/bin/sh";
  args = [ ./build.sh ];
  src = ../src;  # the C sources shared by the examples
  PATH = path;
  LLMCC_PINNED = ./llmcc.pin;
  LLMCC_PINNED_STRICT = if strict then "1" else "";
  # The host compiler lives outside the store: allowed under `sandbox = relaxed`.
  __noChroot = true;
}
