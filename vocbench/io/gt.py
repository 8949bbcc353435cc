"""Ground truth in the three forms people keep it, read into one :class:`~vocbench.structures.Dataset`.

:func:`load_ground_truth` dispatches on what the path is:

* a **VOCdevkit folder** (``VOC2007/``, ``VOC2012/`` ...) with ``--set YEAR:SPLIT`` → :func:`vocbench.io.voc.load_voc`;
* a **COCO** ``instances.json`` (no set needed) → :func:`vocbench.io.coco_gt.load_coco_gt`;
* a **YOLO** ``data.yaml`` with ``--set val`` (any key of the YAML: ``train``, ``val``, ``test`` ...) →
  :func:`load_yolo_dataset`; a folder holding ``data.yaml`` and no VOC folders is read the same way.

YOLO datasets (ultralytics layout): ``names`` (a list, or a mapping ``index: name``) is the class list; ``path`` the
dataset root (absolute, or relative to the working folder as ultralytics resolves it, or to the YAML's folder — the
first under which the splits exist; absent = the YAML's folder); a split is a folder of images (searched
recursively), a ``.txt`` list of image paths (``./x`` relative to the list's folder) or a list of those. Each
image's label file is the image path with the last ``/images/`` replaced by ``/labels/`` and the suffix by ``.txt``;
lines ``class_index cx cy w h`` (normalised; no score column); a missing or empty label file = an image without
objects. Image sizes come from the image headers (Pillow, without decoding; EXIF orientations 5-8 swap width and
height as ultralytics does). Boxes are converted to VOC pixels with a YOLO convention (:mod:`vocbench.io.yolo`,
default ``"ultralytics"``). YOLO labels cannot mark objects difficult, truncated or occluded, nor carry a pose:
those read as False / -1 / ``"Unspecified"``. The image "year" is the image's folder name (``VOC2007`` → ``2007``).
"""

from __future__ import annotations

import os
import re
import stat
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vocbench.errors import InputError, VocbenchError, VocbenchWarning
from vocbench.structures import Dataset

__all__ = ["load_ground_truth", "load_yolo_dataset", "ground_truth_kind", "image_paths", "label_path",
           "image_header", "IMAGE_SUFFIXES", "MAX_YAML_BYTES", "MAX_IMAGE_SIDE"]

#: Image suffixes of a YOLO split folder (ultralytics' IMG_FORMATS).
IMAGE_SUFFIXES = frozenset(("bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"))


def ground_truth_kind(path: str | os.PathLike) -> str:
    """``"voc"`` (a folder), ``"coco"`` (``*.json``) or ``"yolo"`` (``*.yaml``/``*.yml``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return "coco"
    if suffix in (".yaml", ".yml"):
        return "yolo"
    if p.is_file():
        raise InputError(f"{p}: ground truth must be a VOCdevkit folder, a COCO instances .json or a YOLO "
                         "data .yaml")
    if _yolo_yaml_in(p) is not None:
        return "yolo"
    return "voc"


def _yolo_yaml_in(folder: Path) -> Path | None:
    """``folder/data.yaml`` of a YOLO dataset folder given instead of its YAML (a folder without VOC folders)."""
    if not (folder / "data.yaml").is_file() or not folder.is_dir():
        return None
    if any(q.is_dir() and (q / "Annotations").is_dir() for q in folder.iterdir()):
        return None
    return folder / "data.yaml"


def load_ground_truth(path: str | os.PathLike, sets: Sequence[str] | str | None = None, *,
                      classes: Sequence[str] | None = None, strict: bool = False, cache: bool = True,
                      progress: bool = False, yolo_convention: str = "ultralytics") -> Dataset:
    """Load ground truth from a VOCdevkit folder, a COCO ``instances.json`` or a YOLO ``data.yaml``.

    Args:
        path: the ground truth (see the module docstring for how its kind is recognised).
        sets: VOC: ``"YEAR:SPLIT"`` specs (required); YOLO: split keys of the YAML (required); COCO: not used
            (a warning when given).
        classes: class names (VOC: the class list, default the 20 VOC classes; COCO/YOLO: a check that the
            file's classes are these).
        strict: VOC and COCO: out-of-image and inverted boxes are errors; YOLO: normalised values outside [0, 1]
            are errors.
        cache: VOC only (the parsed-annotation cache).
        progress: a tqdm bar while parsing (VOC).
        yolo_convention: how YOLO labels map back to VOC pixels (:data:`vocbench.io.yolo.YOLO_CONVENTIONS`).
    """
    kind = ground_truth_kind(path)
    if isinstance(sets, str):
        sets = [sets]
    sets = list(sets or [])
    if kind == "coco":
        from vocbench.io.coco_gt import load_coco_gt

        if sets:
            warnings.warn(f"{path}: a COCO ground truth holds one set; --set {' '.join(sets)} is ignored",
                          VocbenchWarning, stacklevel=2)
        return load_coco_gt(path, classes=classes, strict=strict)
    if kind == "yolo":
        if not sets:
            raise VocbenchError(f"{path}: give the split to load with --set (e.g. --set val)")
        yaml_path = _yolo_yaml_in(Path(path)) or path
        return load_yolo_dataset(yaml_path, sets, classes=classes, strict=strict, convention=yolo_convention)
    from vocbench.io.voc import load_voc

    if not sets:
        raise VocbenchError(f"{path}: a VOCdevkit ground truth needs --set YEAR:SPLIT (e.g. --set 2007:test)")
    return load_voc(path, sets, classes=classes, strict=strict, cache=cache, progress=progress)


# ------------------------------------------------------------------------------------------ YOLO data.yaml
#: Largest data.yaml read (bytes): a real one is a few KB; names lists of 10k classes stay far below.
MAX_YAML_BYTES = 8 * 2**20
#: Largest image side read from a header (pixels); a larger one is refused, never allocated.
MAX_IMAGE_SIDE = 2**20


def _no_alias_loader():
    """PyYAML's SafeLoader refusing aliases (``*name``): an alias bomb (nested aliases doubling at each level)
    expands to billions of nodes from a few hundred bytes; a data.yaml never needs one."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(problem="aliases (*name) are not accepted in a data.yaml",
                                           problem_mark=mark)
            return super().compose_node(parent, index)

    return NoAliasLoader


def _read_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        raise VocbenchError("reading a YOLO data.yaml needs PyYAML (pip install pyyaml)") from None
    from vocbench.io.voc import _open_regular

    try:
        with open(_open_regular(str(path), "data.yaml"), encoding="utf-8") as fh:  # a FIFO never blocks
            text = fh.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if len(text) > MAX_YAML_BYTES:
        raise InputError(f"{path}: larger than {MAX_YAML_BYTES // 2**20} MiB; not a YOLO data.yaml")
    try:
        data = yaml.load(text, Loader=_no_alias_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InputError(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except RecursionError:  # thousands of nested [[[...]]]
        raise InputError(f"{path}: nested too deeply; not a YOLO data.yaml") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with 'names' and split keys (train/val/test)")
    return data


def _line_of_key(path: Path, key: str) -> str:
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if re.match(rf"\s*{re.escape(key)}\s*:", line):
                return f"line {i}: "
    except OSError:
        pass
    return ""


def _names(path: Path, data: dict) -> tuple[str, ...]:
    if "names" not in data:
        raise InputError(f"{path}: no 'names' (the class list, e.g. names: [aeroplane, bicycle, ...])")
    raw = data["names"]
    where = f"{path}: {_line_of_key(path, 'names')}"
    if isinstance(raw, dict):
        try:
            keys = sorted(int(k) for k in raw)
        except (TypeError, ValueError):
            raise InputError(f"{where}'names' keys must be class indices 0..N-1") from None
        if keys != list(range(len(keys))):
            raise InputError(f"{where}'names' keys must be 0..{len(keys) - 1} without gaps, got {keys[:20]}")
        names = tuple(str(raw[k] if k in raw else raw[str(k)]) for k in keys)
    elif isinstance(raw, (list, tuple)):
        names = tuple(str(n) for n in raw)
    else:
        raise InputError(f"{where}'names' must be a list or a mapping index: name")
    if not names or len(set(names)) != len(names) or not all(n.strip() for n in names):
        raise InputError(f"{where}'names' is empty or has empty or repeated names")
    nc = data.get("nc")
    if nc is not None and nc != len(names):
        raise InputError(f"{path}: {_line_of_key(path, 'nc')}nc is {nc} but 'names' has {len(names)} entries")
    return names


def _as_list(value) -> list:
    """A YAML value that may be one entry or a list of entries, as a list."""
    return value if isinstance(value, list) else [value]


def _dataset_root(path: Path, data: dict, probe: Sequence[str] = ()) -> Path:
    """The dataset root: ``path`` absolute, else relative to the working folder (ultralytics' rule) or to the
    YAML's folder — the first under which the ``probe`` split entries exist, else the first that exists."""
    raw = data.get("path")
    if not raw:
        return path.parent
    p = Path(str(raw)).expanduser()
    if p.is_absolute():
        cands = [p]
    else:  # ultralytics: relative to the working folder; vocbench falls back to the YAML's folder (not twice)
        unique = dict.fromkeys(os.path.normpath(c) for c in (Path.cwd() / p, path.parent / p))
        cands = [Path(c) for c in unique]
    entries = [e for k in probe for e in _as_list(data.get(k)) if isinstance(e, str)]
    for c in cands:
        if c.is_dir() and entries and all((c / e).exists() for e in entries):
            return c
    for c in cands:
        if c.is_dir():
            return c
    raise InputError(f"{path}: {_line_of_key(path, 'path')}dataset root {raw!r} not found "
                     f"(tried {', '.join(str(c) for c in cands)})")


def _split_images(path: Path, root: Path, key: str, value) -> list[Path]:
    entries = value if isinstance(value, (list, tuple)) else [value]
    out: list[Path] = []
    for e in entries:
        if not isinstance(e, str) or not e:
            raise InputError(f"{path}: {_line_of_key(path, key)}{key}: expected a folder or list-file path, "
                             f"got {e!r}")
        p = Path(e).expanduser()
        p = p if p.is_absolute() else root / p
        if not p.exists() and e.startswith("../"):
            p = root / e[3:]
        if p.is_dir():
            out.extend(sorted((q for q in p.rglob("*") if q.suffix[1:].lower() in IMAGE_SUFFIXES and q.is_file()),
                              key=str))
        elif p.is_file():
            base = p.parent
            with open(p, encoding="utf-8", errors="replace") as fh:
                for ln, line in enumerate(fh, 1):
                    s = line.strip()
                    if not s:
                        continue
                    if s.startswith("./"):
                        q = base / s[2:]
                    else:
                        q = Path(s)
                        if not q.is_absolute():
                            q = q if q.exists() else base / s
                    if q.suffix[1:].lower() not in IMAGE_SUFFIXES:
                        raise InputError(f"{p}: line {ln}: {s!r} is not an image path "
                                         f"(suffixes {', '.join(sorted(IMAGE_SUFFIXES))})")
                    out.append(q)
        else:
            raise InputError(f"{path}: {_line_of_key(path, key)}{key}: {p} is neither a folder nor a list file")
    return out


def label_path(image: Path) -> Path:
    """ultralytics' ``img2label_paths``: the last ``/images/`` → ``/labels/``, suffix → ``.txt``."""
    s = str(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if sa in s:
        s = sb.join(s.rsplit(sa, 1))
    return Path(s.rsplit(".", 1)[0] + ".txt")


def image_header(path: Path) -> tuple[int, int, int]:
    """(width, height, bands) from the image header (no pixel decoding); EXIF rotations swap width/height.

    Pillow's decompression-bomb check is not applied (nothing is decoded, so a 60000x60000 header costs nothing);
    a side above :data:`MAX_IMAGE_SIDE` pixels is refused instead.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        raise InputError(f"{path}: image file not found (listed by the dataset)") from None
    if not regular:  # a FIFO would block Image.open, a device never end
        raise InputError(f"{path}: image is not a regular file (a folder, FIFO or device)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = _open_header(path)
        with im:
            w, h = im.size
            depth = len(im.getbands())
            try:
                orient = im.getexif().get(0x0112)
            except Exception:  # a broken EXIF block: keep the stored size
                orient = None
    except FileNotFoundError:
        raise InputError(f"{path}: image file not found (listed by the dataset)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputError(f"{path}: not a readable image header ({str(exc).splitlines()[0][:100]})") from None
    if orient in (5, 6, 7, 8):
        w, h = h, w
    if w <= 0 or h <= 0:
        raise InputError(f"{path}: image size {w}x{h}, expected positive width and height")
    if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE:
        raise InputError(f"{path}: image size {w}x{h} in the header, larger than {MAX_IMAGE_SIDE} pixels a side")
    return w, h, depth


def _open_header(path: Path):
    """``Image.open`` (reads the header only); a header over Pillow's decompression-bomb limit is opened again with
    the check off for this call: its size is all vocbench reads, and it is bounded by the caller."""
    from PIL import Image

    try:
        return Image.open(path)
    except Image.DecompressionBombError:
        pass
    with _BOMB_LOCK:
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


_BOMB_LOCK = threading.Lock()


def _year(image: Path) -> str:
    name = image.parent.name
    m = re.fullmatch(r"VOC(\w+)", name)
    return m.group(1) if m else name


def load_yolo_dataset(path: str | os.PathLike, sets: Sequence[str] | str, *, classes: Sequence[str] | None = None,
                      strict: bool = False, convention: str = "ultralytics") -> Dataset:
    """Read splits of a YOLO dataset described by ``data.yaml`` (see the module docstring).

    Args:
        path: the ``data.yaml``.
        sets: split keys of the YAML (``"val"``, ``["train", "val"]``); their union, an image listed twice once.
        classes: optional check: the ``names`` must equal these.
        strict: normalised label values outside [0, 1] are errors instead of one warning.
        convention: YOLO convention of the labels (:data:`vocbench.io.yolo.YOLO_CONVENTIONS`).

    Returns:
        A :class:`Dataset` (``sets`` = the split keys, ``root`` = the YAML path, image ids = file stems).
    """
    from vocbench.io.yolo import RangeCheck, class_indices, read_label_table, yolo_to_voc

    path = Path(path)
    data = _read_yaml(path)
    names = _names(path, data)
    if classes is not None and tuple(classes) != names:
        raise InputError(f"{path}: names {list(names)} differ from the requested classes {list(classes)}")
    if isinstance(sets, str):
        sets = [sets]
    sets = [s.strip() for s in sets]
    root = _dataset_root(path, data, sets)
    images: list[Path] = []
    image_sets: list[int] = []
    seen: set[str] = set()
    stems: dict[str, Path] = {}
    for si, key in enumerate(sets):
        if not data.get(key):
            have = [k for k in data
                    if k not in ("names", "nc", "path", "download") and isinstance(data[k], (str, list))]
            raise InputError(f"{path}: no split {key!r} (splits here: {', '.join(map(str, have)) or 'none'})")
        for im in _split_images(path, root, key, data[key]):
            k = os.path.normpath(str(im))
            if k in seen:
                continue
            seen.add(k)
            other = stems.setdefault(im.stem, im)
            if other is not im:  # the image id is the stem: two files would share predictions and output files
                raise InputError(f"{im}: image id {im.stem!r} is also the id of {other}; image file names (without "
                                 "suffix) must be unique across the loaded splits")
            images.append(im)
            image_sets.append(si)

    n = len(images)
    sizes = np.empty((n, 3), np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    rng = RangeCheck(strict, "label(s)")
    fields = "class_index cx cy w h"
    for i, im in enumerate(images):
        w, h, d = image_header(im)
        sizes[i] = (w, h, d)
        lp = label_path(im)
        if not lp.is_file():
            if lp.exists():  # a FIFO would block, a folder is no label file: never read as "no objects"
                raise InputError(f"{lp}: label file is a folder or a special file, expected a regular file")
            continue
        _, values, lines = read_label_table(lp, 5, fields)
        if not len(values):
            continue
        cls = class_indices(values[:, 0], lp, lines, len(names))
        rng.check(lp, lines, values[:, 1:5])
        parts.append((np.full(len(values), i, np.int64), cls, yolo_to_voc(values[:, 1:5], w, h, convention)))
    rng.warn()
    m = sum(len(p[0]) for p in parts)
    ds = Dataset(
        classes=names, sets=tuple(sets), image_ids=np.array([im.stem for im in images], dtype=str),
        image_years=np.array([_year(im) for im in images], dtype=str), image_sets=np.array(image_sets, np.int64),
        widths=sizes[:, 0], heights=sizes[:, 1], depths=sizes[:, 2],
        image_index=np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64),
        class_index=np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64),
        boxes=np.concatenate([p[2] for p in parts]) if parts else np.zeros((0, 4)),
        difficult=np.zeros(m, bool), truncated=np.zeros(m, bool), occluded=np.full(m, -1, np.int8),
        poses=np.full(m, "Unspecified"), root=str(path),
        image_files=np.array([str(im) for im in images], dtype=str).reshape(-1))
    return ds


def image_paths(dataset: Dataset, images_dir: str | os.PathLike | None = None) -> list[Path | None]:
    """Where the images of a dataset are, None for those not found.

    VOC: ``ROOT/VOC<year>/JPEGImages/<id>.jpg`` (or ``.jpeg``/``.png``); YOLO: the files the YAML lists; COCO: each
    ``file_name`` under ``images_dir`` (default: the JSON's folder).
    """
    if dataset.image_files is not None:
        base = Path(images_dir) if images_dir is not None else Path(dataset.root).parent
        known = [Path(str(p)) for p in dataset.image_files.tolist()]
        for i, f in enumerate(known):
            if not f.is_absolute() and ".." in f.parts:  # a COCO file_name: never read outside the image folder
                raise InputError(f"{dataset.root}: image {i + 1} file_name {str(f)!r} leaves the image folder "
                                 f"{base} ('..')")
        return [q if q.is_file() else None for q in ((f if f.is_absolute() else base / f) for f in known)]
    out: list[Path | None] = []
    root = Path(images_dir if images_dir is not None else dataset.root) if dataset.root else None
    for year, iid in zip(dataset.image_years.tolist(), dataset.image_ids.tolist()):
        p = None
        if root is not None and root.is_dir():
            for folder in (root / f"VOC{year}", root / year):
                for suffix in (".jpg", ".jpeg", ".png"):
                    q = folder / "JPEGImages" / f"{iid}{suffix}"
                    if q.is_file():
                        p = q
                        break
                if p is not None:
                    break
        out.append(p)
    return out
