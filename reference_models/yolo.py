"""YOLOv2-style detector: the darknet ``tiny-yolo-voc`` topology with a width multiplier.

Layout (width 1): conv16 · max2 · conv32 · max2 · conv64 · max2 · conv128 · max2 · conv256 · max2 · conv512 ·
max(2, stride 1) · conv1024 · conv1024 · 1×1 conv to ``B·(5+C)`` channels. Every 3×3 conv is followed by
BatchNorm and LeakyReLU(0.1). Five stride-2 max-pools give stride 32: a 416-pixel input yields a 13×13 grid.

Per anchor the head predicts ``(tx, ty, tw, th, to, class logits…)``; see
:func:`reference_models.box_coder.yolo_decode` for the decoding.

Opt-in second head (``strides=(32, 16)``, YOLOv3-tiny style): the stride-32 features go through a 1×1 conv
(128·width channels), are upsampled ×2 (nearest) and concatenated with the stride-16 map (the conv256 before the
fifth max-pool); a 3×3 conv (256·width) and a 1×1 prediction conv form the stride-16 head. The anchors (sorted by
area) are split between the scales: the smaller ``B // 2`` go to stride 16, the rest to stride 32
(:func:`head_anchor_indices`). The default is the single stride-32 head of tiny-yolo-voc.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reference_models.blocks import ConvBNAct, ZeroPadRightBottom, init_weights, scaled_channels, small_init_
from reference_models.box_coder import yolo_decode

__all__ = ["YoloV2Tiny", "OBJECTNESS_BIAS", "TINY_YOLO_CHANNELS", "YOLO_STRIDES", "head_anchor_indices"]

#: Initial objectness bias: σ(−4) ≈ 0.018, so every detector starts as "no object".
OBJECTNESS_BIAS = -4.0
#: tiny-yolo-voc channel widths at width multiplier 1.
TINY_YOLO_CHANNELS = (16, 32, 64, 128, 256, 512, 1024, 1024)
#: The supported head layouts: tiny-yolo-voc's single stride-32 grid, or YOLOv3-tiny's stride 32 + stride 16.
YOLO_STRIDES = ((32,), (32, 16))
# index in ``features`` of the stride-16 map (the conv256 before the fifth max-pool)
_STRIDE16_INDEX = 8


def head_anchor_indices(num_anchors: int, strides: Sequence[int]) -> list[list[int]]:
    """Which anchors (sorted by area, smallest first) each head owns, heads in ``strides`` order.

    One head owns all anchors; with ``(32, 16)`` the stride-16 head owns the ``num_anchors // 2`` smallest and
    the stride-32 head the rest (6 anchors → 3 + 3, 5 → 3 on stride 32, 2 on stride 16).
    """
    strides = tuple(int(s) for s in strides)
    if strides not in YOLO_STRIDES:
        raise ValueError(f"strides must be one of {YOLO_STRIDES}, got {strides}")
    if len(strides) == 1:
        return [list(range(num_anchors))]
    small = num_anchors // 2
    if small < 1:
        raise ValueError(f"two heads need at least 2 anchors, got {num_anchors}")
    return [list(range(small, num_anchors)), list(range(small))]


class YoloV2Tiny(nn.Module):
    """tiny-YOLOv2 (VOC) with a width multiplier.

    Args:
        num_classes: C.
        anchors: float[B, 2] anchor (w, h) in grid units (from :class:`vocbench.anchors.IoUKMeans`).
        width: channel multiplier (1.0 = darknet's tiny-yolo-voc).
        input_size: square input side in pixels, a multiple of 32.
        classes: class names (stored in the config).
        strides: ``(32,)`` (default, tiny-yolo-voc) or ``(32, 16)`` (adds a YOLOv3-tiny-style stride-16 head;
            the anchors are then sorted by area and split between the heads, see :func:`head_anchor_indices`).

    ``anchors`` are always in units of the stride-32 grid cell; head ``h`` uses them scaled by ``32 / stride``.
    """

    name = "yolov2_tiny"
    stride = 32

    def __init__(self, num_classes: int, anchors: Sequence[Sequence[float]], width: float = 1.0,
                 input_size: int = 416, classes: Sequence[str] | None = None, strides: Sequence[int] = (32,)):
        super().__init__()
        if input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
        anchors_t = torch.as_tensor(anchors, dtype=torch.float32).reshape(-1, 2)
        self.strides = tuple(int(v) for v in strides)
        self.head_anchors = head_anchor_indices(int(anchors_t.shape[0]), self.strides)
        if len(self.strides) > 1:  # the split is by area
            anchors_t = anchors_t[torch.argsort(anchors_t.prod(1), stable=True)]
        self.num_classes = int(num_classes)
        self.num_anchors = int(anchors_t.shape[0])
        self.input_size = int(input_size)
        self.grid = input_size // 32
        self.width = float(width)
        self.classes = tuple(classes) if classes is not None else tuple(str(i) for i in range(num_classes))
        self.register_buffer("anchors", anchors_t)
        c = [scaled_channels(ch, width) for ch in TINY_YOLO_CHANNELS]
        layers: list[nn.Module] = []
        cin = 3
        for i in range(5):
            layers += [ConvBNAct(cin, c[i], 3), nn.MaxPool2d(2, 2)]
            cin = c[i]
        layers += [ConvBNAct(cin, c[5], 3), ZeroPadRightBottom(), nn.MaxPool2d(2, 1),
                   ConvBNAct(c[5], c[6], 3), ConvBNAct(c[6], c[7], 3)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(c[7], len(self.head_anchors[0]) * (5 + self.num_classes), 1, bias=True)
        heads = [self.head]
        if len(self.strides) > 1:
            lat, fine = scaled_channels(128, width), scaled_channels(256, width)
            self.lateral = ConvBNAct(c[7], lat, 1)
            self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
            self.fine = ConvBNAct(lat + c[4], fine, 3)
            self.head16 = nn.Conv2d(fine, len(self.head_anchors[1]) * (5 + self.num_classes), 1, bias=True)
            heads.append(self.head16)
        init_weights(self)
        for head, idx in zip(heads, self.head_anchors):
            small_init_(head)
            with torch.no_grad():
                bias = head.bias.view(len(idx), 5 + self.num_classes)
                bias[:, 4] = OBJECTNESS_BIAS

    @property
    def config(self) -> dict:
        """Everything needed to rebuild the model (saved beside the weights)."""
        cfg = {"model": self.name, "num_classes": self.num_classes, "classes": list(self.classes),
               "anchors": self.anchors.tolist(), "width": self.width, "input_size": self.input_size}
        if self.strides != (32,):  # the single-head config stays as the committed weights have it
            cfg["strides"] = list(self.strides)
        return cfg

    def anchors_for_head(self, head: int) -> torch.Tensor:
        """``float[B_h, 2]`` anchors of head ``head`` in units of that head's grid cell."""
        return self.anchors[self.head_anchors[head]] * (32.0 / self.strides[head])

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``x: float[N, 3, H, W]`` normalised RGB → raw head ``float[N, B·(5+C), H/32, W/32]``; with two heads
        the tuple ``(raw_s32 [N, B32·(5+C), H/32, W/32], raw_s16 [N, B16·(5+C), H/16, W/16])``."""
        if len(self.strides) == 1:
            return self.head(self.features(x))
        f16 = self.features[:_STRIDE16_INDEX + 1](x)
        f32 = self.features[_STRIDE16_INDEX + 1:](f16)
        up = self.upsample(self.lateral(f32))
        return self.head(f32), self.head16(self.fine(torch.cat((up, f16), 1)))

    def decode(self, raw: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw head(s) → ``boxes: float[N, D, 4]`` xyxy input pixels, ``scores: float[N, D, C]`` = confidence ×
        P(class); with two heads the stride-32 detectors come first, then the stride-16 ones."""
        raws = raw if isinstance(raw, tuple) else (raw,)
        boxes, scores = [], []
        for h, r in enumerate(raws):
            b, conf, cls = yolo_decode(r, self.anchors_for_head(h), float(self.strides[h]))
            boxes.append(b)
            scores.append(conf.unsqueeze(-1) * cls)
        if len(raws) == 1:
            return boxes[0], scores[0]
        return torch.cat(boxes, 1), torch.cat(scores, 1)
