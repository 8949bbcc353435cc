"""Handlers behind ``vocbench train|predict|export|profile`` (parsers in :mod:`vocbench.commands.models`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vocbench.commands._common import emit_json, progress_enabled
from vocbench.errors import VocbenchError

__all__ = ["run_train", "run_predict", "run_export", "run_profile"]

_DEFAULTS = {"yolo": {"width": 1.0, "input_size": 416}, "ssd": {"width": 1.0, "input_size": 300}}


def run_train(args: argparse.Namespace) -> int:
    from reference_models.train import TrainConfig, train

    d = _DEFAULTS[args.model]
    cfg = TrainConfig(model=args.model, data=args.data, sets=args.sets or ["2007:trainval"],
                      val_set=None if str(args.val_set).lower() == "none" else args.val_set,
                      out=args.out or f"runs/{args.model}", epochs=args.epochs, batch_size=args.batch_size,
                      lr=args.lr, width=args.width or d["width"], input_size=args.input_size or d["input_size"],
                      num_anchors=args.anchors, loss=args.loss, seed=args.seed, device=args.device, amp=args.amp,
                      workers=args.workers, val_images=args.val_images, val_every=args.val_every,
                      warmup_iters=args.warmup_iters, cache_dir=args.cache_dir)
    if cfg.input_size % 32 and cfg.model == "yolov2_tiny":
        raise VocbenchError(f"--input-size must be a multiple of 32 for yolo, got {cfg.input_size}")
    out = train(cfg, progress=progress_enabled(args), resume=not args.no_resume)
    import os
    if os.environ.get("RANK", "0") != "0":
        return 0
    print(f"trained {cfg.model}: {out / 'model.pt'} (metrics: {out / 'metrics.csv'})")
    print(f"next: vocbench predict {out} --data {cfg.data} --set {cfg.val_set or '2007:test'} --out {out / 'dets'}")
    return 0


def _committed(weights: Path) -> bool:
    """Whether ``weights`` is one of the committed models inside the installed package."""
    from reference_models import WEIGHTS_DIR

    return weights.resolve().is_relative_to(WEIGHTS_DIR.resolve())


def _temp_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="vocbench-onnx-"))


def _runner(model, backend: str, device: str, onnx_path: str | None, run: str):
    from reference_models.predict import TorchRunner

    if backend == "torch":
        return TorchRunner(model, device)
    from reference_models.export import OnnxRunner, export_onnx, onnx_session

    path = Path(onnx_path) if onnx_path else None
    if path is None:  # beside the weights (re-exported when older than them), never into the package
        from reference_models.predict import resolve_weights

        weights = resolve_weights(run)
        path = _temp_dir() / f"{model.name}.onnx" if _committed(weights) else weights.parent / "model.onnx"
        try:
            if not path.exists() or path.stat().st_mtime_ns < weights.stat().st_mtime_ns:
                export_onnx(model, path)
        except OSError:  # read-only run folder: export to a temp folder
            path = _temp_dir() / "model.onnx"
            export_onnx(model, path)
    elif not path.exists():
        raise VocbenchError(f"{path}: no such ONNX file (create it with `vocbench export RUN --onnx {path}`)")
    return OnnxRunner(onnx_session(path, device))


def _cache_images(dataset, size: int, progress: bool):
    """Decoded, resized images for prediction (not cached on disk: one pass)."""
    from reference_models.augment import resize_only
    from reference_models.data import image_path, read_image

    it = range(dataset.num_images)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="predicting", unit="img")
    for i in it:
        yield resize_only(read_image(image_path(dataset, i)), size)


def run_predict(args: argparse.Namespace) -> int:
    from reference_models.predict import PostprocessConfig, load_model, predict_dataset, write_comp4
    from vocbench.io.voc import load_voc

    model = load_model(args.run, "cpu")
    ds = load_voc(args.data, args.sets or ["2007:test"])
    if tuple(ds.classes) != tuple(model.classes):
        raise VocbenchError(f"{args.run}: the model was trained on classes {list(model.classes)}, the dataset has "
                            f"{list(ds.classes)}")
    runner = _runner(model, args.backend, args.device, args.onnx, args.run)
    cfg = PostprocessConfig(score_threshold=args.score_threshold, iou_threshold=args.iou, top_k=args.top_k)
    t0 = time.perf_counter()
    dets = predict_dataset(runner, ds, _cache_images(ds, model.input_size, progress_enabled(args)),
                           model.input_size, cfg, batch_size=args.batch_size, source=f"{args.run} ({args.backend})")
    seconds = time.perf_counter() - t0
    paths = write_comp4(dets, ds, args.out)
    summary = {"run": str(args.run), "backend": args.backend, "images": ds.num_images, "detections": len(dets),
               "seconds": round(seconds, 2), "out": str(args.out), "files": len(paths)}
    if args.json:
        emit_json(summary, args.json)
    if args.json != "-":
        print(f"wrote {len(dets)} detections on {ds.num_images} images to {args.out} ({len(paths)} files, "
              f"{seconds:.1f} s)")
        print(f"next: vocbench eval --gt {args.data} --set {(args.sets or ['2007:test'])[0]} --dets {args.out}")
    return 0


def _parity_images(args, size: int) -> np.ndarray:
    if args.data:
        from vocbench.io.voc import load_voc
        ds = load_voc(args.data, args.sets or ["2007:test"])
        n = ds.num_images if args.parity_images <= 0 else min(args.parity_images, ds.num_images)
        sub = ds.subset_images(np.arange(ds.num_images) < n)
        return np.stack(list(_cache_images(sub, size, False))).transpose(0, 3, 1, 2)
    rng = np.random.default_rng(0)
    n = 8 if args.parity_images <= 0 else min(args.parity_images, 8)
    return rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)


def run_export(args: argparse.Namespace) -> int:
    from reference_models.export import export_onnx, onnx_session, parity_check
    from reference_models.predict import load_model

    model = load_model(args.run, "cpu")
    path = export_onnx(model, args.onnx)
    images = _parity_images(args, model.input_size)
    parity = parity_check(model, onnx_session(path), images)
    summary = {"onnx": str(path), "opset": 17, "bytes": path.stat().st_size, "parity": parity.to_dict()}
    if args.json:
        emit_json(summary, args.json)
    if args.json != "-":
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, opset 17)")
        print(parity)
    return 0 if parity.identical else 1


def run_profile(args: argparse.Namespace) -> int:
    from reference_models.predict import load_model, resolve_weights
    from reference_models.profile import profile_model
    from reference_models.report import write_profile_report

    model = load_model(args.run, "cpu")
    if args.data:
        from reference_models.data import image_path
        from vocbench.io.voc import load_voc
        ds = load_voc(args.data, args.sets or ["2007:test"])
        paths = [image_path(ds, i) for i in range(min(ds.num_images, 64))]
    else:
        import tempfile

        import cv2
        tmp = Path(tempfile.mkdtemp(prefix="vocbench-profile-"))
        rng = np.random.default_rng(0)
        paths = []
        for i in range(4):
            p = tmp / f"noise{i}.jpg"
            cv2.imwrite(str(p), rng.integers(0, 256, (375, 500, 3), dtype=np.uint8))
            paths.append(p)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    result = profile_model(model, paths, backend=args.backend, device=args.device, batches=args.batch,
                           repeats=args.repeats, warmup=args.warmup, onnx_path=args.onnx, threads=args.threads)
    weights = resolve_weights(args.run)
    # never write into the installed package: profiles of the committed weights go to the working directory
    base, stem = (Path.cwd(), f"profile_{model.name}") if _committed(weights) else (weights.parent, "profile")
    json_path = args.json or str(base / f"{stem}_{args.backend}_{result.device}.json")
    html_path = args.html or str(base / f"{stem}_{args.backend}_{result.device}.html")
    emit_json(result.to_dict(), json_path)
    write_profile_report(result, html_path)
    if json_path != "-":
        print(result)
        print(f"wrote {json_path} and {html_path}")
    return 0
