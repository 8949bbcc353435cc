"""Write a :class:`~vocbench.structures.Dataset` as a VOC, YOLO or COCO dataset (``vocbench convert``).

What each target carries (everything else is said in the :class:`ConversionReport`):

* **VOC** (``OUT/VOCdevkit/VOC<year>/Annotations/<id>.xml`` + ``ImageSets/Main/<split>.txt`` + ``JPEGImages/``
  when the source images are known): everything — boxes, difficult, truncated, occluded, pose, image size and
  depth. Coordinates are written as the shortest text that reads back as the same float; a value within 1e-9 of
  an integer is written as that integer (this undoes the float rounding of normalised YOLO coordinates, so
  VOC → YOLO → VOC gives back the original XML numbers).
* **YOLO** (``OUT/data.yaml``, ``OUT/images/<folder>/<id>.<ext>``, ``OUT/labels/<folder>/<id>.txt``,
  ``OUT/<split>.txt`` image lists): class and box (normalised with a YOLO convention, full float precision). YOLO
  labels cannot mark an object difficult, truncated or occluded, nor carry a pose: difficult objects are dropped
  by default (as ultralytics' VOC.yaml does, so non-difficult counts and anchors stay the same) or kept as
  ordinary objects (``difficult="keep"``). The images are needed (YOLO readers take sizes from them): they are
  copied (or symlinked / hard-linked).
* **COCO** (one JSON, :func:`vocbench.io.coco.export_coco`): boxes, ``iscrowd`` = difficult, image sizes;
  truncated, occluded, pose and depth are not carried.

Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from vocbench.errors import InputError
from vocbench.io.atomic import atomic_write_text
from vocbench.io.yolo import DEFAULT_YOLO_CONVENTION, format_float, voc_to_yolo
from vocbench.structures import Dataset

__all__ = ["ConversionReport", "write_voc_dataset", "write_yolo_dataset", "write_coco_dataset", "split_names"]


@dataclass(frozen=True)
class ConversionReport:
    """What a conversion wrote and what it could not carry."""

    to: str
    out: str
    images: int
    objects: int
    splits: dict[str, int]
    dropped_difficult: int = 0
    not_carried: tuple[str, ...] = ()
    images_copied: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"to": self.to, "out": self.out, "images": self.images, "objects": self.objects,
                "splits": dict(self.splits), "dropped_difficult": self.dropped_difficult,
                "not_carried": list(self.not_carried), "images_copied": self.images_copied,
                "notes": list(self.notes)}

    def __str__(self) -> str:
        lines = [f"wrote {self.to} dataset {self.out}: {self.images} images, {self.objects} objects, splits "
                 + ", ".join(f"{k} ({v})" for k, v in self.splits.items())]
        if self.images_copied:
            lines.append(f"  {self.images_copied} image files placed")
        if self.dropped_difficult:
            lines.append(f"  {self.dropped_difficult} difficult object(s) dropped (YOLO labels cannot mark "
                         "difficult; ultralytics' VOC.yaml drops them too; use --difficult keep to keep them)")
        if self.not_carried:
            lines.append(f"  not carried by {self.to}: {', '.join(self.not_carried)}")
        lines.extend(f"  {n}" for n in self.notes)
        return "\n".join(lines)


def split_names(dataset: Dataset) -> list[str]:
    """One split name per loaded set: the part after ``:`` (``2007:test`` → ``test``); clashes get the year."""
    base = [s.split(":", 1)[1] if ":" in s else s for s in dataset.sets]
    out = []
    for s, b in zip(dataset.sets, base):
        if base.count(b) > 1:
            out.append(b + re.sub(r"\W", "", s.split(":", 1)[0]))
        else:
            out.append(b)
    return out


def _folder_name(year: str, default_year: str) -> str:
    """VOC folder of an image: ``VOC<year>`` (folder names that are not years → ``VOC<default_year>``)."""
    if re.fullmatch(r"\d+", year):
        return f"VOC{year}"
    if year.startswith("VOC"):
        return year
    return f"VOC{default_year}"


def _coord(v: float) -> str:
    r = round(v)
    if abs(v - r) < 1e-9:
        return str(int(r))
    return repr(float(v))


def _place(src: Path, dst: Path, mode: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if mode == "symlink":
        os.symlink(src.resolve(), dst)
    elif mode == "hardlink":
        os.link(src, dst)
    else:
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out}: folder is not empty (choose a new folder, or --overwrite)")


def _images_by_object(dataset: Dataset) -> np.ndarray:
    return np.searchsorted(dataset.image_index, np.arange(dataset.num_images + 1))


def write_voc_dataset(dataset: Dataset, out: str | os.PathLike, *, images: Sequence[Path | None] | None = None,
                      image_mode: str = "copy", default_year: str = "2007",
                      overwrite: bool = False) -> ConversionReport:
    """Write ``dataset`` as ``OUT/VOCdevkit/VOC<year>/...`` (see the module docstring).

    Args:
        images: source image file per image (None where unknown: the XML is written without copying a JPEG).
        image_mode: ``"copy"``, ``"symlink"`` or ``"hardlink"``.
        default_year: the folder year for images whose "year" is not a year (YOLO / COCO sources).
    """
    out = Path(out)
    _check_out(out, overwrite)
    devkit = out / "VOCdevkit"
    cuts = _images_by_object(dataset)
    names = split_names(dataset)
    lists: dict[tuple[str, str], list[str]] = {}
    copied = 0
    for i, (iid, year) in enumerate(zip(dataset.image_ids.tolist(), dataset.image_years.tolist())):
        folder = devkit / _folder_name(year, default_year)
        src = images[i] if images is not None else None
        fname = f"{iid}{src.suffix if src is not None else '.jpg'}"
        objs = []
        for j in range(cuts[i], cuts[i + 1]):
            b = dataset.boxes[j]
            occ = int(dataset.occluded[j])
            objs.append(
                "\t<object>\n"
                f"\t\t<name>{escape(dataset.classes[dataset.class_index[j]])}</name>\n"
                f"\t\t<pose>{escape(str(dataset.poses[j]))}</pose>\n"
                f"\t\t<truncated>{int(dataset.truncated[j])}</truncated>\n"
                + (f"\t\t<occluded>{occ}</occluded>\n" if occ >= 0 else "")
                + f"\t\t<difficult>{int(dataset.difficult[j])}</difficult>\n"
                "\t\t<bndbox>\n"
                f"\t\t\t<xmin>{_coord(b[0])}</xmin>\n\t\t\t<ymin>{_coord(b[1])}</ymin>\n"
                f"\t\t\t<xmax>{_coord(b[2])}</xmax>\n\t\t\t<ymax>{_coord(b[3])}</ymax>\n"
                "\t\t</bndbox>\n\t</object>\n")
        xml = ("<annotation>\n"
               f"\t<folder>{escape(folder.name)}</folder>\n\t<filename>{escape(fname)}</filename>\n"
               f"\t<size>\n\t\t<width>{int(dataset.widths[i])}</width>\n\t\t<height>{int(dataset.heights[i])}</height>\n"
               f"\t\t<depth>{int(dataset.depths[i])}</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
               + "".join(objs) + "</annotation>\n")
        atomic_write_text(folder / "Annotations" / f"{iid}.xml", xml, fsync=False)
        lists.setdefault((folder.name, names[int(dataset.image_sets[i])]), []).append(iid)
        if src is not None:
            _place(src, folder / "JPEGImages" / fname, image_mode)
            copied += 1
    splits = {}
    for (fold, split), ids in lists.items():
        atomic_write_text(devkit / fold / "ImageSets" / "Main" / f"{split}.txt", "\n".join(ids) + "\n", fsync=False)
        splits[f"{fold[3:]}:{split}"] = len(ids)
    notes = () if images is not None and all(p is not None for p in images) else (
        "source images not found for some images: XML written without JPEGImages",)
    return ConversionReport("voc", str(devkit), dataset.num_images, dataset.num_objects, splits,
                            images_copied=copied, notes=notes)


def write_yolo_dataset(dataset: Dataset, out: str | os.PathLike, images: Sequence[Path | None], *,
                       convention: str = DEFAULT_YOLO_CONVENTION, difficult: str = "drop", image_mode: str = "copy",
                       overwrite: bool = False) -> ConversionReport:
    """Write ``dataset`` as an ultralytics-style YOLO dataset in ``out`` (see the module docstring).

    Args:
        images: the source image file of every image (required: YOLO readers take image sizes from the files).
        convention: YOLO convention of the labels (:data:`vocbench.io.yolo.YOLO_CONVENTIONS`).
        difficult: ``"drop"`` (default, as ultralytics' VOC.yaml) or ``"keep"`` (as ordinary objects).
        image_mode: ``"copy"``, ``"symlink"`` or ``"hardlink"``.
    """
    if difficult not in ("drop", "keep"):
        raise ValueError(f"difficult must be 'drop' or 'keep', got {difficult!r}")
    out = Path(out)
    missing = [i for i, p in enumerate(images) if p is None]
    if missing:
        i = missing[0]
        raise InputError(f"{dataset.root}: no image file for {str(dataset.image_ids[i])!r} ({len(missing)} image(s) "
                         "missing); a YOLO dataset needs its images (sizes are read from them)")
    _check_out(out, overwrite)
    cuts = _images_by_object(dataset)
    names = split_names(dataset)
    lists: dict[str, list[str]] = {n: [] for n in names}
    keep = np.ones(dataset.num_objects, bool) if difficult == "keep" else ~dataset.difficult
    norm = voc_to_yolo(dataset.boxes, dataset.widths[dataset.image_index], dataset.heights[dataset.image_index],
                       convention)
    seen: set[str] = set()
    for i, (iid, year) in enumerate(zip(dataset.image_ids.tolist(), dataset.image_years.tolist())):
        src = images[i]
        assert src is not None
        sub = f"VOC{year}" if re.fullmatch(r"\d+", year) else re.sub(r"[^\w.-]", "_", year)
        rel = Path("images") / sub / f"{iid}{src.suffix}" if sub else Path("images") / f"{iid}{src.suffix}"
        if str(rel) in seen:
            raise InputError(f"{src}: two images map to {rel}; image ids must be unique within a folder")
        seen.add(str(rel))
        rows = [j for j in range(cuts[i], cuts[i + 1]) if keep[j]]
        text = "".join(f"{int(dataset.class_index[j])} " + " ".join(format_float(v) for v in norm[j]) + "\n"
                       for j in rows)
        label = out / "labels" / rel.relative_to("images").with_suffix(".txt")
        atomic_write_text(label, text, fsync=False)
        _place(src, out / rel, image_mode)
        lists[names[int(dataset.image_sets[i])]].append(f"./{rel.as_posix()}")
    for n, entries in lists.items():
        atomic_write_text(out / f"{n}.txt", "".join(e + "\n" for e in entries), fsync=False)
    yaml_lines = ["# written by vocbench convert; labels: class cx cy w h, normalised with the "
                  f"{convention!r} convention", "# (no 'path' key: the dataset root is this file's folder)"]
    yaml_lines += [f"{n}: {n}.txt" for n in names]
    yaml_lines.append(f"nc: {dataset.num_classes}")
    yaml_lines.append("names:")
    yaml_lines += [f"  {k}: {_yaml_str(c)}" for k, c in enumerate(dataset.classes)]
    atomic_write_text(out / "data.yaml", "\n".join(yaml_lines) + "\n")
    n_drop = int((~keep).sum())
    return ConversionReport("yolo", str(out), dataset.num_images, int(keep.sum()),
                            {n: len(v) for n, v in lists.items()}, dropped_difficult=n_drop,
                            not_carried=("truncated", "occluded", "pose")
                            + (("difficult (kept as ordinary objects)",) if difficult == "keep" and
                               dataset.difficult.any() else ()),
                            images_copied=dataset.num_images)


def _yaml_str(s: str) -> str:
    if re.fullmatch(r"[A-Za-z_][\w .-]*", s) and s.strip() == s and s.lower() not in (
            "yes", "no", "true", "false", "null", "on", "off", "y", "n"):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_coco_dataset(dataset: Dataset, out: str | os.PathLike) -> ConversionReport:
    """Write ``dataset`` as one COCO ground-truth JSON (:func:`vocbench.io.coco.export_coco`)."""
    from vocbench.io.coco import export_coco, write_json

    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give the .json file to write")
    gt = export_coco(dataset)
    write_json(gt, out)
    return ConversionReport("coco", str(out), dataset.num_images, dataset.num_objects,
                            {s: int((dataset.image_sets == k).sum()) for k, s in enumerate(dataset.sets)},
                            not_carried=("truncated", "occluded", "pose", "image depth", "the split of each image"))
