"""The whole dataset audit in one call: assignment on the grid(s), the grid sweep, SSD matching, the resize
policies and the health check (the label-error ranks need detections: :func:`~vocbench.audit.find_label_issues`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vocbench.audit.assignment import (
    DEFAULT_SWEEP_GRIDS,
    AssignmentResult,
    GridSweep,
    SSDMatchResult,
    analyze_assignment,
    analyze_ssd_matching,
    grid_sweep,
    object_geometry,
)
from vocbench.audit.health import HealthReport, health_check
from vocbench.audit.resize import ResizeAudit, analyze_resize
from vocbench.structures import Dataset

__all__ = ["DatasetAudit", "audit_dataset"]


@dataclass(frozen=True)
class DatasetAudit:
    """Result of :func:`audit_dataset`.

    Attributes:
        assignments: YOLO-style assignments, the default case (13×13, yolo-voc) first.
        sweep: lost objects against the grid side (yolo-voc priors); ssd: SSD300 matching.
        resize: the three resize policies; health: the annotation health check.
        sets: the dataset's set specs.
    """

    assignments: tuple[AssignmentResult, ...]
    sweep: GridSweep
    ssd: SSDMatchResult
    resize: ResizeAudit
    health: HealthReport
    sets: tuple[str, ...] = ()

    def to_pandas(self, table: str = "assignment") -> pd.DataFrame:
        """``"assignment"`` (one row per grid layout and prior set; the default), ``"sweep"`` (lost vs grid),
        ``"ssd"`` (SSD matching per class), ``"resize"`` (one row per policy) or ``"health"`` (findings)."""
        if table == "assignment":
            return pd.DataFrame([{k: v for k, v in a.to_dict().items() if not isinstance(v, list)}
                                 for a in self.assignments])
        tables = {"sweep": self.sweep.to_pandas, "ssd": self.ssd.to_pandas, "resize": self.resize.to_pandas,
                  "health": self.health.to_pandas}
        if table not in tables:
            raise ValueError(f"table must be 'assignment', {', '.join(repr(t) for t in tables)}; got {table!r}")
        return tables[table]()

    def to_dict(self) -> dict:
        return {"sets": list(self.sets), "assignment": [a.to_dict() for a in self.assignments],
                "grid_sweep": self.sweep.to_dict(), "ssd_matching": self.ssd.to_dict(),
                "resize": self.resize.to_dict(), "health": self.health.to_dict()}

    def __str__(self) -> str:
        lines = ["assignment:"] + [f"  {a}" for a in self.assignments]
        lines += [f"SSD matching: {self.ssd}", "lost vs grid (yolo-voc priors):",
                  self.sweep.to_pandas().to_string(index=False, float_format=lambda v: f"{v:.3f}"),
                  str(self.resize), str(self.health)]
        return "\n".join(lines)


def audit_dataset(dataset: Dataset, *, input_size: int = 416, strides: Sequence[Sequence[int]] = ((32,),),
                  priors: Mapping[str, np.ndarray | str] | None = None,
                  sweep_grids: Sequence[int] = DEFAULT_SWEEP_GRIDS, ssd: str = "ssd300", k: int = 5,
                  splits: Mapping[str, Sequence[str]] | None = None,
                  include_difficult: bool = False) -> DatasetAudit:
    """Every dataset-only part of the audit (see the module docstring).

    Args:
        dataset: the ground truth.
        input_size: network input side, pixels (default 416, the essay's).
        strides: the head layouts to assign on, each a tuple of strides (default ``((32,),)``: one 13×13 grid).
        priors: name → prior set (``"yolo-voc"`` or float[K, 2] normalised); default: the yolo-voc anchors and
            ``"kmeans"``, the IoU k-means anchors of the squashed boxes (the resize audit's ``squash`` row).
            Every prior set is assigned on every layout whose number of heads divides its size.
        sweep_grids: grid sides of the lost-vs-grid curve; ssd: the SSD layout; k: anchors per resize policy.
        splits: split name → image keys, for the leakage check.
        include_difficult: also audit difficult objects (assignment, SSD, resize).
    """
    geom = object_geometry(dataset, include_difficult)
    resize = analyze_resize(dataset, input_size=input_size, k=k, geometry=geom)
    if priors is None:
        priors = {"yolo-voc": "yolo-voc"}
        if len(resize.policies[0].anchors):
            priors["kmeans"] = resize.policies[0].anchors / input_size
    out = []
    for layout in strides:
        for name, p in priors.items():
            n = 5 if isinstance(p, str) else len(np.asarray(p).reshape(-1, 2))
            if n % len(layout) == 0:
                out.append(analyze_assignment(dataset, priors=p, prior_set=name, input_size=input_size,
                                              strides=layout, geometry=geom))
    return DatasetAudit(
        assignments=tuple(out), sweep=grid_sweep(dataset, sweep_grids, geometry=geom),
        ssd=analyze_ssd_matching(dataset, ssd, geometry=geom),
        resize=resize,
        health=health_check(dataset, splits=splits), sets=tuple(dataset.sets))
