"""What a grid and its priors lose: YOLO's one-object-per-cell rule, one object per (cell, best anchor), and SSD's
matching of objects to default boxes (the essay's "matching" section).

Geometry: every image is squashed to the square network input (as YOLO and SSD train), so an object's position
and shape are its normalised box ``(x1, y1, x2, y2) / (W, H)`` with ``x1 = xmin - 1`` and ``x2 = xmax - 1``
(the 0-based convention of the YOLO/SSD data loaders, :func:`vocbench.anchors.normalized_boxes`). Its cell on a
``g × g`` grid is ``floor(centre * g)`` (clipped to ``g - 1``); its best anchor is the prior of highest aligned
(w, h) IoU (:func:`vocbench.anchors.wh_iou`; ties: the lower prior index, as ``argmax``).

Who wins a cell (stated because per-class and per-size counts depend on it): **the object that comes first in
annotation order** (XML order within the image). YOLO shuffles the objects and keeps the first one that claims a
cell (the essay: "it just picks the first one that matches the cell"), so annotation order is one fixed draw of
that shuffle. The total lost is rule-free: a cell claimed by ``n`` objects loses ``n - 1`` of them.

Difficult objects are left out by default (darknet's ``voc_label.py`` drops them before training), and so are
boxes of zero or negative width or height (they have no shape to match; :attr:`AssignmentResult.skipped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vocbench.anchors.priors import SSD_CONFIGS, SSDConfig, normalized_boxes, unique_shapes, yolo_voc_anchors
from vocbench.audit import _kernels
from vocbench.boxes import box_area, wh_iou
from vocbench.errors import InputError
from vocbench.structures import Dataset

__all__ = ["AssignmentResult", "SSDMatchResult", "GridSweep", "analyze_assignment", "analyze_ssd_matching",
           "grid_sweep", "object_geometry", "ObjectGeometry", "COCO_SIZE_NAMES", "INPUT_SIZE_BINS",
           "DEFAULT_SWEEP_GRIDS", "resolve_priors", "assign_cells", "assignment_table"]

#: COCO size classes as a partition of the VOC pixel area: small < 32², medium < 96², large otherwise.
COCO_SIZE_NAMES = ("small", "medium", "large")
#: Bins of ``sqrt(w * h)`` at the network input, pixels (lower edges; the last is open).
INPUT_SIZE_BINS = (0, 8, 16, 32, 64, 128, 256)
#: Grid sides of the lost-objects-vs-grid curve (416, 608, 832, 1216, 1664 px at stride 32).
DEFAULT_SWEEP_GRIDS = (7, 10, 13, 19, 26, 38, 52)


@dataclass(frozen=True)
class ObjectGeometry:
    """The objects an audit looks at, as flat arrays (length M, grouped by image in annotation order).

    Attributes:
        rows: int64[M] — row in the dataset's object table.
        image_index, class_index: int64[M].
        boxes: float64[M, 4] — normalised ``(x1, y1, x2, y2)`` (fractions of the image side).
        coco_size: int64[M] — 0 small, 1 medium, 2 large (VOC pixel area ``(w+1)(h+1)``, half-open ranges).
        skipped: objects left out because their box has no positive width or height.
    """

    rows: np.ndarray
    image_index: np.ndarray
    class_index: np.ndarray
    boxes: np.ndarray
    coco_size: np.ndarray
    skipped: int

    @property
    def wh(self) -> np.ndarray:
        """float64[M, 2] normalised (w, h)."""
        return np.ascontiguousarray(self.boxes[:, 2:] - self.boxes[:, :2])

    @property
    def centres(self) -> np.ndarray:
        """float64[M, 2] normalised centres."""
        return 0.5 * (self.boxes[:, :2] + self.boxes[:, 2:])


def object_geometry(dataset: Dataset, include_difficult: bool = False) -> ObjectGeometry:
    """The (non-difficult by default) objects of ``dataset`` with positive size, normalised, grouped by image."""
    keep = np.ones(dataset.num_objects, bool) if include_difficult else ~dataset.difficult
    rows = np.flatnonzero(keep)
    b = normalized_boxes(dataset, include_difficult=True)[rows] if len(rows) else np.zeros((0, 4))
    ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    rows, b = rows[ok], b[ok]
    order = np.argsort(dataset.image_index[rows], kind="stable")
    rows, b = rows[order], np.ascontiguousarray(b[order])
    area = box_area(dataset.boxes[rows]) if len(rows) else np.zeros(0)
    size = np.searchsorted(np.array([32.0 ** 2, 96.0 ** 2]), area, side="right")
    return ObjectGeometry(rows=rows, image_index=dataset.image_index[rows], class_index=dataset.class_index[rows],
                          boxes=b, coco_size=size.astype(np.int64), skipped=int(keep.sum() - len(rows)))


def resolve_priors(priors: str | np.ndarray) -> tuple[str, np.ndarray]:
    """``"yolo-voc"`` or a float[K, 2] array of normalised (w, h) → ``(name, float64[K, 2])``."""
    if isinstance(priors, str):
        if priors == "yolo-voc":
            return priors, yolo_voc_anchors()
        raise InputError(f"unknown prior set {priors!r}: give 'yolo-voc' or an array of normalised (w, h)")
    a = np.asarray(priors, np.float64).reshape(-1, 2)
    if len(a) == 0 or not np.isfinite(a).all() or (a <= 0).any():
        raise InputError("priors must be a non-empty float[K, 2] of positive normalised (w, h)")
    return "custom", a


@dataclass(frozen=True)
class AssignmentResult:
    """YOLO-style assignment of objects to grid cells and anchors.

    Attributes:
        prior_set: name of the priors (``"yolo-voc"``, ``"kmeans"``, ``"custom"``).
        priors: float64[K, 2] normalised (w, h).
        input_size: network input side, pixels; strides: output strides, finest first (one per head).
        objects: objects assigned; skipped: objects left out (no positive size).
        shared_cell: objects whose cell (at their head) also holds another object.
        lost_cell: objects lost when a cell takes one object (YOLOv2's rule; the first in annotation order wins).
        lost_cell_anchor: objects lost when a (cell, best anchor) takes one object.
        per_object: ``level``, ``cell``, ``anchor``, ``shared``, ``lost_cell``, ``lost_cell_anchor`` arrays
            (length ``objects``) and the geometry (not in ``to_dict``).
    """

    prior_set: str
    priors: np.ndarray = field(repr=False)
    input_size: int
    strides: tuple[int, ...]
    objects: int
    skipped: int
    shared_cell: int
    lost_cell: int
    lost_cell_anchor: int
    per_object: dict = field(repr=False, default_factory=dict)
    classes: tuple[str, ...] = field(repr=False, default=())

    @property
    def grids(self) -> tuple[int, ...]:
        return tuple(self.input_size // s for s in self.strides)

    @property
    def grid(self) -> str:
        """``"13x13"``, or ``"52x52+26x26+13x13"`` for several heads."""
        return "+".join(f"{g}x{g}" for g in self.grids)

    def _frame(self, key: np.ndarray, labels: Sequence[str], name: str) -> pd.DataFrame:
        po = self.per_object
        n = len(labels)

        def count(mask: np.ndarray) -> np.ndarray:
            return np.bincount(key[mask], minlength=n)[:n]

        objects = count(np.ones(len(key), bool))
        df = pd.DataFrame({name: list(labels), "objects": objects, "shared_cell": count(po["shared"]),
                           "lost_cell": count(po["lost_cell"]), "lost_cell_anchor": count(po["lost_cell_anchor"])})
        with np.errstate(invalid="ignore", divide="ignore"):
            df["lost_cell_pct"] = 100.0 * df["lost_cell"] / objects
            df["lost_cell_anchor_pct"] = 100.0 * df["lost_cell_anchor"] / objects
        return df

    def to_pandas(self, table: str = "class") -> pd.DataFrame:
        """``"class"`` (per class, the default), ``"coco_size"`` (COCO small/medium/large) or ``"input_size"``
        (``sqrt(w h)`` at the network input, :data:`INPUT_SIZE_BINS` pixels). Rates in % (NaN: no objects)."""
        po = self.per_object
        if table == "class":
            return self._frame(po["class_index"], self.classes, "class")
        if table == "coco_size":
            return self._frame(po["coco_size"], COCO_SIZE_NAMES, "size")
        if table == "input_size":
            edges = INPUT_SIZE_BINS
            labels = [f"{a}-{b}px" for a, b in zip(edges[:-1], edges[1:])] + [f">={edges[-1]}px"]
            return self._frame(po["input_bin"], labels, "size_at_input")
        raise ValueError(f"table must be 'class', 'coco_size' or 'input_size', got {table!r}")

    def to_dict(self) -> dict:
        return {"grid": self.grid, "prior_set": self.prior_set, "input_size": self.input_size,
                "strides": list(self.strides), "priors_norm": self.priors.tolist(), "objects": self.objects,
                "skipped": self.skipped, "shared_cell": self.shared_cell, "lost_cell": self.lost_cell,
                "lost_cell_anchor": self.lost_cell_anchor,
                "per_class": self.to_pandas("class").to_dict("records") if self.classes else [],
                "per_coco_size": self.to_pandas("coco_size").to_dict("records"),
                "per_input_size": self.to_pandas("input_size").to_dict("records")}

    def __str__(self) -> str:
        pct = 100.0 / max(self.objects, 1)
        return (f"{self.grid} grid, {self.prior_set} priors ({len(self.priors)}): {self.objects} objects, "
                f"{self.shared_cell} share a cell ({self.shared_cell * pct:.2f}%), lost: "
                f"{self.lost_cell} one per cell ({self.lost_cell * pct:.2f}%), "
                f"{self.lost_cell_anchor} one per (cell, anchor) ({self.lost_cell_anchor * pct:.2f}%)")


def _levels(priors: np.ndarray, n_levels: int) -> np.ndarray:
    """Head of every prior: priors sorted by area, the smallest ``K / L`` to the finest head (YOLOv3's masks)."""
    k = len(priors)
    if k % n_levels:
        raise InputError(f"{k} priors cannot be split evenly over {n_levels} strides")
    order = np.argsort(priors[:, 0] * priors[:, 1], kind="stable")
    level = np.empty(k, np.int64)
    level[order] = np.arange(k) // (k // n_levels)
    return level


def _first_in_group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool[M]: the first row (in row order) of every distinct key; int64[M]: the size of every row's group."""
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    is_first = np.zeros(len(keys), bool)
    is_first[first] = True
    return is_first, counts[inverse.reshape(-1)]


def assign_cells(geom: ObjectGeometry, priors: np.ndarray, grids: Sequence[int]) -> dict[str, np.ndarray]:
    """Assign every object of ``geom`` to a head, a cell and an anchor (rules in the module docstring).

    Args:
        geom: the objects (:func:`object_geometry`); priors: float64[K, 2] normalised (w, h).
        grids: grid side of every head, finest first (K must be a multiple of their number).

    Returns:
        dict of arrays of length M: ``anchor`` int64 (best prior), ``level`` int64 (head), ``cell`` int64
        (``row * g + col`` at that head), ``shared``, ``lost_cell``, ``lost_cell_anchor`` bool.
    """
    wh = geom.wh
    anchor = np.argmax(wh_iou(wh, priors), axis=1) if len(wh) else np.zeros(0, np.int64)
    level = _levels(priors, len(grids))[anchor]
    g = np.asarray(grids, np.int64)[level]
    c = geom.centres
    col = np.minimum((c[:, 0] * g).astype(np.int64), g - 1)
    row = np.minimum((c[:, 1] * g).astype(np.int64), g - 1)
    cell = row * g + col
    gmax = int(max(grids)) ** 2
    key_cell = (geom.image_index * len(grids) + level) * gmax + cell
    first_cell, size_cell = _first_in_group(key_cell)
    first_ca, _ = _first_in_group(key_cell * len(priors) + anchor)
    return {"anchor": anchor, "level": level, "cell": cell, "shared": size_cell > 1, "lost_cell": ~first_cell,
            "lost_cell_anchor": ~first_ca}


def analyze_assignment(dataset: Dataset, *, priors: str | np.ndarray = "yolo-voc", input_size: int = 416,
                       strides: Sequence[int] = (32,), prior_set: str | None = None,
                       include_difficult: bool = False, geometry: ObjectGeometry | None = None) -> AssignmentResult:
    """Count the objects a YOLO-style grid loses.

    Args:
        dataset: the ground truth.
        priors: ``"yolo-voc"`` (default) or float[K, 2] normalised (w, h) anchors (e.g. k-means ``anchors_norm``).
        input_size: network input side, pixels (default 416).
        strides: output strides, one per head (default ``(32,)``: the 13×13 grid). With several, the priors are
            split over the heads by area (the smallest to the finest head, YOLOv3) and an object goes to the head
            of its best anchor.
        prior_set: name for the priors (default: ``"yolo-voc"`` or ``"custom"``).
        include_difficult: also assign difficult objects.
        geometry: precomputed :func:`object_geometry` (saves the normalisation when auditing several grids).

    Returns:
        :class:`AssignmentResult`.
    """
    name, p = resolve_priors(priors)
    strides = tuple(int(s) for s in strides)
    if int(input_size) <= 0 or not strides or min(strides) <= 0 or any(input_size // s < 1 for s in strides):
        raise InputError(f"input size {input_size} and strides {list(strides)} must give grids of at least 1 cell")
    geom = geometry if geometry is not None else object_geometry(dataset, include_difficult)
    grids = [int(input_size) // s for s in strides]
    po = assign_cells(geom, p, grids)
    side = np.sqrt(geom.wh[:, 0] * geom.wh[:, 1]) * input_size
    po.update(class_index=geom.class_index, coco_size=geom.coco_size,
              input_bin=np.searchsorted(np.asarray(INPUT_SIZE_BINS[1:], np.float64), side, side="right"))
    return AssignmentResult(prior_set=prior_set or name, priors=p, input_size=int(input_size), strides=strides,
                            objects=len(geom.rows), skipped=geom.skipped, shared_cell=int(po["shared"].sum()),
                            lost_cell=int(po["lost_cell"].sum()), lost_cell_anchor=int(po["lost_cell_anchor"].sum()),
                            per_object=po, classes=tuple(dataset.classes))


@dataclass(frozen=True)
class GridSweep:
    """Objects lost against the grid side, for one prior set (single head).

    Attributes:
        prior_set: name of the priors; grids: grid sides; objects: objects assigned.
        shared_cell, lost_cell, lost_cell_anchor: int64[G], one per grid.
    """

    prior_set: str
    grids: tuple[int, ...]
    objects: int
    shared_cell: np.ndarray
    lost_cell: np.ndarray
    lost_cell_anchor: np.ndarray

    def to_pandas(self) -> pd.DataFrame:
        """One row per grid: counts and % of objects."""
        df = pd.DataFrame({"grid": [f"{g}x{g}" for g in self.grids], "grid_side": list(self.grids),
                           "objects": self.objects, "shared_cell": self.shared_cell, "lost_cell": self.lost_cell,
                           "lost_cell_anchor": self.lost_cell_anchor})
        n = self.objects if self.objects else float("nan")  # no objects: the rates are undefined (NaN)
        df["lost_cell_pct"] = 100.0 * df["lost_cell"] / n
        df["lost_cell_anchor_pct"] = 100.0 * df["lost_cell_anchor"] / n
        return df

    def to_dict(self) -> dict:
        return {"prior_set": self.prior_set, "objects": self.objects,
                "grids": self.to_pandas().drop(columns=["objects"]).to_dict("records")}


def grid_sweep(dataset: Dataset, grids: Sequence[int] = DEFAULT_SWEEP_GRIDS, *,
               priors: str | np.ndarray = "yolo-voc", prior_set: str | None = None, include_difficult: bool = False,
               geometry: ObjectGeometry | None = None) -> GridSweep:
    """:func:`analyze_assignment` with one head for every grid side in ``grids`` (the priors are normalised, so
    only the grid side matters: input ``g * 32`` at stride 32)."""
    name, p = resolve_priors(priors)
    gs = tuple(int(g) for g in grids)
    if not gs or min(gs) < 1:
        raise InputError(f"grid sides must be >= 1, got {list(grids)}")
    geom = geometry if geometry is not None else object_geometry(dataset, include_difficult)
    out = [assign_cells(geom, p, [g]) for g in gs]
    return GridSweep(prior_set=prior_set or name, grids=gs, objects=len(geom.rows),
                     shared_cell=np.array([int(o["shared"].sum()) for o in out], np.int64),
                     lost_cell=np.array([int(o["lost_cell"].sum()) for o in out], np.int64),
                     lost_cell_anchor=np.array([int(o["lost_cell_anchor"].sum()) for o in out], np.int64))


@dataclass(frozen=True)
class SSDMatchResult:
    """SSD-style matching of objects to default boxes.

    Attributes:
        prior_set: the layout (``"ssd300"``); n_priors: default boxes; threshold: positive IoU (``>=``).
        objects: objects matched; unmatched: objects with no default box of IoU ``>= threshold`` (they get only
            their forced best prior).
        best_iou: float64[M] best IoU per object; positives: int64[M] positive default boxes per object (0 when a
            later object took its only one).
    """

    prior_set: str
    n_priors: int
    threshold: float
    objects: int
    unmatched: int
    best_iou: np.ndarray = field(repr=False)
    positives: np.ndarray = field(repr=False)
    class_index: np.ndarray = field(repr=False)
    classes: tuple[str, ...] = field(repr=False, default=())

    def to_pandas(self, table: str = "class") -> pd.DataFrame:
        """``"class"``: per class objects, unmatched and mean/median positives; ``"positives"``: the histogram."""
        if table == "positives":
            counts = np.bincount(self.positives) if len(self.positives) else np.zeros(1, np.int64)
            return pd.DataFrame({"positives": np.arange(len(counts)), "objects": counts})
        if table != "class":
            raise ValueError(f"table must be 'class' or 'positives', got {table!r}")
        rows = []
        for c, name in enumerate(self.classes):
            m = self.class_index == c
            pos = self.positives[m]
            rows.append({"class": name, "objects": int(m.sum()),
                         "unmatched": int((self.best_iou[m] < self.threshold).sum()),
                         "mean_positives": float(pos.mean()) if len(pos) else float("nan"),
                         "median_positives": float(np.median(pos)) if len(pos) else float("nan")})
        return pd.DataFrame(rows)

    @property
    def mean_positives(self) -> float:
        return float(self.positives.mean()) if len(self.positives) else float("nan")

    def to_dict(self) -> dict:
        return {"prior_set": self.prior_set, "n_priors": self.n_priors, "threshold": self.threshold,
                "objects": self.objects, "unmatched": self.unmatched, "mean_positives": self.mean_positives,
                "zero_positives": int((self.positives == 0).sum()),
                "positives_histogram": np.bincount(self.positives).tolist() if len(self.positives) else [],
                "per_class": self.to_pandas("class").to_dict("records")}

    def __str__(self) -> str:
        return (f"{self.prior_set} ({self.n_priors} default boxes): {self.objects} objects, {self.unmatched} with no "
                f"default box of IoU >= {self.threshold:g}, {self.mean_positives:.2f} positives per object")


def _ssd_layout(config: SSDConfig) -> tuple:
    shapes, layer = unique_shapes(config)
    sizes = np.asarray(config.feature_sizes, np.int64)
    per_layer = np.bincount(layer, minlength=len(sizes)).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(sizes * sizes * per_layer)[:-1]]).astype(np.int64)
    slot = np.concatenate([np.arange(c) for c in per_layer]).astype(np.int64)
    return (sizes, offset, per_layer, np.ascontiguousarray(shapes[:, 0]), np.ascontiguousarray(shapes[:, 1]),
            layer.astype(np.int64), slot, int((sizes * sizes * per_layer).sum()))


def analyze_ssd_matching(dataset: Dataset, config: str | SSDConfig = "ssd300", *, threshold: float = 0.5,
                         include_difficult: bool = False, geometry: ObjectGeometry | None = None) -> SSDMatchResult:
    """Match every object to SSD default boxes as ssd.pytorch's ``match`` does (see
    :func:`vocbench.audit._kernels.ssd_match_image_groups`), on the unclipped default boxes of ``config``.

    Args:
        dataset: the ground truth; config: ``"ssd300"``, ``"mobilenet-ssd"`` or an :class:`SSDConfig`.
        threshold: IoU at which a default box becomes positive (``>=``; default 0.5).
        include_difficult, geometry: as in :func:`analyze_assignment`.
    """
    if isinstance(config, str):
        if config not in SSD_CONFIGS:
            raise InputError(f"unknown SSD layout {config!r}; known: {', '.join(SSD_CONFIGS)}")
        config = SSD_CONFIGS[config]
    if not 0.0 < float(threshold) <= 1.0:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    geom = geometry if geometry is not None else object_geometry(dataset, include_difficult)
    sizes, offset, per_layer, sw, sh, layer, slot, n_priors = _ssd_layout(config)
    starts = np.searchsorted(geom.image_index, np.arange(dataset.num_images + 1)).astype(np.int64)
    best, pos = _kernels.ssd_match_image_groups(geom.boxes, starts, sizes, offset, per_layer, sw, sh, layer, slot,
                                                float(threshold), n_priors)
    return SSDMatchResult(prior_set=config.name, n_priors=n_priors, threshold=float(threshold),
                          objects=len(geom.rows), unmatched=int((best < threshold).sum()), best_iou=best,
                          positives=pos, class_index=geom.class_index, classes=tuple(dataset.classes))


def assignment_table(dataset: Dataset, priors: dict[str, str | np.ndarray], grids: Sequence[int], *,
                     include_difficult: bool = False) -> pd.DataFrame:
    """One row per (prior set, grid side): ``grid``, ``prior_set``, ``objects``, ``shared_cell``, ``lost_cell``,
    ``lost_cell_anchor`` (single head; ``vocbench anchors --json``'s ``assignment``).

    Args:
        dataset: the ground truth; priors: name → ``"yolo-voc"`` or float[K, 2] normalised (w, h).
        grids: grid sides (e.g. 13, 19, 26); include_difficult: also assign difficult objects.
    """
    geom = object_geometry(dataset, include_difficult)
    frames = []
    for name, p in priors.items():
        df = grid_sweep(dataset, grids, priors=p, prior_set=name, geometry=geom).to_pandas()
        df.insert(1, "prior_set", name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
