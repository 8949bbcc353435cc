"""Reference one-stage detectors in PyTorch: a YOLOv2-style (tiny-yolo-voc) and an SSDLite-style model, trained
from scratch on vocbench's synthetic VOC data, scored by vocbench, exported to ONNX and profiled.

This package depends on torch and on vocbench; vocbench never imports it (the CLI handlers in
``vocbench.commands.models`` import it when they run).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reference_models.predict import PostprocessConfig, load_model, postprocess
from reference_models.ssd import SSDLite
from reference_models.yolo import YoloV2Tiny

__all__ = ["YoloV2Tiny", "SSDLite", "load_model", "postprocess", "PostprocessConfig", "WEIGHTS_DIR",
           "available_weights", "demo_step", "build_report"]

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
              progress: bool = False) -> list[tuple[str, Path]]:
    """The demo's reference-model step: score and profile the committed weights on the demo's synthetic test
    split and write ``OUT/reference_models.html``. Returns ``[(title, path)]`` (empty when no weights exist)."""
    weights = available_weights()
    if not weights:
        return []
    out = Path(out_dir) / "reference_models.html"
    path, evals = build_report({name: p for name, p in weights.items()}, data_root, out, sets,
                               onnx_dir=Path(out_dir) / "onnx", max_images=1000, profile_repeats=5,
                               progress=progress)
    maps = ", ".join(f"{e['name']} VOC07 mAP {e['result'].mAP.get('voc07', float('nan')):.3f}" for e in evals)
    return [(f"Reference detectors ({maps})", path)]
