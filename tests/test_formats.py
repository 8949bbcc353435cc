"""Formats people have: YOLO / absolute per-image txt detections, COCO and YOLO ground truth, ``vocbench convert``.

External references: ultralytics' VOC.yaml ``convert_box`` (copied verbatim below, the definition of the YOLO
layout we invert), the VOC XML ground truth and the devkit-format YOLOv2 detections (VOC07 mAP 0.721437).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import vocbench
from tests.conftest import REPO
from vocbench.cli import main
from vocbench.errors import InputError, VocbenchWarning
from vocbench.io.yolo import YOLO_CONVENTIONS, voc_to_yolo, yolo_to_voc

YOLOV2_VOC07 = 0.721437


def ultralytics_convert_box(size, box):
    """ultralytics/cfg/datasets/VOC.yaml, verbatim: size = (w, h), box = (xmin, xmax, ymin, ymax)."""
    dw, dh = 1.0 / size[0], 1.0 / size[1]
    x, y, w, h = (box[0] + box[1]) / 2.0 - 1, (box[2] + box[3]) / 2.0 - 1, box[1] - box[0], box[3] - box[2]
    return x * dw, y * dh, w * dw, h * dh


def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vocbench", *argv], capture_output=True, text=True, cwd=REPO)


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("vocbench: warning")]
    assert len(lines) == 1 and lines[0].startswith("vocbench: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------------ conventions
def test_ultralytics_convention_is_voc_yaml_and_inverts():
    rng = np.random.default_rng(0)
    W = rng.integers(50, 800, 300).astype(float)
    H = rng.integers(50, 800, 300).astype(float)
    x1 = np.floor(rng.uniform(1, W - 2))
    y1 = np.floor(rng.uniform(1, H - 2))
    x2 = np.minimum(W, x1 + np.floor(rng.uniform(1, W)))
    y2 = np.minimum(H, y1 + np.floor(rng.uniform(1, H)))
    boxes = np.stack([x1, y1, x2, y2], axis=1)
    got = voc_to_yolo(boxes, W, H, "ultralytics")
    want = np.array([ultralytics_convert_box((w, h), (b[0], b[2], b[1], b[3])) for b, w, h in zip(boxes, W, H)])
    np.testing.assert_array_equal(got, want)  # same float operations, bit for bit
    for conv in YOLO_CONVENTIONS:
        back = yolo_to_voc(voc_to_yolo(boxes, W, H, conv), W, H, conv)
        np.testing.assert_array_equal(back, boxes)  # integer boxes come back exactly (snap within 1e-9)
        raw = yolo_to_voc(voc_to_yolo(boxes + 0.25, W, H, conv), W, H, conv, snap=False)
        np.testing.assert_allclose(raw, boxes + 0.25, rtol=0, atol=1e-9)


def test_conventions_differ_as_documented():
    box = np.array([[11.0, 21.0, 30.0, 60.0]])
    u = voc_to_yolo(box, 100, 200, "ultralytics")[0]
    c = voc_to_yolo(box, 100, 200, "coco")[0]
    p = voc_to_yolo(box, 100, 200, "plain")[0]
    np.testing.assert_allclose(u, [(20.5 - 1) / 100, (40.5 - 1) / 200, 19 / 100, 39 / 200], rtol=1e-15)
    np.testing.assert_allclose(c, [(10 + 30) / 2 / 100, (20 + 60) / 2 / 200, 20 / 100, 40 / 200], rtol=1e-15)
    np.testing.assert_allclose(p, [20.5 / 100, 40.5 / 200, 19 / 100, 39 / 200], rtol=1e-15)
    with pytest.raises(InputError, match="convention"):
        voc_to_yolo(box, 100, 200, "darknet2")


# ------------------------------------------------------------------------------------------ real detections
@pytest.fixture(scope="module")
def yolov2(voc07_test, yolov2_dets):
    return vocbench.read_detections(yolov2_dets, voc07_test)


@pytest.fixture(scope="module")
def yolo_txt_dir(voc07_test, yolov2, tmp_path_factory):
    from vocbench.io.yolo import write_yolo_detections

    out = tmp_path_factory.mktemp("yolov2-yolo") / "labels"
    with pytest.warns(VocbenchWarning, match=r"744 detection box\(es\) with a centre outside"):
        write_yolo_detections(yolov2, voc07_test, out)  # darknet boxes wider than the image: clipped, said once
    return out


def _clipped(dets, dataset):
    """``dets`` as the YOLO writer stores them: boxes with a normalised value outside [0, 1] clipped to the image."""
    from vocbench.io.yolo import clip_normalised

    w, h = dataset.widths[dets.image_index], dataset.heights[dets.image_index]
    norm, _ = clip_normalised(voc_to_yolo(dets.boxes, w, h))
    return vocbench.Detections(dets.image_index, dets.class_index, dets.scores, yolo_to_voc(norm, w, h))


def test_yolov2_as_ultralytics_txt_scores_0_721437(voc_root, yolo_txt_dir, voc07_test, yolov2, capsys):
    first = (yolo_txt_dir / "000001.txt").read_text().split("\n")[0].split()
    assert len(first) == 6 and first[0].isdigit()
    assert len(list(yolo_txt_dir.glob("*.txt"))) == len(np.unique(yolov2.image_index))
    # the text is the VOC.yaml formula on the devkit numbers, at full precision
    i = int(np.flatnonzero(voc07_test.image_ids == "000001")[0])
    row = np.flatnonzero(yolov2.image_index == i)[0]
    b = yolov2.boxes[row]
    want = ultralytics_convert_box((voc07_test.widths[i], voc07_test.heights[i]), (b[0], b[2], b[1], b[3]))
    assert all(0.0 <= v <= 1.0 for v in want)  # a box inside the image: written exactly as VOC.yaml does
    assert [float(t) for t in first[1:5]] == list(want)
    for extra in (["--format", "yolo"], []):  # explicit and auto-detected (the parent folder holds labels/)
        dets = str(yolo_txt_dir) if extra else str(yolo_txt_dir.parent)
        with warnings.catch_warnings():
            warnings.simplefilter("error", VocbenchWarning)  # the clipped files read back without a warning
            assert main(["eval", "--gt", str(voc_root), "--set", "2007:test", "--dets", dets, *extra,
                         "--metric", "voc07", "--metric", "voc12", "--json", "-"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert abs(out["voc07"]["mAP"] - YOLOV2_VOC07) < 1e-4
        assert out["num_detections"] == len(yolov2)
    ref = vocbench.evaluate(voc07_test, _clipped(yolov2, voc07_test))
    assert abs(out["voc07"]["mAP"] - ref.mAP["voc07"]) < 1e-12
    assert abs(out["voc12"]["mAP"] - ref.mAP["voc12"]) < 1e-12


def test_yolov2_out_of_range_warns_and_strict_refuses(voc07_test, yolo_txt_dir, tmp_path):
    from vocbench.io.yolo import read_yolo_detections

    lines = (yolo_txt_dir / "000001.txt").read_text().splitlines()
    (tmp_path / "000001.txt").write_text("\n".join([*lines, "14 0.5 0.5 1.139 0.4 0.9"]) + "\n")  # wider than the image
    with pytest.warns(VocbenchWarning, match=r"outside \[0, 1\].*000001\.txt: line \d+"):
        d = read_yolo_detections(tmp_path, voc07_test)
    assert len(d) == len(lines) + 1
    with pytest.raises(InputError, match=r"000001\.txt: line \d+: .*outside \[0, 1\].*--strict"):
        read_yolo_detections(tmp_path, voc07_test, strict=True)


def test_absolute_txt_round_trip_is_exact(voc07_test, yolov2, tmp_path):
    from vocbench.io.detections import guess_format
    from vocbench.io.yolo import read_absolute_detections, write_absolute_detections

    write_absolute_detections(yolov2, voc07_test, tmp_path)
    assert (tmp_path / "000001.txt").read_text().split()[0] in vocbench.VOC_CLASSES
    assert guess_format(tmp_path) == "absolute"
    back = read_absolute_detections(tmp_path, voc07_test)
    order = np.lexsort((np.arange(len(yolov2)), yolov2.image_index))
    np.testing.assert_array_equal(back.boxes, yolov2.boxes[order])
    np.testing.assert_array_equal(back.scores, yolov2.scores[order])
    np.testing.assert_array_equal(back.class_index, yolov2.class_index[order])
    r = vocbench.evaluate(voc07_test, back, metrics=("voc07",))
    assert abs(r.mAP["voc07"] - YOLOV2_VOC07) < 1e-6


# ------------------------------------------------------------------------------------------ small detections
@pytest.fixture()
def tiny():
    return vocbench.Dataset.from_arrays(
        image_ids=["a", "b", "c"], widths=[100, 200, 50], heights=[100, 100, 50], image_index=[0, 1, 1],
        class_index=[0, 1, 0], boxes=[[11, 11, 50, 50], [1, 1, 200, 100], [20, 20, 40, 60]], classes=("cat", "dog"))


def test_yolo_reader_missing_files_order_and_labels_subfolder(tiny, tmp_path):
    from vocbench.io.detections import guess_format, read_detections

    lab = tmp_path / "predict" / "labels"
    lab.mkdir(parents=True)
    (lab / "b.txt").write_text("1 0.4975 0.495 0.995 0.99 0.9\n\n0 0.5 0.5 0.1 0.2 0.3\n")
    (lab / "a.txt").write_text("0 0.295 0.295 0.39 0.39 0.8\n")
    assert guess_format(tmp_path / "predict") == "yolo"
    (tmp_path / "gtlabels").mkdir()
    (tmp_path / "gtlabels" / "a.txt").write_text("0 0.295 0.295 0.39 0.39\n")  # labels: the yolo reader explains
    assert guess_format(tmp_path / "gtlabels") == "yolo"
    d = read_detections(tmp_path / "predict", tiny)
    assert d.image_index.tolist() == [0, 1, 1]  # dataset image order; no file for "c" = no detections
    np.testing.assert_allclose(d.boxes[0], [11, 11, 50, 50], atol=1e-12)
    np.testing.assert_allclose(d.boxes[1], [1, 1, 200, 100], atol=1e-12)
    assert d.scores.tolist() == [0.8, 0.9, 0.3] and d.class_index.tolist() == [0, 1, 0]
    r = vocbench.evaluate(tiny, d, metrics=("voc12",))
    assert r.voc[0].tp.tolist() == [1, 1]


@pytest.mark.parametrize("text, needle", [
    ("0 0.5 0.5 0.1 0.1\n", r"line 1: expected 6 fields .*got 5.*save_conf=True"),
    ("0 0.5 0.5 0.1 0.1 0.9\n0 0.5 0.5 0.1 0.1 0.9 7\n", "line 2: expected 6 fields"),
    ("2 0.5 0.5 0.1 0.1 0.9\n", "line 1: class index 2 is outside 0..1"),
    ("0.5 0.5 0.5 0.1 0.1 0.9\n", "line 1: class index 0.5"),
    ("0 0.5 abc 0.1 0.1 0.9\n", "line 1: cy 'abc' is not a finite number"),
    ("\n1 0.5 0.5 0.1 nan 0.9\n", "line 2: h 'nan'"),
])
def test_yolo_detection_bad_lines_name_file_and_line(tiny, tmp_path, text, needle):
    from vocbench.io.yolo import read_yolo_detections

    (tmp_path / "a.txt").write_text(text)
    with pytest.raises(InputError, match=f"a.txt: {needle}"):
        read_yolo_detections(tmp_path, tiny)


def test_yolo_unknown_image_same_error_as_elsewhere(tiny, tmp_path):
    from vocbench.io.yolo import read_yolo_detections

    (tmp_path / "zzz.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\n")
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\n")
    with pytest.raises(InputError, match=r"zzz.txt: image id 'zzz' is not in the evaluated set.*--ignore-unknown"):
        read_yolo_detections(tmp_path, tiny)
    with pytest.warns(VocbenchWarning, match="dropped 1 file"):
        d = read_yolo_detections(tmp_path, tiny, ignore_unknown_images=True)
    assert len(d) == 1


def test_absolute_bad_class(tiny, tmp_path):
    from vocbench.io.yolo import read_absolute_detections

    (tmp_path / "a.txt").write_text("cat 0.9 1 2 3 4\ncow 0.5 1 2 3 4\n")
    with pytest.raises(InputError, match=r"a.txt: line 2: unknown class 'cow'"):
        read_absolute_detections(tmp_path, tiny)


def test_cli_bad_yolo_file_one_line(tmp_path):
    from tests.conftest import DATA

    (tmp_path / "000003.txt").write_text("0 0.5 0.5 0.1\n")
    proc = _run_cli("eval", "--gt", str(DATA / "voc_small"), "--set", "2007:val", "--dets", str(tmp_path),
                    "--format", "yolo", "--no-cache")
    _one_line_error(proc, "000003.txt: line 1: expected 6 fields")


def test_list_of_dicts_in_evaluate(tiny):
    preds = [{"boxes": np.array([[11, 11, 50, 50]]), "scores": [0.8], "labels": [0]},
             {"boxes": np.zeros((0, 4)), "scores": [], "labels": []},
             {"boxes": [[1, 1, 200, 100], [20, 20, 40, 60]], "scores": [0.9, 0.1], "labels": [1, 0], "image_id": "b"}]
    r = vocbench.evaluate(tiny, preds, metrics=("voc07",))
    dets = vocbench.Detections(image_index=[0, 1, 1], class_index=[0, 1, 0], scores=[0.8, 0.9, 0.1],
                               boxes=[[11, 11, 50, 50], [1, 1, 200, 100], [20, 20, 40, 60]])
    assert r.to_dict() == vocbench.evaluate(tiny, dets, metrics=("voc07",)).to_dict()
    with pytest.raises(InputError, match=r"\[0\]: label 5 is outside 0..1"):
        vocbench.evaluate(tiny, [{"boxes": [[1, 1, 2, 2]], "scores": [1.0], "labels": [5]}])
    with pytest.raises(InputError, match="more prediction dicts"):
        vocbench.evaluate(tiny, [{"boxes": [], "scores": [], "labels": []}] * 4)


# ------------------------------------------------------------------------------------------ COCO ground truth
def test_export_coco_as_ground_truth_scores_0_721437(voc_root, yolov2_dets, tmp_path, capsys):
    gt, dt = tmp_path / "gt.json", tmp_path / "dt.json"
    assert main(["export-coco", str(voc_root), "--set", "2007:test", "--out", str(gt), "--dets", str(yolov2_dets),
                 "--dets-out", str(dt)]) == 0
    capsys.readouterr()
    assert main(["eval", "--gt", str(gt), "--dets", str(dt), "--metric", "voc07", "--metric", "coco",
                 "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["voc07"]["mAP"] - YOLOV2_VOC07) < 1e-6
    assert out["num_images"] == 4952
    ds = vocbench.load_ground_truth(gt)
    ref = vocbench.load_voc(voc_root, "2007:test")
    np.testing.assert_array_equal(ds.boxes, ref.boxes)  # the export reads back bit for bit
    np.testing.assert_array_equal(ds.difficult, ref.difficult)
    np.testing.assert_array_equal(ds.image_ids, ref.image_ids)
    assert ds.classes == ref.classes
    assert main(["stats", str(gt), "--json", "-"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["images"] == 4952 and st["objects"] == 12032  # non-difficult objects of VOC2007 test


def _coco_file(tmp_path: Path) -> Path:
    data = {
        "images": [{"id": 500, "file_name": "x/p.jpg", "width": 100, "height": 80},
                   {"id": 7, "file_name": "q.png", "width": 60, "height": 60}],
        "categories": [{"id": 9, "name": "dog"}, {"id": 3, "name": "cat"}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 9, "bbox": [0, 0, 10, 20], "iscrowd": 0},
                        {"id": 2, "image_id": 500, "category_id": 3, "bbox": [4.5, 5, 20, 10], "iscrowd": 1},
                        {"id": 3, "image_id": 500, "category_id": 9, "bbox": [10, 10, 30, 30]}],
    }
    p = tmp_path / "instances.json"
    p.write_text(json.dumps(data))
    return p


def test_coco_gt_with_its_own_ids(tmp_path):
    ds = vocbench.load_ground_truth(_coco_file(tmp_path))
    assert ds.classes == ("cat", "dog")  # categories sorted by id
    assert ds.image_ids.tolist() == ["p", "q"] and ds.widths.tolist() == [100, 60]
    assert ds.image_index.tolist() == [0, 0, 1] and ds.class_index.tolist() == [0, 1, 1]
    assert ds.difficult.tolist() == [True, False, False]
    np.testing.assert_array_equal(ds.boxes, [[5.5, 6, 24.5, 15], [11, 11, 40, 40], [1, 1, 10, 20]])
    res = [{"image_id": 500, "category_id": 9, "bbox": [10, 10, 30, 30], "score": 0.9},
           {"image_id": 7, "category_id": 9, "bbox": [0, 0, 10, 20], "score": 0.8},
           {"image_id": 7, "category_id": 3, "bbox": [0, 0, 10, 20], "score": 0.7}]
    (tmp_path / "dt.json").write_text(json.dumps(res))
    d = vocbench.read_detections(tmp_path / "dt.json", ds)
    assert d.image_index.tolist() == [0, 1, 1] and d.class_index.tolist() == [1, 1, 0]
    r = vocbench.evaluate(ds, d, metrics=("voc12",))
    assert r.voc[0].tp.tolist() == [0, 2] and r.voc[0].fp.tolist() == [1, 0]
    (tmp_path / "bad.json").write_text(json.dumps([{**res[0], "category_id": 42}]))
    with pytest.raises(InputError, match="category_id 42 is not a category"):
        vocbench.read_detections(tmp_path / "bad.json", ds)
    (tmp_path / "bad.json").write_text(json.dumps([{**res[0], "category_id": 1}]))  # 0- or 1-based index?
    with pytest.raises(InputError, match="choose with --category-ids index0|index1"):
        vocbench.read_detections(tmp_path / "bad.json", ds)
    (tmp_path / "bad.json").write_text(json.dumps([{**res[0], "image_id": 1}]))
    with pytest.raises(InputError, match="image id 1 is not in the evaluated set"):
        vocbench.read_detections(tmp_path / "bad.json", ds)


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.pop("images"), "expected a COCO ground-truth object"),
    (lambda d: d["annotations"][0].update(image_id=99), r"annotations\[0\]: image_id 99 is not in 'images'"),
    (lambda d: d["annotations"][1].update(bbox=[1, 2, 3]), r"annotations\[1\]: bbox"),
    (lambda d: d["images"][0].update(width=0), r"images\[0\]: image size 0x80"),
])
def test_coco_gt_bad_input(tmp_path, mutate, needle):
    p = _coco_file(tmp_path)
    data = json.loads(p.read_text())
    mutate(data)
    p.write_text(json.dumps(data))
    with pytest.raises(InputError, match=needle):
        vocbench.load_ground_truth(p)


# ------------------------------------------------------------------------------------------ YOLO datasets
@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    assert main(["synth", str(out), "--images", "48", "--seed", "3", "--size", "160", "--workers", "1",
                 "--json", str(out / "s.json")]) == 0
    return out / "VOCdevkit"


@pytest.fixture(scope="module")
def synth_yolo(synth, tmp_path_factory):
    out = tmp_path_factory.mktemp("yolo") / "ds"
    assert main(["convert", str(synth), "--to", "yolo", str(out), "--json", str(out.parent / "r.json")]) == 0
    return out


def test_synth_as_yolo_same_stats_and_anchors(synth, synth_yolo, capsys):
    rep = json.loads((synth_yolo.parent / "r.json").read_text())
    voc = vocbench.load_voc(synth, ["2007:train", "2007:val", "2007:test"])
    assert rep["dropped_difficult"] == int(voc.difficult.sum()) > 0
    assert "pose" in rep["not_carried"]
    for cmd in (["stats"], ["anchors", "--curve", "1-4"]):
        assert main([*cmd, str(synth_yolo / "data.yaml"), "--set", "val", "--json", "-"]) == 0
        y = json.loads(capsys.readouterr().out)
        assert main([*cmd, str(synth), "--set", "2007:val", "--json", "-"]) == 0
        v = json.loads(capsys.readouterr().out)
        y.pop("sets"), v.pop("sets")
        if cmd == ["stats"]:
            assert y["images"] == v["images"] > 0 and y["objects"] == v["objects"] > 0
            assert ({k: c["objects"] for k, c in y["per_class"].items()}
                    == {k: c["objects"] for k, c in v["per_class"].items()})
        else:
            assert y == v  # same anchors, same curve, same prior fits, bit for bit


def test_yolo_dataset_reads_back_the_voc_boxes(synth, synth_yolo):
    voc = vocbench.load_voc(synth, ["2007:train"])
    yds = vocbench.load_ground_truth(synth_yolo / "data.yaml", "train")
    assert yds.image_ids.tolist() == voc.image_ids.tolist()
    assert yds.widths.tolist() == voc.widths.tolist() and yds.heights.tolist() == voc.heights.tolist()
    keep = ~voc.difficult
    np.testing.assert_array_equal(yds.boxes, voc.boxes[keep])
    np.testing.assert_array_equal(yds.class_index, voc.class_index[keep])
    assert yds.image_years.tolist() == voc.image_years.tolist()


def test_round_trips_voc_yolo_voc_and_voc_coco_voc(synth, synth_yolo, tmp_path, capsys):
    # YOLO -> VOC: the XML numbers come back (non-difficult objects; truncated/pose are not carried)
    assert main(["convert", str(synth_yolo / "data.yaml"), "--set", "val", "--to", "voc", str(tmp_path / "v")]) == 0
    back = vocbench.load_voc(tmp_path / "v" / "VOCdevkit", "2007:val")
    orig = vocbench.load_voc(synth, "2007:val")
    np.testing.assert_array_equal(back.boxes, orig.boxes[~orig.difficult])
    assert (tmp_path / "v" / "VOCdevkit" / "VOC2007" / "JPEGImages" / f"{orig.image_ids[0]}.jpg").is_file()
    # VOC -> COCO -> VOC carries difficult too
    assert main(["convert", str(synth), "--set", "2007:test", "--to", "coco", str(tmp_path / "c.json")]) == 0
    assert main(["convert", str(tmp_path / "c.json"), "--to", "voc", str(tmp_path / "c"), "--year", "2009"]) == 0
    capsys.readouterr()
    cds = vocbench.load_voc(tmp_path / "c" / "VOCdevkit", "2009:c")
    tds = vocbench.load_voc(synth, "2007:test")
    np.testing.assert_array_equal(cds.boxes, tds.boxes)
    np.testing.assert_array_equal(cds.difficult, tds.difficult)
    assert cds.image_ids.tolist() == tds.image_ids.tolist()
    # VOC -> VOC keeps everything
    assert main(["convert", str(synth), "--set", "2007:test", "--to", "voc", str(tmp_path / "vv")]) == 0
    vv = vocbench.load_voc(tmp_path / "vv" / "VOCdevkit", "2007:test")
    for f in ("boxes", "difficult", "truncated", "occluded", "poses", "depths", "widths"):
        np.testing.assert_array_equal(getattr(vv, f), getattr(tds, f))
    # refuses to write into a non-empty folder
    proc = _run_cli("convert", str(synth), "--set", "2007:test", "--to", "voc", str(tmp_path / "vv"))
    _one_line_error(proc, "not empty")


def test_detections_convert_cli(synth, tmp_path, capsys):
    ds = vocbench.load_voc(synth, "2007:test")
    rng = np.random.default_rng(1)
    jit = ds.boxes + rng.uniform(-3, 3, ds.boxes.shape)
    dets = vocbench.Detections(ds.image_index, ds.class_index, rng.uniform(0, 1, ds.num_objects), jit)
    from vocbench.io.detections import write_devkit

    write_devkit(dets, ds, tmp_path / "devkit")
    ref = vocbench.evaluate(ds, vocbench.read_detections(tmp_path / "devkit", ds))
    for to, out in (("yolo", "y"), ("absolute", "a"), ("coco", "d.json"), ("csv", "d.csv")):
        assert main(["convert", str(tmp_path / "devkit"), "--gt", str(synth), "--set", "2007:test", "--to", to,
                     str(tmp_path / out)]) == 0
        r = vocbench.evaluate(ds, vocbench.read_detections(tmp_path / out, ds))
        assert abs(r.mAP["voc07"] - ref.mAP["voc07"]) < 1e-12 and abs(r.mAP["voc12"] - ref.mAP["voc12"]) < 1e-12
    capsys.readouterr()


def _yaml_ds(tmp_path: Path, yaml_text: str, labels: dict[str, str], size=(40, 30)) -> Path:
    from PIL import Image

    (tmp_path / "images" / "val").mkdir(parents=True)
    (tmp_path / "labels" / "val").mkdir(parents=True)
    for stem, text in labels.items():
        Image.new("RGB", size).save(tmp_path / "images" / "val" / f"{stem}.jpg")
        if text is not None:
            (tmp_path / "labels" / "val" / f"{stem}.txt").write_text(text)
    (tmp_path / "data.yaml").write_text(yaml_text)
    return tmp_path / "data.yaml"


def test_yolo_yaml_layouts(tmp_path):
    y = _yaml_ds(tmp_path, "path: .\nval: images/val\nnames:\n  0: cat\n  1: dog\n",
                 {"a": "1 0.5 0.5 0.5 0.5\n", "b": "", "c": None})
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)  # 'path' relative to the working folder, as ultralytics resolves it
    try:
        ds = vocbench.load_ground_truth(y, ["val"])
    finally:
        os.chdir(cwd)
    assert ds.classes == ("cat", "dog") and ds.image_ids.tolist() == ["a", "b", "c"]
    # from elsewhere, 'path: .' falls back to the YAML's folder (where the splits exist); the folder works too
    assert vocbench.load_ground_truth(tmp_path, "val").image_ids.tolist() == ["a", "b", "c"]
    assert ds.widths.tolist() == [40] * 3 and ds.heights.tolist() == [30] * 3 and ds.depths.tolist() == [3] * 3
    np.testing.assert_array_equal(ds.boxes, [[11, 8.5, 31, 23.5]])  # cx*W + 1 -/+ w*W/2
    (tmp_path / "list.txt").write_text("./images/val/c.jpg\n./images/val/a.jpg\n")
    (tmp_path / "d2.yaml").write_text("val: [list.txt]\nnames: [cat, dog]\n")
    ds2 = vocbench.load_ground_truth(tmp_path / "d2.yaml", "val")
    assert ds2.image_ids.tolist() == ["c", "a"] and ds2.image_index.tolist() == [1]


@pytest.mark.parametrize("yaml_text, labels, needle", [
    ("val: images/val\n", {"a": ""}, "no 'names'"),
    ("val: images/val\nnames: [cat]\n", {"a": "0 0.5 0.5 0.1\n"}, r"a.txt: line 1: expected 5 fields"),
    ("val: images/val\nnames: [cat]\n", {"a": "\n0 0.5 0.5 0.1 0.1 0.9\n"}, r"a.txt: line 2: expected 5 fields"),
    ("val: images/val\nnames: [cat]\n", {"a": "1 0.5 0.5 0.1 0.1\n"}, r"a.txt: line 1: class index 1 is outside 0..0"),
    ("val: images/val\nnames: [cat]\n", {"a": ""}, "no split 'test'"),
    ("val: images/val\nnames: [cat]\nnc: 3\n", {"a": ""}, "line 3: nc is 3"),
])
def test_yolo_dataset_bad_input(tmp_path, yaml_text, labels, needle):
    y = _yaml_ds(tmp_path, yaml_text, labels)
    with pytest.raises(InputError, match=needle):
        vocbench.load_ground_truth(y, "test" if "split 'test'" in needle else "val")


def test_yolo_dataset_out_of_range_and_unreadable_image(tmp_path):
    y = _yaml_ds(tmp_path, "val: images/val\nnames: [cat]\n", {"a": "0 0.5 0.5 1.2 0.1\n"})
    with pytest.warns(VocbenchWarning, match=r"a.txt: line 1: normalised box .* outside \[0, 1\]"):
        vocbench.load_ground_truth(y, "val")
    with pytest.raises(InputError, match=r"--strict"):
        vocbench.load_ground_truth(y, "val", strict=True)
    (tmp_path / "images" / "val" / "broken.jpg").write_bytes(b"not an image at all")
    proc = _run_cli("stats", str(y), "--set", "val")
    _one_line_error(proc, "broken.jpg: not a readable image header")


def test_voc_still_needs_a_set(voc_root):
    proc = _run_cli("stats", str(voc_root))
    _one_line_error(proc, "needs --set")


def test_per_image_writers_refuse_ambiguous_ids(tmp_path):
    from vocbench.io.yolo import write_absolute_detections, write_yolo_detections

    ds = vocbench.Dataset.from_arrays(image_ids=["x", "x"], image_years=["2007", "2012"], widths=[10, 10],
                                      heights=[10, 10], image_index=[], class_index=[], boxes=np.zeros((0, 4)),
                                      classes=("cat",))
    dets = vocbench.Detections([0, 1], [0, 0], [0.5, 0.6], [[1, 1, 5, 5], [2, 2, 6, 6]])
    with pytest.raises(InputError, match="image id 'x' occurs in several folders"):
        write_yolo_detections(dets, ds, tmp_path / "y")
    one = vocbench.Detections([1], [0], [0.6], [[2, 2, 6, 6]])
    write_yolo_detections(one, ds, tmp_path / "y")  # only one of them has detections: unambiguous
    assert (tmp_path / "y" / "x.txt").read_text().startswith("0 ")
    spaced = vocbench.Dataset.from_arrays(image_ids=["a"], widths=[10], heights=[10], image_index=[], class_index=[],
                                          boxes=np.zeros((0, 4)), classes=("potted plant",))
    with pytest.raises(InputError, match="blanks"):
        write_absolute_detections(vocbench.Detections([0], [0], [1.0], [[1, 1, 2, 2]]), spaced, tmp_path / "a")
