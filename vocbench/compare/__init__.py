"""Comparing detectors: image bootstrap, paired tests, per-class deltas and ranking stability."""

from vocbench.compare.comparison import Comparison, ModelScore, PairDiff, RankStability, bootstrap_weights, compare
from vocbench.compare.resample import resample_dataset

__all__ = ["compare", "Comparison", "ModelScore", "PairDiff", "RankStability", "bootstrap_weights", "resample_dataset"]
