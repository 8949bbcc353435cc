"""Non-maximum suppression: exact greedy :func:`nms` (torchvision's result, near n log n), class-aware
:func:`batched_nms`, and :func:`soft_nms` (linear and Gaussian)."""

from __future__ import annotations

from vocbench.nms.batched import batched_nms
from vocbench.nms.greedy import nms
from vocbench.nms.soft import soft_nms

__all__ = ["nms", "batched_nms", "soft_nms"]
