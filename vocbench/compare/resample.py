"""The explicit resampled set of a bootstrap replicate (the slow route :func:`vocbench.compare` avoids).

Used by ``vocbench bench compare`` (the naive route: build the set, score it with :func:`vocbench.evaluate`) and
by users who want to look at a replicate. :func:`vocbench.compare` gives, for every replicate, exactly what
``evaluate`` gives on this set.
"""

from __future__ import annotations

import numpy as np

from vocbench.structures import CocoAnnotations, Dataset, Detections

__all__ = ["resample_dataset"]


def _segment_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for every (s, n)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(ends - lengths, lengths)
    return np.repeat(starts, lengths) + (np.arange(total) - offsets)


def _resampled_coco(coco: CocoAnnotations | None, src: np.ndarray, copy_no: np.ndarray, w: np.ndarray,
                    obj: np.ndarray) -> CocoAnnotations | None:
    """The COCO fields of the resampled set: copy ``k`` of the image at place ``p`` of the sorted-id order gets id
    ``p * max(w) + k + 1``, so the copies sit next to each other at the image's place (pycocotools breaks score
    ties across images in sorted-id order); the objects' ``bbox``, ``area``, ``iscrowd``, ``ignore`` are copied."""
    if coco is None:
        return None
    place = np.empty(len(coco.image_ids), np.int64)
    place[np.argsort(coco.image_ids, kind="stable")] = np.arange(len(coco.image_ids))
    ids = place[src] * max(int(w.max()) if len(w) else 1, 1) + copy_no + 1
    return CocoAnnotations(image_ids=ids, category_ids=coco.category_ids, xywh=coco.xywh[obj], area=coco.area[obj],
                           iscrowd=coco.iscrowd[obj], ignore=coco.ignore[obj])


def resample_dataset(dataset: Dataset, detections: Detections, weights) -> tuple[Dataset, Detections]:
    """The set in which image ``i`` appears ``weights[i]`` times.

    Copies of an image are next to each other in the image list (images in their original order; copy ``k`` of
    image ``id`` is named ``id#k``) and carry the image's objects; every detection line is repeated once per copy
    of its image, right after itself (input order kept: the devkit breaks score ties by input order). Data read
    from COCO keeps its COCO fields (:class:`~vocbench.structures.CocoAnnotations`; new image ids that keep the
    copies next to each other in sorted-id order) and the detections their ``bbox`` as written, so
    :func:`~vocbench.eval.coco.evaluate_coco` scores the resampled set as pycocotools scores its files.

    Args:
        dataset: the ground truth.
        detections: detections on ``dataset``.
        weights: int[I] non-negative multiplicities (a row of :func:`vocbench.compare.bootstrap_weights`).

    Returns:
        ``(Dataset, Detections)`` of the resampled set.
    """
    w = np.asarray(weights, np.int64).reshape(-1)
    if w.shape[0] != dataset.num_images or (w < 0).any():
        raise ValueError(f"weights must be {dataset.num_images} non-negative counts, got shape {w.shape}")
    ni = dataset.num_images
    src = np.repeat(np.arange(ni), w)
    first = np.concatenate([[0], np.cumsum(w)[:-1]]).astype(np.int64)
    copy_no = np.arange(len(src)) - first[src]
    ids = np.char.add(np.char.add(dataset.image_ids[src].astype(str), "#"), copy_no.astype(str))
    # objects of each new image, in their original order
    obj_order = np.argsort(dataset.image_index, kind="stable")
    counts = np.bincount(dataset.image_index, minlength=ni)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    obj = obj_order[_segment_ranges(starts[src], counts[src])]
    obj_img = np.repeat(np.arange(len(src)), counts[src])
    new_ds = Dataset(
        classes=dataset.classes, sets=dataset.sets, image_ids=ids, image_years=dataset.image_years[src],
        image_sets=dataset.image_sets[src], widths=dataset.widths[src], heights=dataset.heights[src],
        depths=dataset.depths[src], image_index=obj_img, class_index=dataset.class_index[obj],
        boxes=dataset.boxes[obj], difficult=dataset.difficult[obj], truncated=dataset.truncated[obj],
        occluded=dataset.occluded[obj], poses=dataset.poses[obj], root=dataset.root,
        image_files=dataset.image_files[src] if dataset.image_files is not None else None,  # copies: same files
        coco=_resampled_coco(dataset.coco, src, copy_no, w, obj))
    # every detection line once per copy of its image, right after itself
    dw = w[detections.image_index]
    rows = np.repeat(np.arange(len(detections)), dw)
    k = _segment_ranges(np.zeros(len(detections), np.int64), dw)
    new_dets = Detections(image_index=first[detections.image_index[rows]] + k,
                          class_index=detections.class_index[rows], scores=detections.scores[rows],
                          boxes=detections.boxes[rows], source=f"{detections.source or 'detections'} (resampled)",
                          xywh=detections.xywh[rows] if detections.xywh is not None else None)
    return new_ds, new_dets
