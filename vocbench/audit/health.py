"""Annotation health check: degenerate and out-of-image boxes, tiny boxes, near-duplicates, empty images, extreme
aspect ratios, class imbalance and leakage between the splits of a loaded union.

Boxes are VOC 1-based inclusive pixels: a box is ``xmax - xmin + 1`` wide (the devkit's convention, as the
evaluator). Every check looks at every object, difficult ones included (a broken box is broken either way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vocbench.audit import _kernels
from vocbench.errors import InputError
from vocbench.structures import Dataset

__all__ = ["HealthReport", "health_check", "HEALTH_KINDS", "split_leakage", "split_memberships"]

#: The per-object and per-image findings, in report order.
HEALTH_KINDS = ("degenerate", "out_of_image", "tiny", "near_duplicate", "extreme_aspect", "empty_image",
                "duplicate_image_id", "leakage")


@dataclass(frozen=True)
class HealthReport:
    """Result of :func:`health_check`.

    Attributes:
        counts: kind → number of findings (objects; near-duplicates: pairs; images for the image kinds; leakage:
            images listed in more than one split).
        findings: one row per finding: ``kind``, ``image_id``, ``object`` (row in the dataset's object table,
            -1 for image findings), ``class``, ``xmin ymin xmax ymax`` (NaN for image findings), ``detail``.
        classes: per-class objects (non-difficult) and share; imbalance: largest / smallest class count
            (inf when a class has none, NaN without objects); entropy: normalised entropy of the class shares
            (1 = balanced; NaN without objects or with one class).
        thresholds: the thresholds used.
    """

    counts: dict
    findings: pd.DataFrame = field(repr=False)
    classes: pd.DataFrame = field(repr=False)
    imbalance: float
    entropy: float
    thresholds: dict

    def to_pandas(self, table: str = "findings") -> pd.DataFrame:
        """``"findings"`` (the default), ``"classes"`` or ``"summary"`` (one row per kind)."""
        if table == "findings":
            return self.findings
        if table == "classes":
            return self.classes
        if table == "summary":
            return pd.DataFrame({"check": list(self.counts), "count": list(self.counts.values())})
        raise ValueError(f"table must be 'findings', 'classes' or 'summary', got {table!r}")

    def to_dict(self, max_findings: int = 1000) -> dict:
        f = self.findings.head(max_findings).replace({np.nan: None})
        return {"counts": dict(self.counts), "imbalance": self.imbalance, "entropy": self.entropy,
                "thresholds": dict(self.thresholds), "classes": self.classes.to_dict("records"),
                "findings": f.to_dict("records"), "findings_total": len(self.findings)}

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"health: {parts}; class imbalance {self.imbalance:.1f}x, entropy {self.entropy:.3f}"


def split_leakage(memberships: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Image ids listed in more than one split: one row per (image_id, splits) with the splits joined by ``+``.

    Args:
        memberships: split name → image keys (e.g. ``"2007/000005"``) listed in it.
    """
    where: dict[str, list[str]] = {}
    for name, keys in memberships.items():
        for key in dict.fromkeys(str(k) for k in keys):
            where.setdefault(key, []).append(name)
    rows = [{"image_id": k, "splits": "+".join(v)} for k, v in where.items() if len(v) > 1]
    return pd.DataFrame(rows, columns=["image_id", "splits"])


def _object_row(dataset: Dataset, r: int, kind: str, detail: str) -> dict:
    b = dataset.boxes[r]
    return {"kind": kind, "image_id": str(dataset.image_ids[dataset.image_index[r]]), "object": int(r),
            "class": str(dataset.classes[dataset.class_index[r]]), "xmin": float(b[0]), "ymin": float(b[1]),
            "xmax": float(b[2]), "ymax": float(b[3]), "detail": detail}


def _box_rows(dataset: Dataset, mask: np.ndarray, kind: str, detail: list[str] | str) -> list[dict]:
    rows = np.flatnonzero(mask)
    det = [detail] * len(rows) if isinstance(detail, str) else detail
    return [_object_row(dataset, int(r), kind, d) for r, d in zip(rows, det)]


def _image_rows(image_ids: Sequence[str], kind: str, detail: list[str] | str) -> list[dict]:
    det = [detail] * len(image_ids) if isinstance(detail, str) else detail
    nan = float("nan")
    return [{"kind": kind, "image_id": str(i), "object": -1, "class": "", "xmin": nan, "ymin": nan, "xmax": nan,
             "ymax": nan, "detail": d} for i, d in zip(image_ids, det)]


def _object_checks(dataset: Dataset, min_side: float, max_aspect: float) -> list[dict]:
    b = dataset.boxes
    w = b[:, 2] - b[:, 0] + 1.0
    h = b[:, 3] - b[:, 1] + 1.0
    W = dataset.widths[dataset.image_index].astype(np.float64)
    H = dataset.heights[dataset.image_index].astype(np.float64)
    finite = np.isfinite(b).all(axis=1)
    degenerate = ~finite | (w <= 0) | (h <= 0)
    known = (W > 0) & (H > 0)
    outside = finite & known & ((b[:, 0] < 1) | (b[:, 1] < 1) | (b[:, 2] > W) | (b[:, 3] > H))
    tiny = ~degenerate & ((w < min_side) | (h < min_side))
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(degenerate, 1.0, np.maximum(w / h, h / w))
    extreme = ~degenerate & (aspect > max_aspect)
    rows = _box_rows(dataset, degenerate, "degenerate", "non-finite, inverted or empty box")
    rows += _box_rows(dataset, outside, "out_of_image",
                      [f"image is {int(W[r])}x{int(H[r])}" for r in np.flatnonzero(outside)])
    rows += _box_rows(dataset, tiny, "tiny", [f"{w[r]:g}x{h[r]:g} px" for r in np.flatnonzero(tiny)])
    rows += _box_rows(dataset, extreme, "extreme_aspect",
                      [f"aspect {aspect[r]:.1f}:1" for r in np.flatnonzero(extreme)])
    return rows


def _near_duplicates(dataset: Dataset, iou: float) -> list[dict]:
    order = np.lexsort((dataset.class_index, dataset.image_index))
    key = dataset.image_index[order] * max(dataset.num_classes, 1) + dataset.class_index[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1], True]).astype(np.int64) if len(key) else \
        np.zeros(1, np.int64)
    boxes = np.ascontiguousarray(np.nan_to_num(dataset.boxes[order], nan=0.0, posinf=0.0, neginf=0.0))
    a, b, v = _kernels.near_duplicate_pairs(boxes, starts, float(iou))
    first, second = order[a], order[b]
    return [_object_row(dataset, int(second[i]), "near_duplicate", f"IoU {v[i]:.3f} with object {first[i]}")
            for i in np.argsort(second, kind="stable")]


def _class_table(dataset: Dataset) -> tuple[pd.DataFrame, float, float]:
    counts = np.bincount(dataset.class_index[~dataset.difficult], minlength=dataset.num_classes)
    total = max(int(counts.sum()), 1)
    share = counts / total
    df = pd.DataFrame({"class": list(dataset.classes), "objects": counts, "share_pct": 100.0 * share})
    if not counts.sum():  # no objects: both measures are undefined
        return df, float("nan"), float("nan")
    imbalance = float(counts.max() / counts.min()) if counts.min() > 0 else float("inf")
    nz = share[share > 0]
    # + 0.0 turns the -0.0 of a single present class into 0.0
    entropy = float(-(nz * np.log(nz)).sum() / np.log(len(counts))) + 0.0 if len(counts) > 1 else float("nan")
    return df, imbalance, entropy


def health_check(dataset: Dataset, *, splits: Mapping[str, Sequence[str]] | None = None, min_side: float = 3.0,
                 duplicate_iou: float = 0.95, max_aspect: float = 10.0) -> HealthReport:
    """Check the annotations of ``dataset``.

    Args:
        dataset: the ground truth.
        splits: split name → image keys it lists, for the leakage check (the command reads them from the VOC
            ``ImageSets`` or the YOLO split lists); None: only duplicate image ids inside the dataset are checked.
        min_side: a box under this many pixels wide or high is ``tiny`` (default 3).
        duplicate_iou: two boxes of one class in one image with IoU above this are near-duplicates (default 0.95).
        max_aspect: a box longer than this many times its width (either way) is ``extreme_aspect`` (default 10).

    Returns:
        :class:`HealthReport`. ``degenerate``: non-finite or inverted boxes; ``out_of_image``: outside
        ``1..W × 1..H``; ``empty_image``: images without any object; ``duplicate_image_id``: an id that appears
        under two folders of the union.
    """
    if not 0.0 < duplicate_iou <= 1.0 or min_side < 0 or max_aspect < 1:
        raise InputError("duplicate_iou must be in (0, 1], min_side >= 0 and max_aspect >= 1")
    rows = _object_checks(dataset, float(min_side), float(max_aspect))
    rows += _near_duplicates(dataset, duplicate_iou)
    per_image = np.bincount(dataset.image_index, minlength=dataset.num_images)
    rows += _image_rows(dataset.image_ids[per_image == 0].tolist(), "empty_image", "no objects")
    ids, counts = np.unique(dataset.image_ids, return_counts=True)
    rows += _image_rows(ids[counts > 1].tolist(), "duplicate_image_id",
                        [f"in {c} folders of the union" for c in counts[counts > 1]])
    leak = split_leakage(splits) if splits else pd.DataFrame(columns=["image_id", "splits"])
    rows += _image_rows(leak["image_id"].tolist(), "leakage", [f"listed in {s}" for s in leak["splits"]])
    findings = pd.DataFrame(rows, columns=["kind", "image_id", "object", "class", "xmin", "ymin", "xmax", "ymax",
                                           "detail"])
    counts_by_kind = {k: int((findings["kind"] == k).sum()) for k in HEALTH_KINDS}
    table, imbalance, entropy = _class_table(dataset)
    return HealthReport(counts=counts_by_kind, findings=findings, classes=table, imbalance=imbalance,
                        entropy=entropy, thresholds={"min_side": float(min_side), "duplicate_iou": float(duplicate_iou),
                                                     "max_aspect": float(max_aspect)})


def split_memberships(root, sets: Sequence[str] | None, **load_kwargs) -> dict[str, list[str]]:
    """Split name → the image keys (``"<year>/<id>"``) it lists, for :func:`health_check`'s leakage check.

    VOC folders: read from ``ImageSets/Main/<split>.txt`` (no annotation is parsed); YOLO ``data.yaml``: each
    split loaded on its own (``load_kwargs`` go to :func:`vocbench.io.gt.load_ground_truth`); COCO: one file is
    one split, so ``{}``.
    """
    from pathlib import Path

    from vocbench.io.gt import ground_truth_kind, load_ground_truth
    from vocbench.io.voc import parse_set_spec, read_split

    specs = list(dict.fromkeys(sets or []))
    if len(specs) < 2:
        return {}
    kind = ground_truth_kind(root)
    if kind == "voc":
        out = {}
        for spec in specs:
            year, folder, split = parse_set_spec(Path(root), spec)
            out[spec] = [f"{year}/{i}" for i in read_split(folder, split)]
        return out
    if kind == "yolo":
        return {spec: load_ground_truth(root, [spec], **load_kwargs).image_keys().tolist() for spec in specs}
    return {}
