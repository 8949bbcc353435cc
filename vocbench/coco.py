"""pycocotools' ``COCO`` and ``COCOeval`` (the bounding-box part), scored by vocbench's COCO kernel.

A drop-in for code written against pycocotools (detectron2, mmdetection, torchvision's references, YOLOX, DETR)::

    import vocbench
    vocbench.init_as_pycocotools()          # before the script imports pycocotools
    from pycocotools.coco import COCO        # unchanged script: now vocbench's classes
    from pycocotools.cocoeval import COCOeval

or directly ``from vocbench.coco import COCO, COCOeval``. Nothing is patched on import;
:func:`init_as_pycocotools` returns a handle whose ``restore()`` (or ``init_as_pycocotools(False)``,
or :func:`restore_pycocotools`, or leaving its ``with`` block) puts the previous modules back.

What is reproduced (``pycocotools`` 2.0.x ``coco.py`` / ``cocoeval.py``):

* ``COCO``: ``dataset, anns, cats, imgs, imgToAnns, catToImgs``, ``createIndex``, ``getAnnIds/getCatIds/getImgIds``,
  ``loadAnns/loadCats/loadImgs``, ``loadRes`` (a JSON path, a list of dicts or an ``ndarray`` N×7 ``[image_id, x,
  y, w, h, score, category_id]``: results get ``area = w * h``, ``id`` 1..N, ``iscrowd = 0`` written into the
  dicts, as pycocotools does; a result for an image absent from the ground truth raises pycocotools'
  ``AssertionError('Results do not correspond to current coco set')``).
* ``COCOeval(cocoGt, cocoDt, 'bbox')``: ``params`` (``imgIds, catIds, iouThrs, recThrs, maxDets, areaRng,
  areaRngLbl, useCats``) may be changed before ``evaluate()``; ``evaluate()`` normalises them as pycocotools does
  (sorted unique ids, sorted ``maxDets``) and sets ``gt['ignore'] = iscrowd`` on the ground truth dicts;
  ``accumulate()`` fills ``eval`` (``params, counts [T, R, K, A, M], date, precision float64[T, R, K, A, M],
  recall float64[T, K, A, M], scores float64[T, R, K, A, M]``; -1 where undefined, pycocotools' convention, kept
  inside this surface only); ``summarize()`` prints pycocotools' twelve lines (same format strings) and sets
  ``stats`` (float64[12]); ``evalImgs`` (pycocotools' list of per image, category and area-range dicts) is built
  on first read, in Python at about pycocotools' speed (``evaluate`` + ``accumulate`` never need it); ``ious``
  likewise. ``evalImgs`` assigned by the caller (merged across processes, as torchvision's detection references
  do) is what ``accumulate()`` then reads, as in pycocotools.

Differences, all where pycocotools would crash: empty results give an empty result set (pycocotools raises
``IndexError``); ground truth without ``iscrowd`` counts as not crowd and without ``area`` uses ``w * h``
(pycocotools raises ``KeyError``). ``iouType='segm'`` and ``'keypoints'`` raise :class:`NotImplementedError`.
"""

from __future__ import annotations

import copy
import datetime
import importlib.util
import json
import os
import sys
import time
import types
from collections import defaultdict
from typing import Any

import numpy as np

from vocbench.errors import InputError

__all__ = ["COCO", "COCOeval", "Params", "init_as_pycocotools", "restore_pycocotools"]

_SUPPORTED = "vocbench's pycocotools drop-in evaluates bounding boxes only (iouType='bbox')"


def _isArrayLike(obj) -> bool:
    return hasattr(obj, "__iter__") and hasattr(obj, "__len__")


def _check_iou_type(iou_type) -> None:
    if iou_type != "bbox":
        raise NotImplementedError(f"{_SUPPORTED}; got iouType={iou_type!r}: use pycocotools itself for it "
                                  "(vocbench.restore_pycocotools() undoes vocbench.init_as_pycocotools())")


# ================================================================================================= COCO
class COCO:
    """pycocotools' ``COCO`` API over a COCO ``instances`` dict (bounding boxes).

    Args:
        annotation_file: path of a COCO JSON file (``images``, ``annotations``, ``categories``), or None for an
            empty object whose ``dataset`` the caller fills before ``createIndex()``.
    """

    def __init__(self, annotation_file: str | os.PathLike | None = None):
        self.dataset: dict = {}
        self.anns: dict = {}
        self.cats: dict = {}
        self.imgs: dict = {}
        self.imgToAnns: defaultdict = defaultdict(list)
        self.catToImgs: defaultdict = defaultdict(list)
        if annotation_file is not None:
            print("loading annotations into memory...")
            tic = time.time()
            with open(annotation_file) as f:
                dataset = json.load(f)
            if type(dataset) is not dict:
                raise AssertionError(f"annotation file format {type(dataset)} not supported")
            print(f"Done (t={time.time() - tic:0.2f}s)")
            self.dataset = dataset
            self.createIndex()

    def createIndex(self) -> None:
        """Build ``anns``, ``imgs``, ``cats`` (by id), ``imgToAnns`` and ``catToImgs`` from ``dataset``."""
        print("creating index...")
        anns, cats, imgs = {}, {}, {}
        img_to_anns, cat_to_imgs = defaultdict(list), defaultdict(list)
        for ann in self.dataset.get("annotations", ()):
            img_to_anns[ann["image_id"]].append(ann)
            anns[ann["id"]] = ann
        for img in self.dataset.get("images", ()):
            imgs[img["id"]] = img
        for cat in self.dataset.get("categories", ()):
            cats[cat["id"]] = cat
        if "annotations" in self.dataset and "categories" in self.dataset:
            for ann in self.dataset["annotations"]:
                cat_to_imgs[ann["category_id"]].append(ann["image_id"])
        print("index created!")
        self.anns, self.imgToAnns, self.catToImgs, self.imgs, self.cats = anns, img_to_anns, cat_to_imgs, imgs, cats

    def info(self) -> None:
        """Print the ``info`` block of the dataset."""
        for key, value in self.dataset["info"].items():
            print(f"{key}: {value}")

    def getAnnIds(self, imgIds=(), catIds=(), areaRng=(), iscrowd=None) -> list:
        """Annotation ids of the given images and categories, with ``areaRng[0] < area < areaRng[1]`` and the
        given ``iscrowd`` (each filter skipped when empty / None)."""
        imgIds = imgIds if _isArrayLike(imgIds) else [imgIds]
        catIds = catIds if _isArrayLike(catIds) else [catIds]
        if len(imgIds) == len(catIds) == len(areaRng) == 0:
            anns = self.dataset["annotations"]
        else:
            if len(imgIds):
                anns = [a for i in imgIds if i in self.imgToAnns for a in self.imgToAnns[i]]
            else:
                anns = self.dataset["annotations"]
            if len(catIds):
                anns = [a for a in anns if a["category_id"] in catIds]
            if len(areaRng):
                anns = [a for a in anns if areaRng[0] < a["area"] < areaRng[1]]
        if iscrowd is not None:
            return [a["id"] for a in anns if a["iscrowd"] == iscrowd]
        return [a["id"] for a in anns]

    def getCatIds(self, catNms=(), supNms=(), catIds=()) -> list:
        """Category ids filtered by name, supercategory name and id (each filter skipped when empty)."""
        catNms = catNms if _isArrayLike(catNms) else [catNms]
        supNms = supNms if _isArrayLike(supNms) else [supNms]
        catIds = catIds if _isArrayLike(catIds) else [catIds]
        cats = self.dataset["categories"]
        if len(catNms):
            cats = [c for c in cats if c["name"] in catNms]
        if len(supNms):
            cats = [c for c in cats if c["supercategory"] in supNms]
        if len(catIds):
            cats = [c for c in cats if c["id"] in catIds]
        return [c["id"] for c in cats]

    def getImgIds(self, imgIds=(), catIds=()) -> list:
        """Image ids among ``imgIds`` that hold every category of ``catIds`` (all images when both are empty)."""
        imgIds = imgIds if _isArrayLike(imgIds) else [imgIds]
        catIds = catIds if _isArrayLike(catIds) else [catIds]
        if len(imgIds) == len(catIds) == 0:
            return list(self.imgs.keys())
        ids = set(imgIds)
        for i, cat_id in enumerate(catIds):
            if i == 0 and len(ids) == 0:
                ids = set(self.catToImgs[cat_id])
            else:
                ids &= set(self.catToImgs[cat_id])
        return list(ids)

    def loadAnns(self, ids=()) -> list | None:
        """The annotation dicts of ``ids`` (a list, or one int)."""
        return self._load(self.anns, ids)

    def loadCats(self, ids=()) -> list | None:
        """The category dicts of ``ids`` (a list, or one int)."""
        return self._load(self.cats, ids)

    def loadImgs(self, ids=()) -> list | None:
        """The image dicts of ``ids`` (a list, or one int)."""
        return self._load(self.imgs, ids)

    @staticmethod
    def _load(table: dict, ids) -> list | None:
        if _isArrayLike(ids):
            return [table[i] for i in ids]
        if type(ids) is int:
            return [table[ids]]
        return None

    def loadRes(self, resFile) -> COCO:
        """A result ``COCO`` object from detections: a JSON path, a list of dicts (``image_id``, ``category_id``,
        ``bbox [x, y, w, h]``, ``score``) or an ``ndarray`` N×7. The dicts get ``area = w * h``, ``id`` 1..N,
        ``iscrowd = 0`` and a box ``segmentation`` (written in place, as pycocotools does)."""
        res = COCO()
        res.dataset["info"] = copy.deepcopy(self.dataset.get("info", {}))
        res.dataset["images"] = list(self.dataset["images"])
        print("Loading and preparing results...")
        tic = time.time()
        if isinstance(resFile, (str, os.PathLike)):
            with open(resFile) as f:
                anns = json.load(f)
        elif type(resFile) is np.ndarray:
            anns = self.loadNumpyAnnotations(resFile)
        else:
            anns = resFile
        if type(anns) is not list:
            raise AssertionError("results in not an array of objects")
        if not {a["image_id"] for a in anns} <= set(self.getImgIds()):
            raise AssertionError("Results do not correspond to current coco set")
        if anns and not ("bbox" in anns[0] and anns[0]["bbox"] != []):
            raise NotImplementedError(f"{_SUPPORTED}: results without 'bbox' (captions, segmentations, keypoints) "
                                      "need pycocotools itself")
        res.dataset["categories"] = copy.deepcopy(self.dataset.get("categories", []))
        for i, ann in enumerate(anns):
            try:
                bb = ann["bbox"]
                if "segmentation" not in ann:
                    x1, x2, y1, y2 = bb[0], bb[0] + bb[2], bb[1], bb[1] + bb[3]
                    ann["segmentation"] = [[x1, y1, x1, y2, x2, y2, x2, y1]]
                ann["area"] = bb[2] * bb[3]
            except (KeyError, IndexError, TypeError):
                raise InputError(f"result annotation id {i + 1}: bbox must be [x, y, w, h] numbers, got "
                                 f"{ann.get('bbox') if isinstance(ann, dict) else ann!r}") from None
            ann["id"] = i + 1
            ann["iscrowd"] = 0
        print(f"DONE (t={time.time() - tic:0.2f}s)")
        res.dataset["annotations"] = anns
        res.createIndex()
        return res

    def loadNumpyAnnotations(self, data: np.ndarray) -> list:
        """Result dicts from ``data`` N×7 rows ``[image_id, x, y, w, h, score, category_id]`` (numpy scalars kept,
        as pycocotools keeps them, so a float32 array gives float32 areas)."""
        print("Converting ndarray to lists...")
        if type(data) is not np.ndarray:
            raise AssertionError
        print(data.shape)
        if data.ndim != 2 or data.shape[1] != 7:
            raise AssertionError
        n = data.shape[0]
        out = []
        for i in range(n):
            if i % 1000000 == 0:
                print(f"{i}/{n}")
            row = data[i]
            out.append({"image_id": int(row[0]), "bbox": [row[1], row[2], row[3], row[4]], "score": row[5],
                        "category_id": int(row[6])})
        return out

    def _unsupported(self, *args, **kwargs):
        raise NotImplementedError(f"{_SUPPORTED}: masks, drawing and downloads need pycocotools itself")

    showAnns = annToRLE = annToMask = download = _unsupported


# ================================================================================================= Params
class Params:
    """pycocotools' evaluation parameters (``iouType='bbox'``): ``imgIds``, ``catIds``, ``iouThrs``
    float64[T] (.5:.05:.95), ``recThrs`` float64[R] (0:.01:1), ``maxDets`` [1, 10, 100], ``areaRng`` A×2 square
    pixels (inclusive), ``areaRngLbl``, ``useCats`` (0: categories ignored, proposal scoring)."""

    def setDetParams(self) -> None:
        self.imgIds: list = []
        self.catIds: list = []
        # np.linspace, not np.arange (pycocotools: arange's points are slightly off)
        self.iouThrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
        self.recThrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
        self.maxDets = [1, 10, 100]
        self.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
        self.areaRngLbl = ["all", "small", "medium", "large"]
        self.useCats = 1

    def __init__(self, iouType: str = "segm"):
        _check_iou_type(iouType)
        self.setDetParams()
        self.iouType = iouType
        self.useSegm = None  # deprecated in pycocotools; 1 selects segm (unsupported here), 0 bbox

    def __deepcopy__(self, memo) -> Params:
        """A deep copy (pycocotools keeps one of the evaluated parameters); id lists of scalars are copied as
        lists (their numpy-scalar items are immutable) instead of item by item."""
        out = Params.__new__(Params)
        for key, value in self.__dict__.items():
            scalars = isinstance(value, list) and all(isinstance(v, (int, float, str, np.generic)) for v in value)
            out.__dict__[key] = list(value) if scalars else copy.deepcopy(value, memo)
        return out


# ================================================================================================= COCOeval
class COCOeval:
    """pycocotools' ``COCOeval`` for ``iouType='bbox'``: ``evaluate()``, ``accumulate()``, ``summarize()``.

    Args:
        cocoGt: ground truth :class:`COCO`. cocoDt: results (``cocoGt.loadRes(...)``).
        iouType: ``'bbox'`` (pycocotools' default ``'segm'`` and ``'keypoints'`` raise NotImplementedError).
    """

    def __init__(self, cocoGt: COCO | None = None, cocoDt: COCO | None = None, iouType: str = "segm"):
        if not iouType:
            print("iouType not specified. use default iouType segm")
        _check_iou_type(iouType)
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.eval: dict = {}
        self.params = Params(iouType=iouType)
        self._paramsEval: Any = {}
        self.stats: Any = []
        self._problem: Any = None  # the arrays of the last evaluate() (vocbench._coco_compat.CocoProblem)
        self._evalImgs: Any = None  # pycocotools' evalImgs list, once built or assigned
        self._evalImgs_assigned = False  # True when the caller set evalImgs (then accumulate() reads it)
        self._gts: Any = defaultdict(list)  # filled by _prepare() only (for subclasses that read them)
        self._dts: Any = defaultdict(list)
        self._ious: Any = None
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    def evaluate(self) -> None:
        """Normalise ``params`` as pycocotools does and gather the ground truth and results as arrays."""
        tic = time.time()
        print("Running per image evaluation...")
        p = self.params
        if p.useSegm is not None:
            p.iouType = "segm" if p.useSegm == 1 else "bbox"
            print(f"useSegm (deprecated) is not None. Running {p.iouType} evaluation")
        _check_iou_type(p.iouType)
        print(f"Evaluate annotation type *{p.iouType}*")
        p.imgIds = list(np.unique(p.imgIds))
        if p.useCats:
            p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        from vocbench._coco_compat import gather_problem

        if self.cocoGt is None or self.cocoDt is None:
            raise TypeError("COCOeval needs cocoGt and cocoDt before evaluate()")
        self._problem = gather_problem(self.cocoGt, self.cocoDt, p)
        self._evalImgs = None
        self._evalImgs_assigned = False
        self._ious = None
        self.eval = {}
        self._paramsEval = copy.deepcopy(self.params)
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    def accumulate(self, p: Params | None = None) -> None:
        """Precision/recall/scores of every (threshold, recall point, category, area range, maxDets) into
        ``eval`` (pycocotools' arrays and -1 where a category has no unignored ground truth)."""
        print("Accumulating evaluation results...")
        tic = time.time()
        if self._problem is None and not self._evalImgs_assigned:
            print("Please run evaluate() first")
            raise RuntimeError("COCOeval.accumulate() needs evaluate() first")
        if p is None:
            p = self.params
        p.catIds = p.catIds if p.useCats == 1 else [-1]
        from vocbench._coco_compat import accumulate_eval_imgs, accumulate_problem

        if self._evalImgs_assigned:  # merged by the caller (torchvision's references): pycocotools' own way
            precision, recall, scores = accumulate_eval_imgs(self._evalImgs, self._paramsEval, p)
        else:
            precision, recall, scores = accumulate_problem(self._problem, self._paramsEval, p)
        self.eval = {"params": p, "counts": list(precision.shape),
                     "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
                     "precision": precision, "recall": recall, "scores": scores}
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    def summarize(self) -> None:
        """Print pycocotools' twelve summary lines and set ``stats`` (float64[12], -1 where undefined)."""
        if not self.eval:
            raise Exception("Please run accumulate() first")
        from vocbench._coco_compat import summarize_lines

        self.stats, lines = summarize_lines(self.eval["precision"], self.eval["recall"], self.params)
        for line in lines:
            print(line)

    def __str__(self) -> str:
        from vocbench._coco_compat import summarize_lines

        if not self.eval:
            return super().__str__()
        return "\n".join(summarize_lines(self.eval["precision"], self.eval["recall"], self.params)[1])

    # pycocotools fills these in evaluate(); here they are built on first read (same content)
    @property
    def evalImgs(self) -> list:
        """pycocotools' per (category, area range, image) dicts, in its order (None where nothing is there)."""
        if self._evalImgs is None:
            if self._problem is None:
                return []
            from vocbench._coco_compat import eval_imgs

            self._evalImgs = eval_imgs(self._problem, self._paramsEval)
        return self._evalImgs

    @evalImgs.setter
    def evalImgs(self, value) -> None:
        self._evalImgs = value
        self._evalImgs_assigned = True

    def _prepare(self) -> None:
        """pycocotools' ``_prepare``: fills ``_gts``/``_dts`` (annotation dicts by ``(image_id, category_id)``) for
        subclasses that read them; ``evaluate()`` itself works from arrays."""
        from vocbench._coco_compat import prepare_groups

        self._gts, self._dts = prepare_groups(self.cocoGt, self.cocoDt, self.params)
        self._evalImgs = None
        self._evalImgs_assigned = False
        self.eval = {}

    @property
    def ious(self) -> dict:
        """pycocotools' ``{(imgId, catId): IoU float64[D, G]}`` (detections by score, at most ``maxDets[-1]``;
        ``[]`` where an image has neither)."""
        if self._ious is None:
            if self._problem is None:
                return {}
            from vocbench._coco_compat import ious_by_image

            self._ious = ious_by_image(self._problem, self._paramsEval)
        return self._ious

    @ious.setter
    def ious(self, value) -> None:
        self._ious = value


# ================================================================================================= patching
_MISSING = object()
_NAMES = ("pycocotools", "pycocotools.coco", "pycocotools.cocoeval")
_saved: list[dict] = []  # the sys.modules entries that init_as_pycocotools replaced (one level: not nested)


class PycocotoolsPatch:
    """Handle of :func:`init_as_pycocotools`: ``restore()`` puts the previous modules back; also a context
    manager (``with vocbench.init_as_pycocotools(): ...``)."""

    def restore(self) -> None:
        restore_pycocotools()

    def __enter__(self) -> PycocotoolsPatch:
        return self

    def __exit__(self, *exc) -> None:
        self.restore()


def _facade() -> dict[str, types.ModuleType]:
    """Module objects named ``pycocotools``, ``pycocotools.coco``, ``pycocotools.cocoeval`` holding our classes;
    ``pycocotools.mask`` stays the real one where pycocotools is installed (detectron2 imports it at the top)."""
    package = types.ModuleType("pycocotools", "vocbench standing in for pycocotools (bbox evaluation)")
    package.__path__ = []  # a package: its submodules resolve through sys.modules
    package.__version__ = "2.0"  # type: ignore[attr-defined]
    coco = types.ModuleType("pycocotools.coco")
    coco.COCO = COCO  # type: ignore[attr-defined]
    cocoeval = types.ModuleType("pycocotools.cocoeval")
    cocoeval.COCOeval = COCOeval  # type: ignore[attr-defined]
    cocoeval.Params = Params  # type: ignore[attr-defined]
    package.coco = coco  # type: ignore[attr-defined]
    package.cocoeval = cocoeval  # type: ignore[attr-defined]
    modules = {"pycocotools": package, "pycocotools.coco": coco, "pycocotools.cocoeval": cocoeval}
    real_mask = sys.modules.get("pycocotools.mask")
    if real_mask is None and importlib.util.find_spec("pycocotools") is not None:
        try:
            import pycocotools.mask as real_mask  # type: ignore[no-redef]
        except ImportError:  # a broken build: masks stay unavailable, boxes do not need them
            real_mask = None
    if real_mask is not None:
        package.mask = real_mask  # type: ignore[attr-defined]
    return modules


def init_as_pycocotools(enable: bool = True) -> PycocotoolsPatch:
    """Make ``import pycocotools.coco`` / ``pycocotools.cocoeval`` give :class:`COCO` / :class:`COCOeval`.

    Replaces the ``sys.modules`` entries ``pycocotools``, ``pycocotools.coco`` and ``pycocotools.cocoeval`` (as
    faster-coco-eval, hotcoco and ultrafast-pycocotools do); modules that imported pycocotools before the call
    keep what they imported. Calling it again while active changes nothing.

    Args:
        enable: False undoes a previous call (same as :func:`restore_pycocotools`).

    Returns:
        A :class:`PycocotoolsPatch`: ``restore()``, or use it as a context manager.
    """
    if not enable:
        restore_pycocotools()
        return PycocotoolsPatch()
    if _saved:
        return PycocotoolsPatch()
    before = {name: sys.modules.get(name, _MISSING) for name in (*_NAMES, "pycocotools.mask", "pycocotools._mask")}
    modules = _facade()
    _saved.append(before)
    sys.modules.update(modules)
    return PycocotoolsPatch()


def restore_pycocotools() -> None:
    """Undo :func:`init_as_pycocotools`: the ``pycocotools`` entries of ``sys.modules`` as they were before it
    (absent ones removed again). Does nothing when not active."""
    if not _saved:
        return
    before = _saved.pop()
    for name, module in before.items():
        if module is _MISSING:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
