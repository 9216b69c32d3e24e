"""Offline tools (corpus, tuning, training, bench, difftest). May import the
compile path; the compile path never imports this package."""
