# Compile and link the example program with llmcc. Nix runs this as the builder
# (pinned mode, see default.nix); update-pin.sh runs the same commands with
# llmcc's normal search to make llmcc.pin.
#
# Environment: src (the sources), out (where obj/ and bin/ go), llmcc (the
# llmcc executable), PATH (where llmcc finds clang-19 and opt-19).
set -eu
mkdir -p "$out/obj" "$out/bin"
cd "$src"
for f in crc32.c kind.c stats.c main.c; do
    "$llmcc" -O2 -c "$f" -o "$out/obj/${f%.c}.o"
done
"$llmcc" -o "$out/bin/hello" "$out/obj/crc32.o" "$out/obj/kind.o" "$out/obj/stats.o" \
    "$out/obj/main.o"
