"""Per-image text files: YOLO label/prediction files (normalised) and absolute per-image detection files.

Formats (one ``<image_id>.txt`` per image, one object per line; a missing or empty file = nothing on that image):

* ``yolo`` predictions: ``<class_index> <cx> <cy> <w> <h> <confidence>`` (ultralytics ``save_txt`` +
  ``save_conf``), normalised by the image size; ``class_index`` is 0-based into the dataset's class list. A folder
  holding a ``labels/`` sub-folder (``runs/detect/predict``) is read from there.
* ``yolo`` labels (ground truth, :mod:`vocbench.io.gt`): ``<class_index> <cx> <cy> <w> <h>`` (no score column).
* ``absolute`` predictions: ``<class_name> <confidence> <xmin> <ymin> <xmax> <ymax>`` in VOC pixels, the
  detection-file format of rafaelpadilla/Object-Detection-Metrics (``--detformat xyrb``, absolute coordinates).
  The coordinates are taken as written (like devkit files); the class is a name (or a 0-based class index).

YOLO conventions (``convention=``, CLI ``--yolo-convention``), for a VOC box ``(xmin, ymin, xmax, ymax)`` in
1-based inclusive pixels on an image ``W x H`` (y alike):

* ``"ultralytics"`` (default): ``cx = ((xmin + xmax) / 2 - 1) / W``, ``w = (xmax - xmin) / W`` — exactly what
  ultralytics' ``VOC.yaml`` (and darknet's ``voc_label.py``) write; reading inverts it:
  ``xmin = cx * W + 1 - w * W / 2``, ``xmax = cx * W + 1 + w * W / 2``.
* ``"coco"``: the box's pixel extent in 0-based continuous coordinates, ``cx = (xmin - 1 + xmax) / 2 / W``,
  ``w = (xmax - xmin + 1) / W`` — what JSON2YOLO-style converters make of :func:`vocbench.io.coco.export_coco`
  (and the ``"voc"`` pixel convention of :func:`vocbench.boxes.convert.box_convert` ``ncxcywh``).
* ``"plain"``: the VOC numbers normalised as they stand, ``cx = (xmin + xmax) / 2 / W``, ``w = (xmax - xmin) / W``
  (albumentations' ``pascal_voc`` → ``yolo``).

Every conversion is the exact inverse of its writer up to float rounding (about 1e-13 pixels); writers use the
shortest repr that round-trips each float (full precision). Bad input raises
:class:`~vocbench.errors.InputError` naming the file and line: wrong column count, a non-number, NaN/inf, a class
index outside the class list. Normalised values outside [0, 1] give one warning (``strict=True``: an error).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vocbench.errors import InputError, VocbenchWarning
from vocbench.structures import VOC_CLASSES, Dataset, Detections

__all__ = ["YOLO_CONVENTIONS", "DEFAULT_YOLO_CONVENTION", "voc_to_yolo", "yolo_to_voc", "guess_folder_format",
           "read_yolo_detections", "read_absolute_detections", "write_yolo_detections", "clip_normalised",
           "write_absolute_detections", "read_label_table", "read_label_tables", "read_numeric_tables",
           "class_indices",
           "RangeCheck", "format_float", "MAX_LABEL_CHARS"]

#: YOLO normalisation conventions (see the module docstring) → one line each for ``--help``.
YOLO_CONVENTIONS: dict[str, str] = {
    "ultralytics": "cx = ((xmin + xmax) / 2 - 1) / W, w = (xmax - xmin) / W (ultralytics VOC.yaml; darknet)",
    "coco": "cx = (xmin - 1 + xmax) / 2 / W, w = (xmax - xmin + 1) / W (pixel extent; COCO export -> JSON2YOLO)",
    "plain": "cx = (xmin + xmax) / 2 / W, w = (xmax - xmin) / W (VOC numbers normalised as they stand)",
}
DEFAULT_YOLO_CONVENTION = "ultralytics"
#: Largest per-image txt file read (characters): a label or prediction file of one image is a few KB.
MAX_LABEL_CHARS = 64 * 2**20
#: (centre offset, size offset): ``cx = ((xmin + xmax) / 2 + c) / W``, ``w = (xmax - xmin + s) / W``.
_OFFSETS = {"ultralytics": (-1.0, 0.0), "coco": (-0.5, 1.0), "plain": (0.0, 0.0)}


def _offsets(convention: str) -> tuple[float, float]:
    try:
        return _OFFSETS[convention]
    except (KeyError, TypeError):
        raise InputError(f"YOLO convention must be one of {list(_OFFSETS)}, got {convention!r}") from None


def voc_to_yolo(boxes, widths, heights, convention: str = DEFAULT_YOLO_CONVENTION) -> np.ndarray:
    """VOC boxes → normalised ``(cx, cy, w, h)``.

    Args:
        boxes: float64[N, 4] ``(xmin, ymin, xmax, ymax)``, VOC 1-based inclusive pixels.
        widths, heights: float64[N] (or scalars) image size of each box, pixels.
        convention: ``"ultralytics"`` (default), ``"coco"`` or ``"plain"`` (module docstring).

    Returns:
        float64[N, 4] ``(cx, cy, w, h)`` divided by the image size.
    """
    c, s = _offsets(convention)
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    W = np.broadcast_to(np.asarray(widths, np.float64), (len(b),))
    H = np.broadcast_to(np.asarray(heights, np.float64), (len(b),))
    dw, dh = 1.0 / W, 1.0 / H  # multiply by the reciprocal, as VOC.yaml does: bit-identical to its files
    out = np.empty_like(b)
    out[:, 0] = ((b[:, 0] + b[:, 2]) / 2.0 + c) * dw
    out[:, 1] = ((b[:, 1] + b[:, 3]) / 2.0 + c) * dh
    out[:, 2] = (b[:, 2] - b[:, 0] + s) * dw
    out[:, 3] = (b[:, 3] - b[:, 1] + s) * dh
    return out


def yolo_to_voc(cxcywh, widths, heights, convention: str = DEFAULT_YOLO_CONVENTION, snap: bool = True) -> np.ndarray:
    """Inverse of :func:`voc_to_yolo`: normalised ``(cx, cy, w, h)`` → float64[N, 4] VOC pixel boxes.

    With ``snap`` (default) a coordinate within 1e-9 pixel of an integer becomes that integer: this undoes the
    float rounding of the normalisation, so integer VOC boxes come back bit for bit (and so do anchors and stats
    computed from them); no real coordinate moves by more than 1e-9 pixel.
    """
    c, s = _offsets(convention)
    a = np.asarray(cxcywh, np.float64).reshape(-1, 4)
    W = np.broadcast_to(np.asarray(widths, np.float64), (len(a),))
    H = np.broadcast_to(np.asarray(heights, np.float64), (len(a),))
    cx = a[:, 0] * W - c
    cy = a[:, 1] * H - c
    hw = (a[:, 2] * W - s) / 2.0
    hh = (a[:, 3] * H - s) / 2.0
    out = np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)
    if snap:
        r = np.round(out)
        near = np.abs(out - r) < 1e-9
        out[near] = r[near]
    return out


def format_float(v: float) -> str:
    """Shortest text that reads back as the same float64 (``repr``); integral values without ``.0``."""
    if v == int(v) and abs(v) < 2 ** 53:
        return str(int(v))
    return repr(float(v))


# ------------------------------------------------------------------------------------------ folder sniffing
def _txt_files(folder: Path) -> list[Path]:
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if e.name.endswith(".txt") and e.is_file())
    return [folder / n for n in names]


def _prediction_folder(folder: Path) -> Path:
    """``folder`` itself, or ``folder/labels`` when only that holds the txt files (ultralytics ``predict``)."""
    if not _txt_files(folder) and (folder / "labels").is_dir():
        return folder / "labels"
    return folder


def _is_number(tok: str) -> bool:
    try:
        return math.isfinite(float(tok))
    except ValueError:
        return False


def _is_int(tok: str) -> bool:
    try:
        v = float(tok)
    except ValueError:
        return False
    return math.isfinite(v) and v == int(v)


def guess_folder_format(folder: str | os.PathLike, classes: Sequence[str] = VOC_CLASSES) -> str:
    """``"devkit"``, ``"yolo"`` or ``"absolute"`` for a folder of txt files.

    Rules, in order: a ``comp*_det_*`` file name → devkit; the first data line of the first non-empty file with
    6 fields, an integer class and four values in [0, 1] → yolo; a first field that is one of ``classes`` →
    absolute; otherwise devkit (its own reader then explains what it expected). Pass ``format=`` to override.
    """
    folder = _prediction_folder(Path(folder))
    files = _txt_files(folder)
    if any(p.stem.startswith("comp") and "_det_" in p.stem for p in files):
        return "devkit"
    names = set(classes)
    for p in files[:50]:
        try:
            with open(p, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    tok = line.split()
                    if not tok:
                        continue
                    if (len(tok) in (5, 6) and _is_int(tok[0]) and all(_is_number(t) for t in tok[1:])
                            and all(0.0 <= float(t) <= 1.0 for t in tok[1:5])):
                        return "yolo"  # 5 fields: labels without confidence; the reader says so
                    if tok[0] in names and len(tok) == 6:
                        return "absolute"
                    return "devkit"
        except OSError:
            continue
    return "devkit"


# ------------------------------------------------------------------------------------------ parsing
def read_label_tables(paths: Sequence[Path], ncols: int, fields: str, numeric_from: int = 0
                      ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Parse per-image txt files with exactly ``ncols`` whitespace-separated fields per non-blank line.

    Returns:
        (first column as text, float64[N, ncols - numeric_from] numeric columns, int64[N] line numbers,
        int64[F + 1] row offsets of each file). With ``numeric_from=0`` the first column is numeric too.

    Raises:
        InputError: ``path: line L: ...`` for a wrong field count, a non-number or NaN/inf.
    """
    first: list[str] = []
    toks: list[str] = []
    lines: list[int] = []
    offsets = [0]
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read(MAX_LABEL_CHARS + 1)
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, expected a txt file") from None
        if len(text) > MAX_LABEL_CHARS:  # one image's objects: never hundreds of MB (bounded before parsing)
            raise InputError(f"{path}: larger than {MAX_LABEL_CHARS // 2**20} MiB; not a per-image label file")
        for i, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != ncols:
                hint = ""
                if fields.endswith("confidence") and len(parts) == ncols - 1:
                    hint = " (a label file without the confidence column? ultralytics: save_conf=True)"
                raise InputError(f"{path}: line {i}: expected {ncols} fields ({fields}), got {len(parts)}: "
                                 f"{line.strip()[:80]!r}{hint}")
            first.append(parts[0])
            toks.extend(parts[numeric_from:])
            lines.append(i)
        offsets.append(len(lines))
    width = ncols - numeric_from
    try:
        values = np.array(toks, dtype=np.float64).reshape(len(lines), width)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        names = fields.split()
        for f, path in enumerate(paths):
            for r in range(offsets[f], offsets[f + 1]):
                for k in range(width):
                    tok = toks[r * width + k]
                    try:
                        ok = math.isfinite(float(tok))
                    except ValueError:
                        ok = False
                    if not ok:
                        name = names[k + numeric_from] if k + numeric_from < len(names) else f"field {k + 1}"
                        raise InputError(f"{path}: line {lines[r]}: {name} {tok!r} is not a finite number "
                                         f"({fields})")
        raise InputError(f"could not parse the files as {fields}")  # pragma: no cover
    return first, values, np.asarray(lines, np.int64), np.asarray(offsets, np.int64)


def read_numeric_tables(paths: Sequence[Path], ncols: int, fields: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`read_label_tables` of all-numeric files without the text column: ``(float64[N, ncols], int64[N]
    line numbers, int64[F + 1] row offsets)``. Many or large files go through the byte scanner
    (:mod:`vocbench.io._text_scan`: no Python object per line); a file it leaves, and small inputs, through
    :func:`read_label_tables` (same values, same errors)."""
    from vocbench.io import _text_scan

    paths = list(paths)
    if not _text_scan.worth_scanning("yolo", paths) or any(os.stat(p).st_size > MAX_LABEL_CHARS for p in paths):
        _, values, lines, offsets = read_label_tables(paths, ncols, fields)
        return values, lines, offsets
    t = _text_scan.scan_table(paths, ["num"] * ncols)
    if not t.fallback.any():
        return t.values.T, t.lines, t.row_offsets
    parts_v, parts_l, counts = [], [], []
    for f, path in enumerate(paths):
        if t.fallback[f]:
            _, v, ln = read_label_table(path, ncols, fields)
        else:
            rows = slice(int(t.row_offsets[f]), int(t.row_offsets[f + 1]))
            v, ln = t.values[:, rows].T, t.lines[rows]
        parts_v.append(v)
        parts_l.append(ln)
        counts.append(len(ln))
    offsets = np.zeros(len(paths) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return np.concatenate(parts_v), np.concatenate(parts_l), offsets


def read_label_table(path: Path, ncols: int, fields: str, numeric_from: int = 0
                     ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One file of :func:`read_label_tables`: (first column, numeric columns, line numbers)."""
    first, values, lines, _ = read_label_tables([path], ncols, fields, numeric_from)
    return first, values, lines


def _file_of(row: int, offsets: np.ndarray) -> int:
    return int(np.searchsorted(offsets, row, side="right") - 1)


def class_indices(tokens, paths, lines: np.ndarray, num_classes: int, offsets: np.ndarray | None = None,
                  what: str = "class index") -> np.ndarray:
    """Integer class column → int64[N]; InputError naming file and line for a non-integer or out-of-range index.

    ``paths`` is one path, or one per file with ``offsets`` (int64[F + 1] row offsets of the files).
    """
    vals = np.asarray(tokens, np.float64)
    bad = ~((vals >= 0) & (vals < num_classes) & (vals == np.floor(vals)))  # NaN is bad; no cast before the check
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        path = paths if offsets is None else paths[_file_of(r, offsets)]
        v = float(vals[r])
        if not (math.isfinite(v) and v.is_integer()):
            raise InputError(f"{path}: line {lines[r]}: {what} {v:.6g} is not an integer (fractions are refused, "
                             "not truncated)")
        shown = int(v) if abs(v) < 1e18 else f"{v:.6g}"
        raise InputError(f"{path}: line {lines[r]}: {what} {shown} is outside 0..{num_classes - 1} "
                         f"(the {num_classes} names of the class list)")
    return vals.astype(np.int64)


class RangeCheck:
    """Collect normalised values outside [0, 1]: one warning for all (``strict``: an error at the first)."""

    def __init__(self, strict: bool, what: str) -> None:
        self.strict = strict
        self.what = what
        self.count = 0
        self.first = ""

    def check(self, paths, lines: np.ndarray, norm: np.ndarray, offsets: np.ndarray | None = None) -> None:
        """``paths``: one path, or one per file with ``offsets`` (row offsets of the files)."""
        bad = ~((norm >= 0.0) & (norm <= 1.0)).all(axis=1)
        if not bad.any():
            return
        r = int(np.flatnonzero(bad)[0])
        path = paths if offsets is None else paths[_file_of(r, offsets)]
        where = (f"{path}: line {lines[r]}: normalised box {' '.join(format_float(v) for v in norm[r])} "
                 "has values outside [0, 1]")
        if self.strict:
            raise InputError(f"{where} (--strict)")
        self.count += int(bad.sum())
        self.first = self.first or where

    def warn(self, stacklevel: int = 3) -> None:
        if self.count:
            warnings.warn(f"{self.count} {self.what} with normalised values outside [0, 1] (kept; --strict refuses "
                          f"them); first: {self.first}", VocbenchWarning, stacklevel=stacklevel)


def _image_files(folder: Path, dataset: Dataset, ignore_unknown: bool) -> list[tuple[int, Path]]:
    """(image index, file) for every txt file in ``folder``; unknown stems raise unless ``ignore_unknown``."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of per-image <image_id>.txt files")
    files = _txt_files(folder)
    if not files:  # scoring nothing as 0.0 would hide a wrong path (an empty folder is not "no detections")
        raise InputError(f"{folder}: no detection files found (expected one <image_id>.txt per image; an image "
                         "without detections may have an empty file or none)")
    lookup = dataset.image_lookup()
    out: list[tuple[int, Path]] = []
    unknown: list[Path] = []
    for p in files:
        i = lookup.get(p.stem)
        if i is None:
            if p.stat().st_size == 0:
                continue
            if not ignore_unknown:
                raise InputError(f"{p}: image id {p.stem!r} is not in the evaluated set {list(dataset.sets)} "
                                 "(use --ignore-unknown-images to drop such detections)")
            unknown.append(p)
            continue
        out.append((i, p))
    if unknown:
        warnings.warn(f"{folder}: dropped {len(unknown)} file(s) of images not in the evaluated set "
                      f"(first: {unknown[0].name})", VocbenchWarning, stacklevel=4)
    out.sort(key=lambda t: t[0])
    return out



def read_yolo_detections(folder: str | os.PathLike, dataset: Dataset, *,
                         convention: str = DEFAULT_YOLO_CONVENTION, strict: bool = False,
                         ignore_unknown_images: bool = False) -> Detections:
    """Read a folder of ultralytics-style prediction files ``<image_id>.txt`` (``cls cx cy w h conf``).

    Boxes are converted back to VOC pixels with the image sizes of ``dataset`` and ``convention``. Rows come in
    dataset image order, file order within an image. Images without a file have no detections.
    """
    _offsets(convention)
    folder = _prediction_folder(Path(folder))
    files = _image_files(folder, dataset, ignore_unknown_images)
    paths = [p for _, p in files]
    values, lines, offsets = read_numeric_tables(paths, 6, "class_index cx cy w h confidence")
    image_index = np.repeat(np.array([i for i, _ in files], np.int64), np.diff(offsets))
    cls = class_indices(values[:, 0], paths, lines, dataset.num_classes, offsets)
    rng = RangeCheck(strict, "prediction(s)")
    rng.check(paths, lines, values[:, 1:5], offsets)
    rng.warn()
    boxes = yolo_to_voc(values[:, 1:5], dataset.widths[image_index], dataset.heights[image_index], convention)
    return Detections(image_index=image_index, class_index=cls, scores=values[:, 5], boxes=boxes, source=str(folder))


def read_absolute_detections(folder: str | os.PathLike, dataset: Dataset, *,
                             ignore_unknown_images: bool = False) -> Detections:
    """Read a folder of ``<image_id>.txt`` files with lines ``class_name confidence xmin ymin xmax ymax``."""
    folder = Path(folder)
    files = _image_files(folder, dataset, ignore_unknown_images)
    paths = [p for _, p in files]
    names, values, lines, offsets = read_label_tables(paths, 6, "class confidence xmin ymin xmax ymax",
                                                      numeric_from=1)
    image_index = np.repeat(np.array([i for i, _ in files], np.int64), np.diff(offsets))
    name_to_index = {c: k for k, c in enumerate(dataset.classes)}
    cls = np.empty(len(names), np.int64)
    for r, name in enumerate(names):
        k = name_to_index.get(name)
        if k is None and name.isascii() and name.isdigit() and len(name) < 19 and int(name) < dataset.num_classes:
            k = int(name)
        if k is None:
            raise InputError(f"{paths[_file_of(r, offsets)]}: line {lines[r]}: unknown class {name!r}; expected "
                             f"one of {', '.join(dataset.classes)} (or a class index 0..{dataset.num_classes - 1})")
        cls[r] = k
    return Detections(image_index=image_index, class_index=cls, scores=values[:, 0], boxes=values[:, 1:5],
                      source=str(folder))


# ------------------------------------------------------------------------------------------ writers
def _write_text(path: Path, text: str) -> None:
    from vocbench.io.atomic import atomic_write_text

    atomic_write_text(path, text, fsync=False)


def _per_image(detections: Detections, dataset: Dataset):
    """(image index, row indices) per image that has detections, rows in input order.

    Raises InputError when two images share an id (one file per id could not tell them apart) or an id cannot be
    a file name (:func:`vocbench.paths.safe_name`).
    """
    from vocbench.paths import safe_name

    used = np.unique(detections.image_index)
    ids = dataset.image_ids[used]
    for i, iid in zip(used.tolist(), ids.tolist()):
        safe_name(iid, f"{dataset.root or 'dataset'}: image {i + 1}", "image id")
    if len(np.unique(ids)) != len(ids):
        dup = next(i for i in ids.tolist() if (ids == i).sum() > 1)
        raise InputError(f"{dataset.root or 'dataset'}: image id {dup!r} occurs in several folders of the union "
                         f"{list(dataset.sets)}; per-image files need unique ids (write one set at a time)")
    order = np.argsort(detections.image_index, kind="stable")
    img = detections.image_index[order]
    cuts = np.flatnonzero(np.diff(img)) + 1
    for rows in np.split(order, cuts):
        if len(rows):
            yield int(detections.image_index[rows[0]]), rows


def clip_normalised(norm: np.ndarray) -> tuple[np.ndarray, int]:
    """Normalised ``(cx, cy, w, h)`` boxes with a value outside [0, 1] (what :class:`RangeCheck` warns about: a
    centre outside the image, a box wider or taller than it) clipped to the image (corners into [0, 1]).

    Args:
        norm: float64[N, 4] from :func:`voc_to_yolo`.

    Returns:
        ``(float64[N, 4], count)``: every other row is returned unchanged, bit for bit (a box that only reaches
        past an edge keeps its coordinates, as the devkit scores it); ``count`` rows were clipped (a box wholly
        outside keeps width or height 0).
    """
    norm = np.asarray(norm, np.float64).reshape(-1, 4)
    x0, x1 = norm[:, 0] - norm[:, 2] / 2, norm[:, 0] + norm[:, 2] / 2
    y0, y1 = norm[:, 1] - norm[:, 3] / 2, norm[:, 1] + norm[:, 3] / 2
    bad = ~((norm >= 0.0) & (norm <= 1.0)).all(axis=1)
    if not bad.any():
        return norm, 0
    out = norm.copy()
    cx0, cx1 = np.clip(x0[bad], 0.0, 1.0), np.clip(x1[bad], 0.0, 1.0)
    cy0, cy1 = np.clip(y0[bad], 0.0, 1.0), np.clip(y1[bad], 0.0, 1.0)
    cx1, cy1 = np.maximum(cx1, cx0), np.maximum(cy1, cy0)
    out[bad] = np.stack([(cx0 + cx1) / 2, (cy0 + cy1) / 2, cx1 - cx0, cy1 - cy0], axis=1)
    return np.clip(out, 0.0, 1.0), int(bad.sum())


def write_yolo_detections(detections: Detections, dataset: Dataset, folder: str | os.PathLike,
                          convention: str = DEFAULT_YOLO_CONVENTION) -> Path:
    """Write ``<image_id>.txt`` files ``cls cx cy w h conf`` (full float precision) for images with detections.

    YOLO coordinates are fractions of the image: a box with a value outside [0, 1] (its centre outside the image,
    or wider or taller than the image) is written clipped to the image (:func:`clip_normalised`), with one
    warning giving the count, so that the files read back without values the reader warns about."""
    groups = list(_per_image(detections, dataset))  # every id checked before the first file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clipped = 0
    for i, rows in groups:
        norm, n = clip_normalised(voc_to_yolo(detections.boxes[rows], dataset.widths[i], dataset.heights[i],
                                              convention))
        clipped += n
        cls = detections.class_index[rows].tolist()
        sc = detections.scores[rows].tolist()
        lines = [" ".join([str(c), *(format_float(v) for v in nb), format_float(s)])
                 for c, nb, s in zip(cls, norm.tolist(), sc)]
        _write_text(folder / f"{dataset.image_ids[i]}.txt", "\n".join(lines) + "\n")
    if clipped:
        warnings.warn(f"{folder}: {clipped} detection box(es) with a centre outside their image or a side longer "
                      "than it; written clipped to the image (YOLO coordinates are fractions of it, 0..1)",
                      VocbenchWarning, stacklevel=2)
    return folder


def write_absolute_detections(detections: Detections, dataset: Dataset, folder: str | os.PathLike) -> Path:
    """Write ``<image_id>.txt`` files ``class_name conf xmin ymin xmax ymax`` (Object-Detection-Metrics)."""
    bad = [c for c in dataset.classes if not c or len(c.split()) != 1 or c != c.strip()]
    if bad:
        raise InputError(f"class name {bad[0]!r} has blanks; the absolute format separates fields by whitespace")
    groups = list(_per_image(detections, dataset))  # every id checked before the first file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows in groups:
        lines = [" ".join([dataset.classes[c], format_float(s), *(format_float(v) for v in b)])
                 for c, s, b in zip(detections.class_index[rows].tolist(), detections.scores[rows].tolist(),
                                    detections.boxes[rows].tolist())]
        _write_text(folder / f"{dataset.image_ids[i]}.txt", "\n".join(lines) + "\n")
    return folder
