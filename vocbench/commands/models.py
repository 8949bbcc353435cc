"""``vocbench train|predict|export|profile``: the reference one-stage detectors (``reference_models``, torch).

Only argument parsing lives here; the handlers import torch and ``reference_models`` when they run, so
``vocbench --help`` works without torch installed.
"""

from __future__ import annotations

import argparse

from vocbench.errors import VocbenchError

__all__ = ["register"]


def _handler(name: str):
    def run(args: argparse.Namespace) -> int:
        try:
            from reference_models import cli
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in ("torch", "torchvision", "onnx", "onnxruntime",
                                                       "reference_models"):
                raise VocbenchError(f"`vocbench {name}` needs the reference models and torch "
                                    f"(pip install 'vocbench[models]'): {exc}") from exc
            raise
        return getattr(cli, f"run_{name}")(args)

    return run


def _batches(value: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated batch sizes like 1,8,32, got {value!r}")
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be positive, got {value!r}")
    return out


def register(sub) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = sub.add_parser("train", help="train a reference detector (YOLOv2-style or SSDLite-style) from scratch",
                       description="Train a reference one-stage detector on a VOC-format dataset (the synthetic "
                                   "set from `vocbench synth`, or a real VOCdevkit with JPEGImages). Resumes from "
                                   "OUT/last.pt. Runs under torchrun with DistributedDataParallel.",
                       formatter_class=fmt)
    p.add_argument("model", choices=["yolo", "ssd"], help="yolo = yolov2_tiny, ssd = ssdlite")
    p.add_argument("--data", required=True, metavar="ROOT", help="VOCdevkit folder")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT",
                   help="training split(s) (default 2007:train); repeat for a union")
    p.add_argument("--val-set", default="2007:val",
                   help="model-selection split, held out from training; a test split or one sharing images "
                        "with --set is refused ('none' to skip)")
    p.add_argument("--val-images", type=int, default=500, help="validate on this many images (0 = all)")
    p.add_argument("--val-every", type=int, default=1, metavar="N", help="validate every N epochs (and after the last)")
    p.add_argument("--warmup-iters", type=int, default=300, help="linear learning-rate warm-up iterations")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW peak learning rate")
    p.add_argument("--width", type=float, default=None, help="channel multiplier (default 1.0 yolo, 1.0 ssd)")
    p.add_argument("--input-size", type=int, default=None, help="input side in pixels (default 416 yolo, 300 ssd)")
    p.add_argument("--anchors", type=int, default=5, help="YOLO anchors (IoU k-means on the training boxes)")
    p.add_argument("--loss", default="essay", choices=["essay", "darknet", "modern"],
                   help="YOLO loss preset: essay (squared errors, as the essay teaches), darknet, modern "
                        "(cross-entropy classes, BCE-IoU objectness, GIoU boxes)")
    p.add_argument("--amp", action="store_true",
                   help="autocast: bf16 on CUDA (fp16 where unsupported) and on CPUs with AMX; no effect elsewhere")
    p.add_argument("--workers", type=int, default=2, help="data-loader worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-resume", action="store_true", help="start over even when OUT/last.pt exists")
    p.add_argument("--cache-dir", default="runs/cache", help="where decoded images are cached")
    p.add_argument("--out", default=None, help="run folder (default runs/<model>)")
    p.set_defaults(func=_handler("train"))

    p = sub.add_parser("predict", help="run a trained reference detector and write devkit comp4 files",
                       description="Write comp4_det_test_<class>.txt files (score > 0.005, per-class NMS with "
                                   "vocbench.nms, top-k) that `vocbench eval` scores like any other detector.",
                       formatter_class=fmt)
    p.add_argument("run", metavar="RUN", help="run folder (or model.pt, or reference_models/weights/<model>)")
    p.add_argument("--data", required=True, metavar="ROOT", help="VOCdevkit folder with JPEGImages")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", help="default 2007:test")
    p.add_argument("--out", required=True, metavar="DETDIR", help="folder for the comp4 files")
    p.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    p.add_argument("--onnx", default=None,
                   help="ONNX file for --backend onnx (default: RUN/model.onnx, exported when missing or older "
                        "than the weights; a temporary file for the committed weights)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--score-threshold", type=float, default=0.005)
    p.add_argument("--iou", type=float, default=0.45, help="per-class NMS IoU threshold")
    p.add_argument("--top-k", type=int, default=200, help="detections per image")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", metavar="PATH", help="write a JSON summary ('-' = stdout)")
    p.set_defaults(func=_handler("predict"))

    p = sub.add_parser("export", help="export a trained reference detector to ONNX and check parity",
                       description="ONNX opset 17 with raw outputs and a decoded graph; checks that onnxruntime "
                                   "and torch agree (max |Δ| of raw outputs, identical detections after NMS).",
                       formatter_class=fmt)
    p.add_argument("run", metavar="RUN")
    p.add_argument("--onnx", required=True, metavar="PATH", help="output .onnx file")
    p.add_argument("--data", default=None, metavar="ROOT", help="VOCdevkit for parity images (default: noise)")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", help="default 2007:test")
    p.add_argument("--parity-images", type=int, default=32,
                   help="images compared between torch and onnxruntime (0 = the whole split; noise: at most 8)")
    p.add_argument("--json", metavar="PATH")
    p.set_defaults(func=_handler("export"))

    p = sub.add_parser("profile", help="latency per stage, throughput, FLOPs of a reference detector",
                       description="Median and p90 latency of preprocess, network, decode and NMS per batch size "
                                   "after warm-up, throughput, parameters, FLOPs, torch.profiler top operators and "
                                   "onnxruntime's profile. Writes JSON and HTML.",
                       formatter_class=fmt)
    p.add_argument("run", metavar="RUN")
    p.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch", type=_batches, default=[1, 8, 32], help="comma-separated batch sizes")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--data", default=None, metavar="ROOT", help="VOCdevkit with JPEGImages to read")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", help="default 2007:test")
    p.add_argument("--onnx", default=None, help="ONNX file (default: export to a temp file)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch and onnxruntime)")
    p.add_argument("--json", metavar="PATH",
                   help="JSON output ('-' = stdout; default RUN/profile_<backend>_<device>.json, or "
                        "./profile_<model>_<backend>_<device>.json for the committed weights)")
    p.add_argument("--html", metavar="PATH", help="HTML report (next to the JSON by default)")
    p.set_defaults(func=_handler("profile"))
