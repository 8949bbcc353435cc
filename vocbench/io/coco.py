"""COCO export of VOC data: the ground-truth dict and the results list pycocotools reads.

Convention (also ``vocbench export-coco``): a VOC box ``(xmin, ymin, xmax, ymax)`` in 1-based inclusive pixels
becomes ``bbox = [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]`` (0-based, continuous; the ``+1`` keeps
VOC's pixel areas under pycocotools' continuous IoU); ``area = w * h``; ``iscrowd = difficult`` (so difficult
objects are ignored and may absorb several detections, crowd IoU = intersection / detection area); category ids
1..C in class order; image ids 1..I in split order; annotation and result ids follow the row order.

A dataset read from COCO (:attr:`Dataset.coco`) is written back in its own terms: its image and category ids, the
``file_name`` s, ``bbox``, ``area`` and ``iscrowd`` as read (and detections read from a COCO results file with
their ``bbox`` as written), so that pycocotools scores the export exactly as the original files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from vocbench.boxes import box_convert
from vocbench.structures import Dataset, Detections

__all__ = ["voc_boxes_to_xywh", "xywh_to_voc_boxes", "export_coco", "detections_to_coco", "write_json"]


def voc_boxes_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """float64[N, 4] VOC boxes → float64[N, 4] COCO ``[x, y, w, h]``: ``box_convert(boxes, "xyxy", "xywh")``.

    ``[xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]`` (the export convention; the evaluator uses the same
    float operations through this function).
    """
    return box_convert(np.asarray(boxes, np.float64).reshape(-1, 4), "xyxy", "xywh", pixel_convention="voc")


def xywh_to_voc_boxes(xywh: np.ndarray) -> np.ndarray:
    """Inverse of :func:`voc_boxes_to_xywh`: ``[x, y, w, h]`` → ``(x + 1, y + 1, x + w, y + h)``."""
    return box_convert(np.asarray(xywh, np.float64).reshape(-1, 4), "xywh", "xyxy", pixel_convention="voc")


def export_coco(dataset: Dataset) -> dict:
    """The COCO ground-truth dict (``images``, ``annotations``, ``categories``) of ``dataset``.

    Image ``i`` (0-based row) gets id ``i + 1``, object row ``j`` id ``j + 1``, class ``k`` category id ``k + 1``
    (a dataset read from COCO keeps its ids, boxes, areas and file names; see the module docstring); each
    annotation's ``segmentation`` is its box as a polygon (tidecv and other mask-building loaders need it).
    """
    img_ids, cat_ids = _coco_ids(dataset)
    coco = dataset.coco
    if coco is not None:
        xywh, area, crowd = coco.xywh, coco.area, coco.iscrowd
    else:
        xywh = voc_boxes_to_xywh(dataset.boxes)
        area, crowd = xywh[:, 2] * xywh[:, 3], dataset.difficult
    files = (dataset.image_files.tolist() if dataset.image_files is not None and coco is not None
             else [f"{name}.jpg" for name in dataset.image_ids.tolist()])
    images = [{"id": i, "file_name": f, "width": int(w), "height": int(h)}
              for i, f, w, h in zip(img_ids.tolist(), files, dataset.widths.tolist(), dataset.heights.tolist())]
    # "segmentation": the box as a polygon; bbox evaluation never reads it, but loaders that build masks (tidecv,
    # COCO-format tools) require the key
    anns = [{"id": j + 1, "image_id": im, "category_id": c, "bbox": bb, "area": ar, "iscrowd": int(d),
             "segmentation": [[bb[0], bb[1], bb[0] + bb[2], bb[1], bb[0] + bb[2], bb[1] + bb[3], bb[0], bb[1] + bb[3]]]}
            for j, (im, c, bb, ar, d) in enumerate(zip(img_ids[dataset.image_index].tolist(),
                                                       cat_ids[dataset.class_index].tolist(), xywh.tolist(),
                                                       area.tolist(), crowd.tolist()))]
    cats = [{"id": k, "name": name, "supercategory": "voc"} for k, name in zip(cat_ids.tolist(), dataset.classes)]
    info = {"description": f"vocbench COCO export of {', '.join(dataset.sets)}", "version": "1.0",
            "box_convention": "bbox = [xmin-1, ymin-1, xmax-xmin+1, ymax-ymin+1]; iscrowd = difficult"}
    return {"info": info, "images": images, "annotations": anns, "categories": cats}


def _coco_ids(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(image ids int64[I], category ids int64[K]) of the export: the dataset's own COCO ids, else 1..I / 1..K."""
    if dataset.coco is not None:
        return dataset.coco.image_ids, dataset.coco.category_ids
    return np.arange(1, dataset.num_images + 1, dtype=np.int64), np.arange(1, dataset.num_classes + 1, dtype=np.int64)


def detections_to_coco(dataset: Dataset, detections: Detections) -> list[dict]:
    """COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``) in the detections' row order, with
    the ids of :func:`export_coco` (``bbox`` as read where the detections came from a COCO results file)."""
    img_ids, cat_ids = _coco_ids(dataset)
    xywh = detections.xywh if detections.xywh is not None else voc_boxes_to_xywh(detections.boxes)
    return [{"image_id": im, "category_id": c, "bbox": bb, "score": s}
            for im, c, bb, s in zip(img_ids[detections.image_index].tolist(),
                                    cat_ids[detections.class_index].tolist(), xywh.tolist(),
                                    detections.scores.tolist())]


def write_json(data, path: str | os.PathLike) -> Path:
    """Write ``data`` as compact JSON (floats round-trip exactly), atomically (temp file + rename). Returns the path."""
    from vocbench.io.atomic import atomic_open

    path = Path(path)
    with atomic_open(path, "w") as fh:
        json.dump(data, fh, separators=(",", ":"), allow_nan=False)
    return path
