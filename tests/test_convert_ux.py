"""Conversions people use next: YOLO labels without JPEGs, a data.yaml ultralytics accepts, YOLO detections that
read back without warnings, and a COCO export tidecv loads."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import vocbench
from tests.conftest import DATA
from vocbench.cli import main
from vocbench.errors import VocbenchWarning
from vocbench.io.yolo import clip_normalised, voc_to_yolo

SMALL = DATA / "voc_small"
CLASSES = "car,dog,person,train"


def _ultralytics_accepts(yaml_path) -> dict:
    """The checks ultralytics' check_det_dataset makes before it reads a split: both 'train' and 'val' keys,
    'names' matching 'nc', every listed val file present."""
    import yaml

    data = yaml.safe_load(yaml_path.read_text())
    missing = [k for k in ("train", "val") if k not in data]
    assert not missing, f"{yaml_path}: ultralytics requires {missing}"
    assert len(data["names"]) == data["nc"]
    for key in ("train", "val"):
        assert (yaml_path.parent / data[key]).is_file(), (key, data[key])
    return data


def test_labels_only_needs_no_images_and_writes_the_xml_boxes(tmp_path, capsys):
    out = tmp_path / "yolo"
    assert main(["convert", str(SMALL), "--set", "2007:trainval", "--classes", CLASSES, "--to", "yolo", str(out),
                 "--labels-only", "--no-cache", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images_copied"] == 0 and any("labels only" in n for n in report["notes"])
    assert not (out / "images").exists()
    ds = vocbench.load_voc(SMALL, "2007:trainval", classes=CLASSES.split(","), cache=False)
    listed = (out / "trainval.txt").read_text().split()
    assert listed == [f"./images/VOC2007/{i}.jpg" for i in ds.image_ids.tolist()]
    for i, iid in enumerate(ds.image_ids.tolist()):
        rows = np.flatnonzero((ds.image_index == i) & ~ds.difficult)
        text = (out / "labels" / "VOC2007" / f"{iid}.txt").read_text()
        got = np.array([[float(v) for v in line.split()] for line in text.splitlines()]).reshape(-1, 5)
        assert got[:, 0].astype(int).tolist() == ds.class_index[rows].tolist()
        want = voc_to_yolo(ds.boxes[rows], ds.widths[i], ds.heights[i])
        np.testing.assert_array_equal(got[:, 1:], want)  # sizes from the XML, full precision


def test_labels_only_is_a_yolo_option(tmp_path, capsys):
    assert main(["convert", str(SMALL), "--set", "2007:trainval", "--classes", CLASSES, "--to", "coco",
                 str(tmp_path / "x.json"), "--labels-only"]) == 1
    assert "--labels-only is for --to yolo" in capsys.readouterr().err


def test_a_test_only_conversion_writes_train_and_val_keys(tmp_path, voc_root, capsys):
    out = tmp_path / "yolo"
    assert main(["convert", str(voc_root), "--set", "2007:test", "--to", "yolo", str(out), "--labels-only",
                 "--json", "-"]) == 0
    capsys.readouterr()
    data = _ultralytics_accepts(out / "data.yaml")
    assert data["val"] == "test.txt" and data["test"] == "test.txt"
    text = (out / "data.yaml").read_text()
    assert "no 'train' split was converted" in text  # said, not hidden


def test_train_val_conversion_keeps_its_own_splits(tmp_path, capsys):
    out = tmp_path / "yolo"
    assert main(["convert", str(SMALL), "--set", "2007:train", "--set", "2007:val", "--classes", CLASSES, "--to",
                 "yolo", str(out), "--labels-only", "--no-cache", "--json", "-"]) == 0
    capsys.readouterr()
    data = _ultralytics_accepts(out / "data.yaml")
    assert (data["train"], data["val"]) == ("train.txt", "val.txt")
    assert "#" not in (out / "data.yaml").read_text().split("nc:")[0].split("\n", 2)[2]  # no fallback comment


def test_clip_normalised_touches_only_the_rows_the_reader_flags():
    norm = np.array([[0.5, 0.5, 0.2, 0.2],        # inside
                     [0.95, 0.5, 0.2, 0.2],       # reaches past the right edge: kept as the devkit scores it
                     [0.5, 0.5, 1.2, 0.4],        # wider than the image
                     [1.1, 0.5, 0.1, 0.1]])       # centre outside
    out, n = clip_normalised(norm)
    assert n == 2
    np.testing.assert_array_equal(out[:2], norm[:2])
    np.testing.assert_allclose(out[2], [0.5, 0.5, 1.0, 0.4])
    np.testing.assert_allclose(out[3], [1.0, 0.5, 0.0, 0.1])
    assert ((out >= 0) & (out <= 1)).all()


def test_yolo_detections_read_back_without_a_warning(tmp_path):
    from vocbench.io.yolo import read_yolo_detections, write_yolo_detections

    ds = vocbench.Dataset.from_arrays(image_ids=["a", "b"], widths=[100, 200], heights=[100, 100],
                                      image_index=[0, 1], class_index=[0, 1],
                                      boxes=[[11, 11, 50, 50], [1, 1, 200, 100]], classes=("cat", "dog"))
    dets = vocbench.Detections([0, 0, 1], [0, 1, 1], [0.9, 0.8, 0.7],
                               [[10, 10, 50, 50], [-30, 5, 140, 60], [1, 1, 150, 90]])
    with pytest.warns(VocbenchWarning, match=r"1 detection box\(es\) .*clipped to the image"):
        write_yolo_detections(dets, ds, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VocbenchWarning)
        back = read_yolo_detections(tmp_path, ds)
    assert len(back) == 3
    lines = [[float(v) for v in line.split()] for line in (tmp_path / "a.txt").read_text().splitlines()]
    assert lines[0][1:5] == voc_to_yolo(dets.boxes[:1], 100, 100)[0].tolist()  # inside: untouched
    assert all(0.0 <= v <= 1.0 for v in lines[1][1:5])  # 171 px wide on a 100 px image: clipped


def test_export_coco_loads_in_tidecv(tmp_path, capsys):
    tidecv = pytest.importorskip("tidecv")
    gt, res = tmp_path / "gt.json", tmp_path / "dets.json"
    assert main(["export-coco", str(SMALL), "--set", "2007:trainval", "--classes", CLASSES, "--out", str(gt),
                 "--dets", str(DATA / "dets" / "voc_small"), "--dets-out", str(res), "--no-cache"]) == 0
    capsys.readouterr()
    anns = json.loads(gt.read_text())["annotations"]
    assert all(len(a["segmentation"][0]) == 8 for a in anns)
    x, y, w, h = anns[0]["bbox"]
    assert anns[0]["segmentation"] == [[x, y, x + w, y, x + w, y + h, x, y + h]]
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        g = tidecv.datasets.COCO(str(gt))
        p = tidecv.datasets.COCOResult(str(res))
        tide = tidecv.TIDE()
        tide.evaluate(g, p, mode=tidecv.TIDE.BOX)
    assert len(tide.runs) == 1
