"""SSDLite-style detector: a MobileNet-v1-like depthwise-separable backbone, SSDLite extra layers and heads.

Every block is BatchNorm + ReLU6. Six feature maps: stride 16 and stride 32 of the backbone, then four extra
stride-2 blocks (at 300 px: 19, 10, 5, 3, 2, 1 → 1917 default boxes; at 320 px: 20, 10, 5, 3, 2, 1 → 2034).
Each map has a separable location head (``A·4``) and class head (``A·(C+1)``, index 0 = background). Offsets are
encoded against default boxes with variances 0.1/0.2 (:func:`reference_models.box_coder.ssd_encode`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from reference_models.blocks import (
    ConvBNAct,
    DepthwiseSeparable,
    SeparableHead,
    background_logit,
    init_weights,
    scaled_channels,
    small_init_,
)
from reference_models.box_coder import cxcywh_to_xyxy, ssd_decode

__all__ = ["SSDLite", "feature_map_sizes", "default_boxes", "BOXES_PER_LOCATION"]

#: Default boxes per location on each of the six maps (the TF SSDLite layout: 3 on the first map, 6 after).
BOXES_PER_LOCATION = (3, 6, 6, 6, 6, 6)
# MobileNet-v1 body: (out_channels, stride); the first entry is a full 3×3 conv
_BODY = ((32, 2), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
         (512, 1))
_BODY2 = ((1024, 2), (1024, 1))
_EXTRAS = (512, 256, 256, 128)


def _down(size: int) -> int:
    return (size + 2 - 3) // 2 + 1


def feature_map_sizes(input_size: int) -> list[int]:
    """Side of each of the six feature maps for a square input (19, 10, 5, 3, 2, 1 at 300 px)."""
    s = input_size
    for _ in range(4):
        s = _down(s)
    sizes = [s]
    for _ in range(5):
        s = _down(s)
        sizes.append(s)
    return sizes


def default_boxes(input_size: int, min_scale: float = 0.2, max_scale: float = 0.95) -> np.ndarray:
    """SSD default boxes for the six maps as normalised ``float64[P, 4]`` ``(cx, cy, w, h)``, from
    :func:`vocbench.anchors.ssd_default_boxes` in MobileNet-SSD's layout: scales ``s_k`` linear from ``min_scale``
    to ``max_scale`` (``s_7 = 1``), aspect ratios {1, 2, 1/2} on the first map (scale 0.1 for the ratio-1 box) and
    {1, 2, 1/2, 3, 1/3} plus ``√(s_k·s_{k+1})`` on the others. Order: map, row, column, box — the order of the
    flattened head outputs. 1917 boxes at 300 px.
    """
    from vocbench.anchors import ssd_default_boxes

    return ssd_default_boxes(feature_map_sizes(input_size), s_min=min_scale, s_max=max_scale, aspect_ratios=(2, 3),
                             s_last=1.0, reduce_first_layer=True)


class SSDLite(nn.Module):
    """SSDLite with a MobileNet-v1-like backbone.

    Args:
        num_classes: C (without background).
        width: channel multiplier for backbone, extras and heads.
        input_size: square input side in pixels (300 or 320 in the paper setups).
        classes: class names (stored in the config).
    """

    name = "ssdlite"

    def __init__(self, num_classes: int, width: float = 1.0, input_size: int = 300,
                 classes: Sequence[str] | None = None, min_scale: float = 0.2, max_scale: float = 0.95):
        super().__init__()
        self.num_classes = int(num_classes)
        self.width = float(width)
        self.input_size = int(input_size)
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        self.classes = tuple(classes) if classes is not None else tuple(str(i) for i in range(num_classes))
        self.register_buffer("priors", torch.as_tensor(default_boxes(input_size, min_scale, max_scale),
                                                       dtype=torch.float32))
        ch = lambda c: scaled_channels(c, width)  # noqa: E731
        body: list[nn.Module] = [ConvBNAct(3, ch(_BODY[0][0]), 3, 2, act="relu6")]
        cin = ch(_BODY[0][0])
        for c, s in _BODY[1:]:
            body.append(DepthwiseSeparable(cin, ch(c), s))
            cin = ch(c)
        self.body1 = nn.Sequential(*body)
        c1 = cin
        body2: list[nn.Module] = []
        for c, s in _BODY2:
            body2.append(DepthwiseSeparable(cin, ch(c), s))
            cin = ch(c)
        self.body2 = nn.Sequential(*body2)
        feats = [c1, cin]
        extras = []
        for c in _EXTRAS:
            mid = ch(c // 2)
            extras.append(nn.Sequential(ConvBNAct(cin, mid, 1, act="relu6"),
                                        ConvBNAct(mid, mid, 3, 2, groups=mid, act="relu6"),
                                        ConvBNAct(mid, ch(c), 1, act="relu6")))
            cin = ch(c)
            feats.append(cin)
        self.extras = nn.ModuleList(extras)
        self.loc_heads = nn.ModuleList(SeparableHead(f, a * 4) for f, a in zip(feats, BOXES_PER_LOCATION))
        self.cls_heads = nn.ModuleList(SeparableHead(f, a * (self.num_classes + 1))
                                       for f, a in zip(feats, BOXES_PER_LOCATION))
        init_weights(self)
        bg = background_logit(self.num_classes)
        for head, a in zip(self.cls_heads, BOXES_PER_LOCATION):
            small_init_(head.predictor)
            with torch.no_grad():
                head.predictor.bias.view(a, self.num_classes + 1)[:, 0] = bg
        for head in self.loc_heads:
            small_init_(head.predictor)

    @property
    def num_priors(self) -> int:
        return int(self.priors.shape[0])

    @property
    def config(self) -> dict:
        return {"model": self.name, "num_classes": self.num_classes, "classes": list(self.classes),
                "width": self.width, "input_size": self.input_size, "min_scale": self.min_scale,
                "max_scale": self.max_scale}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x: float[N, 3, H, W]`` → ``loc: float[N, P, 4]`` encoded offsets, ``logits: float[N, P, C+1]``."""
        f1 = self.body1(x)
        f2 = self.body2(f1)
        feats = [f1, f2]
        f = f2
        for extra in self.extras:
            f = extra(f)
            feats.append(f)
        n = x.shape[0]
        locs, logits = [], []
        for feat, lh, ch in zip(feats, self.loc_heads, self.cls_heads):
            locs.append(lh(feat).permute(0, 2, 3, 1).reshape(n, -1, 4))
            logits.append(ch(feat).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes + 1))
        return torch.cat(locs, 1), torch.cat(logits, 1)

    def decode(self, raw: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc, logits)`` → ``boxes: float[N, P, 4]`` xyxy input pixels, ``scores: float[N, P, C]`` (softmax,
        background dropped)."""
        loc, logits = raw
        boxes = ssd_decode(loc, self.priors) * self.input_size
        return boxes, torch.softmax(logits, -1)[..., 1:]

    def priors_xyxy(self) -> torch.Tensor:
        return cxcywh_to_xyxy(self.priors)
