"""The implementations vocbench is compared with. Third-party peers are imported lazily, inside functions
(vocbench itself never imports torch); a missing one raises :class:`PeerMissing` and its row says so.

Each ``prepare_*`` function converts the shared inputs to the peer's own format *outside* the timed call and
returns a zero-argument callable (the timed part) whose result can be compared with vocbench's.
"""

from __future__ import annotations

import importlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, cast

import numpy as np

__all__ = ["PeerMissing", "require", "prepare_torchvision_nms", "prepare_opencv_nms", "numpy_nms",
           "devkit_voc_eval", "prepare_pycocotools", "prepare_faster_coco_eval", "prepare_torchmetrics",
           "prepare_hotcoco", "prepare_ultrafast_pycocotools", "prepare_vernier", "single_threaded_peers",
           "coco_gt_dict", "coco_det_list", "numpy_iou_kmeans", "numpy_iou_kmeans_curve", "parse_voc_xml_plain",
           "parse_det_lines_plain"]


def single_threaded_peers() -> None:
    """Ask the Rust peers (hotcoco, ultrafast-pycocotools, vernier: rayon thread pools) for one thread, as every
    other row runs; rayon reads ``RAYON_NUM_THREADS`` when its pool starts, so this must run before their first
    call. An explicit setting of the variable is kept."""
    os.environ.setdefault("RAYON_NUM_THREADS", "1")


class PeerMissing(RuntimeError):
    """The peer's library is not installed (or has no usable device)."""


def require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PeerMissing(f"peer not installed ({module})") from exc


# --------------------------------------------------------------------------------------------------- NMS
def prepare_torchvision_nms(boxes: np.ndarray, scores: np.ndarray, thr: float, device: str = "cpu"):
    """``torchvision.ops.nms`` on tensors built beforehand; single-threaded (``torch.set_num_threads(1)``)."""
    torch = require("torch")
    tv = require("torchvision")
    torch.set_num_threads(1)
    if device == "cuda" and not torch.cuda.is_available():
        raise PeerMissing("no CUDA device")
    b = torch.from_numpy(np.ascontiguousarray(boxes)).to(device)
    s = torch.from_numpy(np.ascontiguousarray(scores)).to(device)

    def run():
        keep = tv.ops.nms(b, s, thr)
        if device == "cuda":
            torch.cuda.synchronize()
        return keep.cpu().numpy()

    return run


def prepare_opencv_nms(boxes: np.ndarray, scores: np.ndarray, thr: float):
    """``cv2.dnn.NMSBoxes`` on (x, y, w, h) float boxes (OpenCV computes IoU in its own way; scores float32)."""
    cv2 = require("cv2")
    cv2.setNumThreads(1)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).tolist()
    sc = scores.astype(np.float32).tolist()

    def run():
        keep = cv2.dnn.NMSBoxes(xywh, sc, 0.0, thr)  # OpenCV requires score_threshold >= 0
        return np.asarray(keep, np.int64).reshape(-1)

    return run


def numpy_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """The classic vectorised-per-step greedy NMS (py-faster-rcnn ``py_cpu_nms``, continuous coordinates)."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(x1[i], x1[rest])
        yy1 = np.maximum(y1[i], y1[rest])
        xx2 = np.minimum(x2[i], x2[rest])
        yy2 = np.minimum(y2[i], y2[rest])
        w = np.maximum(0.0, xx2 - xx1)
        h = np.maximum(0.0, yy2 - yy1)
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            ovr = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(ovr > thr)]
    return np.asarray(keep, np.int64)


# --------------------------------------------------------------------------------------------- evaluation
def _voc_ap(rec, prec, use_07_metric):
    """voc_eval.py's ``voc_ap``: 11-point (VOC07) or all-point interpolated (VOC2010+) AP."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0.0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    change = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[change + 1] - mrec[change]) * mpre[change + 1])


def devkit_voc_eval(recs: dict, det_lines: dict, classes, ovthresh: float = 0.5) -> dict:
    """A faithful plain numpy/Python loop as py-faster-rcnn's ``voc_eval.py`` does it, for every class.

    Args:
        recs: image id -> list of objects ``{"name", "bbox": [x1, y1, x2, y2], "difficult"}`` (parse_rec's).
        det_lines: class -> list of ``[image_id, score, x1, y1, x2, y2]`` (the split lines of a comp4 file).
        classes: class names.

    Returns:
        ``{"voc07": {class: AP}, "voc12": {class: AP}}`` (IoU > ovthresh, VOC '+1' pixels, difficult ignored).
    """
    out: dict[str, dict[str, float]] = {"voc07": {}, "voc12": {}}
    for cls in classes:
        class_recs: dict[str, dict[str, Any]] = {}
        npos = 0
        for name, objs in recs.items():
            r = [o for o in objs if o["name"] == cls]
            bbox = np.array([x["bbox"] for x in r]).reshape(-1, 4)
            difficult = np.array([x["difficult"] for x in r]).astype(bool)
            det = [False] * len(r)
            npos = npos + sum(~difficult)
            class_recs[name] = {"bbox": bbox, "difficult": difficult, "det": det}
        lines = det_lines.get(cls, [])
        image_ids = [x[0] for x in lines]
        confidence = np.array([float(x[1]) for x in lines])
        bb_all = np.array([[float(z) for z in x[2:]] for x in lines]).reshape(-1, 4)
        sorted_ind = np.argsort(-confidence, kind="stable")
        bb_all = bb_all[sorted_ind, :]
        image_ids = [image_ids[x] for x in sorted_ind]
        nd = len(image_ids)
        tp = np.zeros(nd)
        fp = np.zeros(nd)
        for d in range(nd):
            R = class_recs[image_ids[d]]
            bb = bb_all[d, :].astype(float)
            ovmax = -np.inf
            BBGT = R["bbox"].astype(float)
            if BBGT.size > 0:
                ixmin = np.maximum(BBGT[:, 0], bb[0])
                iymin = np.maximum(BBGT[:, 1], bb[1])
                ixmax = np.minimum(BBGT[:, 2], bb[2])
                iymax = np.minimum(BBGT[:, 3], bb[3])
                iw = np.maximum(ixmax - ixmin + 1.0, 0.0)
                ih = np.maximum(iymax - iymin + 1.0, 0.0)
                inters = iw * ih
                uni = ((bb[2] - bb[0] + 1.0) * (bb[3] - bb[1] + 1.0)
                       + (BBGT[:, 2] - BBGT[:, 0] + 1.0) * (BBGT[:, 3] - BBGT[:, 1] + 1.0) - inters)
                overlaps = inters / uni
                ovmax = np.max(overlaps)
                jmax = np.argmax(overlaps)
            if ovmax > ovthresh:
                if not R["difficult"][jmax]:
                    if not R["det"][jmax]:
                        tp[d] = 1.0
                        R["det"][jmax] = 1
                    else:
                        fp[d] = 1.0
            else:
                fp[d] = 1.0
        fp = np.cumsum(fp)
        tp = np.cumsum(tp)
        rec = tp / float(npos) if npos else tp * np.nan
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        out["voc07"][cls] = float(_voc_ap(rec, prec, True))
        out["voc12"][cls] = float(_voc_ap(rec, prec, False))
    return out


def coco_gt_dict(dataset) -> dict:
    """COCO-format ground truth as ``vocbench export-coco`` writes it (boxes [x, y, w, h] with w = x2 - x1 + 1,
    difficult as iscrowd)."""
    from vocbench.io.coco import export_coco

    return export_coco(dataset)


def coco_det_list(dataset, dets) -> list:
    """COCO-format results for ``dets`` (same box convention as :func:`coco_gt_dict`)."""
    from vocbench.io.coco import detections_to_coco

    return detections_to_coco(dataset, dets)


def _quiet():
    import contextlib
    import io

    return contextlib.redirect_stdout(io.StringIO())


def _coco_outputs(ev) -> dict:
    """The 12 summary numbers and the precision/recall arrays of a pycocotools-style ``COCOeval``."""
    return {"AP": float(ev.stats[0]), "stats": np.asarray(ev.stats, np.float64),
            "precision": np.asarray(ev.eval["precision"]), "recall": np.asarray(ev.eval["recall"])}


def _ap50_only(ev) -> dict:
    p = np.asarray(ev.eval["precision"])[0, :, :, 0, -1]
    ap = float(np.mean([np.mean(p[:, k][p[:, k] > -1]) for k in range(p.shape[1]) if (p[:, k] > -1).any()]))
    return {"AP50": ap}


def _pycocotools_style(COCO, COCOeval, gt: dict, dt: list, iou_05_only: bool):
    """``COCOeval(gt, dt, "bbox")`` + evaluate + accumulate + summarize on loaded data: the ``COCO`` objects (index,
    ``loadRes``) are built beforehand, as a training loop holds them."""
    import copy

    with _quiet():
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt))

    def run():
        with _quiet():
            ev = COCOeval(coco_gt, coco_dt, "bbox")
            if iou_05_only:
                ev.params.iouThrs = np.array([0.5])
            ev.evaluate()
            ev.accumulate()
            if iou_05_only:
                return _ap50_only(ev)
            ev.summarize()
            return _coco_outputs(ev)

    return run


def prepare_pycocotools(gt: dict, dt: list, iou_05_only: bool):
    require("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return _pycocotools_style(COCO, COCOeval, gt, dt, iou_05_only)


def prepare_faster_coco_eval(gt: dict, dt: list, iou_05_only: bool):
    require("faster_coco_eval")
    from faster_coco_eval import COCO, COCOeval_faster

    return _pycocotools_style(COCO, COCOeval_faster, gt, dt, iou_05_only)


def prepare_ultrafast_pycocotools(gt: dict, dt: list):
    """ultrafast-pycocotools (Rust, bit-exact drop-in) ``COCOeval`` on loaded data."""
    require("ultrafast_pycocotools")
    from ultrafast_pycocotools import COCO, COCOeval

    return _pycocotools_style(COCO, COCOeval, gt, dt, False)


def prepare_vernier(gt: dict, dt: list):
    """vernier's pycocotools-compatible ``COCOeval`` (Rust core) on loaded pycocotools ``COCO`` objects."""
    require("vernier")
    require("pycocotools")
    from pycocotools.coco import COCO
    from vernier import COCOeval

    return _pycocotools_style(COCO, COCOeval, gt, dt, False)


def prepare_hotcoco(gt: dict, dt: list):
    """hotcoco (Rust) ``COCOeval`` on loaded data (``hotcoco.COCO(dict)`` and ``load_res`` built beforehand)."""
    require("hotcoco")
    import copy

    import hotcoco

    with _quiet():
        coco_gt = hotcoco.COCO(copy.deepcopy(gt))
        coco_dt = coco_gt.load_res(copy.deepcopy(dt))

    def run():
        with _quiet():
            ev = hotcoco.COCOeval(coco_gt, coco_dt, "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return _coco_outputs(ev)

    return run


def prepare_torchmetrics(dataset, dets, iou_05_only: bool):
    """torchmetrics ``MeanAveragePrecision`` (pycocotools backend), per-image tensors built beforehand."""
    torch = require("torch")
    require("torchmetrics")
    from torchmetrics.detection import MeanAveragePrecision

    torch.set_num_threads(1)
    preds, target = [], []
    order = np.argsort(dets.image_index, kind="stable")
    starts = np.searchsorted(dets.image_index[order], np.arange(dataset.num_images + 1))
    gorder = np.argsort(dataset.image_index, kind="stable")
    gstarts = np.searchsorted(dataset.image_index[gorder], np.arange(dataset.num_images + 1))
    for i in range(dataset.num_images):
        d = order[starts[i]:starts[i + 1]]
        g = gorder[gstarts[i]:gstarts[i + 1]]
        db = dets.boxes[d].copy()
        db[:, 2:] += 1
        gb = dataset.boxes[g].copy()
        gb[:, 2:] += 1
        preds.append({"boxes": torch.from_numpy(db), "scores": torch.from_numpy(dets.scores[d].copy()),
                      "labels": torch.from_numpy(dets.class_index[d].copy())})
        target.append({"boxes": torch.from_numpy(gb), "labels": torch.from_numpy(dataset.class_index[g].copy()),
                       "iscrowd": torch.from_numpy(dataset.difficult[g].astype(np.int64))})

    def run():
        metric = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5] if iou_05_only else None)
        metric.update(preds, target)
        r = metric.compute()
        return {"AP50": float(r["map_50"]), **({} if iou_05_only else {"AP": float(r["map"])})}

    return run


# ------------------------------------------------------------------------------------------------ anchors
def numpy_iou_kmeans(wh: np.ndarray, init: np.ndarray, max_iter: int = 300) -> tuple[np.ndarray, float]:
    """Plain numpy IoU k-means (d = 1 - IoU of (w, h) pairs, mean centroids) from ``init``, to a fixed point.

    Returns ``(centroids float64[k, 2], mean IoU)``.
    """
    c = init.astype(np.float64).copy()
    labels = None
    for _ in range(max_iter):
        inter = np.minimum(wh[:, None, 0], c[None, :, 0]) * np.minimum(wh[:, None, 1], c[None, :, 1])
        iou = inter / (wh[:, 0:1] * wh[:, 1:2] + (c[:, 0] * c[:, 1])[None, :] - inter)
        new = np.argmax(iou, axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for k in range(len(c)):
            m = labels == k
            if m.any():
                c[k] = wh[m].mean(axis=0)
    inter = np.minimum(wh[:, None, 0], c[None, :, 0]) * np.minimum(wh[:, None, 1], c[None, :, 1])
    iou = inter / (wh[:, 0:1] * wh[:, 1:2] + (c[:, 0] * c[:, 1])[None, :] - inter)
    return c, float(iou.max(axis=1).mean())


def _wh_iou_numpy(wh: np.ndarray, c: np.ndarray) -> np.ndarray:
    inter = np.minimum(wh[:, None, 0], c[None, :, 0]) * np.minimum(wh[:, None, 1], c[None, :, 1])
    return inter / (wh[:, 0, None] * wh[:, 1, None] + c[None, :, 0] * c[None, :, 1] - inter)


def _lloyd_numpy(wh: np.ndarray, init: np.ndarray, max_iter: int = 300):
    """Plain numpy Lloyd with d = 1 - IoU: an (N, K) IoU matrix per iteration, ``np.bincount`` means, an empty
    cluster re-seeded at the worst-covered box, stop when no label changes. Returns ``(centers, mean IoU)``."""
    c = np.array(init, np.float64)
    prev = None
    best = np.zeros(len(wh))
    for _ in range(max_iter + 1):
        m = _wh_iou_numpy(wh, c)
        labels = np.argmax(m, axis=1)
        best = m[np.arange(len(wh)), labels]
        if prev is not None and np.array_equal(labels, prev):
            break
        counts = np.bincount(labels, minlength=len(c))
        sw = np.bincount(labels, weights=wh[:, 0], minlength=len(c))
        sh = np.bincount(labels, weights=wh[:, 1], minlength=len(c))
        nz = counts > 0
        c[nz, 0] = sw[nz] / counts[nz]
        c[nz, 1] = sh[nz] / counts[nz]
        prev = labels
        for j in np.flatnonzero(~nz):
            worst = int(np.argmin(best))
            c[j] = wh[worst]
            best[worst] = 2.0
            prev = None
    return c, float(best.mean())


def numpy_iou_kmeans_curve(wh: np.ndarray, ks, n_init: int = 5, random_state: int = 0,
                           max_iter: int = 300) -> list[float]:
    """The mean-IoU-vs-k curve in plain numpy with the starts of ``vocbench.anchors.iou_kmeans_curve``: per k,
    random starts seeded by ``(random_state, k)`` plus (after the first k) the warm start grown from the previous
    k's winner; the best mean IoU wins. Returns the mean IoU per k."""
    wh = np.asarray(wh, np.float64)
    out: list[float] = []
    prev = None
    for k in sorted(set(ks)):
        rng = np.random.default_rng([int(random_state), k])
        n_random = n_init - 1 if prev is not None else n_init
        starts = [wh[rng.choice(len(wh), k, replace=False)].copy() for _ in range(n_random)]
        if prev is not None:
            c = prev.copy()
            best = _wh_iou_numpy(wh, c).max(axis=1)
            while len(c) < k:
                i = int(np.argmin(best))
                c = np.vstack([c, wh[i:i + 1]])
                best = np.maximum(best, _wh_iou_numpy(wh, wh[i:i + 1])[:, 0])
            starts.insert(0, c)
        runs = [_lloyd_numpy(wh, s, max_iter) for s in starts]
        c, mean = max(runs, key=lambda r: r[1])
        if prev is not None and mean < out[-1]:
            c, mean = starts[0], float(_wh_iou_numpy(wh, starts[0]).max(axis=1).mean())
        prev = c[np.argsort(c[:, 0] * c[:, 1], kind="stable")]
        out.append(mean)
    return out


# ----------------------------------------------------------------------------------------------------- I/O
def parse_voc_xml_plain(root: str | Path, sets: list[str]) -> dict:
    """voc_eval.py's ``parse_rec`` over every image of the sets (xml.etree, one dict per object)."""
    root = Path(root)
    recs = {}
    for spec in sets:
        year, split = spec.split(":")
        base = root / f"VOC{year}"
        ids = (base / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
        for image_id in ids:
            tree = ET.parse(base / "Annotations" / f"{image_id}.xml")
            objects = []
            for obj in tree.findall("object"):
                bb: Any = obj.find("bndbox")
                objects.append({
                    "name": cast(str, obj.findtext("name")),
                    "pose": getattr(obj.find("pose"), "text", "Unspecified"),
                    "truncated": int(getattr(obj.find("truncated"), "text", 0) or 0),
                    "difficult": int(getattr(obj.find("difficult"), "text", 0) or 0),
                    "bbox": [int(float(bb.findtext(t))) for t in ("xmin", "ymin", "xmax", "ymax")],
                })
            recs[f"{year}/{image_id}"] = objects
    return recs


def parse_det_lines_plain(folder: str | Path, classes) -> dict:
    """voc_eval.py's reading of ``comp4_det_test_<class>.txt``: class -> list of split lines."""
    out = {}
    for cls in classes:
        path = Path(folder) / f"comp4_det_test_{cls}.txt"
        with open(path) as f:
            out[cls] = [x.strip().split(" ") for x in f.readlines()]
    return out
