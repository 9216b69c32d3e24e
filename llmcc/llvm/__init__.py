"""LLVM facts: the pass allowlist, IR normalization, object size."""
