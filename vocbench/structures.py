"""Frozen columnar structures: :class:`Dataset` (images + objects) and :class:`Detections`.

One flat array per field, never one Python object per box (STYLE.md §2). Boxes are ``float64[N, 4]`` as
``(xmin, ymin, xmax, ymax)`` in VOC 1-based inclusive pixel coordinates unless a docstring says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported by the table methods only (keeps `import vocbench` light)
    import pandas as pd

__all__ = ["VOC_CLASSES", "CocoAnnotations", "Dataset", "Detections", "constant_column"]

#: The 20 PASCAL VOC classes in the devkit's standard order (category ids 1..20 in COCO exports).
VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def _readonly(a: np.ndarray) -> np.ndarray:
    if a.ndim == 1 and a.size > 1 and a.strides == (0,) and not a.flags.writeable:
        return a  # a shared default (:func:`constant_column`): one value, no memory per object
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def constant_column(m: int, value, dtype) -> np.ndarray:
    """A read-only length-``m`` column holding ``value`` everywhere, as one shared element (a zero-stride view):
    the defaults of fields a format does not have (COCO has no poses, truncation or occlusion) cost no memory per
    object. Indexing it gives an ordinary array."""
    return np.broadcast_to(np.asarray(value, dtype=dtype), (m,))


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


class _Built:
    """A frozen dataclass field that may be given as None and is then built on first read by ``build(obj)`` and
    kept: the fields of data read from COCO that the COCO metric never reads (VOC pixel boxes, file stems and
    names), so ``vocbench eval --metric coco`` skips their conversion and memory. Installed on the class after
    ``@dataclass`` (whose ``__init__`` then stores the given value through :meth:`__set__`)."""

    def __init__(self, name: str, build: Callable[[Any], Any]) -> None:
        # kept in the instance __dict__ under the field's own name (a data descriptor is looked up first), so
        # ``type(ds)(**ds.__dict__)`` rebuilds the object, unbuilt fields still unbuilt
        self.slot, self.build = name, build

    def __get__(self, obj, owner=None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if value is None:
            value = self.build(obj)
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


def _given(obj, name: str) -> Any:
    """The value given for a :class:`_Built` field, None when it is still to be built (never builds it)."""
    return obj.__dict__[name]


#: Dataset fields a set read from COCO may leave as None (built on first read from :attr:`Dataset.coco`).
_DATASET_BUILT = ("image_ids", "boxes", "image_files")


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
        file_names: str[I] the images' ``file_name`` as written (``""`` where absent), or None; the dataset's
            :attr:`~Dataset.image_files` and :attr:`~Dataset.image_ids` (stems) are built from it when first read.
    """

    image_ids: np.ndarray
    category_ids: np.ndarray
    xywh: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray
    ignore: np.ndarray
    file_names: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, dtype in (("image_ids", np.int64), ("category_ids", np.int64), ("xywh", np.float64),
                            ("area", np.float64), ("iscrowd", bool), ("ignore", bool)):
            object.__setattr__(self, name, _readonly(np.asarray(getattr(self, name), dtype=dtype)))
        m = len(self.area)
        object.__setattr__(self, "xywh", _readonly(self.xywh.reshape(m, 4)))
        for name in ("iscrowd", "ignore"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"CocoAnnotations.{name} has length {len(getattr(self, name))}, expected {m}")
        if self.file_names is not None:
            object.__setattr__(self, "file_names", _readonly(np.asarray(self.file_names, dtype=str).reshape(-1)))
            if len(self.file_names) != len(self.image_ids):
                raise ValueError(f"CocoAnnotations.file_names has length {len(self.file_names)}, expected "
                                 f"{len(self.image_ids)}")

    def subset(self, image_mask: np.ndarray, object_mask: np.ndarray) -> CocoAnnotations:
        """The images of ``image_mask`` and the objects of ``object_mask`` (boolean masks), categories kept."""
        return CocoAnnotations(image_ids=self.image_ids[image_mask], category_ids=self.category_ids,
                               xywh=self.xywh[object_mask], area=self.area[object_mask],
                               iscrowd=self.iscrowd[object_mask], ignore=self.ignore[object_mask],
                               file_names=self.file_names[image_mask] if self.file_names is not None else None)


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

    A set read from COCO may leave ``image_ids``, ``boxes`` and ``image_files`` as None: they are built from
    :attr:`coco` on first read (file stems, ``(x + 1, y + 1, x + w, y + h)``, file names), which the COCO metric
    never does.
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
        coco = self.coco
        if _given(self, "image_ids") is None and (coco is None or coco.file_names is None):
            raise ValueError("Dataset.image_ids is required (only COCO file names can stand in for it)")
        if _given(self, "boxes") is None and coco is None:
            raise ValueError("Dataset.boxes is required (only COCO boxes can stand in for it)")
        conv = {"image_ids": str, "image_years": str, "image_sets": np.int64, "widths": np.int64,
                "heights": np.int64, "depths": np.int64, "image_index": np.int64, "class_index": np.int64,
                "boxes": np.float64, "difficult": bool, "truncated": bool, "occluded": np.int8, "poses": str,
                "image_files": str}
        for name, dtype in conv.items():
            arr = _given(self, name) if name in _DATASET_BUILT else getattr(self, name)
            if arr is None:  # built on first read
                continue
            arr = _as_int64(arr, f"Dataset.{name}") if dtype is np.int64 else np.asarray(arr, dtype=dtype)
            object.__setattr__(self, name, _readonly(arr.reshape(-1) if name == "image_files" else arr))
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "sets", tuple(self.sets))
        object.__setattr__(self, "issues", tuple(self.issues))
        self._check_lengths()

    def _check_lengths(self) -> None:
        ids, boxes, files = (_given(self, name) for name in _DATASET_BUILT)
        coco = self.coco
        n_img = len(ids) if ids is not None else len(coco.image_ids)  # type: ignore[union-attr]  # see above
        m = len(self.image_index)
        for name in ("image_years", "image_sets", "widths", "heights", "depths"):
            if len(getattr(self, name)) != n_img:
                raise ValueError(f"Dataset.{name} has length {len(getattr(self, name))}, expected {n_img}")
        for name in ("class_index", "difficult", "truncated", "occluded", "poses"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"Dataset.{name} has length {len(getattr(self, name))}, expected {m}")
        if boxes is not None:
            if boxes.size == 0:
                boxes = _readonly(np.zeros((0, 4), np.float64))
                object.__setattr__(self, "boxes", boxes)
            if boxes.shape != (m, 4):
                raise ValueError(f"Dataset.boxes has shape {boxes.shape}, expected ({m}, 4)")
        if files is not None and len(files) != n_img:
            raise ValueError(f"Dataset.image_files has length {len(files)}, expected {n_img}")
        if coco is not None and (len(coco.image_ids) != n_img or len(coco.area) != m
                                 or len(coco.category_ids) != len(self.classes)):
            raise ValueError("Dataset.coco does not match the dataset's images, objects or classes")

    # ------------------------------------------------------------------ sizes
    @property
    def num_images(self) -> int:
        return len(self.widths)

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
            truncated=truncated if truncated is not None else constant_column(m, False, bool),
            occluded=constant_column(m, -1, np.int8), poses=constant_column(m, "Unspecified", str), root=root,
            issues=tuple(issues),
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
        boxes: float64[N, 4] — ``(xmin, ymin, xmax, ymax)``, VOC 1-based inclusive pixels. May be left out (None)
            when ``xywh`` is given: it is then ``(x + 1, y + 1, x + w, y + h)``, built on first read.
        source: where they were read from (for messages and report headers).
        xywh: float64[N, 4] — the COCO ``bbox`` ``[x, y, w, h]`` as a COCO results file wrote it (the COCO metric
            scores it bit for bit), or None (the metric converts ``boxes`` as the COCO export does).
    """

    image_index: np.ndarray
    class_index: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray = None  # type: ignore[assignment]  # None: built from xywh on first read (_Built)
    source: str = ""
    xywh: np.ndarray | None = None

    def __post_init__(self) -> None:
        what = f"{self.source or 'Detections'}: "
        for name in ("image_index", "class_index"):
            arr = _as_int64(getattr(self, name), f"{what}{name}").reshape(-1)
            object.__setattr__(self, name, _readonly(arr))
        object.__setattr__(self, "scores", _readonly(np.asarray(self.scores, np.float64).reshape(-1)))
        n = len(self.scores)
        for name in ("image_index", "class_index"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Detections.{name} has length {len(getattr(self, name))}, expected {n}")
        if self.xywh is not None:
            object.__setattr__(self, "xywh", _readonly(np.asarray(self.xywh, np.float64).reshape(-1, 4)))
            if len(self.xywh) != n:
                raise ValueError(f"Detections.xywh has {len(self.xywh)} rows, expected {n}")
        if _given(self, "boxes") is None:
            if self.xywh is None:
                raise TypeError("Detections needs boxes (VOC pixels) or xywh (COCO bbox)")
            return
        object.__setattr__(self, "boxes", _readonly(np.asarray(self.boxes, np.float64).reshape(-1, 4)))
        if len(self.boxes) != n:
            raise ValueError(f"Detections.boxes has {len(self.boxes)} rows, expected {n}")

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
        boxes = _given(self, "boxes")  # still unbuilt (None): the selection builds its own on first read
        picked: Any = boxes[rows] if boxes is not None else None
        return Detections(self.image_index[rows], self.class_index[rows], self.scores[rows], picked, source=self.source,
                          xywh=self.xywh[rows] if self.xywh is not None else None)

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
        lazy = xywh is not None and all(_given(p, "boxes") is None for p in parts)
        boxes: Any = None if lazy else np.concatenate([p.boxes for p in parts])
        return cls(np.concatenate([p.image_index for p in parts]), np.concatenate([p.class_index for p in parts]),
                   np.concatenate([p.scores for p in parts]), boxes, source=source, xywh=xywh)

    def is_empty(self) -> bool:
        return len(self) == 0

    def inverted(self) -> np.ndarray:
        """bool[N]: the box is inverted, ``xmax < xmin`` or ``ymax < ymin``. Boxes not built yet (given as
        ``xywh`` only) are tested on the corners their conversion forms, ``x + w < x + 1``, without building them."""
        boxes = _given(self, "boxes")
        if boxes is not None:
            return (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        xywh = self.xywh
        assert xywh is not None  # unbuilt boxes: xywh is given
        out = np.zeros(len(self), bool)
        # rounding is monotonic: w >= 1 gives x + w >= x + 1, so only rows with w < 1 or h < 1 need the test
        rows = np.flatnonzero((xywh[:, 2] < 1) | (xywh[:, 3] < 1))
        x, y, w, h = xywh[rows].T
        with np.errstate(over="ignore", invalid="ignore"):  # (x + w may be inf: compared as the built box would be)
            out[rows] = (x + w < x + 1) | (y + h < y + 1)
        return out

    def first_nonfinite(self) -> int:
        """Row of the first detection whose score or box holds NaN or +-inf, or -1. Boxes not built yet are tested
        on ``xywh`` and the far corners ``x + w``, ``y + h`` (finite numbers may add up to inf) without building
        them."""
        if len(self) == 0:
            return -1
        boxes = _given(self, "boxes")
        given = self.xywh if boxes is None else boxes
        assert given is not None  # unbuilt boxes: xywh is given
        lo, hi = float(given.min()), float(given.max())  # NaN and inf survive min and max: no N-row mask
        if (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(float(self.scores.min()))
                and math.isfinite(float(self.scores.max())) and (boxes is not None or max(-lo, hi) < 2.0**1023)):
            return -1  # (below 2**1023, no x + w rounds to inf)
        bad = ~np.isfinite(self.scores) | ~np.isfinite(given).all(axis=1)
        if boxes is None:
            with np.errstate(over="ignore", invalid="ignore"):  # (inf is what the test looks for)
                bad |= ~np.isfinite(given[:, 0] + given[:, 2]) | ~np.isfinite(given[:, 1] + given[:, 3])
        return int(np.flatnonzero(bad)[0]) if bad.any() else -1

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


def _detections_boxes(dets: Detections) -> np.ndarray:
    from vocbench.io.coco import xywh_to_voc_boxes

    return _readonly(xywh_to_voc_boxes(dets.xywh))  # type: ignore[arg-type]  # boxes=None needs xywh


Detections.boxes = _Built("boxes", _detections_boxes)  # type: ignore[assignment]


def _dataset_image_files(ds: Dataset) -> np.ndarray | None:
    names = ds.coco.file_names if ds.coco is not None else None
    if names is None:
        return None
    from vocbench.io.coco_gt import coco_image_files

    return _readonly(coco_image_files(names, ds.coco.image_ids))  # type: ignore[union-attr]  # names: coco is set


def _dataset_image_ids(ds: Dataset) -> np.ndarray:
    from vocbench.io.coco_gt import coco_image_stems

    return _readonly(coco_image_stems(ds.image_files, ds.coco.image_ids))  # type: ignore[union-attr,arg-type]


def _dataset_boxes(ds: Dataset) -> np.ndarray:
    from vocbench.io.coco import xywh_to_voc_boxes

    xywh = ds.coco.xywh  # type: ignore[union-attr]  # checked at construction: boxes=None needs coco
    return _readonly(xywh_to_voc_boxes(xywh) if len(xywh) else np.zeros((0, 4)))


Dataset.image_ids = _Built("image_ids", _dataset_image_ids)  # type: ignore[assignment]
Dataset.boxes = _Built("boxes", _dataset_boxes)  # type: ignore[assignment]
Dataset.image_files = _Built("image_files", _dataset_image_files)  # type: ignore[assignment]
