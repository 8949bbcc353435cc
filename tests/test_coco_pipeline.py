"""From COCO files to the COCO kernel's inputs: the fields the COCO metric never reads (VOC pixel boxes, file stems
and names) are built on first read and equal what an eager conversion gives; the id lookup against a dict twin."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vocbench import Detections, evaluate
from vocbench.io.coco_gt import load_coco_gt
from vocbench.io.coco_match import _lookup
from vocbench.io.detections import read_detections
from vocbench.structures import _given


# ------------------------------------------------------------------------------------------------ twins
def _voc_box_twin(xywh) -> list[list[float]]:
    """(x + 1, y + 1, x + w, y + h) with Python floats, row by row (the COCO export's inverse)."""
    return [[x + 1.0, y + 1.0, x + w, y + h] for x, y, w, h in np.asarray(xywh, np.float64).tolist()]


def _inverted_twin(xywh) -> list[bool]:
    return [b[2] < b[0] or b[3] < b[1] for b in _voc_box_twin(xywh)]


def _first_nonfinite_twin(scores, xywh) -> int:
    for i, (s, b) in enumerate(zip(np.asarray(scores).tolist(), _voc_box_twin(xywh))):
        if not all(math.isfinite(v) for v in [s, *b]):
            return i
    return -1


def _random_xywh(rng: np.random.Generator, n: int) -> np.ndarray:
    """Boxes whose VOC conversion is not trivial: widths in (0, 1) and negative, corners where ``x + w`` and
    ``x + 1`` round to the same double or not (x near 2**53), huge magnitudes."""
    x = rng.choice([0.0, 3.5, 2.0**53 - 1, 9.0e15, -7.25, 1e300], size=n) + rng.uniform(0, 2, n)
    y = rng.choice([0.0, 2.0**52, 12.5], size=n) + rng.uniform(0, 2, n)
    w = rng.choice([0.5, 0.999999, 1.0, 1.0000001, -2.0, 30.0, 0.0], size=n)
    h = rng.choice([0.25, 1.0, 40.0, -0.5, 0.9999999999], size=n)
    return np.column_stack([x, y, w, h])


def _detections(xywh: np.ndarray, scores: np.ndarray, boxes=None) -> Detections:
    n = len(scores)
    return Detections(np.zeros(n, np.int64), np.zeros(n, np.int64), scores, boxes, source="t", xywh=xywh)


# ------------------------------------------------------------------------------------------------ detections
@pytest.mark.parametrize("seed", range(4))
def test_unbuilt_boxes_answer_as_the_built_ones(seed):
    rng = np.random.default_rng(seed)
    xywh = _random_xywh(rng, 400)
    scores = rng.uniform(0, 1, 400)
    lazy = _detections(xywh, scores)
    assert _given(lazy, "boxes") is None
    assert lazy.inverted().tolist() == _inverted_twin(xywh)
    assert sum(_inverted_twin(xywh)) > 0 and not all(_inverted_twin(xywh))  # both kinds of row were tested
    assert lazy.first_nonfinite() == -1
    assert _given(lazy, "boxes") is None  # neither test built the boxes
    again = type(lazy)(**lazy.__dict__)
    assert _given(again, "boxes") is None and again.boxes.tolist() == _voc_box_twin(xywh)
    assert lazy.boxes.tolist() == _voc_box_twin(xywh)
    assert not lazy.boxes.flags.writeable
    assert _given(lazy, "boxes") is lazy.boxes  # built once, kept


@pytest.mark.parametrize("bad", ["nan-score", "inf-x", "nan-h", "overflow-x", "overflow-y"])
def test_first_nonfinite_of_unbuilt_boxes_is_the_built_boxes_row(bad):
    rng = np.random.default_rng(7)
    xywh = _random_xywh(rng, 50)
    scores = rng.uniform(0, 1, 50)
    row = 31
    if bad == "nan-score":
        scores[row] = np.nan
    elif bad == "inf-x":
        xywh[row, 0] = -np.inf
    elif bad == "nan-h":
        xywh[row, 3] = np.nan
    elif bad == "overflow-x":  # finite numbers whose far corner x + w is inf
        xywh[row, 0], xywh[row, 2] = 1.5e308, 1.5e308
    else:
        xywh[row, 1], xywh[row, 3] = -1.7e308, -1.7e308
    lazy = _detections(xywh, scores)
    assert _first_nonfinite_twin(scores, xywh) == row
    assert lazy.first_nonfinite() == row
    built = _detections(xywh, scores, boxes=np.array(_voc_box_twin(xywh)))
    assert built.first_nonfinite() == row


def test_selection_and_concat_keep_boxes_unbuilt():
    rng = np.random.default_rng(3)
    xywh = _random_xywh(rng, 60)
    lazy = _detections(xywh, rng.uniform(0, 1, 60))
    mask = rng.uniform(0, 1, 60) < 0.5
    for part in (lazy[mask], lazy[5:9], lazy[[4, 4, 1]], Detections.concat([lazy[:10], lazy[10:]])):
        assert _given(part, "boxes") is None
    assert lazy[mask].boxes.tolist() == _voc_box_twin(xywh[mask])
    assert Detections.concat([lazy[:10], lazy[10:]]).boxes.tolist() == _voc_box_twin(xywh)
    given = _detections(xywh, lazy.scores, boxes=np.zeros((60, 4)))  # given boxes win over xywh, as before
    assert given.boxes.tolist() == [[0.0] * 4] * 60 and given[mask].boxes.shape == (int(mask.sum()), 4)
    mixed = Detections.concat([lazy[:10], given[10:]])
    assert mixed.boxes.tolist() == _voc_box_twin(xywh[:10]) + [[0.0] * 4] * 50


def test_detections_need_boxes_or_xywh():
    with pytest.raises(TypeError, match="boxes .* or xywh"):
        Detections(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1))


# ------------------------------------------------------------------------------------------------ ground truth
def _write_gt(tmp_path: Path, names: list) -> tuple[Path, dict]:
    images = [{"id": 10 + 7 * i, "width": 640, "height": 480} for i in range(len(names))]
    for im, name in zip(images, names):
        if name is not None:
            im["file_name"] = name
    anns = [{"id": j + 1, "image_id": images[j % len(images)]["id"], "category_id": 3 - j % 2,
             "bbox": [1.5 * j, 2.0, 10.25 + j, 1.5 + j], "area": 5.0 + j, "iscrowd": int(j == 4)} for j in range(9)]
    gt = {"images": images, "annotations": anns, "categories": [{"id": 3, "name": "b"}, {"id": 2, "name": "a"}]}
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(gt))
    return path, gt


@pytest.mark.parametrize("names, stems", [
    (["a/x.jpg", "y.png", None, ".hidden", "z."], ["x", "y", "24", ".hidden", "z."]),  # Path(...).stem
    (["d1/same.jpg", "d2/same.jpg", "other.jpg"], ["10", "17", "24"]),  # repeated stems: the COCO ids as text
])
def test_coco_image_ids_and_files_built_on_first_read(tmp_path, names, stems):
    path, gt = _write_gt(tmp_path, names)
    ds = load_coco_gt(path)
    assert all(_given(ds, name) is None for name in ("image_ids", "image_files", "boxes"))
    assert ds.num_images == len(names) and ds.num_objects == 9
    again = type(ds)(**ds.__dict__)  # rebuilt from its fields (tests do this), the fields still unbuilt
    assert all(_given(again, name) is None for name in ("image_ids", "image_files", "boxes"))
    assert again.image_ids.tolist() == stems
    expected_files = [n if n is not None else f"{im['id']}.jpg" for n, im in zip(names, gt["images"])]
    twin = [Path(f).stem for f in expected_files]
    if len(set(twin)) < len(twin):
        twin = [str(im["id"]) for im in gt["images"]]
    assert twin == stems
    assert ds.image_files.tolist() == expected_files
    assert ds.image_ids.tolist() == stems
    # objects are grouped by image (file order within an image): the boxes follow the dataset's object order
    order = sorted(range(9), key=lambda j: (j % len(names), j))
    assert ds.boxes.tolist() == _voc_box_twin([gt["annotations"][j]["bbox"] for j in order])
    sub = ds.subset_images(np.array([i % 2 == 0 for i in range(len(names))]))
    assert sub.image_files.tolist() == expected_files[::2] and sub.image_ids.tolist() == stems[::2]


def test_coco_metric_builds_none_of_the_voc_fields(tmp_path):
    path, gt = _write_gt(tmp_path, ["p.jpg", "q.jpg", "r.jpg"])
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.5}
               for a in gt["annotations"]]
    (tmp_path / "results.json").write_text(json.dumps(results))
    ds = load_coco_gt(path)
    dets = read_detections(tmp_path / "results.json", ds)
    result = evaluate(ds, dets, metrics=("coco",))
    assert result.coco is not None and result.coco.stats["AP50"] == 1.0
    assert all(_given(ds, name) is None for name in ("image_ids", "image_files", "boxes"))
    assert _given(dets, "boxes") is None
    voc = evaluate(ds, dets, metrics=("voc07",))  # the VOC metric builds them, with the same answer
    assert voc.voc[0].mAP["voc07"] == 1.0 and _given(dets, "boxes") is not None


# ------------------------------------------------------------------------------------------------ id lookup
@pytest.mark.parametrize("seed", range(6))
def test_lookup_equals_a_dict(seed):
    rng = np.random.default_rng(seed)
    big = np.iinfo(np.int64)
    if seed % 2:  # compact ids: the dense table
        table = rng.permutation(np.arange(-50, 950))[: rng.integers(1, 900)].astype(np.int64)
    else:  # sparse ids: sort and search
        table = np.unique(rng.integers(-(2**62), 2**62, 300)).astype(np.int64)
        rng.shuffle(table)
    ids = np.concatenate([rng.choice(table, 500), rng.integers(-100, 1000, 300),
                          np.array([big.min, big.max, big.min + 1, big.max - 1, 0, -1], np.int64)])
    position = {int(v): k for k, v in enumerate(table.tolist())}
    expected = [position.get(int(v), -1) for v in ids.tolist()]
    assert _lookup(ids, table).tolist() == expected
    assert _lookup(ids[::3], table).tolist() == expected[::3]  # a strided column, as the scanner hands it
    assert _lookup(ids[:0], table).tolist() == [] and _lookup(ids, table[:0]).tolist() == [-1] * len(ids)


# ------------------------------------------------------------------------------------------------ scanner
@pytest.mark.parametrize("text", [
    b'[{"image_id": 1, "category_id": 2, "bbox": [1.5, 2, 3e2, 0.1], "score": 0.5}]',
    # a token of more than 18 significant digits (converted by float on its bytes) and a non-ASCII skipped field
    '[{"image_id": 7, "note": "caf\u00e9", "category_id": 1, "bbox": [0.12345678901234567890123, 1, 2, 3],'
    ' "score": 1.00000000000000000000001}, {"image_id": 8, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0}]'
    .encode(),
    b'\xef\xbb\xbf[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]',  # BOM: json path
    b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "x": "\xff"}]',  # not UTF-8
])
def test_scanner_reads_the_array_as_the_bytes(text):
    from vocbench.io._json_scan import scan_coco_results

    from_bytes = scan_coco_results(text, force=True)
    from_array = scan_coco_results(np.frombuffer(text, np.uint8), force=True)
    if from_bytes is None:
        assert from_array is None and (text.startswith(b"\xef\xbb\xbf") or b"\xff" in text)
        return
    assert from_array is not None and from_bytes.keys() == from_array.keys()
    for key, col in from_bytes.items():
        assert col.dtype == from_array[key].dtype and col.tobytes() == from_array[key].tobytes()
    records = json.loads(text)
    assert from_array["score"].tolist() == [r["score"] for r in records]
    assert from_array["bbox"].tolist() == [[float(v) for v in r["bbox"]] for r in records]


# ------------------------------------------------------------------------------------------------ process
def test_cli_turns_huge_page_advice_off_while_a_command_runs(monkeypatch):
    import vocbench.cli as cli

    setter = np._core.multiarray._set_madvise_hugepage
    during: list = []
    monkeypatch.setattr(cli, "_dispatch", lambda args: during.append(setter(False)) or 0)
    before = setter(True)
    try:
        assert cli.main(["eval", "--gt", "instances.json", "--dets", "results.json", "--metric", "coco"]) == 0
        assert during == [False]  # off while the command ran
        assert setter(True) is True  # and restored after
    finally:
        setter(before)


@pytest.mark.parametrize("ids", [[], [5], [1, 2, 9, 40], [3, 1, 2], [1, 1, 2], [7, 9, 8, 100, -4]])
def test_sorted_id_positions(ids):
    from vocbench.eval.coco import _sorted_id_positions

    got = _sorted_id_positions(np.array(ids, np.int64))
    twin = [sorted(ids).index(v) for v in ids]  # (ids of a COCO file are unique; [1, 1, 2] is only a tie test)
    if got is None:  # None: the rows are the positions
        assert twin == list(range(len(ids))) and all(a < b for a, b in zip(ids, ids[1:]))
    else:
        assert got.tolist() == twin if len(set(ids)) == len(ids) else got.tolist() == [0, 1, 2]
        assert len(ids) >= 2 and not all(a < b for a, b in zip(ids, ids[1:]))


def test_missing_and_non_regular_json_named_apart(tmp_path):
    """A missing COCO file says so; a folder in its place is 'not a regular file'."""
    from vocbench.errors import InputError
    from vocbench.io.coco_columns import read_json_bytes

    with pytest.raises(InputError, match=r"nope\.json: no such file; expected a COCO instances\.json"):
        read_json_bytes(tmp_path / "nope.json", "COCO instances.json")
    with pytest.raises(InputError, match=r": not a regular file; expected a COCO instances\.json"):
        read_json_bytes(tmp_path, "COCO instances.json")
