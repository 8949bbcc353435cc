"""Building blocks shared by the reference detectors: conv + BatchNorm + activation, depthwise-separable convs.

Every convolution that is followed by a BatchNorm has no bias (the BatchNorm shift plays that role). The last
1×1 prediction convolutions keep a bias, which the models initialise so that every prediction starts as
background (see :func:`init_background_bias`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ConvBNAct", "DepthwiseSeparable", "SeparableHead", "ZeroPadRightBottom", "scaled_channels", "init_weights"]


def scaled_channels(channels: int, width: float, minimum: int = 8, divisor: int = 4) -> int:
    """``channels × width`` rounded to a multiple of ``divisor`` and at least ``minimum`` (MobileNet rule)."""
    c = max(minimum, int(channels * width + divisor / 2) // divisor * divisor)
    return int(c)


class ConvBNAct(nn.Sequential):
    """``Conv2d(k, stride, groups) → BatchNorm2d → activation``.

    Args:
        act: ``"leaky"`` (0.1 slope, darknet), ``"relu6"`` (MobileNet) or ``"none"``.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, act: str = "leaky"):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act == "leaky":
            layers.append(nn.LeakyReLU(0.1, inplace=True))
        elif act == "relu6":
            layers.append(nn.ReLU6(inplace=True))
        elif act != "none":
            raise ValueError(f"unknown activation {act!r}")
        super().__init__(*layers)


class DepthwiseSeparable(nn.Sequential):
    """MobileNet-v1 block: depthwise 3×3 (stride) → BN → ReLU6 → pointwise 1×1 → BN → ReLU6."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__(
            ConvBNAct(cin, cin, 3, stride, groups=cin, act="relu6"),
            ConvBNAct(cin, cout, 1, 1, act="relu6"),
        )


class SeparableHead(nn.Sequential):
    """SSDLite prediction head: depthwise 3×3 → BN → ReLU6 → pointwise 1×1 with bias (the predictions)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(
            ConvBNAct(cin, cin, 3, 1, groups=cin, act="relu6"),
            nn.Conv2d(cin, cout, 1, bias=True),
        )

    @property
    def predictor(self) -> nn.Conv2d:
        return self[-1]


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convolutions (fan-out), BatchNorm γ=1 β=0, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def background_logit(num_classes: int, foreground_prior: float = 0.01) -> float:
    """The background bias that makes ``P(background) = 1 − foreground_prior`` when class logits are 0."""
    return math.log((1.0 - foreground_prior) / foreground_prior * num_classes)


@torch.no_grad()
def small_init_(conv: nn.Conv2d, std: float = 0.01) -> None:
    """Small normal weights for a prediction layer so that its bias decides the initial output."""
    nn.init.normal_(conv.weight, std=std)



class ZeroPadRightBottom(nn.Module):
    """Append one row and one column of zeros (bottom/right) — ``nn.ZeroPad2d((0, 1, 0, 1))`` written as a
    concatenation, so that onnxruntime cannot fuse it into the next MaxPool's padding (which would pad with −∞
    instead of 0 and change outputs wherever the LeakyReLU output is negative)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat((x, torch.zeros_like(x[..., :, :1])), -1)
        return torch.cat((x, torch.zeros_like(x[..., :1, :])), -2)
