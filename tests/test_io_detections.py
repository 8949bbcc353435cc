"""Reading detections: devkit folders, CSV, COCO JSON, DataFrames; bad input names the file and line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import DATA, REPO
from vocbench import InputError, VocbenchWarning, load_voc, read_detections
from vocbench.io.detections import guess_format, write_devkit

DETS = DATA / "dets"


@pytest.fixture(scope="module")
def small():
    return load_voc(DATA / "voc_small", ["2007:trainval"], cache=False)


def test_devkit_folder(small):
    d = read_detections(DETS / "voc_small", small)
    assert len(d) == 10
    # classes in class order (car, dog, person), file order within a class
    names = np.asarray(small.classes)[d.class_index].tolist()
    assert names == ["car"] * 5 + ["dog"] * 3 + ["person"] * 2
    assert small.image_ids[d.image_index].tolist()[:5] == ["000004"] * 4 + ["000002"]
    assert d.scores[:4].tolist() == [0.95, 0.80, 0.70, 0.60]
    assert d.boxes[5].tolist() == [50, 241, 196, 370]


def test_missing_class_files_warn_and_no_files_is_an_error(small, tmp_path):
    with pytest.raises(InputError, match="no detection result files"):
        read_detections(tmp_path, small)
    (tmp_path / "comp4_det_test_cat.txt").write_text("")  # cat has no ground truth in voc_small: no warning for it
    with pytest.warns(VocbenchWarning, match=r"no result file for 4 class\(es\) with ground truth, scored as no "
                      r"detections: car, dog, person, train \(expected comp4_det_test_<class>\.txt\)"):
        assert len(read_detections(tmp_path, small)) == 0
    for name in ("car", "dog"):
        (tmp_path / f"comp4_det_test_{name}.txt").write_text("")
    with pytest.warns(VocbenchWarning, match=r"2 class\(es\) .*: person \(expected comp4_det_test_person\.txt\), "
                      r"train \(expected comp4_det_test_train\.txt\)$"):
        read_detections(tmp_path, small)
    with pytest.raises(InputError, match=r"no result file for 2 class.*--strict"):
        read_detections(tmp_path, small, strict=True)


def test_other_prefix_and_ambiguity(small, tmp_path):
    (tmp_path / "comp3_det_val_dog.txt").write_text("000001 0.5 1 2 3 4\n")
    assert len(read_detections(tmp_path, small)) == 1
    (tmp_path / "comp3_det_test_dog.txt").write_text("000001 0.5 1 2 3 4\n")
    with pytest.raises(InputError, match="several result files"):
        read_detections(tmp_path, small)


@pytest.mark.parametrize("folder,pattern", [
    ("bad_malformed", r"comp4_det_test_dog\.txt: line 2: expected 6 fields"),
    ("bad_unknown", r"comp4_det_test_dog\.txt: line 3: image id '000042' is not in the evaluated set"),
    ("bad_nan", r"comp4_det_test_dog\.txt: line 2: score is 'nan'"),
])
def test_bad_devkit_files_name_file_and_line(small, folder, pattern):
    with pytest.raises(InputError, match=pattern):
        read_detections(DETS / folder, small)


def test_non_numeric_field(small, tmp_path):
    (tmp_path / "comp4_det_test_dog.txt").write_text("000001 0.5 1 2 3 4\n000001 0.5 1 2 x 4\n")
    with pytest.raises(InputError, match=r"line 2: xmax 'x' is not a number"):
        read_detections(tmp_path, small)


def test_ignore_unknown_images_drops_with_warning(small):
    with pytest.warns(VocbenchWarning, match="dropped 1 detection"):
        d = read_detections(DETS / "bad_unknown", small, ignore_unknown_images=True)
    assert len(d) == 1


def test_image_ids_keep_leading_zeros_and_union_lookup(tmp_path):
    ds = load_voc(DATA / "voc_small", ["2007:train", "2007:val"], cache=False)
    (tmp_path / "comp4_det_test_car.txt").write_text("000002 0.5 1 2 3 4\n000001 0.4 1 2 3 4\n")
    d = read_detections(tmp_path, ds)
    assert ds.image_ids[d.image_index].tolist() == ["000002", "000001"]


def test_csv(small):
    d = read_detections(DETS / "voc_small.csv", small)
    assert len(d) == 3
    assert np.asarray(small.classes)[d.class_index].tolist() == ["dog", "car", "person"]
    with pytest.raises(InputError, match=r"bad_class\.csv: line 3: unknown class 'cart'"):
        read_detections(DETS / "bad_class.csv", small)


def test_dataframe_and_round_trip_through_devkit(small, tmp_path):
    d = read_detections(DETS / "voc_small", small)
    df = d.to_pandas(small)
    again = read_detections(df[["image_id", "class", "score", "xmin", "ymin", "xmax", "ymax"]], small)
    np.testing.assert_array_equal(again.boxes, d.boxes)
    write_devkit(d, small, tmp_path)
    back = read_detections(tmp_path, small)
    np.testing.assert_array_equal(back.image_index, d.image_index)
    np.testing.assert_allclose(back.scores, d.scores)
    with pytest.raises(InputError, match="missing column score"):
        read_detections(df.drop(columns=["score"]), small)
    bad = df.copy()
    bad.loc[1, "xmin"] = np.inf
    with pytest.raises(InputError, match="row 1: NaN or infinite"):
        read_detections(bad, small)


def test_coco_json_errors(small, tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps([{"image_id": 1, "category_id": 12, "bbox": [1, 2, 3, 4], "score": 0.5},
                             {"image_id": 9, "category_id": 12, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    with pytest.raises(InputError, match="result 1: image id 9 is not in the evaluated set"):
        read_detections(p, small)
    p.write_text(json.dumps([{"image_id": 1, "category_id": 12, "bbox": [1, 2, 3], "score": 0.5}]))
    with pytest.raises(InputError, match="result 0: expected"):
        read_detections(p, small)
    p.write_text(json.dumps([{"image_id": 1, "category_id": 21, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    with pytest.raises(InputError, match="category_id 21"):
        read_detections(p, small)
    p.write_text("[{")
    with pytest.raises(InputError, match="not valid JSON"):
        read_detections(p, small)


def test_guess_format(tmp_path):
    assert guess_format(tmp_path) == "devkit"
    assert guess_format(tmp_path / "x.json") == "coco"
    assert guess_format(tmp_path / "x.CSV") == "csv"
    with pytest.raises(InputError):
        guess_format(tmp_path / "x.txt")


@pytest.mark.parametrize("folder", ["bad_malformed", "bad_unknown", "bad_nan"])
def test_cli_bad_input_one_line_exit_1(folder):
    proc = subprocess.run([sys.executable, "-m", "vocbench", "eval", "--gt", str(DATA / "voc_small"), "--set",
                           "2007:trainval", "--no-cache", "--dets", str(DETS / folder)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vocbench: error: ") and "comp4_det_test_dog.txt: line" in lines[0]


def test_cli_ignore_unknown_images(capsys):
    from vocbench.cli import main

    assert main(["eval", "--gt", str(DATA / "voc_small"), "--set", "2007:trainval", "--no-cache", "--dets",
                 str(DETS / "bad_unknown"), "--ignore-unknown-images", "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["voc07"]["per_class"]["dog"] == 1.0 and out["num_detections"] == 1
