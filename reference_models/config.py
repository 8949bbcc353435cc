"""The one source of the reference detectors' training defaults: :class:`TrainConfig` (the ``vocbench train``
options read their defaults from it). Standard library only, so the CLI parses without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MODEL_ALIASES", "MODEL_DEFAULTS", "TrainConfig"]

#: CLI names → model names.
MODEL_ALIASES = {"yolo": "yolov2_tiny", "yolov2_tiny": "yolov2_tiny", "ssd": "ssdlite", "ssdlite": "ssdlite"}
#: Per-model defaults of the fields left None: channel multiplier and input side (tiny-yolo-voc 416, SSD300).
MODEL_DEFAULTS = {"yolov2_tiny": {"width": 1.0, "input_size": 416}, "ssdlite": {"width": 1.0, "input_size": 300}}


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``train_config.json``).

    Attributes:
        model: ``yolov2_tiny`` or ``ssdlite`` (``yolo``/``ssd`` accepted).
        data: VOCdevkit root; sets: training set specs; val_set: the model-selection split, held out from the
            training sets (None: no validation; a ``test`` split or one sharing images with ``sets`` is refused).
        out: run folder.
        width: channel multiplier; input_size: square input side (pixels).
        num_anchors: YOLO anchors from IoU k-means on the training boxes.
        loss: YOLO loss preset (``modern`` by default, ``essay``, ``darknet``: see ``vocbench train --help``).
        native_cache: cache training images at native size and crop, then resize (False: the old cache of
            images squash-resized to ``input_size``, which random crops then enlarge — blurrier than test images).
        max_minutes: stop after the first epoch that ends past this wall time (0 = no limit); the run stays
            resumable, and ``model.pt`` is the best epoch so far.
        amp: autocast — bf16 on CUDA (fp16 where bf16 is unsupported) and on CPUs with AMX; ignored elsewhere.
        val_images: validate on the first this-many images of ``val_set`` (0 = all).
        strides: YOLO heads, ``[32]`` (tiny-yolo-voc) or ``[32, 16]`` (adds a stride-16 head).
        extra_stride8: SSD: add the stride-8 map with smaller default boxes.
    """

    model: str = "yolov2_tiny"
    data: str = ""
    sets: list = field(default_factory=lambda: ["2007:train"])
    val_set: str | None = "2007:val"
    out: str = "runs/yolo"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_iters: int = 300
    width: float = None  # type: ignore[assignment]  # None: MODEL_DEFAULTS of the model
    input_size: int = None  # type: ignore[assignment]
    num_anchors: int = 5
    loss: str = "modern"
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    workers: int = 2
    val_images: int = 500
    val_every: int = 1
    ema: bool = True
    cache_dir: str = "runs/cache"
    augment: dict = field(default_factory=dict)
    max_minutes: float = 0.0
    native_cache: bool = True
    strides: list = field(default_factory=lambda: [32])
    extra_stride8: bool = False

    def __post_init__(self) -> None:
        if self.model not in MODEL_ALIASES:
            raise ValueError(f"unknown model {self.model!r}; choose from {sorted(MODEL_ALIASES)}")
        self.model = MODEL_ALIASES[self.model]
        for name, value in MODEL_DEFAULTS[self.model].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
