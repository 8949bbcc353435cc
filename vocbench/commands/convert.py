"""``vocbench convert SRC [--set ...] --to voc|coco|yolo OUT`` (datasets) and
``vocbench convert DETS --gt GT [--set ...] --to devkit|coco|csv|yolo|absolute OUT`` (detections)."""

from __future__ import annotations

import argparse

from vocbench.commands._common import (
    HelpFormatter,
    add_dataset_args,
    check_output_paths,
    emit_json,
    load_dataset_from_args,
)

__all__ = ["register", "run"]

_DATASET_TARGETS = ("voc", "coco", "yolo")
_DETECTION_TARGETS = ("devkit", "coco", "csv", "yolo", "absolute")


def register(sub) -> None:
    p = sub.add_parser(
        "convert", help="convert a dataset between VOC, COCO and YOLO (or detections between formats)",
        description="Dataset: SRC is a VOCdevkit folder (with --set; no --set = every split), a COCO instances "
                    ".json or a YOLO data.yaml (with --set). VOC carries everything; COCO loses truncated, "
                    "occluded, pose and depth; YOLO loses those and 'difficult' (difficult objects are dropped, as "
                    "ultralytics' VOC.yaml does, unless --difficult keep) and copies the image files (or, with "
                    "--labels-only, writes the labels alone). "
                    "Detections: with --gt, SRC is a detections path (devkit folder, COCO results .json, .csv, "
                    "per-image yolo or absolute txt) read against that ground truth and written in the --to "
                    "format (yolo/absolute/devkit: a folder; coco/csv: a file). YOLO coordinates are written with "
                    "full float precision; devkit files with 6 decimals (the devkit's own format).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="dataset (VOCdevkit folder, instances .json, data .yaml) or, with "
                                              "--gt, detections")
    p.add_argument("--to", required=True, choices=sorted(set(_DATASET_TARGETS + _DETECTION_TARGETS)),
                   help="target format (datasets: voc, coco, yolo; detections: devkit, coco, csv, yolo, absolute)")
    p.add_argument("out", metavar="OUT", help="output folder (coco/csv: the file to write)")
    p.add_argument("--gt", default=None, metavar="GT", help="ground truth of the detections in SRC (converts "
                                                            "detections instead of a dataset)")
    add_dataset_args(p, root_positional=False)
    p.add_argument("--format", choices=_DETECTION_TARGETS, default=None,
                   help="format of the detections in SRC (default: guessed)")
    p.add_argument("--difficult", choices=("drop", "keep"), default="drop",
                   help="YOLO target: drop difficult objects (ultralytics' VOC.yaml) or keep them as ordinary ones")
    p.add_argument("--images", dest="image_mode", choices=("copy", "symlink", "hardlink"), default="copy",
                   help="how image files are placed in the output")
    p.add_argument("--labels-only", action="store_true",
                   help="YOLO target: write labels, split lists and data.yaml without images (sizes from the "
                        "annotations, e.g. VOC XML without JPEGImages)")
    p.add_argument("--images-dir", default=None, metavar="DIR",
                   help="folder of a COCO source's images (file_name is relative to it; default: the JSON's folder)")
    p.add_argument("--year", default="2007", help="VOC target: folder VOC<year> for images without a VOC year")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    p.add_argument("--ignore-unknown-images", action="store_true",
                   help="detections: drop those on images outside the ground truth instead of failing")
    p.add_argument("--json", metavar="PATH", help="write a JSON summary to PATH ('-' = stdout)")
    p.set_defaults(func=run)


def _all_voc_sets(root: str) -> list[str]:
    """Every main split of every VOC folder under ``root`` (``trainval`` left out when train and val exist)."""
    from pathlib import Path

    from vocbench.errors import VocbenchError
    from vocbench.io.voc import available_splits

    out = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and (p / "Annotations").is_dir()):
        year = folder.name[3:] if folder.name.startswith("VOC") else folder.name
        splits = available_splits(folder)
        if "train" in splits and "val" in splits:
            splits = [s for s in splits if s != "trainval"]
        out += [f"{year}:{s}" for s in splits]
    if not out:
        raise VocbenchError(f"{root}: no VOC folder with ImageSets/Main split files; give --set YEAR:SPLIT")
    return out


def run(args: argparse.Namespace) -> int:
    from vocbench.errors import VocbenchError
    from vocbench.io.writers import check_inputs_outside

    check_output_paths(args, outputs=("out", "json"), inputs=("src", "gt", "classes"),  # OUT never replaces SRC
                       labels={"out": "OUT", "src": "SRC"})
    # a folder or file target: never equal to, inside or around an input (a file next to an input file is fine)
    check_inputs_outside(args.out, [("SRC", args.src), ("--gt", args.gt), ("--images-dir", args.images_dir)],
                         kind="file" if args.to in ("coco", "csv") else "folder")
    if args.gt is not None:
        return _run_detections(args)
    if args.labels_only and args.to != "yolo":
        raise VocbenchError(f"--labels-only is for --to yolo (--to {args.to} needs no image files)")
    if args.to not in _DATASET_TARGETS:
        raise VocbenchError(f"--to {args.to} is a detections format; datasets convert to {', '.join(_DATASET_TARGETS)} "
                            "(for detections give their ground truth with --gt)")
    from vocbench.io.gt import ground_truth_kind, image_paths
    from vocbench.io.writers import write_coco_dataset, write_voc_dataset, write_yolo_dataset

    if ground_truth_kind(args.src) == "voc" and not args.sets:
        args.sets = _all_voc_sets(args.src)
    dataset = load_dataset_from_args(args, root=args.src)
    inputs = [("SRC", args.src), ("--images-dir", args.images_dir)]
    if args.to == "coco":
        report = write_coco_dataset(dataset, args.out, inputs=inputs)
    elif args.to == "yolo" and args.labels_only:
        report = write_yolo_dataset(dataset, args.out, None, convention=args.yolo_convention,
                                    difficult=args.difficult, overwrite=args.overwrite, inputs=inputs,
                                    labels_only=True)
    else:
        images = image_paths(dataset, args.images_dir)
        if args.to == "voc":
            report = write_voc_dataset(dataset, args.out, images=images, image_mode=args.image_mode,
                                       default_year=args.year, overwrite=args.overwrite, inputs=inputs)
        else:
            report = write_yolo_dataset(dataset, args.out, images, convention=args.yolo_convention,
                                        difficult=args.difficult, image_mode=args.image_mode,
                                        overwrite=args.overwrite, inputs=inputs)
    if args.json:
        emit_json(report.to_dict(), args.json)
    if args.json != "-":
        print(report)
    return 0


def _run_detections(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vocbench.io.coco import detections_to_coco, write_json
    from vocbench.io.detections import read_detections, write_devkit
    from vocbench.io.yolo import write_absolute_detections, write_yolo_detections

    if args.to == "voc":
        from vocbench.errors import VocbenchError

        raise VocbenchError("--to voc is a dataset format; detections convert to devkit, coco, csv, yolo or absolute")
    dataset = load_dataset_from_args(args, root=args.gt)
    dets = read_detections(args.src, dataset, format=args.format, ignore_unknown_images=args.ignore_unknown_images,
                           strict=args.strict, yolo_convention=args.yolo_convention)
    out = Path(args.out)
    if args.to in ("devkit", "yolo", "absolute"):
        _prepare_detections_folder(args, dataset, dets)
    if args.to == "devkit":
        write_devkit(dets, dataset, out)
    elif args.to == "coco":
        write_json(detections_to_coco(dataset, dets), out)
    elif args.to == "csv":
        from vocbench.io.atomic import atomic_write_text

        df = dets.to_pandas(dataset).drop(columns=["image_index", "class_index"])
        atomic_write_text(out, df.to_csv(index=False, float_format=None))
    elif args.to == "yolo":
        write_yolo_detections(dets, dataset, out, convention=args.yolo_convention)
    else:
        write_absolute_detections(dets, dataset, out)
    summary = {"to": args.to, "out": str(out), "detections": len(dets), "images": dataset.num_images,
               "source": str(args.src)}
    if args.json:
        emit_json(summary, args.json)
    if args.json != "-":
        print(f"wrote {len(dets)} detections as {args.to} to {out}")
    return 0


def _prepare_detections_folder(args: argparse.Namespace, dataset, dets) -> None:
    """Names checked, then OUT emptied of an earlier conversion's files (or refused) before the first write."""
    import numpy as np

    from vocbench.io.writers import prepare_output_folder
    from vocbench.paths import check_class_names, safe_name

    if args.to == "devkit":
        check_class_names(dataset)
    else:
        root = dataset.root or "dataset"
        for i in np.unique(dets.image_index).tolist():
            safe_name(str(dataset.image_ids[i]), f"{root}: image {i + 1}", "image id")
    prepare_output_folder(args.out, "devkit" if args.to == "devkit" else "txt", args.overwrite)
