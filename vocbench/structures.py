"""Frozen columnar structures: :class:`Dataset` (images + objects) and :class:`Detections`.

One flat array per field, never one Python object per box (STYLE.md §2). Boxes are ``float64[N, 4]`` as
``(xmin, ymin, xmax, ymax)`` in VOC 1-based inclusive pixel coordinates unless a docstring says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported by the table methods only (keeps `import vocbench` light)
    import pandas as pd

__all__ = ["VOC_CLASSES", "CocoAnnotations", "Dataset", "Detections"]

#: The 20 PASCAL VOC classes in the devkit's standard order (category ids 1..20 in COCO exports).
VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


_INT64_MAX = np.iinfo(np.int64).max


def _as_int64(values: Any, what: str) -> np.ndarray:
    """``values`` as int64, refusing what a cast would silently change: fractions (1.5 is never truncated to 1),
    NaN/inf, booleans, text, and integers outside int64 (2**70). Integral floats (``1.0``) are accepted.

    Raises:
        InputError: naming ``what`` and the first offending entry.
    """
    from vocbench.errors import InputError

    if isinstance(values, np.ndarray) and values.dtype.kind == "i":
        return values.astype(np.int64, copy=False)
    if isinstance(values, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in values):
        r = next(i for i, v in enumerate(values) if isinstance(v, (bool, np.bool_)))
        raise InputError(f"{what}[{r}] is a boolean ({values[r]!r}); expected an integer index")
    try:
        a = np.asarray(values)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{what}: not an array of integers ({exc})") from None
    kind = a.dtype.kind
    if kind == "i" or a.size == 0:
        return a.astype(np.int64)
    flat = a.reshape(-1)
    if kind == "u":
        bad = flat > _INT64_MAX
    elif kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(flat) | (flat != np.floor(flat)) | (np.abs(flat) >= 2.0**63)
    elif kind == "O":
        bad = np.array([not ((type(v) is int or isinstance(v, np.integer)) and -_INT64_MAX - 1 <= v <= _INT64_MAX)
                        and not (isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer()
                                 and abs(v) < 2.0**63) for v in flat.tolist()], bool)
    else:
        why = "booleans" if kind == "b" else f"of dtype {a.dtype}"
        raise InputError(f"{what} is {why}; expected integer indices")
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        shown = flat[r].item() if isinstance(flat[r], np.generic) else flat[r]
        raise InputError(f"{what}[{r}] is {shown!r}; expected an integer (fractions are refused, not truncated, "
                         "and values must fit in int64)")
    return np.asarray(flat.tolist() if kind == "O" else flat, np.int64).reshape(a.shape)


@dataclass(frozen=True, eq=False)
class CocoAnnotations:
    """What a COCO ``instances.json`` says beyond VOC fields, carried by the :class:`Dataset` it was read into.

    The COCO metric scores these directly, bit for bit as pycocotools reads the file (no round trip through VOC
    pixels).

    Attributes:
        image_ids: int64[I] the images' COCO ``id``, in the dataset's image order (file order).
        category_ids: int64[K] the categories' COCO ``id``, in class order (sorted ids).
        xywh: float64[M, 4] each object's ``bbox`` ``[x, y, w, h]`` as written, in the dataset's object order.
        area: float64[M] the ``area`` field (pixels²; ``w * h`` where the file has none).
        iscrowd: bool[M] the ``iscrowd`` field (False where absent).
        ignore: bool[M] the ``ignore`` field some converters write (False where absent; pycocotools overwrites it
            with ``iscrowd``).
    """

    image_ids: np.ndarray
    category_ids: np.ndarray
    xywh: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray
    ignore: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in (("image_ids", np.int64), ("category_ids", np.int64), ("xywh", np.float64),
                            ("area", np.float64), ("iscrowd", bool), ("ignore", bool)):
            object.__setattr__(self, name, _readonly(np.asarray(getattr(self, name), dtype=dtype)))
        m = len(self.area)
        object.__setattr__(self, "xywh", _readonly(self.xywh.reshape(m, 4)))
        for name in ("iscrowd", "ignore"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"CocoAnnotations.{name} has length {len(getattr(self, name))}, expected {m}")

    def subset(self, image_mask: np.ndarray, object_mask: np.ndarray) -> CocoAnnotations:
        """The images of ``image_mask`` and the objects of ``object_mask`` (boolean masks), categories kept."""
        return CocoAnnotations(image_ids=self.image_ids[image_mask], category_ids=self.category_ids,
                               xywh=self.xywh[object_mask], area=self.area[object_mask],
                               iscrowd=self.iscrowd[object_mask], ignore=self.ignore[object_mask])


@dataclass(frozen=True, eq=False)
class Dataset:
    """A VOC-format ground-truth set: an image table and flat object arrays.

    Image table (length ``num_images``, in split-file order, union of sets without duplicates):
        image_ids: str[I] — the file stem (``"000005"``, ``"2008_000002"``).
        image_years: str[I] — the VOC folder the image came from (``"2007"``; the folder name for custom sets).
        image_sets: int64[I] — index into :attr:`sets` of the first set that listed the image.
        widths, heights, depths: int64[I] — from ``<size>``, pixels.

    Objects (length ``num_objects``, grouped by image in image order, XML order within an image):
        image_index: int64[M] — row in the image table.
        class_index: int64[M] — index into :attr:`classes`.
        boxes: float64[M, 4] — ``(xmin, ymin, xmax, ymax)``, VOC 1-based inclusive pixels, as written in the XML.
        difficult, truncated: bool[M] — absent tags read as False.
        occluded: int8[M] — 0/1, or -1 when the tag is absent.
        poses: str[M] — ``"Unspecified"`` when absent.

    Attributes:
        classes: class names, index = class id.
        sets: the set specs that were loaded, e.g. ``("2007:trainval", "2012:trainval")``.
        root: the dataset root it was read from ("" for in-memory data).
        issues: human-readable warnings found while loading (border boxes, inverted boxes), one per box.
        image_files: str[I] the image files where the source names them (YOLO lists, COCO ``file_name``,
            relative to the JSON's folder), else None (VOC: ``JPEGImages/<id>.jpg`` under the root).
        coco: the COCO ids and geometry of a set read from COCO (:class:`CocoAnnotations`), else None.
    """

    classes: tuple[str, ...]
    sets: tuple[str, ...]
    image_ids: np.ndarray
    image_years: np.ndarray
    image_sets: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    depths: np.ndarray
    image_index: np.ndarray
    class_index: np.ndarray
    boxes: np.ndarray
    difficult: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    poses: np.ndarray
    root: str = ""
    issues: tuple[str, ...] = field(default=())
    image_files: np.ndarray | None = None
    coco: CocoAnnotations | None = None

    def __post_init__(self) -> None:
        n_img = len(self.image_ids)
        conv = {
            "image_ids": (self.image_ids, str),
            "image_years": (self.image_years, str),
            "image_sets": (self.image_sets, np.int64),
            "widths": (self.widths, np.int64),
            "heights": (self.heights, np.int64),
            "depths": (self.depths, np.int64),
            "image_index": (self.image_index, np.int64),
            "class_index": (self.class_index, np.int64),
            "boxes": (self.boxes, np.float64),
            "difficult": (self.difficult, bool),
            "truncated": (self.truncated, bool),
            "occluded": (self.occluded, np.int8),
            "poses": (self.poses, str),
        }
        for name, (arr, dtype) in conv.items():
            arr = _as_int64(arr, f"Dataset.{name}") if dtype is np.int64 else np.asarray(arr, dtype=dtype)
            object.__setattr__(self, name, _readonly(arr))
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "sets", tuple(self.sets))
        object.__setattr__(self, "issues", tuple(self.issues))
        if self.boxes.size == 0:
            object.__setattr__(self, "boxes", _readonly(np.zeros((0, 4), np.float64)))
        m = len(self.image_index)
        for name in ("image_years", "image_sets", "widths", "heights", "depths"):
            if len(getattr(self, name)) != n_img:
                raise ValueError(f"Dataset.{name} has length {len(getattr(self, name))}, expected {n_img}")
        for name in ("class_index", "difficult", "truncated", "occluded", "poses"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"Dataset.{name} has length {len(getattr(self, name))}, expected {m}")
        if self.boxes.shape != (m, 4):
            raise ValueError(f"Dataset.boxes has shape {self.boxes.shape}, expected ({m}, 4)")
        if self.image_files is not None:
            object.__setattr__(self, "image_files", _readonly(np.asarray(self.image_files, dtype=str).reshape(-1)))
            if len(self.image_files) != n_img:
                raise ValueError(f"Dataset.image_files has length {len(self.image_files)}, expected {n_img}")
        if self.coco is not None and (len(self.coco.image_ids) != n_img or len(self.coco.area) != m
                                      or len(self.coco.category_ids) != len(self.classes)):
            raise ValueError("Dataset.coco does not match the dataset's images, objects or classes")

    # ------------------------------------------------------------------ sizes
    @property
    def num_images(self) -> int:
        return len(self.image_ids)

    @property
    def num_objects(self) -> int:
        return len(self.image_index)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def image_keys(self) -> np.ndarray:
        """``"<year>/<id>"`` for every image (unique across a union of years)."""
        return np.char.add(np.char.add(self.image_years.astype(str), "/"), self.image_ids.astype(str))

    def image_lookup(self) -> dict[str, int]:
        """Map image id → image index. Ids that occur in several years map to the first one."""
        out: dict[str, int] = {}
        for i, key in enumerate(self.image_ids.tolist()):
            out.setdefault(key, i)
        return out

    # ------------------------------------------------------------------ views
    def subset_images(self, mask: np.ndarray) -> Dataset:
        """A new dataset with the images where ``mask`` is True (and their objects), indices renumbered."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.num_images,):  # indices would be silently read as a mask
            from vocbench.errors import InputError

            raise InputError(f"subset_images: expected a boolean mask of shape ({self.num_images},), got "
                             f"{mask.dtype} {mask.shape}")
        new_index = np.cumsum(mask) - 1
        keep_obj = mask[self.image_index]
        return Dataset(
            classes=self.classes, sets=self.sets, image_ids=self.image_ids[mask], image_years=self.image_years[mask],
            image_sets=self.image_sets[mask], widths=self.widths[mask], heights=self.heights[mask],
            depths=self.depths[mask], image_index=new_index[self.image_index[keep_obj]],
            class_index=self.class_index[keep_obj], boxes=self.boxes[keep_obj], difficult=self.difficult[keep_obj],
            truncated=self.truncated[keep_obj], occluded=self.occluded[keep_obj], poses=self.poses[keep_obj],
            root=self.root, issues=self.issues,
            image_files=self.image_files[mask] if self.image_files is not None else None,
            coco=self.coco.subset(mask, keep_obj) if self.coco is not None else None,
        )

    def split(self, set_spec: str) -> Dataset:
        """Only the images that came from one of the loaded set specs (``"2007:test"``)."""
        if set_spec not in self.sets:
            raise KeyError(f"{set_spec!r} is not one of the loaded sets {list(self.sets)}")
        return self.subset_images(self.image_sets == self.sets.index(set_spec))

    def to_pandas(self, table: str = "objects") -> pd.DataFrame:
        """The dataset as a table: ``"objects"`` (one row per object, with its image id and class name; the
        default) or ``"images"`` (one row per image: id, year, set, width, height, depth; ``coco_id`` and
        ``file`` where the dataset has them)."""
        if table == "objects":
            return self._objects_frame()
        if table == "images":
            return self._images_frame()
        raise ValueError(f"table must be 'objects' or 'images', got {table!r}")

    def _images_frame(self) -> pd.DataFrame:
        import pandas as pd

        df = pd.DataFrame({
            "image_id": self.image_ids, "year": self.image_years,
            "set": np.asarray(self.sets, dtype=object)[self.image_sets] if self.sets else [],
            "width": self.widths, "height": self.heights, "depth": self.depths,
        })
        if self.coco is not None:
            df["coco_id"] = self.coco.image_ids
        if self.image_files is not None:
            df["file"] = self.image_files
        return df

    def _objects_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({
            "image_index": self.image_index, "image_id": self.image_ids[self.image_index],
            "class": np.asarray(self.classes, dtype=object)[self.class_index],
            "xmin": self.boxes[:, 0], "ymin": self.boxes[:, 1], "xmax": self.boxes[:, 2], "ymax": self.boxes[:, 3],
            "difficult": self.difficult, "truncated": self.truncated, "occluded": self.occluded, "pose": self.poses,
        })

    def __repr__(self) -> str:
        return (f"Dataset(sets={list(self.sets)}, images={self.num_images}, objects={self.num_objects}, "
                f"difficult={int(self.difficult.sum())}, classes={self.num_classes})")

    @classmethod
    def from_arrays(cls, *, image_ids: Sequence[str], widths, heights, image_index, class_index, boxes,
                    difficult=None, classes: Sequence[str] = VOC_CLASSES, truncated=None, depths=None,
                    image_years=None, sets: Sequence[str] = ("memory",), root: str = "", image_files=None,
                    coco: CocoAnnotations | None = None, issues: Sequence[str] = ()) -> Dataset:
        """Build an in-memory dataset (tests, synthetic data, user code). Optional fields default to 0/False."""
        n, m = len(image_ids), len(image_index)
        return cls(
            classes=tuple(classes), sets=tuple(sets), image_ids=np.asarray(image_ids, dtype=str),
            image_years=np.asarray(image_years if image_years is not None else [""] * n, dtype=str),
            image_sets=np.zeros(n, np.int64), widths=widths, heights=heights,
            depths=depths if depths is not None else np.full(n, 3), image_index=image_index,
            class_index=class_index, boxes=np.asarray(boxes, np.float64).reshape(-1, 4),
            difficult=difficult if difficult is not None else np.zeros(m, bool),
            truncated=truncated if truncated is not None else np.zeros(m, bool),
            occluded=np.full(m, -1, np.int8), poses=np.full(m, "Unspecified"), root=root, issues=tuple(issues),
            image_files=image_files, coco=coco,
        )


@dataclass(frozen=True, eq=False)
class Detections:
    """A detector's output for a :class:`Dataset`, one flat array per field.

    Attributes:
        image_index: int64[N] — row in the dataset's image table.
        class_index: int64[N] — index into the dataset's classes.
            Both accept any integer array-like (integral floats such as ``2.0`` too); a fractional, NaN, boolean,
            text or beyond-int64 value raises :class:`~vocbench.errors.InputError` (never truncated).
        scores: float64[N] — confidence, higher is better.
        boxes: float64[N, 4] — ``(xmin, ymin, xmax, ymax)``, VOC 1-based inclusive pixels.
        source: where they were read from (for messages and report headers).
        xywh: float64[N, 4] — the COCO ``bbox`` ``[x, y, w, h]`` as a COCO results file wrote it (the COCO metric
            scores it bit for bit), or None (the metric converts ``boxes`` as the COCO export does).
    """

    image_index: np.ndarray
    class_index: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    source: str = ""
    xywh: np.ndarray | None = None

    def __post_init__(self) -> None:
        what = f"{self.source or 'Detections'}: "
        for name in ("image_index", "class_index"):
            arr = _as_int64(getattr(self, name), f"{what}{name}").reshape(-1)
            object.__setattr__(self, name, _readonly(arr))
        object.__setattr__(self, "scores", _readonly(np.asarray(self.scores, np.float64).reshape(-1)))
        object.__setattr__(self, "boxes", _readonly(np.asarray(self.boxes, np.float64).reshape(-1, 4)))
        n = len(self.scores)
        for name in ("image_index", "class_index"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Detections.{name} has length {len(getattr(self, name))}, expected {n}")
        if len(self.boxes) != n:
            raise ValueError(f"Detections.boxes has {len(self.boxes)} rows, expected {n}")
        if self.xywh is not None:
            object.__setattr__(self, "xywh", _readonly(np.asarray(self.xywh, np.float64).reshape(-1, 4)))
            if len(self.xywh) != n:
                raise ValueError(f"Detections.xywh has {len(self.xywh)} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.scores)

    def __repr__(self) -> str:
        return f"Detections(n={len(self)}, source={self.source!r})"

    # ------------------------------------------------------------------ selection (as supervision's Detections)
    def __getitem__(self, key: Any) -> Detections:
        """The detections selected by ``key``: a boolean mask of length ``len(self)``, a slice, an integer array
        of row indices (any order, repeats allowed) or one integer. Always returns :class:`Detections`."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            n = len(self)
            if not -n <= int(key) < n:
                raise IndexError(f"detection index {int(key)} is out of range for {n} detections")
            key = [int(key)]
        if isinstance(key, slice):
            rows: Any = key
        else:
            rows = np.asarray(key)
            if rows.dtype == bool:
                if rows.shape != (len(self),):
                    raise IndexError(f"boolean mask has shape {rows.shape}, expected ({len(self)},)")
            elif rows.size == 0:
                rows = rows.astype(np.int64)
            elif not np.issubdtype(rows.dtype, np.integer):
                raise TypeError(f"Detections can be indexed by a boolean mask, a slice or integers, not "
                                f"{rows.dtype}")
        return Detections(self.image_index[rows], self.class_index[rows], self.scores[rows], self.boxes[rows],
                          source=self.source, xywh=self.xywh[rows] if self.xywh is not None else None)

    def filter(self, mask: Any = None, *, min_score: float | None = None, classes: Iterable[int] | None = None,
               images: Iterable[int] | None = None) -> Detections:
        """The detections that pass every given condition (AND): ``mask`` (boolean, length ``len(self)``),
        ``scores >= min_score``, ``class_index`` in ``classes``, ``image_index`` in ``images``. Order is kept."""
        keep = np.ones(len(self), bool)
        if mask is not None:
            m = np.asarray(mask)
            if m.dtype != bool or m.shape != (len(self),):
                raise ValueError(f"mask must be boolean of shape ({len(self)},), got {m.dtype} {m.shape}")
            keep &= m
        if min_score is not None:
            keep &= self.scores >= float(min_score)
        if classes is not None:  # 0.5 is refused, not truncated to class 0
            keep &= np.isin(self.class_index, _as_int64(list(classes), "filter(classes=...)").reshape(-1))
        if images is not None:
            keep &= np.isin(self.image_index, _as_int64(list(images), "filter(images=...)").reshape(-1))
        return self[keep]

    @classmethod
    def empty(cls, source: str = "") -> Detections:
        """No detections."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)), source=source)

    @classmethod
    def concat(cls, parts: Iterable[Detections], source: str | None = None) -> Detections:
        """All detections of ``parts`` in order (for the same dataset). ``source`` defaults to the parts' sources
        joined with ``+`` (duplicates removed)."""
        parts = list(parts)
        if not parts:
            return cls.empty(source or "")
        if source is None:
            source = "+".join(dict.fromkeys(p.source for p in parts if p.source))
        xywh = np.concatenate([p.xywh for p in parts]) if all(p.xywh is not None for p in parts) else None
        return cls(np.concatenate([p.image_index for p in parts]), np.concatenate([p.class_index for p in parts]),
                   np.concatenate([p.scores for p in parts]), np.concatenate([p.boxes for p in parts]),
                   source=source, xywh=xywh)

    def is_empty(self) -> bool:
        return len(self) == 0

    def to_pandas(self, dataset: Dataset | None = None) -> pd.DataFrame:
        """Rows of image, class, score and box; ids and class names when ``dataset`` is given."""
        import pandas as pd

        df = pd.DataFrame({"image_index": self.image_index, "class_index": self.class_index, "score": self.scores,
                           "xmin": self.boxes[:, 0], "ymin": self.boxes[:, 1], "xmax": self.boxes[:, 2],
                           "ymax": self.boxes[:, 3]})
        if dataset is not None:
            df.insert(0, "image_id", dataset.image_ids[self.image_index])
            df.insert(1, "class", np.asarray(dataset.classes, dtype=object)[self.class_index])
        return df
