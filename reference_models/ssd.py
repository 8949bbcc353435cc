"""SSDLite-style detector: a MobileNet-v1-like depthwise-separable backbone, SSDLite extra layers and heads.

Every block is BatchNorm + ReLU6. Six feature maps: stride 16 and stride 32 of the backbone, then four extra
stride-2 blocks (at 300 px: 19, 10, 5, 3, 2, 1 → 1917 default boxes; at 320 px: 20, 10, 5, 3, 2, 1 → 2034).
Each map has a separable location head (``A·4``) and class head (``A·(C+1)``, index 0 = background). Offsets are
encoded against default boxes with variances 0.1/0.2 (:func:`reference_models.box_coder.ssd_encode`).

Opt-in stride-8 map (``extra_stride8=True``): the backbone's stride-8 features (the second 256-channel block)
get their own separable heads with 4 smaller default boxes per location — scale ``stride8_scale`` (0.06 of the
input side) at aspect 1, 2 and 1/2, and ``√(stride8_scale · 0.1)`` at aspect 1 (bridging to the 0.1 box of the
stride-16 map), from :func:`vocbench.anchors.ssd_default_boxes`. Its boxes come first (finest map first). The
default is off: the six maps of MobileNet-SSD.
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

__all__ = ["SSDLite", "feature_map_sizes", "default_boxes", "stride8_map_size", "BOXES_PER_LOCATION",
           "STRIDE8_BOXES_PER_LOCATION", "STRIDE8_SCALE"]

#: Default boxes per location on each of the six maps (the TF SSDLite layout: 3 on the first map, 6 after).
BOXES_PER_LOCATION = (3, 6, 6, 6, 6, 6)
#: Default boxes per location on the opt-in stride-8 map, and its scale (fraction of the input side).
STRIDE8_BOXES_PER_LOCATION = 4
STRIDE8_SCALE = 0.06
# index in ``body1`` after which the features have stride 8 (the second 256-channel block)
_STRIDE8_END = 6
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


def stride8_map_size(input_size: int) -> int:
    """Side of the stride-8 feature map (38 at 300 px, 32 at 256 px)."""
    s = input_size
    for _ in range(3):
        s = _down(s)
    return s


def default_boxes(input_size: int, min_scale: float = 0.2, max_scale: float = 0.95,
                  stride8_scale: float | None = None) -> np.ndarray:
    """SSD default boxes for the six maps as normalised ``float64[P, 4]`` ``(cx, cy, w, h)``, from
    :func:`vocbench.anchors.ssd_default_boxes` in MobileNet-SSD's layout: scales ``s_k`` linear from ``min_scale``
    to ``max_scale`` (``s_7 = 1``), aspect ratios {1, 2, 1/2} on the first map (scale 0.1 for the ratio-1 box) and
    {1, 2, 1/2, 3, 1/3} plus ``√(s_k·s_{k+1})`` on the others. Order: map, row, column, box — the order of the
    flattened head outputs. 1917 boxes at 300 px.

    ``stride8_scale`` (None = no stride-8 map) prepends the stride-8 map's boxes: ``ssd_default_boxes`` of that
    single map with ``s_min = stride8_scale``, ``s_2 = 0.1`` and aspect ratio 2 — 4 boxes per location (5776 more
    at 300 px).
    """
    from vocbench.anchors import ssd_default_boxes

    boxes = ssd_default_boxes(feature_map_sizes(input_size), s_min=min_scale, s_max=max_scale, aspect_ratios=(2, 3),
                              s_last=1.0, reduce_first_layer=True)
    if stride8_scale is None:
        return boxes
    fine = ssd_default_boxes([stride8_map_size(input_size)], s_min=float(stride8_scale), s_max=0.1,
                             aspect_ratios=(2,))
    return np.ascontiguousarray(np.concatenate((fine, boxes), 0))


class SSDLite(nn.Module):
    """SSDLite with a MobileNet-v1-like backbone.

    Args:
        num_classes: C (without background).
        width: channel multiplier for backbone, extras and heads.
        input_size: square input side in pixels (300 or 320 in the paper setups).
        classes: class names (stored in the config).
        min_scale, max_scale: the scale range of the six standard maps.
        extra_stride8: add the stride-8 map with smaller default boxes (see the module docstring).
        stride8_scale: the smallest default-box scale of that map (fraction of the input side).
    """

    name = "ssdlite"

    def __init__(self, num_classes: int, width: float = 1.0, input_size: int = 300,
                 classes: Sequence[str] | None = None, min_scale: float = 0.2, max_scale: float = 0.95,
                 extra_stride8: bool = False, stride8_scale: float = STRIDE8_SCALE):
        super().__init__()
        self.extra_stride8 = bool(extra_stride8)
        self.stride8_scale = float(stride8_scale)
        self.num_classes = int(num_classes)
        self.width = float(width)
        self.input_size = int(input_size)
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        self.classes = tuple(classes) if classes is not None else tuple(str(i) for i in range(num_classes))
        self.register_buffer("priors", torch.as_tensor(
            default_boxes(input_size, min_scale, max_scale, self.stride8_scale if self.extra_stride8 else None),
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
        cls_heads, per_location = list(self.cls_heads), list(BOXES_PER_LOCATION)
        loc_heads = list(self.loc_heads)
        if self.extra_stride8:
            c8 = ch(_BODY[_STRIDE8_END - 1][0])
            self.loc_head8 = SeparableHead(c8, STRIDE8_BOXES_PER_LOCATION * 4)
            self.cls_head8 = SeparableHead(c8, STRIDE8_BOXES_PER_LOCATION * (self.num_classes + 1))
            cls_heads.append(self.cls_head8)
            loc_heads.append(self.loc_head8)
            per_location.append(STRIDE8_BOXES_PER_LOCATION)
        init_weights(self)
        bg = background_logit(self.num_classes)
        for head, a in zip(cls_heads, per_location):
            small_init_(head.predictor)
            with torch.no_grad():
                head.predictor.bias.view(a, self.num_classes + 1)[:, 0] = bg
        for head in loc_heads:
            small_init_(head.predictor)

    @property
    def num_priors(self) -> int:
        return int(self.priors.shape[0])

    @property
    def config(self) -> dict:
        cfg = {"model": self.name, "num_classes": self.num_classes, "classes": list(self.classes),
               "width": self.width, "input_size": self.input_size, "min_scale": self.min_scale,
               "max_scale": self.max_scale}
        if self.extra_stride8:  # the default config stays as the committed weights have it
            cfg.update(extra_stride8=True, stride8_scale=self.stride8_scale)
        return cfg

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x: float[N, 3, H, W]`` → ``loc: float[N, P, 4]`` encoded offsets, ``logits: float[N, P, C+1]``."""
        n = x.shape[0]
        locs, logits = [], []
        if self.extra_stride8:  # finest map first, as in default_boxes
            f8 = self.body1[:_STRIDE8_END](x)
            f1 = self.body1[_STRIDE8_END:](f8)
            locs.append(self.loc_head8(f8).permute(0, 2, 3, 1).reshape(n, -1, 4))
            logits.append(self.cls_head8(f8).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes + 1))
        else:
            f1 = self.body1(x)
        f2 = self.body2(f1)
        feats = [f1, f2]
        f = f2
        for extra in self.extras:
            f = extra(f)
            feats.append(f)
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
