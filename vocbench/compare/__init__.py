"""Comparing detectors: image bootstrap, paired tests, per-class deltas and ranking stability."""

from vocbench.compare.comparison import Comparison, ModelScore, PairDiff, RankStability, bootstrap_weights, compare

__all__ = ["compare", "Comparison", "ModelScore", "PairDiff", "RankStability", "bootstrap_weights"]
