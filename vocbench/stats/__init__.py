"""Dataset statistics: counts per set and class, objects per image, difficult/truncated shares."""

from vocbench.stats.distances import distribution_distances
from vocbench.stats.summary import DatasetStats, compute_stats

__all__ = ["DatasetStats", "compute_stats", "distribution_distances"]
