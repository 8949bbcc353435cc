"""Outcome codes of a detection after VOC matching (int8 per detection), shared by every engine and kernel.

Plain ints, importable without Numba; the Numba kernels read them as compile-time constants. The diagnosis
(:mod:`vocbench.diagnose`) uses the same codes for its detection states (TP, FP, not counted).
"""

from __future__ import annotations

__all__ = ["OUTCOME_FP", "OUTCOME_TP", "OUTCOME_DUPLICATE", "OUTCOME_IGNORED", "OUTCOME_NAMES"]

#: A false positive: no GT of its class and image at the IoU threshold (or its class has none).
OUTCOME_FP = 0
#: A true positive: matched the best-overlapping unmatched non-difficult GT.
OUTCOME_TP = 1
#: A false positive whose best GT was already matched by a higher-scored detection.
OUTCOME_DUPLICATE = 2
#: Not counted: its best GT is difficult (VOC) or a crowd region ignores it (COCO/TIDE).
OUTCOME_IGNORED = 3
#: Names by code.
OUTCOME_NAMES = ("false positive", "true positive", "duplicate", "ignored (difficult)")
