"""llmcc: a drop-in clang that makes object files smaller than ``clang -Oz``.

For each translation unit it lowers the source to LLVM IR, ranks LLVM pass
pipelines for that IR, measures the best few candidates for real with
``opt`` and clang's own code generator, and keeps the smallest object
(``-Oz`` is always a candidate, so no object is ever larger).
"""

__version__ = "0.1.0"
