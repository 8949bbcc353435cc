"""Soft-NMS (Bodla, Singh, Chellappa, Davis: "Soft-NMS — Improving Object Detection With One Line of Code", 2017)."""

from __future__ import annotations

import numpy as np

from vocbench.boxes import DEFAULT_PIXEL_CONVENTION
from vocbench.errors import InputError
from vocbench.nms._kernels import soft_nms_kernel
from vocbench.nms.greedy import _check_boxes, _check_count, _check_offset, _check_scores, _check_threshold

__all__ = ["soft_nms"]


def soft_nms(boxes, scores, iou: float = 0.3, *, method: str = "linear", sigma: float = 0.5,
             score_threshold: float = 0.001, pixel_convention: str = DEFAULT_PIXEL_CONVENTION,
             max_output: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS: decay the scores of overlapping boxes instead of removing them (Algorithm 1 of the paper).

    Repeatedly select the remaining box ``M`` with the highest current score (ties: lower row first), keep it,
    and rescale every remaining box ``b_i``:

    * ``method="linear"``: ``s_i *= 1 - iou(M, b_i)`` when ``iou(M, b_i) >= iou`` (paper eq. 2);
    * ``method="gaussian"``: ``s_i *= exp(-iou(M, b_i)**2 / sigma)`` for every box (paper eq. 3,
      ``iou`` unused).

    Boxes whose score is below ``score_threshold`` (initially or after a decay) are discarded. IoU is computed
    as in :func:`~vocbench.nms.nms`. The work is O(n * kept).

    Args:
        boxes: float[N, 4] (x1, y1, x2, y2).
        scores: float[N].
        iou: the IoU threshold N_t of the linear rule (default 0.3 as in the paper).
        method: ``"linear"`` (default) or ``"gaussian"``.
        sigma: Gaussian width (default 0.5 as in the paper), > 0.
        score_threshold: discard boxes whose score falls below this (default 0.001).
        pixel_convention: ``"voc"`` (default, VOC '+1' pixels) or ``"continuous"`` (see :func:`~vocbench.nms.nms`).
        max_output: stop after this many selections (default None).

    Returns:
        ``(keep, new_scores)``: int64[K] row indices in selection order (non-increasing decayed score) and
        float64[K] the decayed score of each kept box.
    """
    b = _check_boxes(boxes)
    s = _check_scores(scores, b.shape[0])
    thr = _check_threshold(iou, "iou")
    if method not in ("linear", "gaussian"):
        raise InputError(f"method must be 'linear' or 'gaussian', got {method!r}")
    sig = _check_threshold(sigma, "sigma")
    if sig == 0.0:
        raise InputError("sigma must be > 0")
    st = _check_threshold(score_threshold, "score_threshold", low=-np.inf)
    off = _check_offset(pixel_convention)
    cap = _check_count(max_output, "max_output")
    if b.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    keep, kept_scores = soft_nms_kernel(b, s, thr, sig, method == "gaussian", st, off, cap)
    return keep, kept_scores
