"""Target encoding and decoding for both detectors, vectorised over a padded batch of ground truth.

Ground truth for a batch is padded: ``boxes: float[N, G, 4]`` as normalised continuous ``(x0, y0, x1, y1)`` in
``[0, 1]`` (fraction of the network input), ``labels: int64[N, G]`` (class index, 0-based, no background) and
``mask: bool[N, G]`` (False for padding). No Python loop runs over boxes, cells or images.

YOLO predictions are flattened to ``D = S·S·B`` detectors per image with index ``(row·S + col)·B + anchor``;
SSD predictions to ``P`` default boxes in the order of :func:`reference_models.ssd.default_boxes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "box_iou", "shape_iou", "cxcywh_to_xyxy", "xyxy_to_cxcywh", "YoloTargets", "yolo_build_targets", "yolo_decode",
    "yolo_flatten", "yolo_head_masks", "ssd_match", "ssd_encode", "ssd_decode", "SSD_VARIANCES", "YOLO_TW_CLAMP",
]

#: SSD offset variances (centre, size), as in the original Caffe implementation.
SSD_VARIANCES: tuple[float, float] = (0.1, 0.2)
#: ``tw, th`` are clamped to this range before ``exp`` (a box at most e^4 ≈ 55 anchors wide).
YOLO_TW_CLAMP: tuple[float, float] = (-8.0, 4.0)


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    """``(cx, cy, w, h)`` → ``(x0, y0, x1, y1)`` on the last axis."""
    cx, cy, w, h = b.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), -1)


def xyxy_to_cxcywh(b: torch.Tensor) -> torch.Tensor:
    """``(x0, y0, x1, y1)`` → ``(cx, cy, w, h)`` on the last axis."""
    x0, y0, x1, y1 = b.unbind(-1)
    return torch.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), -1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Continuous IoU of every box in ``a[..., M, 4]`` with every box in ``b[..., K, 4]`` (xyxy) → ``[..., M, K]``.

    The torch twin (for the loss, on the device, differentiable) of ``vocbench.boxes.box_iou(a, b,
    pixel_convention="continuous")``: the same expression and operand order (``inter / (area_a + area_b - inter)``,
    ``width = x1 - x0``), so it is equal to it in float64 (tested). Leading dimensions broadcast. Empty boxes give
    IoU 0.
    """
    a = a.unsqueeze(-2)
    b = b.unsqueeze(-3)
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    union = area_a + area_b - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def shape_iou(wh: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """IoU of box shapes ``wh[..., 2]`` with anchor shapes ``anchors[B, 2]`` placed at a common corner → ``[..., B]``.

    The torch twin of ``vocbench.boxes.wh_iou`` (same expression, equal in float64; tested), with the union
    clamped away from 0 for zero-size padding boxes.
    """
    aw, ah = anchors[:, 0], anchors[:, 1]
    w, h = wh[..., 0, None], wh[..., 1, None]
    inter = torch.minimum(w, aw) * torch.minimum(h, ah)
    return inter / (w * h + aw * ah - inter).clamp(min=1e-12)


# ----------------------------------------------------------------------------------------------------- YOLO
@dataclass
class YoloTargets:
    """Per-detector training targets, each ``[N, D, ...]`` with ``D = S·S·B``.

    Attributes:
        obj: bool[N, D] — the detector is responsible for an object.
        txy: float[N, D, 2] — centre offset inside the cell, in [0, 1).
        twh: float[N, D, 2] — ``log(truth_wh / anchor_wh)``.
        cls: int64[N, D] — class index (0 where ``obj`` is False).
        box: float[N, D, 4] — the truth box (normalised xyxy) of responsible detectors.
        scale: float[N, D] — ``2 − w·h`` of the truth (normalised), the darknet coordinate weight.
        dropped: int — objects dropped because another object of the same image took their detector.
    """

    obj: torch.Tensor
    txy: torch.Tensor
    twh: torch.Tensor
    cls: torch.Tensor
    box: torch.Tensor
    scale: torch.Tensor
    dropped: int


def yolo_build_targets(boxes: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, anchors: torch.Tensor,
                       grid: int) -> YoloTargets:
    """Assign every object to one detector: the cell holding its centre, the anchor of best shape-only IoU.

    One detector per object: when two objects of an image land on the same (cell, anchor), the one that comes
    first in ``boxes`` keeps it and the later one is dropped (darknet drops after shuffling; the loader shuffles
    object order through augmentation).

    Args:
        boxes: float[N, G, 4] normalised xyxy.
        labels: int64[N, G].
        mask: bool[N, G], False for padding.
        anchors: float[B, 2] anchor (w, h) in grid units.
        grid: S, the grid size.
    """
    n, g = labels.shape
    b = anchors.shape[0]
    d = grid * grid * b
    dev = boxes.device
    boxes = boxes.float()
    cxcywh = xyxy_to_cxcywh(boxes) * grid  # grid units
    cx, cy, w, h = cxcywh.unbind(-1)
    col = cx.floor().clamp(0, grid - 1)
    row = cy.floor().clamp(0, grid - 1)
    aw, ah = anchors[:, 0].to(dev).float(), anchors[:, 1].to(dev).float()
    best = shape_iou(torch.stack((w, h), -1), torch.stack((aw, ah), -1)).argmax(-1)  # [N, G]
    det = (row.long() * grid + col.long()) * b + best
    img = torch.arange(n, device=dev)[:, None].expand(n, g)
    key = torch.where(mask, img * d + det, torch.full_like(det, n * d))  # padding → a dummy slot
    order = torch.arange(g, device=dev)[None, :].expand(n, g)
    owner = torch.full((n * d + 1,), g, dtype=torch.long, device=dev)
    owner.scatter_reduce_(0, key.reshape(-1), order.reshape(-1), reduce="amin", include_self=True)
    keep = mask & (owner[key] == order)
    k = key[keep]

    obj = torch.zeros(n * d, dtype=torch.bool, device=dev)
    obj[k] = True
    txy = torch.zeros(n * d, 2, device=dev)
    txy[k] = torch.stack((cx - col, cy - row), -1)[keep]
    twh = torch.zeros(n * d, 2, device=dev)
    twh[k] = torch.stack((torch.log(w.clamp(min=1e-6) / aw[best]), torch.log(h.clamp(min=1e-6) / ah[best])), -1)[keep]
    cls = torch.zeros(n * d, dtype=torch.long, device=dev)
    cls[k] = labels[keep]
    box = torch.zeros(n * d, 4, device=dev)
    box[k] = boxes[keep]
    scale = torch.zeros(n * d, device=dev)
    scale[k] = (2.0 - (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]))[keep]
    return YoloTargets(obj=obj.view(n, d), txy=txy.view(n, d, 2), twh=twh.view(n, d, 2), cls=cls.view(n, d),
                       box=box.view(n, d, 4), scale=scale.view(n, d),
                       dropped=int(mask.sum().item() - keep.sum().item()))


def yolo_head_masks(boxes: torch.Tensor, mask: torch.Tensor, anchors: torch.Tensor,
                    head_anchors: list[list[int]]) -> list[torch.Tensor]:
    """Multi-scale assignment (YOLOv3): each object goes to the head owning its best anchor by shape-only IoU over
    **all** anchors; returns one ``bool[N, G]`` mask per head (``mask`` restricted to that head's objects).

    Within its head, :func:`yolo_build_targets` then picks the same anchor (the head's grid units only rescale
    boxes and anchors together, which leaves every shape IoU unchanged).

    Args:
        boxes: float[N, G, 4] normalised xyxy; mask: bool[N, G].
        anchors: float[B, 2] anchor (w, h) as fractions of the image (grid units divided by the grid size).
        head_anchors: the anchor indices of each head (they partition ``range(B)``).
    """
    if len(head_anchors) == 1:
        return [mask]
    wh = (boxes[..., 2:] - boxes[..., :2]).float()
    a = anchors.to(boxes.device).float()
    inter = torch.minimum(wh[..., None, 0], a[:, 0]) * torch.minimum(wh[..., None, 1], a[:, 1])  # [N, G, B]
    iou = inter / (wh[..., None, 0] * wh[..., None, 1] + a[:, 0] * a[:, 1] - inter).clamp(min=1e-12)
    best = iou.argmax(-1)  # [N, G]
    owner = torch.empty(a.shape[0], dtype=torch.long, device=boxes.device)
    for h, idx in enumerate(head_anchors):
        owner[idx] = h
    head = owner[best]
    return [mask & (head == h) for h in range(len(head_anchors))]


def yolo_flatten(raw: torch.Tensor, num_anchors: int) -> torch.Tensor:
    """Raw head output ``[N, B·(5+C), S, S]`` → ``[N, S·S·B, 5+C]`` (detector index ``(row·S+col)·B+b``)."""
    n, ch, s, s2 = raw.shape
    return raw.view(n, num_anchors, ch // num_anchors, s, s2).permute(0, 3, 4, 1, 2).reshape(n, s * s2 * num_anchors,
                                                                                              ch // num_anchors)


def yolo_decode(raw: torch.Tensor, anchors: torch.Tensor, stride: float) -> tuple[torch.Tensor, torch.Tensor,
                                                                                   torch.Tensor]:
    """Decode a YOLOv2 head.

    ``x = (col + σ(tx))·stride``, ``y = (row + σ(ty))·stride``, ``w = anchor_w·exp(tw)·stride``,
    ``h = anchor_h·exp(th)·stride`` (``tw, th`` clamped to :data:`YOLO_TW_CLAMP` first), confidence ``σ(to)``,
    class probabilities ``softmax``.

    Args:
        raw: float[N, B·(5+C), S, S] head output.
        anchors: float[B, 2] in grid units.
        stride: input pixels per grid cell (32).

    Returns:
        boxes: float[N, D, 4] xyxy in input pixels; confidence: float[N, D]; class_prob: float[N, D, C].
    """
    b = anchors.shape[0]
    s = raw.shape[-1]
    p = yolo_flatten(raw, b)
    ys, xs = torch.meshgrid(torch.arange(s, device=raw.device, dtype=p.dtype),
                            torch.arange(s, device=raw.device, dtype=p.dtype), indexing="ij")
    grid_xy = torch.stack((xs, ys), -1).reshape(s * s, 1, 2).expand(s * s, b, 2).reshape(1, s * s * b, 2)
    anc = anchors.to(p.dtype).to(raw.device).repeat(s * s, 1).unsqueeze(0)
    xy = (grid_xy + torch.sigmoid(p[..., 0:2])) * stride
    wh = anc * torch.exp(p[..., 2:4].clamp(*YOLO_TW_CLAMP)) * stride
    boxes = torch.cat((xy - wh / 2, xy + wh / 2), -1)
    conf = torch.sigmoid(p[..., 4])
    cls = torch.softmax(p[..., 5:], -1)
    return boxes, conf, cls


# ----------------------------------------------------------------------------------------------------- SSD
def _pad_one(boxes, labels, mask):
    n = labels.shape[0]
    return (boxes.new_zeros(n, 1, 4), labels.new_zeros(n, 1), mask.new_zeros(n, 1))


def ssd_match(boxes: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, priors: torch.Tensor,
              iou_threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """SSD matching: every truth takes its best default box (forced), and every default box with IoU > threshold
    with some truth takes the best such truth.

    Args:
        boxes: float[N, G, 4] normalised xyxy; labels: int64[N, G] (0-based); mask: bool[N, G].
        priors: float[P, 4] default boxes as normalised ``(cx, cy, w, h)``.

    Returns:
        target_labels: int64[N, P] — 0 = background, ``class + 1`` otherwise.
        target_boxes: float[N, P, 4] — matched truth (normalised xyxy), meaningful where the label > 0.
    """
    if labels.shape[1] == 0:  # no truth in the whole batch: one padding column keeps the shapes valid
        boxes, labels, mask = _pad_one(boxes, labels, mask)
    n, g = labels.shape
    p = priors.shape[0]
    dev = boxes.device
    iou = box_iou(boxes.float(), cxcywh_to_xyxy(priors.float().to(dev)))  # [N, G, P]
    iou = torch.where(mask[..., None], iou, torch.full_like(iou, -1.0))
    best_iou, best_gt = iou.max(1)  # per prior: [N, P]
    best_prior = iou.argmax(2)  # per truth: [N, G]
    # force: each real truth's best prior goes to it (padding scatters into a dummy column P)
    idx = torch.where(mask, best_prior, torch.full_like(best_prior, p))
    best_iou = torch.cat((best_iou, best_iou.new_zeros(n, 1)), 1)
    best_gt = torch.cat((best_gt, best_gt.new_zeros(n, 1)), 1)
    best_iou.scatter_(1, idx, 2.0)
    best_gt.scatter_(1, idx, torch.arange(g, device=dev)[None, :].expand(n, g).contiguous())
    best_iou, best_gt = best_iou[:, :p], best_gt[:, :p]
    positive = best_iou > iou_threshold
    target_labels = torch.where(positive, labels.gather(1, best_gt) + 1, torch.zeros_like(best_gt))
    target_boxes = boxes.float().gather(1, best_gt[..., None].expand(n, p, 4))
    return target_labels, target_boxes


def ssd_encode(boxes: torch.Tensor, priors: torch.Tensor, variances: tuple[float, float] = SSD_VARIANCES
               ) -> torch.Tensor:
    """Truth ``[..., P, 4]`` (normalised xyxy) → offsets ``(Δcx/(v0·w), Δcy/(v0·h), log(w/pw)/v1, log(h/ph)/v1)``."""
    t = xyxy_to_cxcywh(boxes)
    pr = priors.to(boxes.device).to(t.dtype)
    v0, v1 = variances
    cxy = (t[..., :2] - pr[:, :2]) / (v0 * pr[:, 2:])
    wh = torch.log(t[..., 2:].clamp(min=1e-6) / pr[:, 2:]) / v1
    return torch.cat((cxy, wh), -1)


def ssd_decode(offsets: torch.Tensor, priors: torch.Tensor, variances: tuple[float, float] = SSD_VARIANCES
               ) -> torch.Tensor:
    """Inverse of :func:`ssd_encode`: offsets ``[..., P, 4]`` → normalised xyxy boxes."""
    pr = priors.to(offsets.device).to(offsets.dtype)
    v0, v1 = variances
    cxy = pr[:, :2] + offsets[..., :2] * v0 * pr[:, 2:]
    wh = pr[:, 2:] * torch.exp((offsets[..., 2:] * v1).clamp(max=8.0))
    return torch.cat((cxy - wh / 2, cxy + wh / 2), -1)
