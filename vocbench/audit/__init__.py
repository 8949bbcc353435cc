"""The dataset audit: the essay's questions asked before training a one-stage detector, under VOC's rules.

* :func:`analyze_assignment` / :func:`grid_sweep` / :func:`analyze_ssd_matching` — what a grid and its priors
  lose (objects sharing a cell, lost under one object per cell or per (cell, anchor), SSD's unmatched objects).
* :func:`analyze_resize` — squash, letterbox and crop: shapes at the input, k-means anchors, cut objects.
* :func:`health_check` — broken, tiny, duplicated boxes, empty images, imbalance, leakage between splits.
* :func:`find_label_issues` — annotations that detectors say are probably wrong, ranked.
* :func:`audit_dataset` — the dataset-only parts in one call (:class:`DatasetAudit`).
"""

from vocbench.audit.assignment import (
    COCO_SIZE_NAMES,
    DEFAULT_SWEEP_GRIDS,
    INPUT_SIZE_BINS,
    AssignmentResult,
    GridSweep,
    ObjectGeometry,
    SSDMatchResult,
    analyze_assignment,
    analyze_ssd_matching,
    assignment_table,
    grid_sweep,
    object_geometry,
)
from vocbench.audit.dataset import DatasetAudit, audit_dataset
from vocbench.audit.health import HEALTH_KINDS, HealthReport, health_check, split_leakage, split_memberships
from vocbench.audit.label_errors import LABEL_ISSUE_KINDS, LabelIssues, find_label_issues
from vocbench.audit.resize import RESIZE_POLICIES, PolicyResult, ResizeAudit, analyze_resize, boxes_at_input

__all__ = ["AssignmentResult", "GridSweep", "ObjectGeometry", "SSDMatchResult", "analyze_assignment",
           "assignment_table", "analyze_ssd_matching", "grid_sweep", "object_geometry", "COCO_SIZE_NAMES",
           "INPUT_SIZE_BINS", "DEFAULT_SWEEP_GRIDS", "DatasetAudit", "audit_dataset", "HEALTH_KINDS",
           "HealthReport", "health_check", "split_leakage", "split_memberships", "LABEL_ISSUE_KINDS", "LabelIssues",
           "find_label_issues", "RESIZE_POLICIES", "PolicyResult", "ResizeAudit", "analyze_resize",
           "boxes_at_input"]
