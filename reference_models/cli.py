"""``vocbench train|predict|export|profile``: the reference detectors' subcommands, a vocbench plug-in.

:func:`register` is this package's ``vocbench.commands`` entry point (see :mod:`vocbench.plugins`). Parsing needs
only the standard library; the handlers import torch when they run, and say how to install it when it is missing.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from reference_models.config import MODEL_DEFAULTS, TrainConfig
from vocbench.commands._common import HelpFormatter, float_option, int_option, iou_threshold, seed_option
from vocbench.errors import VocbenchError
from vocbench.io.jsonio import emit_json
from vocbench.plugins import MODELS_MISSING, PluginUnavailable

__all__ = ["register", "run_train", "run_predict", "run_export", "run_profile"]

#: Top-level modules the handlers need beyond vocbench's own dependencies.
_MODEL_DEPENDENCIES = ("torch", "torchvision", "onnx", "onnxscript", "onnxruntime", "cv2")


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal, and never with ``--json``."""
    return sys.stderr.isatty() and not getattr(args, "json", None)


def _needs_torch(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a missing model dependency (torch, onnxruntime, ...) into one line naming the install command."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in _MODEL_DEPENDENCIES:
                raise PluginUnavailable(f"{MODELS_MISSING} (no module named {exc.name!r})") from exc
            raise

    return run

#: The training defaults, from their one source (reference_models.config; the parser shows and uses them).
_TRAIN = TrainConfig()


def run_train(args: argparse.Namespace) -> int:
    from reference_models.train import TrainConfig, train

    cfg = TrainConfig(model=args.model, data=args.data, sets=args.sets or list(_TRAIN.sets),
                      val_set=None if str(args.val_set).lower() == "none" else args.val_set,
                      out=args.out or f"runs/{args.model}", epochs=args.epochs, batch_size=args.batch_size,
                      lr=args.lr, width=args.width, input_size=args.input_size,
                      num_anchors=args.anchors, loss=args.loss, seed=args.seed, device=args.device, amp=args.amp,
                      workers=args.workers, val_images=args.val_images, val_every=args.val_every,
                      warmup_iters=args.warmup_iters, cache_dir=args.cache_dir,
                      max_minutes=getattr(args, "max_minutes", 0.0) or 0.0,
                      strides=list(getattr(args, "strides", None) or [32]),
                      extra_stride8=bool(getattr(args, "stride8", False)))
    if cfg.model != "yolov2_tiny" and cfg.strides != [32]:
        raise VocbenchError("--strides is a yolo option (ssd: --stride8)")
    if cfg.model != "ssdlite" and cfg.extra_stride8:
        raise VocbenchError("--stride8 is an ssd option (yolo: --strides 32,16)")
    if len(cfg.strides) > 1 and cfg.num_anchors < 2:
        raise VocbenchError(f"--strides {','.join(map(str, cfg.strides))}: two heads need --anchors 2 or more")
    if cfg.input_size % 32 and cfg.model == "yolov2_tiny":
        raise VocbenchError(f"--input-size must be a multiple of 32 for yolo, got {cfg.input_size}")
    quiet = getattr(args, "json", None) == "-"  # stdout carries the JSON: the training log goes to stderr

    def log(line: str) -> None:
        print(line, file=sys.stderr if quiet else sys.stdout, flush=True)

    out = train(cfg, progress=progress_enabled(args), resume=not args.no_resume, log=log)
    import os
    if os.environ.get("RANK", "0") != "0":
        return 0
    if getattr(args, "json", None):
        emit_json({"model": cfg.model, "out": str(out), "weights": str(out / "model.pt"),
                   "metrics": str(out / "metrics.csv"), "epochs": cfg.epochs, "sets": list(cfg.sets),
                   "loss": cfg.loss, "input_size": cfg.input_size, "seed": cfg.seed}, args.json)
    if not quiet:
        print(f"trained {cfg.model}: {out / 'model.pt'} (metrics: {out / 'metrics.csv'})")
        print(f"next (score the test split once): vocbench predict {out} --data {cfg.data} --set 2007:test "
              f"--out {out / 'dets'}")
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
    # what actually ran: the ONNX provider after any CUDA -> CPU fallback (onnx_session warns), or the torch device
    ran_on = getattr(runner, "provider", None) or str(getattr(runner, "device", args.device))
    summary = {"run": str(args.run), "backend": args.backend, "device": ran_on, "images": ds.num_images,
               "detections": len(dets), "seconds": round(seconds, 2), "out": str(args.out), "files": len(paths)}
    if args.json:
        emit_json(summary, args.json)
    if args.json != "-":
        print(f"wrote {len(dets)} detections on {ds.num_images} images to {args.out} ({len(paths)} files, "
              f"{seconds:.1f} s, {args.backend} on {ran_on})")
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


def _strides(value: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 32 or 32,16, got {value!r}") from None
    if out not in ([32], [32, 16]):
        raise argparse.ArgumentTypeError(f"supported head strides are 32 (one head) and 32,16 (two), got {value!r}")
    return out


def _batches(value: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes like 1,8,32, got {value!r}") from None
    if not out or min(out) < 1 or max(out) > 4096:
        raise argparse.ArgumentTypeError(f"batch sizes must be in 1..4096, got {value!r}")
    return out


def register(sub) -> None:
    """Add ``train``, ``predict``, ``export`` and ``profile`` to vocbench's subparsers (the ``vocbench.commands``
    entry point of this package). Only argument parsing happens here: the handlers import torch when they run."""
    for add in (_add_train, _add_predict, _add_export, _add_profile):
        add(sub, HelpFormatter)


def _add_train(sub, fmt) -> None:
    """The ``train`` subcommand's parser."""
    p = sub.add_parser("train", help="train a reference detector (YOLOv2-style or SSDLite-style) from scratch",
                       description="Train a reference one-stage detector on a VOC-format dataset (the synthetic "
                                   "set from `vocbench synth`, or a real VOCdevkit with JPEGImages). Resumes from "
                                   "OUT/last.pt. Runs under torchrun with DistributedDataParallel.",
                       formatter_class=fmt)
    p.add_argument("model", choices=["yolo", "ssd"], help="yolo = yolov2_tiny, ssd = ssdlite")
    p.add_argument("--data", required=True, metavar="ROOT", help="VOCdevkit folder")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT",
                   help=f"training split(s) (default {','.join(_TRAIN.sets)}); repeat for a union")
    p.add_argument("--val-set", default=_TRAIN.val_set,
                   help="model-selection split, held out from training; a test split or one sharing images "
                        "with --set is refused ('none' to skip)")
    p.add_argument("--val-images", type=int_option(0, 10_000_000), default=_TRAIN.val_images,
                   help="validate on this many images (0 = all)")
    p.add_argument("--val-every", type=int_option(1, 100_000), default=_TRAIN.val_every, metavar="N",
                   help="validate every N epochs (and after the last)")
    p.add_argument("--warmup-iters", type=int_option(0, 10_000_000), default=_TRAIN.warmup_iters,
                   help="linear learning-rate warm-up iterations")
    p.add_argument("--device", default=_TRAIN.device, choices=["auto", "cpu", "cuda"],
                   help="where to train (auto = cuda when available, else cpu)")
    p.add_argument("--epochs", type=int_option(1, 100_000), default=_TRAIN.epochs,
                   help="passes over the training split")
    p.add_argument("--batch-size", type=int_option(1, 4096), default=_TRAIN.batch_size, help="per process")
    p.add_argument("--lr", type=float_option(0.0, 10.0, low_open=True), default=_TRAIN.lr,
                   help="AdamW peak learning rate")
    p.add_argument("--width", type=float_option(0.0, 16.0, low_open=True), default=None,
                   help=f"channel multiplier (default {MODEL_DEFAULTS['yolov2_tiny']['width']:g} yolo, "
                        f"{MODEL_DEFAULTS['ssdlite']['width']:g} ssd)")
    p.add_argument("--input-size", type=int_option(32, 4096), default=None,
                   help=f"input side in pixels (default {MODEL_DEFAULTS['yolov2_tiny']['input_size']} yolo, "
                        f"{MODEL_DEFAULTS['ssdlite']['input_size']} ssd)")
    p.add_argument("--anchors", type=int_option(1, 100), default=_TRAIN.num_anchors,
                   help="YOLO anchors (IoU k-means on the training boxes)")
    p.add_argument("--strides", type=_strides, default=[32], metavar="32|32,16",
                   help="YOLO heads: 32 (tiny-yolo-voc) or 32,16 (adds a YOLOv3-tiny-style stride-16 head; the "
                        "anchors are split by area, the smaller half to stride 16 — use --anchors 6 for 3 + 3)")
    p.add_argument("--stride8", action="store_true",
                   help="SSD: add a stride-8 feature map with smaller default boxes (scale 0.06 of the input)")
    p.add_argument("--loss", default=_TRAIN.loss, choices=["essay", "darknet", "modern"],
                   help="YOLO loss preset: modern (the default: softmax cross-entropy classes, BCE objectness with "
                        "the IoU as target, GIoU boxes; it learns faster at an equal budget: VOC07 mAP 0.318 vs "
                        "0.176 after 744 iterations, reports/ablation_yolo_loss.json), essay (sum-squared errors "
                        "everywhere with YOLOv1's weights, as the YOLO papers describe it; the committed "
                        "yolov2_tiny weights were trained with it), darknet (tiny-yolo-voc.cfg's region-layer "
                        "weights)")
    p.add_argument("--amp", action="store_true",
                   help="autocast: bf16 on CUDA (fp16 where unsupported) and on CPUs with AMX; no effect elsewhere")
    p.add_argument("--workers", type=int_option(0, 1024), default=_TRAIN.workers, help="data-loader worker processes")
    p.add_argument("--seed", type=seed_option, default=_TRAIN.seed,
                   help="seed of initialisation, augmentation and batch order")
    p.add_argument("--no-resume", action="store_true", help="start over even when OUT/last.pt exists")
    p.add_argument("--cache-dir", default=_TRAIN.cache_dir, help="where decoded images are cached")
    p.add_argument("--max-minutes", type=float_option(0.0, 10_000_000.0), default=_TRAIN.max_minutes,
                   help="stop after the epoch that ends past this wall time (0 = no limit; resumable)")
    p.add_argument("--out", default=None, help="run folder (default runs/<model>)")
    p.add_argument("--json", metavar="PATH",
                   help="write a JSON summary (run folder, model, metrics file, epochs) to PATH ('-' = stdout; "
                        "the training log then goes to stderr)")
    p.set_defaults(func=_needs_torch(run_train))


def _add_predict(sub, fmt) -> None:
    """The ``predict`` subcommand's parser."""
    p = sub.add_parser("predict", help="run a trained reference detector and write devkit comp4 files",
                       description="Write comp4_det_test_<class>.txt files (score > 0.005, per-class NMS with "
                                   "vocbench.nms, top-k) that `vocbench eval` scores like any other detector.",
                       formatter_class=fmt)
    p.add_argument("run", metavar="RUN", help="run folder (or model.pt, or reference_models/weights/<model>)")
    p.add_argument("--data", required=True, metavar="ROOT", help="VOCdevkit folder with JPEGImages")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", help="default 2007:test")
    p.add_argument("--out", required=True, metavar="DETDIR", help="folder for the comp4 files")
    p.add_argument("--backend", default="torch", choices=["torch", "onnx"],
                   help="run the network with torch or onnxruntime")
    p.add_argument("--onnx", default=None,
                   help="ONNX file for --backend onnx (default: RUN/model.onnx, exported when missing or older "
                        "than the weights; a temporary file for the committed weights)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device the network runs on")
    p.add_argument("--score-threshold", type=float_option(0.0, 1.0), default=0.005,
                   help="keep detections scoring above this (the devkit files of published detectors use 0.005)")
    p.add_argument("--iou", type=iou_threshold, default=0.45, help="per-class NMS IoU threshold")
    p.add_argument("--top-k", type=int_option(1, 100_000), default=200, help="detections per image")
    p.add_argument("--batch-size", type=int_option(1, 4096), default=16, help="images per forward pass")
    p.add_argument("--json", metavar="PATH", help="write a JSON summary ('-' = stdout)")
    p.set_defaults(func=_needs_torch(run_predict))


def _add_export(sub, fmt) -> None:
    """The ``export`` subcommand's parser."""
    p = sub.add_parser("export", help="export a trained reference detector to ONNX and check parity",
                       description="ONNX opset 17 with raw outputs and a decoded graph; checks that onnxruntime "
                                   "and torch agree (max |Δ| of raw outputs, identical detections after NMS).",
                       formatter_class=fmt)
    p.add_argument("run", metavar="RUN", help="run folder (or model.pt, or reference_models/weights/<model>)")
    p.add_argument("--onnx", required=True, metavar="PATH", help="output .onnx file")
    p.add_argument("--data", default=None, metavar="ROOT", help="VOCdevkit for parity images (default: noise)")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", help="default 2007:test")
    p.add_argument("--parity-images", type=int_option(0, 1_000_000), default=32,
                   help="images compared between torch and onnxruntime (0 = the whole split; noise: at most 8)")
    p.add_argument("--json", metavar="PATH",
                   help="write a JSON summary (file, opset, size, parity) to PATH ('-' = stdout)")
    p.set_defaults(func=_needs_torch(run_export))


def _add_profile(sub, fmt) -> None:
    """The ``profile`` subcommand's parser."""
    p = sub.add_parser("profile", help="latency per stage, throughput, FLOPs of a reference detector",
                       description="Median and p90 latency of preprocess, network, decode and NMS per batch size "
                                   "after warm-up, throughput, parameters, FLOPs, torch.profiler top operators and "
                                   "onnxruntime's profile. Writes JSON and HTML.",
                       formatter_class=fmt)
    p.add_argument("run", metavar="RUN", help="run folder (or model.pt, or reference_models/weights/<model>)")
    p.add_argument("--backend", default="torch", choices=["torch", "onnx"],
                   help="profile torch eager or onnxruntime")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device the network runs on")
    p.add_argument("--batch", type=_batches, default=[1, 8, 32], help="comma-separated batch sizes")
    p.add_argument("--repeats", type=int_option(1, 100_000), default=20,
                   help="timed calls per batch size (median and p90 reported)")
    p.add_argument("--warmup", type=int_option(0, 100_000), default=3, help="untimed calls before timing")
    p.add_argument("--data", default=None, metavar="ROOT", help="VOCdevkit with JPEGImages to read")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", help="default 2007:test")
    p.add_argument("--onnx", default=None, help="ONNX file (default: export to a temp file)")
    p.add_argument("--threads", type=int_option(1, 1024), default=None, help="CPU threads (torch and onnxruntime)")
    p.add_argument("--json", metavar="PATH",
                   help="JSON output ('-' = stdout; default RUN/profile_<backend>_<device>.json, or "
                        "./profile_<model>_<backend>_<device>.json for the committed weights)")
    p.add_argument("--html", metavar="PATH", help="HTML report (next to the JSON by default)")
    p.set_defaults(func=_needs_torch(run_profile))
