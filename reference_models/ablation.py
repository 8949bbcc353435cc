"""Loss-preset ablation at an equal budget: the same data, model, seed, schedule and number of iterations for
each YOLO loss preset (``essay`` vs ``modern`` by default), selected on ``2007:val`` and scored once on
``2007:test`` through the same path as ``vocbench predict`` + ``vocbench eval``.

    python -m reference_models.ablation --data OUT/VOCdevkit --out runs/ablation --epochs 10 --width 0.25 \\
        --input-size 192

Writes ``OUT/ablation.json`` (one row per preset: VOC07/VOC12/COCO on the test split, the validation curve,
iterations, wall time) — what the model cards and the reference-model report quote. A short budget measures how
fast each loss learns, not the accuracy either reaches.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

__all__ = ["run_ablation", "main"]


def run_ablation(data: str, out: str | os.PathLike, presets: tuple[str, ...] = ("essay", "modern"),
                 epochs: int = 10, width: float = 0.25, input_size: int = 192, batch_size: int = 16,
                 seed: int = 0, log=print) -> dict:
    """Train one YOLO per loss preset with everything else equal; returns (and writes) the ablation table."""
    from reference_models.predict import PostprocessConfig, TorchRunner, load_model, predict_dataset
    from reference_models.train import TrainConfig, train
    from vocbench import evaluate
    from vocbench.io.voc import load_voc

    out = Path(out)
    rows = []
    test = load_voc(data, ["2007:test"])
    for preset in presets:
        cfg = TrainConfig(model="yolo", data=data, sets=["2007:train"], val_set="2007:val", out=str(out / preset),
                          epochs=epochs, batch_size=batch_size, width=width, input_size=input_size, loss=preset,
                          seed=seed, device="cpu", workers=0, val_images=0, val_every=max(1, epochs // 5),
                          warmup_iters=100, cache_dir=str(out / "cache"))
        t0 = time.perf_counter()
        run = train(cfg, log=log)
        wall = time.perf_counter() - t0
        model = load_model(run)
        from reference_models.data import ImageCache

        images = ImageCache(test, input_size, out / "cache").images
        dets = predict_dataset(TorchRunner(model, "cpu"), test, images, input_size, PostprocessConfig(),
                               batch_size=32, source=str(run))
        result = evaluate(test, dets, metrics=("voc07", "voc12", "coco"))
        history = json.loads(json.dumps(_history(run)))
        rows.append({"preset": preset, "test_voc07": result.mAP["voc07"], "test_voc12": result.mAP["voc12"],
                     "test_coco": result.mAP["coco"], "epochs": len(history),
                     "iterations": len(history) * (_train_images(data) // batch_size),
                     "train_minutes": round(wall / 60, 2), "val_curve": [(r["epoch"], r.get("val_voc07"))
                                                                      for r in history if "val_voc07" in r],
                     "config": asdict(cfg)})
        log(f"{preset}: test VOC07 {result.mAP['voc07']:.4f} after {epochs} epochs ({wall / 60:.1f} min)")
    table = {"data": data, "budget": {"epochs": epochs, "width": width, "input_size": input_size,
                                      "batch_size": batch_size, "seed": seed}, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(table, indent=2) + "\n")
    return table


def _history(run: Path) -> list[dict]:
    from reference_models.checkpoint import load_checkpoint

    state = load_checkpoint(Path(run) / "last.pt", "resume state")
    return state["history"] if isinstance(state, dict) and isinstance(state.get("history"), list) else []


def _train_images(data: str) -> int:
    from vocbench.io.voc import load_voc

    return load_voc(data, ["2007:train"]).num_images


def main(argv: list[str] | None = None) -> int:
    from vocbench.commands._common import float_option, int_option, seed_option

    p = argparse.ArgumentParser(prog="python -m reference_models.ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="VOCdevkit with train/val/test splits (vocbench synth)")
    p.add_argument("--out", required=True)
    p.add_argument("--presets", default="essay,modern")
    p.add_argument("--epochs", type=int_option(1, 100_000), default=10)
    p.add_argument("--width", type=float_option(0.0, 16.0, low_open=True), default=0.25)
    p.add_argument("--input-size", type=int_option(32, 4096), default=192)
    p.add_argument("--batch-size", type=int_option(1, 4096), default=16)
    p.add_argument("--seed", type=seed_option, default=0)
    a = p.parse_args(argv)
    run_ablation(a.data, a.out, tuple(a.presets.split(",")), a.epochs, a.width, a.input_size, a.batch_size, a.seed)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
