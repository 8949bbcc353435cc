"""In-memory predictions: per-image dicts (torchmetrics style) and :class:`VocEvaluator` for training loops.

A *prediction* of one image is a mapping ``{"boxes": float[N, 4], "scores": float[N], "labels": int[N]}``; a
*target* is ``{"boxes": float[M, 4], "labels": int[M]}`` with optional ``"difficult"`` (or ``"iscrowd"``) bool[M],
``"image_id"`` (str or int) and ``"width"``/``"height"``. Boxes are ``(xmin, ymin, xmax, ymax)`` in VOC 1-based
pixels taken as they stand (like devkit files; torchmetrics' ``box_format="xyxy"``); labels are 0-based indices
into the class list. Values may be numpy arrays, lists or torch tensors on any device: tensors are read through
``x.detach().cpu()`` found by duck typing (vocbench never imports torch).

:class:`VocEvaluator` accumulates per batch and scores once with :func:`vocbench.evaluate`, so ``compute()``
returns exactly what ``evaluate`` returns on the same ground truth and detections in the same order. Its state is
a dict of numpy arrays (:meth:`VocEvaluator.state_dict`) that pickles cheaply, so a DDP run gathers the states
(``torch.distributed.all_gather_object``) and merges them (:meth:`VocEvaluator.merge`) on one rank.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vocbench.errors import InputError, VocbenchWarning
from vocbench.structures import Dataset, Detections, _as_int64

__all__ = ["to_numpy", "detections_from_list", "VocEvaluator"]


def to_numpy(x: Any, dtype=None) -> np.ndarray:
    """numpy view of an array-like or a torch tensor (duck-typed: ``detach``/``cpu``; bfloat16 → float32)."""
    if hasattr(x, "detach"):
        x = x.detach()
        if str(getattr(x, "dtype", "")) == "torch.bfloat16":
            x = x.float()
        if hasattr(x, "cpu"):
            x = x.cpu()
        if hasattr(x, "numpy"):
            x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _field(d: Mapping, key: str, where: str, alt: tuple[str, ...] = ()):
    for k in (key, *alt):
        if k in d:
            return d[k]
    raise InputError(f"{where}: missing {key!r} (expected keys boxes, scores, labels)")


def _boxes(d: Mapping, where: str) -> np.ndarray:
    b = to_numpy(_field(d, "boxes", where), np.float64)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"{where}: boxes have shape {b.shape}, expected (N, 4) xmin, ymin, xmax, ymax")
    return b


def _labels(d: Mapping, n: int, where: str, num_classes: int) -> np.ndarray:
    lab = _as_int64(to_numpy(_field(d, "labels", where)), f"{where}: labels").reshape(-1)  # 1.5, True: refused
    if len(lab) != n:
        raise InputError(f"{where}: {len(lab)} labels for {n} boxes")
    bad = (lab < 0) | (lab >= num_classes)
    if bad.any():
        raise InputError(f"{where}: label {lab[bad][0]} is outside 0..{num_classes - 1}")
    return lab


def _prediction(d: Any, where: str, num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(d, Mapping):
        raise InputError(f"{where}: expected a dict with boxes, scores, labels, got {type(d).__name__}")
    b = _boxes(d, where)
    s = to_numpy(_field(d, "scores", where), np.float64).reshape(-1)
    if len(s) != len(b):
        raise InputError(f"{where}: {len(s)} scores for {len(b)} boxes")
    lab = _labels(d, len(b), where, num_classes)
    if not (np.isfinite(s).all() and np.isfinite(b).all()):
        raise InputError(f"{where}: NaN or infinite score or coordinate")
    return b, s, lab


def _image_key(d: Mapping) -> Any:
    v = d.get("image_id") if isinstance(d, Mapping) else None
    if v is None:
        return None
    a = to_numpy(v)
    return a.item() if a.size == 1 else str(v)


def detections_from_list(dataset: Dataset, preds: Sequence[Mapping], source: str = "list of dicts") -> Detections:
    """A list of per-image prediction dicts → :class:`Detections` for ``dataset``.

    Entry ``i`` is image ``i`` of the dataset, unless it has an ``"image_id"``: a string (the dataset's image id)
    or an int (the image index). Rows keep the list order, box order within an image.

    Raises:
        InputError: no entry names its image and the list is not one entry per image of the dataset (a
            ``drop_last`` loader, a missing batch: positions would silently name the wrong images).
    """
    lookup = None
    named = False
    idx, cls, sc, bx = [], [], [], []
    for i, d in enumerate(preds):
        where = f"{source}[{i}]"
        b, s, lab = _prediction(d, where, dataset.num_classes)
        key = _image_key(d)
        named = named or key is not None
        if key is None:
            if i >= dataset.num_images:
                raise InputError(f"{where}: more prediction dicts ({len(preds)}) than images ({dataset.num_images}); "
                                 "give each an 'image_id'")
            im = i
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            im = int(key)
            if not 0 <= im < dataset.num_images:
                raise InputError(f"{where}: image_id {im} is outside 0..{dataset.num_images - 1}")
        else:
            lookup = lookup if lookup is not None else dataset.image_lookup()
            found = lookup.get(str(key))
            if found is None:
                raise InputError(f"{where}: image id {str(key)!r} is not in the evaluated set {list(dataset.sets)}")
            im = found
        idx.append(np.full(len(b), im, np.int64))
        cls.append(lab)
        sc.append(s)
        bx.append(b)
    if not named and len(preds) != dataset.num_images:  # positions would silently name the wrong images
        raise InputError(f"{source}: {len(preds)} prediction dicts for the {dataset.num_images} images of "
                         f"{list(dataset.sets)}, and none names its image; give one dict per image in dataset "
                         "order, or an 'image_id' in each")
    if not idx:
        return Detections(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)), source=source)
    return Detections(image_index=np.concatenate(idx), class_index=np.concatenate(cls), scores=np.concatenate(sc),
                      boxes=np.concatenate(bx), source=source)


_STATE_KEYS = ("det_image", "det_class", "det_score", "det_box", "img_key", "img_width", "img_height",
               "gt_image", "gt_class", "gt_box", "gt_difficult")


class VocEvaluator:
    """Accumulate predictions batch by batch; score once with :func:`vocbench.evaluate`.

    Two modes:

    * ``VocEvaluator(dataset)``: the ground truth is a :class:`Dataset`; ``update(preds)`` takes one prediction
      dict per image, each naming its image with ``"image_id"`` (the dataset's id string, or the image index) or
      passed ``image_ids=``; without either, images are taken in dataset order (a non-shuffled loader).
      ``compute()`` scores against the whole dataset (images never updated have no detections).
    * ``VocEvaluator(classes)``: ``update(preds, targets)`` with one target dict per image (module docstring);
      ``compute()`` scores against the images seen.

    An image fed twice (by ``image_id``; e.g. the padding of torch's ``DistributedSampler``) counts once, the
    first time; the repeats are reported in a warning. Without ids every update is a new image.

    Args:
        dataset_or_classes: a :class:`Dataset`, or the class names (index = label).
        metrics, protocol, iou: as :func:`vocbench.evaluate` (default VOC07 and VOC12, devkit, 0.5).

    Example::

        ev = VocEvaluator(vocbench.VOC_CLASSES, metrics=("voc07",))
        for images, targets in loader:
            ev.update(model(images), targets)
        result = ev.compute()          # EvalResult

        # DDP: each rank accumulates its shard; one rank merges the gathered states and scores once
        states = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(states, ev.state_dict())
        if torch.distributed.get_rank() == 0:
            result = VocEvaluator(vocbench.VOC_CLASSES).merge(*states).compute()
    """

    def __init__(self, dataset_or_classes: Dataset | Sequence[str], metrics: Sequence[str] | str = ("voc07", "voc12"),
                 protocol: str = "devkit", iou: float | Sequence[float] = 0.5) -> None:
        from vocbench.eval.evaluator import _normalise_ious, _normalise_metrics
        from vocbench.eval.matching import get_protocol

        self.metrics = _normalise_metrics(metrics)
        self.protocol = get_protocol(protocol).name
        self.iou = _normalise_ious(iou)
        if isinstance(dataset_or_classes, Dataset):
            self.dataset: Dataset | None = dataset_or_classes
            self.classes = tuple(dataset_or_classes.classes)
        else:
            if isinstance(dataset_or_classes, str):
                raise TypeError("classes must be a sequence of names, not one string")
            self.dataset = None
            self.classes = tuple(str(c) for c in dataset_or_classes)
            if not self.classes or len(set(self.classes)) != len(self.classes):
                raise ValueError(f"class names must be non-empty and unique: {list(self.classes)}")
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything accumulated."""
        self._parts: dict[str, list] = {k: [] for k in _STATE_KEYS}
        self._num_images = 0
        self._cursor = 0
        self._seen: set = set()
        self._repeats = 0
        self._lookup: dict[str, int] | None = None

    @property
    def num_images(self) -> int:
        """Images accumulated so far (repeats not counted)."""
        return self._num_images

    def _add_image(self, key, width: int, height: int) -> int | None:
        """Register an image; its local index, or None for a repeat."""
        if key is not None:
            if key in self._seen:
                self._repeats += 1
                return None
            self._seen.add(key)
        cell = np.empty(1, dtype=object)
        cell[0] = key
        self._parts["img_key"].append(cell)
        self._parts["img_width"].append(np.array([width], np.int64))
        self._parts["img_height"].append(np.array([height], np.int64))
        self._num_images += 1
        return self._num_images - 1

    def _dataset_index(self, key, where: str) -> int:
        ds = self.dataset
        assert ds is not None
        if key is None:
            if self._cursor >= ds.num_images:
                raise InputError(f"{where}: more images than the dataset's {ds.num_images}; give 'image_id's")
            im = self._cursor
            self._cursor += 1
            return im
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not 0 <= int(key) < ds.num_images:
                raise InputError(f"{where}: image_id {key} is outside 0..{ds.num_images - 1}")
            return int(key)
        if self._lookup is None:
            self._lookup = ds.image_lookup()
        found = self._lookup.get(str(key))
        if found is None:
            raise InputError(f"{where}: image id {str(key)!r} is not in the evaluated set {list(ds.sets)}")
        return found

    def update(self, preds: Sequence[Mapping], targets: Sequence[Mapping] | None = None,
               image_ids: Sequence[Any] | None = None) -> None:
        """Add one batch: ``preds[i]`` (and ``targets[i]``) describe image ``i`` of the batch.

        Args:
            preds: per-image dicts ``boxes`` float[N, 4] VOC pixels, ``scores`` float[N], ``labels`` int[N].
            targets: per-image dicts ``boxes``, ``labels`` (+ ``difficult``/``iscrowd``, ``image_id``,
                ``width``/``height``); required without a dataset, refused with one.
            image_ids: one id per image of the batch (overrides ``"image_id"`` keys).
        """
        nc = len(self.classes)
        if image_ids is not None and len(image_ids) != len(preds):
            raise InputError(f"update: {len(image_ids)} image_ids for {len(preds)} predictions")
        if self.dataset is not None:
            if targets is not None:
                raise InputError("update: this evaluator scores against its dataset; pass no targets")
        elif targets is None or len(targets) != len(preds):
            raise InputError(f"update: need one target per prediction, got {len(preds)} predictions and "
                             f"{'no' if targets is None else len(targets)} targets")
        for i, p in enumerate(preds):
            where = f"update: preds[{i}] (image {self._num_images + self._repeats + i})"
            b, s, lab = _prediction(p, where, nc)
            if image_ids is not None:
                key = to_numpy(image_ids[i]).item() if not isinstance(image_ids[i], str) else image_ids[i]
            else:
                key = _image_key(p)
                if key is None and targets is not None:
                    key = _image_key(targets[i])
            if self.dataset is not None:
                im = self._dataset_index(key, where)
                if im in self._seen:
                    self._repeats += 1
                    continue
                self._seen.add(im)
                self._num_images += 1
            else:
                t = targets[i]  # type: ignore[index]
                twhere = f"update: targets[{i}]"
                if not isinstance(t, Mapping):
                    raise InputError(f"{twhere}: expected a dict with boxes, labels, got {type(t).__name__}")
                tb = _boxes(t, twhere)
                tl = _labels(t, len(tb), twhere, nc)
                if not np.isfinite(tb).all():
                    raise InputError(f"{twhere}: NaN or infinite coordinate")
                diff = t.get("difficult", t.get("iscrowd"))
                td = (np.zeros(len(tb), bool) if diff is None else to_numpy(diff).reshape(-1).astype(bool))
                if len(td) != len(tb):
                    raise InputError(f"{twhere}: {len(td)} difficult flags for {len(tb)} boxes")
                w = t.get("width")
                h = t.get("height")
                w = int(to_numpy(w).item()) if w is not None else int(np.ceil(tb[:, 2].max())) if len(tb) else 1
                h = int(to_numpy(h).item()) if h is not None else int(np.ceil(tb[:, 3].max())) if len(tb) else 1
                added = self._add_image(key, max(w, 1), max(h, 1))
                if added is None:
                    continue
                im = added
                self._parts["gt_image"].append(np.full(len(tb), im, np.int64))
                self._parts["gt_class"].append(tl)
                self._parts["gt_box"].append(tb)
                self._parts["gt_difficult"].append(td)
            self._parts["det_image"].append(np.full(len(b), im, np.int64))
            self._parts["det_class"].append(lab)
            self._parts["det_score"].append(s)
            self._parts["det_box"].append(b)

    def state_dict(self) -> dict[str, Any]:
        """The accumulated state as plain numpy arrays (picklable; gather it across processes)."""
        out: dict[str, Any] = {"classes": self.classes, "has_dataset": self.dataset is not None,
                               "repeats": self._repeats}
        empty = {"det_box": np.zeros((0, 4)), "gt_box": np.zeros((0, 4)), "img_key": np.zeros(0, object),
                 "det_score": np.zeros(0), "gt_difficult": np.zeros(0, bool)}
        for k in _STATE_KEYS:
            parts = self._parts[k]
            out[k] = np.concatenate(parts) if parts else empty.get(k, np.zeros(0, np.int64))
        if self.dataset is not None:
            out["dataset_images"] = np.array(sorted(self._seen), np.int64)
        return out

    def merge(self, *others: VocEvaluator | Mapping[str, Any]) -> VocEvaluator:
        """Append the state of other evaluators (or their :meth:`state_dict`) after this one's; returns self.

        Images already seen here (same ``image_id``) are dropped from the others, as repeats within one
        evaluator are.
        """
        for other in others:
            st = other.state_dict() if isinstance(other, VocEvaluator) else other
            if tuple(st["classes"]) != self.classes or bool(st["has_dataset"]) != (self.dataset is not None):
                raise ValueError("merge: the evaluators have different classes or modes")
            self._repeats += int(st.get("repeats", 0))
            if self.dataset is not None:
                imgs = np.asarray(st["dataset_images"], np.int64)
                fresh = np.array([int(i) not in self._seen for i in imgs], bool)
                self._repeats += int((~fresh).sum())
                self._seen.update(int(i) for i in imgs[fresh])
                self._num_images += int(fresh.sum())
                keep = np.isin(st["det_image"], imgs[fresh])
                for k in ("det_image", "det_class", "det_score", "det_box"):
                    self._parts[k].append(np.asarray(st[k])[keep])
                continue
            keys = np.asarray(st["img_key"], dtype=object)
            new_index = np.full(len(keys), -1, np.int64)
            for j, key in enumerate(keys.tolist()):
                local = self._add_image(key, int(st["img_width"][j]), int(st["img_height"][j]))
                if local is not None:
                    new_index[j] = local
            for prefix, names in (("det", ("det_class", "det_score", "det_box")),
                                  ("gt", ("gt_class", "gt_box", "gt_difficult"))):
                img = new_index[np.asarray(st[f"{prefix}_image"], np.int64)]
                keep = img >= 0
                self._parts[f"{prefix}_image"].append(img[keep])
                for k in names:
                    self._parts[k].append(np.asarray(st[k])[keep])
        return self

    # ------------------------------------------------------------------ results
    def ground_truth(self) -> Dataset:
        """The dataset scored: the given one, or the images accumulated from the targets."""
        if self.dataset is not None:
            return self.dataset
        st = self.state_dict()
        keys = st["img_key"].tolist()
        ids = [f"image{j}" if k is None else str(k) for j, k in enumerate(keys)]
        order, rank = self._image_order(st)
        gt_image = rank[st["gt_image"]]
        rows = np.argsort(gt_image, kind="stable")
        return Dataset.from_arrays(image_ids=np.asarray(ids, dtype=str)[order] if ids else [],
                                   widths=st["img_width"][order], heights=st["img_height"][order],
                                   image_index=gt_image[rows], class_index=st["gt_class"][rows],
                                   boxes=st["gt_box"][rows], difficult=st["gt_difficult"][rows], classes=self.classes,
                                   sets=("accumulated",))

    def _image_order(self, st: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """``(order, rank)`` of the images accumulated from targets: sorted by ``image_id`` when every image has
        one (then the batches' arrival order does not matter), else in arrival order; identity with a dataset."""
        keys = st["img_key"].tolist()
        n = len(keys)
        order = np.arange(n)
        if self.dataset is None and n and all(k is not None for k in keys):
            order = np.array(sorted(range(n), key=lambda j: (type(keys[j]).__name__, keys[j])), np.int64)
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)
        return order, rank

    def detections(self) -> Detections:
        """The accumulated detections, image by image in image order, box order within an image: the same rows
        whatever order the batches arrived in (the protocol's stable score sort breaks ties by this order)."""
        st = self.state_dict()
        det_image = st["det_image"] if self.dataset is not None else self._image_order(st)[1][st["det_image"]]
        order = np.argsort(det_image, kind="stable")
        return Detections(image_index=det_image[order], class_index=st["det_class"][order],
                          scores=st["det_score"][order], boxes=st["det_box"][order], source="VocEvaluator")

    def compute(self):
        """Score what was accumulated: the same :class:`~vocbench.eval.results.EvalResult` as ``evaluate``."""
        from vocbench.eval.evaluator import evaluate

        if self._repeats:
            warnings.warn(f"VocEvaluator: {self._repeats} image(s) were fed more than once (same image_id); each "
                          "counted once, the first time", VocbenchWarning, stacklevel=2)
        if self.dataset is not None and len(self._seen) < self.dataset.num_images:
            missing = sorted(set(range(self.dataset.num_images)) - self._seen)
            warnings.warn(f"VocEvaluator: {len(missing)} of the {self.dataset.num_images} images never received "
                          f"predictions (first: {str(self.dataset.image_ids[missing[0]])!r}; a drop_last loader or a "
                          "missing batch?): their objects count as missed", VocbenchWarning, stacklevel=2)
        return evaluate(self.ground_truth(), self.detections(), metrics=self.metrics, protocol=self.protocol,
                        iou=self.iou)

    def __repr__(self) -> str:
        mode = f"dataset={self.dataset!r}" if self.dataset is not None else f"classes={len(self.classes)}"
        return f"VocEvaluator({mode}, images={self._num_images}, metrics={list(self.metrics)})"
