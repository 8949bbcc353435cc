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
  ordinary objects (``difficult="keep"``). The images are copied (or symlinked / hard-linked); with
  ``labels_only`` only the labels, image lists and ``data.yaml`` are written (sizes from the annotations, e.g. VOC
  XML without JPEGs): put the images at the listed ``images/<folder>/<id>.jpg`` paths before training. A
  ``data.yaml`` always has the ``train`` and ``val`` keys ultralytics requires: a conversion without a train (or
  val) split points that key at the split it has and says so in a comment.
* **COCO** (one JSON, :func:`vocbench.io.coco.export_coco`): boxes, ``iscrowd`` = difficult, image sizes;
  truncated, occluded, pose and depth are not carried.

Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
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
from vocbench.paths import check_image_ids, is_within, safe_name
from vocbench.structures import Dataset

__all__ = ["ConversionReport", "write_voc_dataset", "write_yolo_dataset", "write_coco_dataset", "split_names",
           "OWN_FILES", "prepare_output_folder", "check_inputs_outside"]

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_IMAGE_SUFFIXES = ("bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic")


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


#: What vocbench itself writes into an output folder, per target (``fnmatch`` patterns of the path relative to
#: the folder, ``/``-separated): ``--overwrite`` removes these and nothing else; any other file refuses.
OWN_FILES: dict[str, tuple[str, ...]] = {
    "voc": ("VOCdevkit/*/Annotations/*.xml", "VOCdevkit/*/ImageSets/Main/*.txt",
            *(f"VOCdevkit/*/JPEGImages/*.{s}" for s in _IMAGE_SUFFIXES)),
    "yolo": ("data.yaml", "*.txt", "labels/*.cache", "labels/*/*.txt", "labels/*.txt", "labels/*/*.cache",
             *(f"images/*.{s}" for s in _IMAGE_SUFFIXES), *(f"images/*/*.{s}" for s in _IMAGE_SUFFIXES)),
    "devkit": ("comp*_det_*.txt",),
    "txt": ("*.txt",),  # per-image yolo / absolute detection files
}


def _relative_files(out: Path) -> list[tuple[str, Path]]:
    """Every entry below ``out`` that is not a folder (files, symlinks, FIFOs...) as (``a/b/c``, path); symlinked
    folders are listed as entries (never followed)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(out, followlinks=False):
        base = Path(dirpath)
        names = filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(names):
            p = base / name
            found.append((p.relative_to(out).as_posix(), p))
    return found


def _is_own(rel: str, path: Path, kind: str) -> bool:
    if path.is_dir() and not path.is_symlink():
        return False
    parts = rel.split("/")
    parts[-1] = parts[-1].lower()  # image suffixes: .JPG as .jpg
    if parts[-1].startswith(".") and parts[-1].endswith(".tmp"):  # left by an interrupted atomic write
        return True
    for pat in OWN_FILES[kind]:
        pp = pat.split("/")
        if len(pp) == len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pp)):
            return True
    return False


def prepare_output_folder(out: str | os.PathLike, kind: str, overwrite: bool) -> Path:
    """Make ``out`` ready for a ``kind`` conversion (:data:`OWN_FILES`), or refuse before anything is written.

    A missing or empty folder is used as it is. A non-empty one is refused without ``overwrite``; with it, every
    file vocbench writes for ``kind`` is removed first (symlinks are removed, never followed), so that no file of
    an earlier conversion is left to be read back as part of this one; any other file (or a symlinked folder)
    refuses the whole conversion, naming it, and nothing is removed.

    Raises:
        InputError: ``out`` is a file, is not empty (no ``overwrite``), or holds a file vocbench would not write.
    """
    out = Path(out)
    if out.is_symlink() and not out.exists():
        raise InputError(f"{out}: a dangling symlink, expected an output folder")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if not out.is_dir():
        return out
    entries = _relative_files(out)
    if not entries and not any(out.iterdir()):
        return out
    if not overwrite:
        raise InputError(f"{out}: folder is not empty (choose a new folder, or --overwrite to replace what an "
                         "earlier conversion wrote there)")
    foreign = [p for rel, p in entries if not _is_own(rel, p, kind)]
    if foreign:
        raise InputError(f"{foreign[0]}: not a file that 'convert --to {kind}' writes ({len(foreign)} such "
                         "file(s)); --overwrite only replaces vocbench's own output: move it or choose a new folder")
    for _, p in entries:
        p.unlink()
    for dirpath, _, _ in sorted(os.walk(out, followlinks=False), key=lambda t: -len(t[0])):
        if Path(dirpath) != out:
            with contextlib.suppress(OSError):  # only empty folders go
                os.rmdir(dirpath)
    return out


def check_inputs_outside(out: str | os.PathLike, inputs: Sequence[tuple[str, str | os.PathLike | None]],
                         kind: str = "folder") -> None:
    """Refuse an output that is, lies inside, or contains one of ``inputs`` (after resolving symlinks).

    ``inputs``: (what, path) pairs; missing paths and None are skipped. A file input refuses an ``out`` that is or
    contains it; a folder input also refuses an ``out`` inside it, a new file as much as a folder (converted data
    is never added to a folder vocbench reads). ``kind``: ``"folder"`` or ``"file"``, what ``out`` is (the message
    says it). Writing (and ``--overwrite``) can then never touch an input.
    """
    real_out = os.path.realpath(out)
    fix = "choose a new folder" if kind == "folder" else "write it outside the inputs"
    for what, src in inputs:
        if src is None or not os.path.lexists(src):
            continue
        real = os.path.realpath(src)
        if real == real_out:
            raise InputError(f"{out}: the output {kind} is the input {what} ({src}); {fix}")
        if is_within(real, real_out):
            raise InputError(f"{out}: the output {kind} contains the input {what} ({src}); {fix}")
        if os.path.isdir(real) and is_within(real_out, real):
            raise InputError(f"{out}: the output {kind} lies inside the input {what} ({src}); {fix}")


def _input_folders(images: Sequence[Path | None] | None) -> list[tuple[str, Path]]:
    """One (what, path) per distinct folder of the source images (what a writer must never overwrite)."""
    if images is None:
        return []
    folders = {p.parent for p in images if p is not None}
    # an image that is a symlink (an earlier convert --images symlink) is read from where it points
    folders |= {Path(os.path.realpath(p)).parent for p in images if p is not None and p.is_symlink()}
    return [("image folder", f) for f in sorted(folders)]


def _images_by_object(dataset: Dataset) -> np.ndarray:
    return np.searchsorted(dataset.image_index, np.arange(dataset.num_images + 1))


def _plan_voc(dataset: Dataset, images: Sequence[Path | None] | None, default_year: str
              ) -> tuple[list[str], list[str], list[str]]:
    """(VOC folder name, JPEG file name, split name) of every image, every name checked by
    :func:`~vocbench.paths.safe_name` and no two images on one file — before anything is written."""
    check_image_ids(dataset, images)
    for k, c in enumerate(dataset.classes):  # written inside the XML: escaped, but XML 1.0 cannot carry these
        if _XML_ILLEGAL.search(c):
            raise InputError(f"{dataset.root or 'dataset'}: class {k} name {c!r} holds a control character that XML "
                             "cannot carry")
    names = [safe_name(n, f"set {s!r}", "split") for n, s in zip(split_names(dataset), dataset.sets)]
    folders, fnames, splits = [], [], []
    seen: dict[tuple[str, str], int] = {}
    for i, (iid, year) in enumerate(zip(dataset.image_ids.tolist(), dataset.image_years.tolist())):
        src = images[i] if images is not None else None
        folder = safe_name(_folder_name(year, default_year), f"{src or dataset.root}", "VOC folder")
        fname = f"{iid}{src.suffix if src is not None else '.jpg'}"
        j = seen.setdefault((folder, iid), i)
        if j != i:
            first = images[j] if images is not None else None
            raise InputError(f"{src or dataset.root}: image id {iid!r} also belongs to {first or f'image {j + 1}'}; "
                             f"both would be {folder}/Annotations/{iid}.xml (rename one)")
        folders.append(folder)
        fnames.append(fname)
        splits.append(names[int(dataset.image_sets[i])])
    return folders, fnames, splits


def _voc_xml(dataset: Dataset, i: int, lo: int, hi: int, folder: str, fname: str) -> str:
    objs = []
    for j in range(lo, hi):
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
    return ("<annotation>\n"
            f"\t<folder>{escape(folder)}</folder>\n\t<filename>{escape(fname)}</filename>\n"
            f"\t<size>\n\t\t<width>{int(dataset.widths[i])}</width>\n\t\t<height>{int(dataset.heights[i])}</height>\n"
            f"\t\t<depth>{int(dataset.depths[i])}</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
            + "".join(objs) + "</annotation>\n")


def _source_inputs(dataset: Dataset, images: Sequence[Path | None] | None,
                   inputs: Sequence[tuple[str, str | os.PathLike | None]]) -> list:
    """What a conversion reads: the caller's ``inputs``, the dataset root, each image and label folder."""
    from vocbench.io.gt import label_path

    found: list = [*inputs, ("dataset", dataset.root or None), *_input_folders(images)]
    labels = {label_path(p).parent for p in images or () if p is not None}
    found += [("label folder", f) for f in sorted(labels) if f.is_dir()]
    return found


def write_voc_dataset(dataset: Dataset, out: str | os.PathLike, *, images: Sequence[Path | None] | None = None,
                      image_mode: str = "copy", default_year: str = "2007", overwrite: bool = False,
                      inputs: Sequence[tuple[str, str | os.PathLike | None]] = ()) -> ConversionReport:
    """Write ``dataset`` as ``OUT/VOCdevkit/VOC<year>/...`` (see the module docstring).

    Every name is checked and ``out`` prepared (:func:`prepare_output_folder`) before the first file is written;
    ``out`` may not be, contain or lie inside the dataset root, an image folder or one of ``inputs``.

    Args:
        images: source image file per image (None where unknown: the XML is written without copying a JPEG).
        image_mode: ``"copy"``, ``"symlink"`` or ``"hardlink"``.
        default_year: the folder year for images whose "year" is not a year (YOLO / COCO sources).
        overwrite: replace the files of an earlier ``voc`` conversion in ``out`` (:data:`OWN_FILES`).
        inputs: more (what, path) pairs ``out`` must keep clear of (the CLI passes SRC).
    """
    out = Path(out)
    folders, fnames, splits = _plan_voc(dataset, images, default_year)
    check_inputs_outside(out, _source_inputs(dataset, images, inputs))
    prepare_output_folder(out, "voc", overwrite)
    devkit = out / "VOCdevkit"
    cuts = _images_by_object(dataset)
    lists: dict[tuple[str, str], list[str]] = {}
    copied = 0
    for i, iid in enumerate(dataset.image_ids.tolist()):
        folder = devkit / folders[i]
        xml = _voc_xml(dataset, i, int(cuts[i]), int(cuts[i + 1]), folders[i], fnames[i])
        atomic_write_text(folder / "Annotations" / f"{iid}.xml", xml, fsync=False)
        lists.setdefault((folders[i], splits[i]), []).append(iid)
        src = images[i] if images is not None else None
        if src is not None:
            _place(src, folder / "JPEGImages" / fnames[i], image_mode)
            copied += 1
    split_counts = {}
    for (fold, split), ids in lists.items():
        atomic_write_text(devkit / fold / "ImageSets" / "Main" / f"{split}.txt", "\n".join(ids) + "\n", fsync=False)
        split_counts[f"{fold[3:]}:{split}"] = len(ids)
    notes = () if images is not None and all(p is not None for p in images) else (
        "source images not found for some images: XML written without JPEGImages",)
    return ConversionReport("voc", str(devkit), dataset.num_images, dataset.num_objects, split_counts,
                            images_copied=copied, notes=notes)


def _plan_yolo(dataset: Dataset, images: Sequence[Path | None] | None,
               labels_only: bool = False) -> tuple[list[Path], list[str]]:
    """(``images/<folder>/<id><suffix>`` path, split name) of every image, checked before anything is written.
    With ``labels_only`` an image without a known file is listed as ``<id>.jpg``."""
    images = list(images) if images is not None else [None] * dataset.num_images
    missing = [i for i, p in enumerate(images) if p is None]
    if missing and not labels_only:
        i = missing[0]
        raise InputError(f"{dataset.root}: no image file for {str(dataset.image_ids[i])!r} ({len(missing)} image(s) "
                         "missing); a YOLO dataset needs its images (sizes are read from them); --labels-only "
                         "writes the labels alone")
    check_image_ids(dataset, images)
    names = [safe_name(n, f"set {s!r}", "split") for n, s in zip(split_names(dataset), dataset.sets)]
    rels: list[Path] = []
    seen: dict[str, int] = {}
    for i, (iid, year) in enumerate(zip(dataset.image_ids.tolist(), dataset.image_years.tolist())):
        src = images[i]
        suffix = src.suffix if src is not None else ".jpg"
        sub = f"VOC{year}" if re.fullmatch(r"\d+", year) else re.sub(r"[^\w.-]", "_", year).strip(".")
        rel = Path("images") / sub / f"{iid}{suffix}" if sub else Path("images") / f"{iid}{suffix}"
        j = seen.setdefault(str(rel.with_suffix("")), i)
        if j != i:
            raise InputError(f"{src}: image id {iid!r} also belongs to {images[j]}; both would be "
                             f"{rel.with_suffix('')}.* (image ids must be unique within a folder)")
        rels.append(rel)
    return rels, [names[int(k)] for k in dataset.image_sets]


def write_yolo_dataset(dataset: Dataset, out: str | os.PathLike, images: Sequence[Path | None] | None, *,
                       convention: str = DEFAULT_YOLO_CONVENTION, difficult: str = "drop", image_mode: str = "copy",
                       overwrite: bool = False, inputs: Sequence[tuple[str, str | os.PathLike | None]] = (),
                       labels_only: bool = False) -> ConversionReport:
    """Write ``dataset`` as an ultralytics-style YOLO dataset in ``out`` (see the module docstring).

    Every name is checked and ``out`` prepared (:func:`prepare_output_folder`) before the first file is written;
    ``out`` may not be, contain or lie inside the dataset root, an image or label folder or one of ``inputs``.

    Args:
        images: the source image file of every image (required unless ``labels_only``: YOLO readers take image
            sizes from the files).
        convention: YOLO convention of the labels (:data:`vocbench.io.yolo.YOLO_CONVENTIONS`).
        difficult: ``"drop"`` (default, as ultralytics' VOC.yaml) or ``"keep"`` (as ordinary objects).
        image_mode: ``"copy"``, ``"symlink"`` or ``"hardlink"``.
        overwrite: replace the files of an earlier ``yolo`` conversion in ``out`` (:data:`OWN_FILES`).
        inputs: more (what, path) pairs ``out`` must keep clear of (the CLI passes SRC).
        labels_only: write labels, image lists and ``data.yaml`` without placing any image.
    """
    if difficult not in ("drop", "keep"):
        raise ValueError(f"difficult must be 'drop' or 'keep', got {difficult!r}")
    out = Path(out)
    rels, splits = _plan_yolo(dataset, images, labels_only)
    check_inputs_outside(out, _source_inputs(dataset, images, inputs))
    prepare_output_folder(out, "yolo", overwrite)
    cuts = _images_by_object(dataset)
    names = [safe_name(n, f"set {s!r}", "split") for n, s in zip(split_names(dataset), dataset.sets)]
    lists: dict[str, list[str]] = {n: [] for n in names}
    keep = np.ones(dataset.num_objects, bool) if difficult == "keep" else ~dataset.difficult
    norm = voc_to_yolo(dataset.boxes, dataset.widths[dataset.image_index], dataset.heights[dataset.image_index],
                       convention)
    for i, rel in enumerate(rels):
        rows = [j for j in range(cuts[i], cuts[i + 1]) if keep[j]]
        text = "".join(f"{int(dataset.class_index[j])} " + " ".join(format_float(v) for v in norm[j]) + "\n"
                       for j in rows)
        label = out / "labels" / rel.relative_to("images").with_suffix(".txt")
        atomic_write_text(label, text, fsync=False)
        src = images[i] if images is not None and not labels_only else None
        if src is not None:
            _place(src, out / rel, image_mode)
        lists[splits[i]].append(f"./{rel.as_posix()}")
    for n, entries in lists.items():
        atomic_write_text(out / f"{n}.txt", "".join(e + "\n" for e in entries), fsync=False)
    yaml_lines = ["# written by vocbench convert; labels: class cx cy w h, normalised with the "
                  f"{convention!r} convention", "# (no 'path' key: the dataset root is this file's folder)"]
    yaml_lines += [f"{n}: {n}.txt" for n in names]
    yaml_lines += _required_yaml_keys(names)
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
                            images_copied=0 if labels_only else dataset.num_images,
                            notes=("labels only: no image written; put the images at the paths the split lists "
                                   "name (images/<folder>/<id>.jpg) before training",) if labels_only else ())


def _required_yaml_keys(names: Sequence[str]) -> list[str]:
    """``train``/``val`` lines for a conversion without such a split: ultralytics refuses a data.yaml without
    both keys. ``val`` points at the test (or first) split; ``train`` at the val (or first) split, flagged."""
    lines = []
    if "val" not in names:
        pick = "test" if "test" in names else names[0]
        lines.append(f"val: {pick}.txt  # no 'val' split was converted: validation uses {pick}")
    if "train" not in names:
        pick = "trainval" if "trainval" in names else ("val" if "val" in names else names[0])
        lines.append(f"train: {pick}.txt  # no 'train' split was converted; ultralytics needs the key: do not train "
                     f"on {pick} if you evaluate on it")
    return lines


def _yaml_str(s: str) -> str:
    if re.fullmatch(r"[A-Za-z_][\w .-]*", s) and s.strip() == s and s.lower() not in (
            "yes", "no", "true", "false", "null", "on", "off", "y", "n"):
        return s
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar: every control character escaped


def write_coco_dataset(dataset: Dataset, out: str | os.PathLike, *,
                       inputs: Sequence[tuple[str, str | os.PathLike | None]] = ()) -> ConversionReport:
    """Write ``dataset`` as one COCO ground-truth JSON (:func:`vocbench.io.coco.export_coco`).

    ``out`` may not be the dataset root or one of ``inputs`` (the CLI passes SRC and ``--images-dir``), nor lie
    inside one of them that is a folder (a VOCdevkit, an image folder): converted data is never added to a folder
    vocbench reads, whether the target is a folder or a file. Next to an input *file* (``instances.json``,
    ``data.yaml``) is fine.
    """
    from vocbench.io.coco import export_coco, write_json

    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give the .json file to write")
    check_inputs_outside(out, [*inputs, ("dataset", dataset.root or None)], kind="file")
    gt = export_coco(dataset)
    write_json(gt, out)
    return ConversionReport("coco", str(out), dataset.num_images, dataset.num_objects,
                            {s: int((dataset.image_sets == k).sum()) for k, s in enumerate(dataset.sets)},
                            not_carried=("truncated", "occluded", "pose", "image depth", "the split of each image"))
