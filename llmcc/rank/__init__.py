"""Rankers of the pass-pipeline coreset: the static order and the model."""
