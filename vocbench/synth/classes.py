"""The visual identity of the 20 synthetic classes: shape family × texture × colour palette.

Each VOC class name gets a unique ``(shape, texture, palette)`` triple. The triples are chosen so that **no two
classes share two of the three attributes** (for texture ``t`` and shape ``s`` the palette is ``(s + 2t) mod 7``,
and two shapes are left out per texture), so every class has confusers — classes with the same shape, the same
texture or the same palette — yet any two classes differ in at least two ways. Small objects lose their texture
first; they are still told apart by shape and colour.

Within a class, objects vary in scale, aspect, rotation, colour (hue ±10°, saturation, brightness), texture
frequency, orientation and phase, and shape details (corner radius, ring width, arm width, triangle lean).
"""

from __future__ import annotations

from dataclasses import dataclass

from vocbench.structures import VOC_CLASSES
from vocbench.synth.draw import SHAPES, TEXTURES

__all__ = ["Palette", "ClassStyle", "PALETTES", "CLASS_STYLES", "style_table"]


@dataclass(frozen=True)
class Palette:
    """A class colour scheme: a saturated main hue and an accent colour for the texture.

    Attributes:
        name: a readable name.
        hue: main hue in degrees.
        accent_hsv: accent colour as (hue degrees, saturation, value).
    """

    name: str
    hue: float
    accent_hsv: tuple[float, float, float]


#: Seven palettes; main hues at least 25 degrees apart, accents of contrasting brightness.
PALETTES: tuple[Palette, ...] = (
    Palette("red/white", 0.0, (0.0, 0.0, 0.97)),
    Palette("orange/navy", 28.0, (230.0, 0.8, 0.3)),
    Palette("yellow/purple", 55.0, (280.0, 0.75, 0.4)),
    Palette("green/white", 125.0, (0.0, 0.0, 0.95)),
    Palette("cyan/maroon", 185.0, (350.0, 0.85, 0.35)),
    Palette("blue/yellow", 228.0, (55.0, 0.9, 0.95)),
    Palette("magenta/black", 305.0, (0.0, 0.0, 0.08)),
)


@dataclass(frozen=True)
class ClassStyle:
    """How one class looks: indices into :data:`~vocbench.synth.draw.SHAPES`, ``TEXTURES`` and :data:`PALETTES`."""

    name: str
    shape: int
    texture: int
    palette: int

    def describe(self) -> str:
        """``"ellipse, stripes, red/white"``."""
        return f"{SHAPES[self.shape]}, {TEXTURES[self.texture]}, {PALETTES[self.palette].name}"


def _triples() -> list[tuple[int, int, int]]:
    out = []
    for t in range(len(TEXTURES)):
        skip = {(2 * t) % 7, (2 * t + 1) % 7}
        for s in range(len(SHAPES)):
            if s not in skip:
                out.append((s, t, (s + 2 * t) % 7))
    return out


#: The 20 classes in VOC order with their style (built from the rule in the module docstring).
CLASS_STYLES: tuple[ClassStyle, ...] = tuple(
    ClassStyle(name, s, t, p) for name, (s, t, p) in zip(VOC_CLASSES, _triples(), strict=True)
)


def style_table():
    """A pandas table: class, shape, texture, palette (for reports and the README)."""
    import pandas as pd

    return pd.DataFrame({
        "class": [c.name for c in CLASS_STYLES],
        "shape": [SHAPES[c.shape] for c in CLASS_STYLES],
        "texture": [TEXTURES[c.texture] for c in CLASS_STYLES],
        "palette": [PALETTES[c.palette].name for c in CLASS_STYLES],
    })
