"""The VOC annotation layer: real VOC numbers, hand-written edge cases, bad input, the cache."""

from __future__ import annotations

import os
import shutil
import time
import xml.etree.ElementTree as ET
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

import vocbench
from tests.conftest import DATA
from vocbench import Dataset, InputError, VocbenchError, VocbenchWarning, load_voc

SMALL = DATA / "voc_small"
BAD = DATA / "voc_bad"


# ---------------------------------------------------------------- real data: the published VOC07+12 figures
@pytest.mark.parametrize("sets, images, objects, objects_all", [
    (["2007:train", "2012:train"], 8218, 19910, 23618),
    (["2007:val", "2012:val"], 8333, 20148, None),
    (["2007:test"], 4952, 12032, 14976),
])
def test_real_voc_split_table(voc_root, sets, images, objects, objects_all):
    ds = load_voc(voc_root, sets)
    assert ds.num_images == images
    assert int((~ds.difficult).sum()) == objects
    if objects_all is not None:
        assert ds.num_objects == objects_all


def test_real_voc_matches_elementtree_twin(voc_root):
    """Every field of a slice of VOC2012 equals a plain ElementTree reading of the same files."""
    ds = load_voc(voc_root, ["2012:val"], cache=False)
    step = 97
    for i in range(0, ds.num_images, step):
        path = voc_root / "VOC2012" / "Annotations" / f"{ds.image_ids[i]}.xml"
        root = ET.parse(path).getroot()
        assert int(root.find("size/width").text) == ds.widths[i]
        assert int(root.find("size/height").text) == ds.heights[i]
        objs = root.findall("object")
        rows = np.flatnonzero(ds.image_index == i)
        assert len(rows) == len(objs)
        for r, o in zip(rows, objs):
            assert ds.classes[ds.class_index[r]] == o.find("name").text.strip()
            bb = [float(o.find(f"bndbox/{t}").text) for t in ("xmin", "ymin", "xmax", "ymax")]
            assert ds.boxes[r].tolist() == bb
            d = o.find("difficult")
            assert ds.difficult[r] == (d is not None and int(d.text) == 1)


def test_union_deduplicates_images(voc_root):
    a = load_voc(voc_root, ["2007:trainval"])
    b = load_voc(voc_root, ["2007:train", "2007:val", "2007:trainval"])
    assert b.num_images == a.num_images == 5011
    assert np.array_equal(np.sort(a.image_ids), np.sort(b.image_ids))
    assert b.num_objects == a.num_objects


# ---------------------------------------------------------------- hand-written edge cases
def test_small_tree_fields():
    ds = load_voc(SMALL, ["2007:trainval"], cache=False)
    assert ds.num_images == 4 and ds.num_objects == 7
    assert ds.image_ids.tolist() == ["000001", "000002", "000003", "000004"]
    assert ds.widths.tolist() == [500, 335, 500, 500] and ds.heights.tolist() == [375, 500, 333, 375]
    names = [ds.classes[c] for c in ds.class_index]
    assert names == ["dog", "person", "person", "train", "car", "car", "car"]  # whitespace stripped, parts skipped
    assert ds.difficult.tolist() == [False, True, False, False, False, False, True]  # absent tag → 0
    assert ds.truncated.tolist() == [True, False, False, False, False, False, False]
    assert ds.occluded.tolist() == [-1, -1, 1, -1, -1, -1, -1]  # absent → -1
    assert ds.boxes[2].tolist() == [139.5, 200.25, 207.75, 301.0]  # float coordinates kept
    assert ds.poses[0] == "Left" and ds.poses[2] == "Unspecified"
    assert np.bincount(ds.image_index, minlength=4).tolist() == [2, 2, 0, 3]  # empty image kept
    assert ds.issues == ()


def test_structures_are_frozen():
    ds = load_voc(SMALL, ["2007:train"], cache=False)
    with pytest.raises(ValueError):
        ds.boxes[0, 0] = 1.0
    with pytest.raises(FrozenInstanceError):
        ds.root = "x"


def test_custom_classes():
    ds = load_voc(SMALL, ["2007:trainval"], classes=["car", "dog", "person", "train"], cache=False)
    assert ds.classes == ("car", "dog", "person", "train")
    assert sorted(np.bincount(ds.class_index).tolist()) == [1, 1, 2, 3]
    with pytest.raises(InputError, match="unknown class 'train'"):
        load_voc(SMALL, ["2007:trainval"], classes=["car", "dog", "person"], cache=False)


def test_split_and_subset():
    ds = load_voc(SMALL, ["2007:train", "2007:val"], cache=False)
    val = ds.split("2007:val")
    assert val.image_ids.tolist() == ["000003", "000004"]
    assert val.num_objects == 3 and val.image_index.tolist() == [1, 1, 1]


# ---------------------------------------------------------------- bad input: one clear message naming the file
@pytest.mark.parametrize("split, pattern", [
    ("malformed", r"000010\.xml:10: malformed XML"),
    ("unknown", r"000011\.xml:8: object #2 has unknown class 'unicorn' \(known classes: aeroplane"),
    ("missingxml", r"000099\.xml: annotation file not found"),
    ("badnumber", r"000013\.xml:6: <ymin> is 'forty', expected a number"),
    ("nosuchsplit", r"nosuchsplit\.txt: split file not found; splits that exist here: .*badnumber.*border"),
])
def test_bad_input_messages(split, pattern):
    with pytest.raises(VocbenchError, match=pattern):
        load_voc(BAD, [f"2007:{split}"], cache=False)


def test_bad_set_specs(tmp_path):
    with pytest.raises(VocbenchError, match="expected YEAR:SPLIT"):
        load_voc(SMALL, ["2007"])
    with pytest.raises(VocbenchError, match="no such dataset folder"):
        load_voc(SMALL, ["2099:train"])
    with pytest.raises(VocbenchError, match="dataset root not found"):
        load_voc(tmp_path / "nothing", ["2007:train"])


def test_border_boxes_warn_or_fail():
    with pytest.warns(VocbenchWarning, match=r"2 box\(es\) are inverted \(1\) or extend outside"):
        ds = load_voc(BAD, ["2007:border"], cache=False)
    assert len(ds.issues) == 2 and "000012.xml:4" in ds.issues[0] and "inverted" in ds.issues[1]
    with pytest.raises(InputError, match=r"000012\.xml:4: box \(0, 240, 501, 371\) extends outside.*--strict"):
        load_voc(BAD, ["2007:border"], strict=True, cache=False)


# ---------------------------------------------------------------- cache
def test_cache_round_trip_and_invalidation(tmp_path, monkeypatch):
    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(tmp_path / "cache"))
    tree = tmp_path / "voc"
    shutil.copytree(SMALL, tree)
    cold = load_voc(tree, ["2007:trainval"])
    assert len(list((tmp_path / "cache").glob("voc-*.npz"))) == 1
    warm = load_voc(tree, ["2007:trainval"])
    for field in ("image_ids", "widths", "heights", "image_index", "class_index", "boxes", "difficult",
                  "truncated", "occluded", "poses"):
        assert np.array_equal(getattr(cold, field), getattr(warm, field)), field
    # edit one annotation: the cached entry must not be served
    xml = tree / "VOC2007" / "Annotations" / "000004.xml"
    text = xml.read_text().replace("<xmin>10</xmin>", "<xmin>11</xmin>")
    time.sleep(0.01)
    xml.write_text(text)
    os.utime(xml, ns=(time.time_ns(), time.time_ns()))
    edited = load_voc(tree, ["2007:trainval"])
    assert edited.boxes[4, 0] == 11.0
    assert len(list((tmp_path / "cache").glob("voc-*.npz"))) == 2


def test_cache_keeps_warnings(tmp_path, monkeypatch):
    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(tmp_path))
    for _ in range(2):  # cold, then from the cache
        with pytest.warns(VocbenchWarning, match="extend outside"):
            ds = load_voc(BAD, ["2007:border"])
        assert len(ds.issues) == 2


def test_from_arrays_and_tables():
    ds = Dataset.from_arrays(image_ids=["a", "b"], widths=[10, 20], heights=[10, 20], image_index=[0, 1, 1],
                             class_index=[0, 2, 2], boxes=np.ones((3, 4)))
    assert ds.num_images == 2 and ds.num_objects == 3
    t = ds.to_pandas("objects")
    assert t["class"].tolist() == ["aeroplane", "bird", "bird"] and t["image_id"].tolist() == ["a", "b", "b"]
    with pytest.raises(ValueError, match="class_index has length"):
        Dataset.from_arrays(image_ids=["a"], widths=[1], heights=[1], image_index=[0], class_index=[0, 1],
                            boxes=np.ones((1, 4)))


def test_top_level_api():
    assert vocbench.load_voc is load_voc
    assert len(vocbench.VOC_CLASSES) == 20 and vocbench.VOC_CLASSES[0] == "aeroplane"
    assert isinstance(vocbench.__version__, str)
