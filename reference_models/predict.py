"""Inference: load a trained run, run the network (torch or onnxruntime), decode, per-class NMS with
:func:`vocbench.nms.batched_nms`, and write devkit ``comp4_det_test_<class>.txt`` files.

The post-processing is shared by both backends (numpy, after the network), so torch and onnxruntime
predictions differ only by the network's floating-point output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vocbench.errors import InputError, VocbenchError
from vocbench.io.atomic import atomic_write_text
from vocbench.nms import batched_nms
from vocbench.structures import Dataset, Detections

__all__ = ["PostprocessConfig", "build_model", "load_model", "resolve_weights", "postprocess", "predict_images",
           "predict_dataset", "write_comp4", "TorchRunner"]


@dataclass(frozen=True)
class PostprocessConfig:
    """Detection post-processing (the usual mAP-evaluation settings).

    Attributes:
        score_threshold: keep (box, class) pairs with score > this (0.005: low, as for mAP).
        iou_threshold: per-class NMS threshold (suppress when IoU > this).
        top_k: at most this many detections per image after NMS.
        pre_nms_top_k: at most this many candidates per image enter NMS.
    """

    score_threshold: float = 0.005
    iou_threshold: float = 0.45
    top_k: int = 200
    pre_nms_top_k: int = 2000

    def __post_init__(self) -> None:
        # a NaN threshold keeps nothing (every comparison is False): refuse it rather than write empty files
        s, t = self.score_threshold, self.iou_threshold
        if isinstance(s, bool) or not isinstance(s, (int, float, np.number)) or not np.isfinite(s):
            raise InputError(f"score_threshold must be a finite number, got {s!r}")
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) or not 0.0 < t <= 1.0:
            raise InputError(f"iou_threshold must be in (0, 1], got {t!r}")
        for name in ("top_k", "pre_nms_top_k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")


def build_model(config: dict) -> torch.nn.Module:
    """Rebuild a model from its saved ``config`` (``config["model"]`` is ``yolov2_tiny`` or ``ssdlite``)."""
    name = config.get("model")
    if name == "yolov2_tiny":
        from reference_models.yolo import YoloV2Tiny
        return YoloV2Tiny(config["num_classes"], config["anchors"], width=config["width"],
                          input_size=config["input_size"], classes=config.get("classes"),
                          strides=config.get("strides", (32,)))
    if name == "ssdlite":
        from reference_models.ssd import SSDLite
        return SSDLite(config["num_classes"], width=config["width"], input_size=config["input_size"],
                       classes=config.get("classes"), min_scale=config.get("min_scale", 0.2),
                       max_scale=config.get("max_scale", 0.95), extra_stride8=config.get("extra_stride8", False),
                       stride8_scale=config.get("stride8_scale", 0.06))
    raise InputError(f"unknown model {name!r} in config (expected yolov2_tiny or ssdlite)")


def resolve_weights(run: str | os.PathLike) -> Path:
    """A run folder (``RUN/model.pt``), a weights folder or a ``.pt`` file → the ``model.pt`` path."""
    p = Path(run)
    if p.is_dir():
        p = p / "model.pt"
    if not p.is_file():
        raise VocbenchError(f"{p}: no trained model here (expected a run folder with model.pt, or a .pt file)")
    return p


def load_model(run: str | os.PathLike, device: str = "cpu") -> torch.nn.Module:
    """Load ``model.pt`` (``{"config", "state_dict", "meta"}``) into an eval-mode model on ``device``."""
    path = resolve_weights(run)
    from reference_models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path, "model checkpoint")  # weights only: never runs code from the file
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise InputError(f"{path}: expected a dict with 'config' and 'state_dict'")
    model = model_from_checkpoint(ckpt["config"], ckpt["state_dict"], path)
    model.meta = ckpt.get("meta", {})
    return model.to(device).eval()


def _check_config(config, path) -> None:
    """Bounds on the sizes a checkpoint's config asks for (a crafted one must not allocate without bound)."""
    if not isinstance(config, dict):
        raise InputError(f"{path}: 'config' is not a mapping")
    bounds = {"num_classes": (1, 10_000), "width": (1e-3, 8.0), "input_size": (32, 4096)}
    for key, (lo, hi) in bounds.items():
        v = config.get(key)
        if key in config and (isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi):
            raise InputError(f"{path}: config {key} {v!r} is outside [{lo}, {hi}]")
    if len(config.get("anchors") or ()) > 1000 or len(config.get("classes") or ()) > 10_000:
        raise InputError(f"{path}: config lists too many anchors or classes")


def model_from_checkpoint(config, state_dict, path) -> torch.nn.Module:
    """:func:`build_model` + ``load_state_dict``; a config or state dict that does not describe a reference
    model is one :class:`~vocbench.errors.InputError` naming ``path``, never a torch traceback."""
    _check_config(config, path)
    try:
        model = build_model(config)
        model.load_state_dict(state_dict)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError, OverflowError) as exc:
        if isinstance(exc, InputError):
            raise
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: checkpoint does not fit a reference model ({reason})") from None
    return model


def postprocess(boxes: np.ndarray, scores: np.ndarray, cfg: PostprocessConfig = PostprocessConfig()
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's decoded output → kept detections.

    Args:
        boxes: float[D, 4] xyxy (any pixel unit; IoU is scale-free).
        scores: float[D, C] per-class scores.

    Returns:
        ``boxes float64[K, 4]``, ``scores float64[K]``, ``labels int64[K]`` by descending score.
    """
    boxes = np.asarray(boxes, np.float64)
    # scores rounded to 1e-6 (the precision of the devkit files): float noise between backends (~1e-7) then
    # cannot reorder near-ties at the threshold, in NMS or at the top-k cut, and ties break by detector index
    scores = np.round(np.asarray(scores, np.float64), 6)
    det, cls = np.nonzero(scores > cfg.score_threshold)
    s = scores[det, cls]
    if len(s) > cfg.pre_nms_top_k:
        top = np.sort(np.argsort(-s, kind="stable")[:cfg.pre_nms_top_k])
        det, cls, s = det[top], cls[top], s[top]
    b = boxes[det]
    keep = batched_nms(b, s, cls, cfg.iou_threshold, max_output=cfg.top_k, pixel_convention="continuous")
    return b[keep], s[keep], cls[keep].astype(np.int64)


class TorchRunner:
    """Runs a model in torch: ``uint8[N, 3, S, S]`` → ``(boxes[N, D, 4] input px, scores[N, D, C])`` numpy."""

    def __init__(self, model: torch.nn.Module, device: str = "cpu"):
        self.model = model.to(device).eval()
        self.device = device

    @torch.no_grad()
    def raw(self, images: np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).float().div_(255.0)
        return self.model(x)

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores = self.model.decode(self.raw(images))
        return boxes.float().cpu().numpy(), scores.float().cpu().numpy()


def predict_images(runner: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], images: Iterable[np.ndarray],
                   input_size: int, cfg: PostprocessConfig = PostprocessConfig(), batch_size: int = 16
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Run ``runner`` over ``uint8[S, S, 3]`` images (already squash-resized); per image ``(boxes normalised xyxy,
    scores, labels)``."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        arr = np.stack(batch).transpose(0, 3, 1, 2)
        boxes, scores = runner(arr)
        for b, s in zip(boxes, scores):
            kb, ks, kl = postprocess(b, s, cfg)
            out.append((kb / input_size, ks, kl))
        batch.clear()

    for img in images:
        batch.append(np.asarray(img))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return out


def predict_dataset(runner, dataset: Dataset, images, input_size: int, cfg: PostprocessConfig = PostprocessConfig(),
                    batch_size: int = 16, source: str = "") -> Detections:
    """Detections for every image of ``dataset`` (``images[i]`` is image ``i`` squash-resized, ``uint8[S, S, 3]``),
    in VOC 1-based pixels of the original image size."""
    from reference_models.data import to_voc_pixels

    per_image = predict_images(runner, images, input_size, cfg, batch_size)
    if len(per_image) != dataset.num_images:
        raise ValueError(f"{len(per_image)} predictions for {dataset.num_images} images")
    ii, cc, ss, bb = [], [], [], []
    for i, (b, s, lab) in enumerate(per_image):
        ii.append(np.full(len(s), i, np.int64))
        cc.append(lab)
        ss.append(s)
        bb.append(to_voc_pixels(b.reshape(-1, 4), float(dataset.widths[i]), float(dataset.heights[i])))
    return Detections(image_index=np.concatenate(ii) if ii else np.zeros(0, np.int64),
                      class_index=np.concatenate(cc) if cc else np.zeros(0, np.int64),
                      scores=np.concatenate(ss) if ss else np.zeros(0),
                      boxes=np.concatenate(bb) if bb else np.zeros((0, 4)), source=source)


def write_comp4(dets: Detections, dataset: Dataset, out_dir: str | os.PathLike, prefix: str = "comp4_det_test_"
                ) -> list[Path]:
    """Write one devkit file per class: ``<image_id> <score> <xmin> <ymin> <xmax> <ymax>`` per line
    (every class gets a file, possibly empty). Returns the paths."""
    from vocbench.paths import check_class_names

    check_class_names(dataset)  # class names become file names: never outside out_dir
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = dataset.image_ids
    paths = []
    for c, name in enumerate(dataset.classes):
        sel = np.flatnonzero(dets.class_index == c)
        lines = [f"{ids[dets.image_index[k]]} {dets.scores[k]:.6f} {dets.boxes[k, 0]:.2f} {dets.boxes[k, 1]:.2f} "
                 f"{dets.boxes[k, 2]:.2f} {dets.boxes[k, 3]:.2f}\n" for k in sel]
        p = out / f"{prefix}{name}.txt"
        atomic_write_text(p, "".join(lines), fsync=False)  # never a half-written result file
        paths.append(p)
    return paths
