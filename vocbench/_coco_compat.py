"""The work behind :mod:`vocbench.coco` (pycocotools' surface): annotation dicts → arrays, the one COCO front end
(:func:`vocbench.eval.coco.evaluate_coco_arrays`), pycocotools' ``summarize`` text, and the ``evalImgs`` /
``ious`` that code written for pycocotools may read (built on first read, in pycocotools' order and types).

pycocotools' own rules reproduced here, with where they come from (``cocoeval.py``):

* ``_prepare``: annotations are loaded through ``getAnnIds(imgIds, catIds)`` then ``loadAnns`` (so by id: a
  duplicated id loads its last annotation), grouped by their own ``image_id`` / ``category_id`` in load order;
  ``gt['ignore']`` is overwritten by ``'iscrowd' in gt and gt['iscrowd']``.
* ``useCats=0``: the annotations of an image are concatenated category by category in ``params.catIds`` order.
* ``accumulate(p)``: categories, area ranges and images of ``p`` are looked up by their position in ``p`` among
  the evaluated ones, maxDets by value (pycocotools' ``k_list``/``a_list``/``m_list``/``i_list``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import numpy as np

from vocbench.errors import InputError

__all__ = ["CocoProblem", "gather_problem", "accumulate_problem", "summarize_lines", "eval_imgs", "ious_by_image",
           "accumulate_eval_imgs", "prepare_groups"]


@dataclass(frozen=True, eq=False)
class CocoProblem:
    """Ground truth and results of one ``evaluate()`` as columns (rows in pycocotools' load order).

    Attributes:
        img_ids: the evaluated image ids (``params.imgIds``). cat_ids: the evaluated category ids (``[-1]`` for
            ``useCats=0``).
        gt_image, gt_category: int64[G] positions in ``img_ids`` / ``cat_ids``. gt_xywh: float64[G, 4].
        gt_area: float64[G]. gt_crowd: bool[G] (``int(iscrowd)``). gt_ignore: bool[G] (``bool(iscrowd)``).
        gt_ids: annotation ids. dt_*: the same for the results, with dt_score float64[D] and dt_area float64[D].
    """

    img_ids: list
    cat_ids: list
    gt_image: np.ndarray
    gt_category: np.ndarray
    gt_xywh: np.ndarray
    gt_area: np.ndarray
    gt_crowd: np.ndarray
    gt_ignore: np.ndarray
    gt_ids: list
    dt_image: np.ndarray
    dt_category: np.ndarray
    dt_xywh: np.ndarray
    dt_area: np.ndarray
    dt_score: np.ndarray
    dt_ids: list


# ----------------------------------------------------------------------------------------------- dicts → arrays
def _load(coco, img_ids: list, cat_set) -> list:
    """pycocotools' ``loadAnns(getAnnIds(imgIds=img_ids, catIds=...))`` for non-empty ``img_ids``."""
    index, anns = coco.imgToAnns, coco.anns
    if cat_set is None:
        return [anns[a["id"]] for i in img_ids if i in index for a in index[i]]
    return [anns[a["id"]] for i in img_ids if i in index for a in index[i] if a["category_id"] in cat_set]


def _load_fast(coco, img_ids: list, cat_ids: list):
    """(annotations, image positions, category positions) of the images ``img_ids`` (sorted, unique) and the
    categories ``cat_ids`` (sorted, unique) without a Python loop per annotation, or None where that is not
    exact: duplicated annotation ids (pycocotools then loads the last one twice) or non-integer category ids."""
    index = coco.imgToAnns
    if len(coco.anns) != sum(map(len, index.values())):
        return None
    present = [(n, index[i]) for n, i in enumerate(img_ids) if i in index]
    objs = list(chain.from_iterable(group for _, group in present))
    image = np.repeat(np.asarray([n for n, _ in present], np.int64),
                      np.asarray([len(group) for _, group in present], np.int64))
    try:
        cats_f = np.fromiter(map(itemgetter("category_id"), objs), np.float64, count=len(objs))
        known = np.asarray(cat_ids, np.int64)
    except (TypeError, ValueError, OverflowError):
        return None
    cats = cats_f.astype(np.int64)
    if known.size == 0 or not np.array_equal(known, np.asarray(cat_ids)) or (cats != cats_f).any():
        return None
    cat = np.minimum(np.searchsorted(known, cats), known.size - 1)
    keep = known[cat] == cats
    if not keep.all():
        objs = [objs[k] for k in np.flatnonzero(keep).tolist()]
        image, cat = image[keep], cat[keep]
    return objs, image, cat


def _load_general(coco, img_ids: list, params) -> tuple[list, np.ndarray, np.ndarray]:
    """(annotations, image positions, category positions) in pycocotools' group order, by its rules: loaded by
    id, grouped by their own ``image_id``/``category_id``; for ``useCats=0`` an annotation is repeated for every
    occurrence of its category in ``catIds`` and each image's annotations are ordered by that occurrence (then
    load order), category position 0."""
    img_pos = {i: n for n, i in enumerate(img_ids)}
    if params.useCats:
        cat_pos: dict = {c: n for n, c in enumerate(params.catIds)}
        objs = _load(coco, img_ids, set(cat_pos))
        image = np.asarray([img_pos.get(o["image_id"], -1) for o in objs], np.int64)
        cat = np.asarray([cat_pos.get(o["category_id"], -1) for o in objs], np.int64)
        keep = np.flatnonzero((image >= 0) & (cat >= 0))
        return [objs[k] for k in keep.tolist()], image[keep], cat[keep]
    occurrences: dict = {}
    for n, c in enumerate(params.catIds):
        occurrences.setdefault(c, []).append(n)
    objs = _load(coco, img_ids, None)
    rows: list = []
    occ: list[int] = []
    images: list[int] = []
    for o in objs:
        i = img_pos.get(o["image_id"], -1)
        for n in occurrences.get(o["category_id"], ()) if i >= 0 else ():
            rows.append(o)
            occ.append(n)
            images.append(i)
    order = np.argsort(np.asarray(occ, np.int64), kind="stable").tolist()  # by occurrence, then load order
    return [rows[k] for k in order], np.asarray(images, np.int64)[order], np.zeros(len(order), np.int64)


def _annotations(coco, img_ids: list, params) -> tuple[list, np.ndarray, np.ndarray]:
    loaded = _load_fast(coco, img_ids, list(params.catIds)) if params.useCats else None
    return loaded if loaded is not None else _load_general(coco, img_ids, params)


def _boxes(objs: list, what: str) -> np.ndarray:
    boxes = list(map(itemgetter("bbox"), objs))
    if set(map(len, boxes)) <= {4}:  # (a 3- and a 5-number box would misalign a flat read)
        try:
            return np.fromiter(chain.from_iterable(boxes), np.float64, count=4 * len(boxes)).reshape(-1, 4)
        except (ValueError, TypeError):
            pass
    for o, b in zip(objs, boxes):
        if len(b) != 4:
            raise InputError(f"{what} annotation id {o.get('id')!r}: bbox must be [x, y, w, h], got {b!r}")
        try:
            np.asarray(b, np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{what} annotation id {o.get('id')!r}: bbox must hold numbers, got {b!r}") from None
    return np.array(boxes, np.float64).reshape(-1, 4)


def _column(objs: list, key: str) -> np.ndarray:
    return np.fromiter(map(itemgetter(key), objs), np.float64, count=len(objs))


def _areas(objs: list, xywh: np.ndarray) -> np.ndarray:
    """The ``area`` fields; ``w * h`` where one is missing (pycocotools raises KeyError there)."""
    try:
        return _column(objs, "area")
    except KeyError:
        return np.array([o["area"] if "area" in o else w * h for o, w, h in
                         zip(objs, xywh[:, 2].tolist(), xywh[:, 3].tolist())], np.float64).reshape(-1)


def gather_problem(coco_gt, coco_dt, params) -> CocoProblem:
    """The arrays pycocotools' ``evaluate()`` would work from, for normalised ``params`` (sets ``gt['ignore']``)."""
    img_ids = list(params.imgIds)
    gts, g_img, g_cat = _annotations(coco_gt, img_ids, params)
    dts, d_img, d_cat = _annotations(coco_dt, img_ids, params)
    crowd_field = [o.get("iscrowd", 0) for o in gts]
    for o, c in zip(gts, crowd_field):
        o["ignore"] = "iscrowd" in o and c
    crowd = np.asarray(crowd_field, np.float64).reshape(-1)
    g_xywh, d_xywh = _boxes(gts, "ground truth"), _boxes(dts, "result")
    scores = _column(dts, "score")
    if np.isnan(scores).any():
        bad = int(np.flatnonzero(np.isnan(scores))[0])
        raise InputError(f"result annotation id {dts[bad].get('id')!r}: score is NaN")
    return CocoProblem(
        img_ids=img_ids, cat_ids=list(params.catIds) if params.useCats else [-1], gt_image=g_img, gt_category=g_cat,
        gt_xywh=g_xywh, gt_area=_areas(gts, g_xywh), gt_crowd=np.trunc(crowd) != 0, gt_ignore=crowd != 0,
        gt_ids=list(map(itemgetter("id"), gts)), dt_image=d_img, dt_category=d_cat, dt_xywh=d_xywh,
        dt_area=_areas(dts, d_xywh), dt_score=scores, dt_ids=list(map(itemgetter("id"), dts)))


# ----------------------------------------------------------------------------------------------- accumulate
def _selection(problem: CocoProblem, pe, p) -> tuple[list, list, list, list]:
    """pycocotools' ``k_list``, ``a_list``, ``m_list``, ``i_list`` (positions in ``p``; values for maxDets)."""
    set_k = set(pe.catIds if pe.useCats else [-1])
    set_a = {tuple(a) for a in pe.areaRng}
    set_m = set(pe.maxDets)
    set_i = set(pe.imgIds)
    k_list = [n for n, k in enumerate(p.catIds) if k in set_k]
    m_list = [m for m in p.maxDets if m in set_m]
    a_list = [n for n, a in enumerate(p.areaRng) if tuple(a) in set_a]
    i_list = [n for n, i in enumerate(p.imgIds) if i in set_i]
    for name, sel, count in (("category", k_list, len(problem.cat_ids)), ("area range", a_list, len(pe.areaRng)),
                             ("image", i_list, len(problem.img_ids))):
        if sel and sel[-1] >= count:  # pycocotools reads evalImgs at these positions: past the end there
            raise IndexError(f"accumulate(p): {name} position {sel[-1]} of p is beyond the {count} evaluated")
    return k_list, a_list, m_list, i_list


def _subset(problem: CocoProblem, k_list: list, i_list: list) -> dict:
    """Front-end arguments for the categories ``k_list`` and images ``i_list`` (renumbered in that order)."""
    cat_map = np.full(len(problem.cat_ids), -1, np.int64)
    cat_map[np.asarray(k_list, np.int64)] = np.arange(len(k_list))
    img_map = np.full(len(problem.img_ids), -1, np.int64)
    img_map[np.asarray(i_list, np.int64)] = np.arange(len(i_list))
    g_cat, g_img = cat_map[problem.gt_category], img_map[problem.gt_image]
    d_cat, d_img = cat_map[problem.dt_category], img_map[problem.dt_image]
    g, d = (g_cat >= 0) & (g_img >= 0), (d_cat >= 0) & (d_img >= 0)
    everything = bool(g.all() and d.all())
    pick = (lambda a, m: a) if everything else (lambda a, m: a[m])
    return dict(gt_image=pick(g_img, g), gt_category=pick(g_cat, g), gt_xywh=pick(problem.gt_xywh, g),
                gt_area=pick(problem.gt_area, g), gt_iscrowd=pick(problem.gt_crowd, g),
                gt_ignore=pick(problem.gt_ignore, g), dt_image=pick(d_img, d), dt_category=pick(d_cat, d),
                dt_xywh=pick(problem.dt_xywh, d), dt_score=pick(problem.dt_score, d), dt_area=pick(problem.dt_area, d),
                num_images=len(i_list), num_categories=len(k_list))


def accumulate_problem(problem: CocoProblem, pe, p, with_scores: bool = True):
    """pycocotools' ``accumulate(p)`` after ``evaluate()`` ran with ``pe``: (precision float64[T, R, K, A, M],
    recall float64[T, K, A, M], scores float64[T, R, K, A, M]), -1 where undefined (``scores`` stays -1 when
    ``with_scores`` is False)."""
    from vocbench.eval.coco import evaluate_coco_arrays

    k_list, a_list, m_list, i_list = _selection(problem, pe, p)
    t_eval = len(pe.iouThrs)
    shape = (len(p.iouThrs), len(p.recThrs), len(p.catIds) if p.useCats else 1, len(p.areaRng), len(p.maxDets))
    if shape[0] < t_eval:
        raise IndexError(f"accumulate(p): p has {shape[0]} IoU thresholds, evaluate() matched {t_eval}")
    precision, scores = -np.ones(shape), -np.ones(shape)
    recall = -np.ones((shape[0], shape[2], shape[3], shape[4]))
    if not (k_list and a_list and m_list and i_list):  # pycocotools: no evalImgs to read, all -1
        return precision, recall, scores
    args = _subset(problem, k_list, i_list)
    areas = np.asarray([pe.areaRng[a] for a in a_list], np.float64).reshape(-1, 2)
    max_dets = np.asarray([*m_list, pe.maxDets[-1]], np.int64)  # + the matcher's cap (the largest evaluated)
    thresholds = np.asarray(pe.iouThrs, np.float64).reshape(-1)
    rec = np.asarray(p.recThrs, np.float64).reshape(-1)
    nk, na = len(k_list), len(a_list)
    for t0 in range(0, t_eval, 63):  # the front end takes at most 63 thresholds at a time
        t1 = min(t0 + 63, t_eval)
        out = evaluate_coco_arrays(**args, iou_thresholds=thresholds[t0:t1], rec_thresholds=rec,
                                   area_ranges=areas, max_dets=max_dets, with_scores=with_scores)
        m_pos = np.searchsorted(out.max_dets, m_list)  # its maxDets axis is sorted; p's order is m_list's
        for m, col in enumerate(m_pos.tolist()):
            precision[t0:t1, :, :nk, :na, m] = out.precision[..., col]
            recall[t0:t1, :nk, :na, m] = out.recall[..., col]
            if with_scores:
                scores[t0:t1, :, :nk, :na, m] = out.scores[..., col]
    return precision, recall, scores


# ----------------------------------------------------------------------------------------------- summarize
_LINE = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"  # pycocotools' iStr


def _summary_value(precision, recall, p, ap: int, iou_thr, area: str, max_dets: int) -> tuple[float, str]:
    """One of pycocotools' ``_summarize`` lines: the mean over the entries > -1 (-1 when none), and its text."""
    title = "Average Precision" if ap == 1 else "Average Recall"
    kind = "(AP)" if ap == 1 else "(AR)"
    iou = f"{p.iouThrs[0]:0.2f}:{p.iouThrs[-1]:0.2f}" if iou_thr is None else f"{iou_thr:0.2f}"
    aind = [i for i, lbl in enumerate(p.areaRngLbl) if lbl == area]
    mind = [i for i, m in enumerate(p.maxDets) if m == max_dets]
    s = precision if ap == 1 else recall
    if iou_thr is not None:
        s = s[np.where(iou_thr == p.iouThrs)[0]]
    s = s[:, :, :, aind, mind] if ap == 1 else s[:, :, aind, mind]
    mean = -1 if len(s[s > -1]) == 0 else np.mean(s[s > -1])
    return mean, _LINE.format(title, kind, iou, area, max_dets, mean)


def summarize_lines(precision, recall, p) -> tuple[np.ndarray, list[str]]:
    """pycocotools' ``summarize()`` for detections: (stats float64[12], the twelve printed lines)."""
    md = p.maxDets
    spec = ((1, None, "all", 100), (1, .5, "all", md[2]), (1, .75, "all", md[2]), (1, None, "small", md[2]),
            (1, None, "medium", md[2]), (1, None, "large", md[2]), (0, None, "all", md[0]), (0, None, "all", md[1]),
            (0, None, "all", md[2]), (0, None, "small", md[2]), (0, None, "medium", md[2]),
            (0, None, "large", md[2]))
    stats = np.zeros((12,))
    lines = []
    for n, (ap, thr, area, m) in enumerate(spec):
        stats[n], line = _summary_value(precision, recall, p, ap, thr, area, m)
        lines.append(line)
    return stats, lines


# ----------------------------------------------------------------------------------------------- evalImgs, ious
def _groups(problem: CocoProblem) -> tuple[dict, dict]:
    """{(image position, category position): row indices in load order} for the ground truth and the results."""
    out = []
    for img, cat in ((problem.gt_image, problem.gt_category), (problem.dt_image, problem.dt_category)):
        key = cat * max(len(problem.img_ids), 1) + img
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        groups = {}
        for rows in np.split(order, bounds) if order.size else ():
            groups[(int(img[rows[0]]), int(cat[rows[0]]))] = rows
        out.append(groups)
    return out[0], out[1]


def _sorted_dt(problem: CocoProblem, rows: np.ndarray, max_det: int) -> np.ndarray:
    return rows[np.argsort(-problem.dt_score[rows], kind="mergesort")[:max_det]]


def ious_by_image(problem: CocoProblem, pe) -> dict:
    """pycocotools' ``COCOeval.ious``: ``{(imgId, catId): float64[D, G]}``, ``[]`` where either side is empty."""
    from vocbench.boxes.iou import coco_box_iou

    gt_groups, dt_groups = _groups(problem)
    empty = np.zeros(0, np.int64)
    out: dict = {}
    for k, cat_id in enumerate(problem.cat_ids):
        for i, img_id in enumerate(problem.img_ids):
            g, d = gt_groups.get((i, k), empty), dt_groups.get((i, k), empty)
            d = _sorted_dt(problem, d, pe.maxDets[-1])
            out[img_id, cat_id] = ([] if g.size == 0 or d.size == 0 else
                                   coco_box_iou(problem.dt_xywh[d], problem.gt_xywh[g], problem.gt_crowd[g]))
    return out


def _match(ious: np.ndarray, thresholds, gt_ig: np.ndarray, crowd: np.ndarray, gt_ids: list, dt_ids: list):
    """pycocotools' ``evaluateImg`` matching loop: (dtMatches, gtMatches, dtIgnore from matches) float64[T, *].
    Same loop and comparisons, on Python lists (numpy scalar indexing costs several times more)."""
    t_count, d_count, g_count = len(thresholds), ious.shape[0], ious.shape[1]
    rows, ig, is_crowd = ious.tolist(), gt_ig.tolist(), crowd.tolist()
    gtm = [[0] * g_count for _ in range(t_count)]
    dtm = [[0] * d_count for _ in range(t_count)]
    dt_ig = [[0] * d_count for _ in range(t_count)]
    for tind, t in enumerate(thresholds):
        gtm_t, start = gtm[tind], min([t, 1 - 1e-10])
        for dind in range(d_count):
            iou, m, row = start, -1, rows[dind]
            for gind in range(g_count):
                if gtm_t[gind] and not is_crowd[gind]:  # matched ids are never 0 (pycocotools: > 0)
                    continue
                if m > -1 and ig[m] == 0 and ig[gind] == 1:
                    break
                if row[gind] < iou:
                    continue
                iou, m = row[gind], gind
            if m == -1:
                continue
            dt_ig[tind][dind] = ig[m]
            dtm[tind][dind] = gt_ids[m]
            gtm_t[m] = dt_ids[dind]
    return tuple(np.array(x, np.float64).reshape(t_count, n) for x, n in ((dtm, d_count), (gtm, g_count),
                                                                          (dt_ig, d_count)))


def _group(problem: CocoProblem, g: np.ndarray, d: np.ndarray, max_det: int) -> tuple:
    """What pycocotools' ``computeIoU`` prepares once per (image, category) for every area range: the results by
    score (at most ``max_det``) and their IoU with the ground truth in file order."""
    from vocbench.boxes.iou import coco_box_iou

    d = _sorted_dt(problem, d, max_det)
    ious = (coco_box_iou(problem.dt_xywh[d], problem.gt_xywh[g], problem.gt_crowd[g]) if g.size and d.size
            else np.zeros((d.size, g.size)))
    return (g, d, ious, [problem.gt_ids[j] for j in g.tolist()], [problem.dt_ids[j] for j in d.tolist()],
            problem.dt_score[d].tolist(), problem.dt_area[d])


def _eval_img(problem: CocoProblem, pe, group: tuple, img_id, cat_id, a_rng, max_det):
    """pycocotools' ``evaluateImg`` for one image, category and area range."""
    g, d, ious, gt_ids, dt_ids, dt_scores, d_area = group
    area = problem.gt_area[g]
    ignore = (problem.gt_ignore[g] | (area < a_rng[0]) | (area > a_rng[1])).astype(np.int64)
    gtind = np.argsort(ignore, kind="mergesort")
    gt_ig, gt_ids = ignore[gtind], [gt_ids[j] for j in gtind.tolist()]
    t_count = len(pe.iouThrs)
    if g.size and d.size:
        dtm, gtm, dt_ig = _match(ious[:, gtind], pe.iouThrs, gt_ig, problem.gt_crowd[g][gtind], gt_ids, dt_ids)
    else:
        dtm, gtm, dt_ig = np.zeros((t_count, d.size)), np.zeros((t_count, g.size)), np.zeros((t_count, d.size))
    outside = ((d_area < a_rng[0]) | (d_area > a_rng[1])).reshape(1, -1)
    dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(outside, t_count, 0)))
    return {"image_id": img_id, "category_id": cat_id, "aRng": a_rng, "maxDet": max_det, "dtIds": dt_ids,
            "gtIds": gt_ids, "dtMatches": dtm, "gtMatches": gtm, "dtScores": list(dt_scores),
            "gtIgnore": gt_ig, "dtIgnore": dt_ig}


def eval_imgs(problem: CocoProblem, pe) -> list:
    """pycocotools' ``evalImgs``: one entry per (category, area range, image), in that nesting order (None where
    the image has neither ground truth nor results of the category)."""
    gt_groups, dt_groups = _groups(problem)
    empty = np.zeros(0, np.int64)
    max_det = pe.maxDets[-1]
    out: list = []
    for k, cat_id in enumerate(problem.cat_ids):
        present = [i for i in range(len(problem.img_ids)) if (i, k) in gt_groups or (i, k) in dt_groups]
        groups = {i: _group(problem, gt_groups.get((i, k), empty), dt_groups.get((i, k), empty), max_det)
                  for i in present}
        for a_rng in pe.areaRng:
            entries: list = [None] * len(problem.img_ids)
            for i in present:
                entries[i] = _eval_img(problem, pe, groups[i], problem.img_ids[i], cat_id, a_rng, max_det)
            out.extend(entries)
    return out


# ----------------------------------------------------------------------------------------------- accumulate(evalImgs)
def _pr_at_thresholds(tp_sum: np.ndarray, fp_sum: np.ndarray, npig: int, scores_sorted: np.ndarray,
                      rec_thrs) -> tuple[list, list, list]:
    """pycocotools' per-threshold precision envelope sampled at ``rec_thrs``: (final recalls, q rows, score rows)."""
    recalls, qs, ss = [], [], []
    for tp, fp in zip(tp_sum, fp_sum):
        nd = len(tp)
        rc = tp / npig
        pr = np.maximum.accumulate((tp / (fp + tp + np.spacing(1)))[::-1])[::-1]  # its right-to-left max loop
        inds = np.searchsorted(rc, rec_thrs, side="left")
        stop = int(np.argmax(inds >= nd)) if (inds >= nd).any() else len(inds)  # its try/except stops there
        q, s = np.zeros((len(inds),)), np.zeros((len(inds),))
        q[:stop], s[:stop] = pr[inds[:stop]], scores_sorted[inds[:stop]]
        recalls.append(rc[-1] if nd else 0)
        qs.append(q)
        ss.append(s)
    return recalls, qs, ss


def accumulate_eval_imgs(eval_imgs: list, pe, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pycocotools' ``accumulate(p)`` from an ``evalImgs`` list (what code that merges ``evalImgs`` across
    processes, as torchvision's detection references do, hands it): (precision, recall, scores)."""
    shape = (len(p.iouThrs), len(p.recThrs), len(p.catIds) if p.useCats else 1, len(p.areaRng), len(p.maxDets))
    precision, scores = -np.ones(shape), -np.ones(shape)
    recall = -np.ones((shape[0], shape[2], shape[3], shape[4]))
    set_k, set_a = set(pe.catIds if pe.useCats else [-1]), {tuple(a) for a in pe.areaRng}
    set_m, set_i = set(pe.maxDets), set(pe.imgIds)
    k_list = [n for n, k in enumerate(p.catIds) if k in set_k]
    m_list = [m for m in p.maxDets if m in set_m]
    a_list = [n for n, a in enumerate(p.areaRng) if tuple(a) in set_a]
    i_list = [n for n, i in enumerate(p.imgIds) if i in set_i]
    i0, a0_count = len(pe.imgIds), len(pe.areaRng)
    for k, k0 in enumerate(k_list):
        for a, a0 in enumerate(a_list):
            for m, max_det in enumerate(m_list):
                e_list = [e for e in (eval_imgs[k0 * a0_count * i0 + a0 * i0 + i] for i in i_list) if e is not None]
                if not e_list:
                    continue
                dt_scores = np.concatenate([e["dtScores"][0:max_det] for e in e_list])
                inds = np.argsort(-dt_scores, kind="mergesort")
                dtm = np.concatenate([e["dtMatches"][:, 0:max_det] for e in e_list], axis=1)[:, inds]
                dt_ig = np.concatenate([e["dtIgnore"][:, 0:max_det] for e in e_list], axis=1)[:, inds]
                npig = int(np.count_nonzero(np.concatenate([e["gtIgnore"] for e in e_list]) == 0))
                if npig == 0:
                    continue
                tp_sum = np.cumsum(np.logical_and(dtm, np.logical_not(dt_ig)), axis=1).astype(dtype=float)
                fp_sum = np.cumsum(np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig)), axis=1).astype(float)
                rows = _pr_at_thresholds(tp_sum, fp_sum, npig, dt_scores[inds], p.recThrs)
                for t, (rc, q, s) in enumerate(zip(*rows)):
                    recall[t, k, a, m] = rc
                    precision[t, :, k, a, m] = q
                    scores[t, :, k, a, m] = s
    return precision, recall, scores


def prepare_groups(coco_gt, coco_dt, params) -> tuple[defaultdict, defaultdict]:
    """pycocotools' ``_prepare``: ``(_gts, _dts)``, annotation dicts by ``(image_id, category_id)`` (sets
    ``gt['ignore']``); for code that subclasses COCOeval and reads them (detectron2's ``COCOeval_opt``)."""
    if params.useCats:
        gts = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=params.imgIds, catIds=params.catIds))
        dts = coco_dt.loadAnns(coco_dt.getAnnIds(imgIds=params.imgIds, catIds=params.catIds))
    else:
        gts = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=params.imgIds))
        dts = coco_dt.loadAnns(coco_dt.getAnnIds(imgIds=params.imgIds))
    groups: tuple[defaultdict, defaultdict] = (defaultdict(list), defaultdict(list))
    for gt in gts:
        gt["ignore"] = "iscrowd" in gt and gt["iscrowd"]
        groups[0][gt["image_id"], gt["category_id"]].append(gt)
    for dt in dts:
        groups[1][dt["image_id"], dt["category_id"]].append(dt)
    return groups
