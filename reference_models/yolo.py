"""YOLOv2-style detector: the darknet ``tiny-yolo-voc`` topology with a width multiplier.

Layout (width 1): conv16 · max2 · conv32 · max2 · conv64 · max2 · conv128 · max2 · conv256 · max2 · conv512 ·
max(2, stride 1) · conv1024 · conv1024 · 1×1 conv to ``B·(5+C)`` channels. Every 3×3 conv is followed by
BatchNorm and LeakyReLU(0.1). Five stride-2 max-pools give stride 32: a 416-pixel input yields a 13×13 grid.

Per anchor the head predicts ``(tx, ty, tw, th, to, class logits…)``; see
:func:`reference_models.box_coder.yolo_decode` for the decoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reference_models.blocks import ConvBNAct, ZeroPadRightBottom, init_weights, scaled_channels, small_init_
from reference_models.box_coder import yolo_decode

__all__ = ["YoloV2Tiny", "OBJECTNESS_BIAS", "TINY_YOLO_CHANNELS"]

#: Initial objectness bias: σ(−4) ≈ 0.018, so every detector starts as "no object".
OBJECTNESS_BIAS = -4.0
#: tiny-yolo-voc channel widths at width multiplier 1.
TINY_YOLO_CHANNELS = (16, 32, 64, 128, 256, 512, 1024, 1024)


class YoloV2Tiny(nn.Module):
    """tiny-YOLOv2 (VOC) with a width multiplier.

    Args:
        num_classes: C.
        anchors: float[B, 2] anchor (w, h) in grid units (from :class:`vocbench.anchors.IoUKMeans`).
        width: channel multiplier (1.0 = darknet's tiny-yolo-voc).
        input_size: square input side in pixels, a multiple of 32.
        classes: class names (stored in the config).
    """

    name = "yolov2_tiny"
    stride = 32

    def __init__(self, num_classes: int, anchors: Sequence[Sequence[float]], width: float = 1.0,
                 input_size: int = 416, classes: Sequence[str] | None = None):
        super().__init__()
        if input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
        anchors_t = torch.as_tensor(anchors, dtype=torch.float32).reshape(-1, 2)
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
        self.head = nn.Conv2d(c[7], self.num_anchors * (5 + self.num_classes), 1, bias=True)
        init_weights(self)
        small_init_(self.head)
        with torch.no_grad():
            bias = self.head.bias.view(self.num_anchors, 5 + self.num_classes)
            bias[:, 4] = OBJECTNESS_BIAS

    @property
    def config(self) -> dict:
        """Everything needed to rebuild the model (saved beside the weights)."""
        return {"model": self.name, "num_classes": self.num_classes, "classes": list(self.classes),
                "anchors": self.anchors.tolist(), "width": self.width, "input_size": self.input_size}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: float[N, 3, H, W]`` normalised RGB → raw head ``float[N, B·(5+C), H/32, W/32]``."""
        return self.head(self.features(x))

    def decode(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw head → ``boxes: float[N, D, 4]`` xyxy input pixels, ``scores: float[N, D, C]`` = confidence × P(class)."""
        boxes, conf, cls = yolo_decode(raw, self.anchors, float(self.stride))
        return boxes, conf.unsqueeze(-1) * cls
