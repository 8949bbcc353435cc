"""Training losses: YOLOv2 (two named presets) and SSD (smooth-L1 + cross-entropy with hard-negative mining).

Both take the padded ground truth of :mod:`reference_models.box_coder` and are fully vectorised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reference_models.box_coder import (
    box_iou,
    ssd_encode,
    ssd_match,
    yolo_build_targets,
    yolo_decode,
    yolo_flatten,
    yolo_head_masks,
)

__all__ = ["YoloLossConfig", "YOLO_LOSS_PRESETS", "YoloLoss", "SSDLoss", "generalized_box_iou"]


@dataclass(frozen=True)
class YoloLossConfig:
    """Weights of the YOLOv2 loss terms.

    Attributes:
        coord_scale: weight of the sum-squared error on ``(σ(tx), σ(ty), tw, th)``.
        object_scale: weight of ``(σ(to) − target)²`` for responsible detectors.
        noobject_scale: weight of ``σ(to)²`` for the other detectors.
        class_scale: weight of the sum-squared error between softmax and one-hot.
        ignore_threshold: no-object loss is forgiven where the best IoU with any truth exceeds this.
        coord_size_weight: multiply the coordinate error by ``2 − w·h`` (w, h normalised), as darknet does.
        rescore: object target = IoU(prediction, truth) (True) or 1 (False).
        class_loss: ``"sse"`` (squared error between softmax and one-hot, as the essay teaches) or ``"ce"``
            (softmax cross-entropy on the class logits).
        object_loss: ``"sse"`` (squared error on ``σ(to)``) or ``"bce"`` (binary cross-entropy on the logit, the
            target being the IoU when ``rescore``).
        box_loss: ``"sse"`` (squared error on ``(σ(tx), σ(ty), tw, th)``) or ``"giou"`` (``1 − GIoU`` of the
            decoded box and its truth, continuous normalised coordinates, see :func:`generalized_box_iou`).
    """

    coord_scale: float = 5.0
    object_scale: float = 1.0
    noobject_scale: float = 0.5
    class_scale: float = 1.0
    ignore_threshold: float = 0.6
    coord_size_weight: bool = False
    rescore: bool = True
    class_loss: str = "sse"
    object_loss: str = "sse"
    box_loss: str = "sse"

    def __post_init__(self) -> None:
        for name, allowed in (("class_loss", ("sse", "ce")), ("object_loss", ("sse", "bce")),
                              ("box_loss", ("sse", "giou"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")


#: ``essay``: the loss as the essay describes it (YOLO-v1 weights, squared errors everywhere); ``darknet``:
#: region_layer.c's defaults in tiny-yolo-voc.cfg; ``modern``: softmax cross-entropy for classes, BCE objectness
#: with the IoU as target and a GIoU box term (measured faster learning at an equal budget, see the model cards).
YOLO_LOSS_PRESETS: dict[str, YoloLossConfig] = {
    "essay": YoloLossConfig(coord_scale=5.0, object_scale=1.0, noobject_scale=0.5, class_scale=1.0,
                            ignore_threshold=0.6, coord_size_weight=False, rescore=True),
    "darknet": YoloLossConfig(coord_scale=1.0, object_scale=5.0, noobject_scale=1.0, class_scale=1.0,
                              ignore_threshold=0.6, coord_size_weight=True, rescore=True),
    "modern": YoloLossConfig(coord_scale=5.0, object_scale=1.0, noobject_scale=1.0, class_scale=1.0,
                             ignore_threshold=0.6, coord_size_weight=True, rescore=True,
                             class_loss="ce", object_loss="bce", box_loss="giou"),
}


def generalized_box_iou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Element-wise IoU and GIoU of boxes ``a``, ``b``: float[..., 4] as (xmin, ymin, xmax, ymax) in the
    **continuous** convention (area = (xmax − xmin)·(ymax − ymin), as ``vocbench.boxes`` with
    ``pixel_convention="continuous"``). Differentiable; degenerate boxes give IoU 0.

    Returns:
        (iou, giou), each float[...].
    """
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    union = area_a + area_b - inter
    iou = inter / union.clamp(min=1e-12)
    hull = (torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])).clamp(min=0).prod(-1)
    giou = iou - (hull - union) / hull.clamp(min=1e-12)
    return iou, giou


class YoloLoss(nn.Module):
    """YOLOv2 region loss, summed over detectors and averaged over images.

    Args:
        anchors: float[B, 2] in grid units (of the stride-32 grid when there are several heads).
        num_classes: C.
        preset: ``"essay"`` or ``"darknet"`` (see :data:`YOLO_LOSS_PRESETS`), or a :class:`YoloLossConfig`.
        head_anchors: the anchor indices of each head (:func:`reference_models.yolo.head_anchor_indices`), first
            head = the coarsest grid; None = one head owning every anchor. With several heads every object is
            assigned to the head of its best anchor over all anchors (YOLOv3, :func:`yolo_head_masks`) and the
            loss is the sum of the per-head losses; the no-object term of each head sees every truth.
    """

    def __init__(self, anchors: torch.Tensor, num_classes: int, preset: str | YoloLossConfig = "essay",
                 head_anchors: list[list[int]] | None = None):
        super().__init__()
        if isinstance(preset, str):
            if preset not in YOLO_LOSS_PRESETS:
                raise ValueError(f"unknown YOLO loss preset {preset!r}; choose from {sorted(YOLO_LOSS_PRESETS)}")
            preset = YOLO_LOSS_PRESETS[preset]
        self.cfg = preset
        self.num_classes = num_classes
        self.register_buffer("anchors", torch.as_tensor(anchors, dtype=torch.float32).reshape(-1, 2))
        b = self.anchors.shape[0]
        self.head_anchors = [list(range(b))] if head_anchors is None else [list(h) for h in head_anchors]
        if sorted(i for h in self.head_anchors for i in h) != list(range(b)):
            raise ValueError(f"head_anchors {self.head_anchors} must partition the {b} anchors")

    def forward(self, raw: torch.Tensor | tuple[torch.Tensor, ...], boxes: torch.Tensor, labels: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of a raw head output ``[N, B·(5+C), S, S]`` (or a tuple of them, one per head, coarsest first)
        against padded truth (normalised xyxy).

        Returns:
            the scalar loss and its parts ``{"coord", "object", "noobject", "class"}`` (detached floats).
        """
        raws = raw if isinstance(raw, tuple) else (raw,)
        if len(raws) != len(self.head_anchors):
            raise ValueError(f"{len(raws)} head outputs for {len(self.head_anchors)} anchor groups")
        n = raws[0].shape[0]
        if len(raws) == 1:
            terms = self._head_terms(raws[0].float(), boxes, labels, mask, mask, self.anchors)
        else:
            s0 = raws[0].shape[-1]
            masks = yolo_head_masks(boxes, mask, self.anchors / s0, self.head_anchors)
            per_head = [self._head_terms(r.float(), boxes, labels, m, mask,
                                         self.anchors[idx] * (r.shape[-1] / s0))
                        for r, m, idx in zip(raws, masks, self.head_anchors)]
            terms = tuple(sum(t[k] for t in per_head) for k in range(4))
        loss_coord, loss_obj, loss_noobj, loss_cls = terms
        total = (loss_coord + loss_obj + loss_noobj + loss_cls) / max(n, 1)
        parts = {"coord": float(loss_coord.detach()) / max(n, 1), "object": float(loss_obj.detach()) / max(n, 1),
                 "noobject": float(loss_noobj.detach()) / max(n, 1), "class": float(loss_cls.detach()) / max(n, 1)}
        return total, parts

    def _head_terms(self, raw: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, target_mask: torch.Tensor,
                    mask: torch.Tensor, anchors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Summed (coord, object, noobject, class) terms of one head; ``target_mask`` marks the objects this head
        is responsible for, ``mask`` every real truth (for the no-object forgiveness)."""
        cfg = self.cfg
        s = raw.shape[-1]
        b = anchors.shape[0]
        t = yolo_build_targets(boxes, labels, target_mask, anchors, s)
        p = yolo_flatten(raw, b)  # [N, D, 5+C]
        pred_boxes, conf, cls_prob = yolo_decode(raw, anchors, 1.0 / s)  # normalised xyxy
        obj = t.obj
        objf = obj.float()
        # no-object: forgiven where a prediction already overlaps some truth well
        with torch.no_grad():
            iou_all = box_iou(pred_boxes, boxes.float())  # [N, D, G]
            iou_all = torch.where(mask[:, None, :], iou_all, torch.zeros_like(iou_all))
            best = iou_all.amax(-1) if iou_all.shape[-1] else torch.zeros_like(conf)
            noobj = (~obj) & (best <= cfg.ignore_threshold)
            if cfg.rescore:
                own = box_iou(pred_boxes.unsqueeze(-2), t.box.unsqueeze(-2)).squeeze(-1).squeeze(-1)
                obj_target = own.clamp(0, 1)
            else:
                obj_target = torch.ones_like(conf)
        logit_obj = p[..., 4]
        if cfg.object_loss == "bce":
            loss_noobj = cfg.noobject_scale * (F.binary_cross_entropy_with_logits(
                logit_obj, torch.zeros_like(conf), reduction="none") * noobj.float()).sum()
            # BCE minus the target's entropy (a constant): zero at a perfect prediction, same gradient
            tgt = obj_target.clamp(1e-7, 1 - 1e-7)
            entropy = -(tgt * tgt.log() + (1 - tgt) * (1 - tgt).log())
            loss_obj = cfg.object_scale * ((F.binary_cross_entropy_with_logits(
                logit_obj, obj_target, reduction="none") - entropy) * objf).sum()
        else:
            loss_noobj = cfg.noobject_scale * (conf.pow(2) * noobj.float()).sum()
            loss_obj = cfg.object_scale * ((conf - obj_target).pow(2) * objf).sum()
        w = t.scale if cfg.coord_size_weight else torch.ones_like(t.scale)
        if cfg.box_loss == "giou":
            _, giou = generalized_box_iou(pred_boxes, t.box)
            coord_err = 1.0 - giou
        else:
            coord_err = (torch.sigmoid(p[..., 0:2]) - t.txy).pow(2).sum(-1) + (p[..., 2:4] - t.twh).pow(2).sum(-1)
        loss_coord = cfg.coord_scale * (coord_err * w * objf).sum()
        if cfg.class_loss == "ce":
            ce = F.cross_entropy(p[..., 5:].reshape(-1, self.num_classes), t.cls.reshape(-1), reduction="none")
            loss_cls = cfg.class_scale * (ce.view_as(objf) * objf).sum()
        else:
            onehot = F.one_hot(t.cls, self.num_classes).float()
            loss_cls = cfg.class_scale * ((cls_prob - onehot).pow(2).sum(-1) * objf).sum()
        return loss_coord, loss_obj, loss_noobj, loss_cls

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.cfg).items())


class SSDLoss(nn.Module):
    """SSD multibox loss: smooth-L1 on encoded offsets of positives + softmax cross-entropy on positives and
    the hardest negatives (``neg_pos_ratio`` : 1 per image), both divided by ``max(1, #positives)``.

    Args:
        priors: float[P, 4] default boxes, normalised ``(cx, cy, w, h)``.
        iou_threshold: a default box with IoU above this with some truth is positive.
        neg_pos_ratio: hard negatives per positive (3).
    """

    def __init__(self, priors: torch.Tensor, iou_threshold: float = 0.5, neg_pos_ratio: int = 3):
        super().__init__()
        self.register_buffer("priors", torch.as_tensor(priors, dtype=torch.float32))
        self.iou_threshold = float(iou_threshold)
        self.neg_pos_ratio = int(neg_pos_ratio)

    def forward(self, raw: tuple[torch.Tensor, torch.Tensor], boxes: torch.Tensor, labels: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loc, logits = raw[0].float(), raw[1].float()
        n, p, k = logits.shape
        tl, tb = ssd_match(boxes, labels, mask, self.priors, self.iou_threshold)
        pos = tl > 0
        num_pos = pos.sum(1)  # [N]
        ce = F.cross_entropy(logits.reshape(-1, k), tl.reshape(-1), reduction="none").view(n, p)
        with torch.no_grad():
            rank_loss = ce.masked_fill(pos, -1.0)
            order = rank_loss.argsort(1, descending=True)
            rank = order.argsort(1)
            num_neg = torch.minimum(self.neg_pos_ratio * num_pos, p - num_pos)
            neg = rank < num_neg[:, None]
        loss_cls = (ce * (pos | neg).float()).sum()
        target_offsets = ssd_encode(tb, self.priors)
        loss_loc = (F.smooth_l1_loss(loc, target_offsets, reduction="none", beta=1.0).sum(-1) * pos.float()).sum()
        denom = max(1.0, float(num_pos.sum()))
        total = (loss_loc + loss_cls) / denom
        return total, {"loc": float(loss_loc.detach()) / denom, "cls": float(loss_cls.detach()) / denom,
                       "positives": float(num_pos.sum()) / max(n, 1)}
