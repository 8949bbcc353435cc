"""Reference one-stage detectors in PyTorch: a YOLOv2-style (tiny-yolo-voc) and an SSDLite-style model, trained
from scratch on vocbench's synthetic VOC data, scored by vocbench, exported to ONNX and profiled.

This package depends on torch and on vocbench; vocbench never imports it. It plugs into vocbench through two
entry points (see :mod:`vocbench.plugins`): ``vocbench.commands`` → :func:`reference_models.cli.register`
(``train``, ``predict``, ``export``, ``profile``) and ``vocbench.demo`` → :func:`demo_step`. Importing the
package does not import torch; the model classes are loaded on first use.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reference_models.predict import PostprocessConfig, load_model, postprocess
    from reference_models.ssd import SSDLite
    from reference_models.yolo import YoloV2Tiny
    from vocbench.plugins import DemoContribution

__all__ = ["YoloV2Tiny", "SSDLite", "load_model", "postprocess", "PostprocessConfig", "WEIGHTS_DIR",
           "available_weights", "demo_step", "build_report"]

#: Public names that need torch, and the module each comes from (imported on first access).
_LAZY = {"YoloV2Tiny": "reference_models.yolo", "SSDLite": "reference_models.ssd",
         "load_model": "reference_models.predict", "postprocess": "reference_models.predict",
         "PostprocessConfig": "reference_models.predict"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'reference_models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


#: Committed weights: ``weights/<model>/model.pt`` + ``MODEL_CARD.md``.
WEIGHTS_DIR = Path(__file__).with_name("weights")


def available_weights() -> dict[str, Path]:
    """Model name → folder of the committed weights that exist."""
    if not WEIGHTS_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(WEIGHTS_DIR.iterdir()) if (p / "model.pt").is_file()}


def build_report(runs: dict[str, str | os.PathLike], data_root: str | os.PathLike, out_path: str | os.PathLike,
                 sets: Sequence[str] = ("2007:test",), onnx_dir: str | os.PathLike | None = None,
                 max_images: int | None = None, profile: bool = True, profile_repeats: int = 10,
                 progress: bool = False, data_name: str | None = None) -> tuple[Path, list[dict]]:
    """Predict, score, check ONNX parity and profile every model in ``runs`` (name → run/weights folder) on
    ``sets`` of ``data_root``; write the model report to ``out_path`` (``data_name`` describes the data in place of
    ``data_root``). Returns the path and the evaluations."""
    import numpy as np

    from reference_models.augment import resize_only
    from reference_models.data import image_path, read_image
    from reference_models.export import export_onnx
    from reference_models.predict import load_model
    from reference_models.report import evaluate_model, write_models_report
    from vocbench.io.voc import load_voc

    ds = load_voc(data_root, list(sets))
    if max_images and ds.num_images > max_images:
        ds = ds.subset_images(np.arange(ds.num_images) < max_images)
    originals = None
    evals = []
    onnx_dir = Path(onnx_dir) if onnx_dir else Path(out_path).parent / "onnx"
    for name, run in runs.items():
        model = load_model(run)
        if tuple(model.classes) != tuple(ds.classes):
            continue
        if originals is None:
            originals = [read_image(image_path(ds, i)) for i in range(ds.num_images)]
        images = np.stack([resize_only(im, model.input_size) for im in originals]) if originals else \
            np.zeros((0, model.input_size, model.input_size, 3), np.uint8)
        onnx_path = export_onnx(model, onnx_dir / f"{name}.onnx")
        paths = [image_path(ds, i) for i in range(min(16, ds.num_images))] if profile else []
        evals.append(evaluate_model(model, ds, images, name, onnx_path=onnx_path, profile_paths=paths,
                                    profile_repeats=profile_repeats))
    desc = f"{data_name or data_root} {', '.join(sets)} ({ds.num_images} images, {ds.num_objects} objects)"
    return write_models_report(evals, ds, out_path, desc), evals


def demo_step(out_dir: str | os.PathLike, data_root: str | os.PathLike, sets: Sequence[str] = ("2007:test",),
              progress: bool = False) -> DemoContribution:
    """vocbench's ``vocbench.demo`` entry point: score and profile the committed weights on the demo's synthetic
    test split and write ``OUT/reference_models.html``.

    Returns the report and each model's detections (as the devkit files hold them) for the demo's diagnosis and
    comparison. Raises :class:`vocbench.plugins.PluginUnavailable` when torch/onnxruntime or the committed weights
    are missing.
    """
    from vocbench.plugins import MODELS_MISSING, DemoContribution, PluginUnavailable

    try:
        import onnxruntime  # noqa: F401
        import torch  # noqa: F401
    except ModuleNotFoundError as exc:
        raise PluginUnavailable(f"{MODELS_MISSING} (no module named {exc.name!r})") from None
    weights = available_weights()
    if not weights:
        raise PluginUnavailable(f"no committed reference weights in {WEIGHTS_DIR}")
    out = Path(out_dir) / "reference_models.html"
    path, evals = build_report({name: p for name, p in weights.items()}, data_root, out, sets,
                               onnx_dir=Path(out_dir) / "onnx", max_images=1000, profile_repeats=5,
                               progress=progress)
    if not evals:
        raise PluginUnavailable(f"no committed model matches the classes of {data_root}")
    maps = ", ".join(f"{e['name']} VOC07 mAP {e['result'].mAP.get('voc07', float('nan')):.3f}" for e in evals)
    return DemoContribution(reports=((f"Reference detectors ({maps})", path),),
                            detections={e["name"]: e["detections"] for e in evals}, dataset=evals[0]["dataset"],
                            description="the committed reference weights on the synthetic test split, scored "
                                        "(VOC07/VOC12/COCO), checked against onnxruntime and profiled")
