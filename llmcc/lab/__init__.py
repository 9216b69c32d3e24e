"""Offline tools (corpus, tuning, training, bench, difftest). May import the
compile path; the compile path never imports this package.

What the tools share is written once: size metrics (:mod:`llmcc.lab.metrics`),
JSON-lines and pipeline files (:mod:`llmcc.lab.jsonl`), text tables
(:mod:`llmcc.lab.report`) and Debian source packages (:mod:`llmcc.lab.debian`)."""
