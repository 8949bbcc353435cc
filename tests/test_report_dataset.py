"""The dataset report: built from a small in-memory dataset, rendered in Chromium; distribution distances."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser import assert_renders
from vocbench.anchors import analyze_dataset_anchors
from vocbench.report.dataset import (
    ANCHOR_TITLES,
    COMPARE_TITLE,
    SECTION_TITLES,
    coco_size_counts,
    distribution_distances,
    write_dataset_report,
)
from vocbench.stats import compute_stats
from vocbench.stats.distances import histogram_tv, total_variation, wasserstein_1d
from vocbench.structures import Dataset


def _dataset(seed: int, n_images: int = 60, scale: float = 1.0, sets=("memory",)) -> Dataset:
    rng = np.random.default_rng(seed)
    widths = rng.choice([500, 375, 333, 480], n_images)
    heights = rng.choice([375, 500, 500, 360], n_images)
    per = rng.integers(0, 6, n_images)
    image_index = np.repeat(np.arange(n_images), per)
    m = len(image_index)
    W, H = widths[image_index], heights[image_index]
    bw = np.clip(np.exp(rng.normal(-1.2, 0.6, m)) * scale, 0.02, 1) * W
    bh = np.clip(np.exp(rng.normal(-1.0, 0.6, m)) * scale, 0.02, 1) * H
    x1 = 1 + rng.uniform(0, 1, m) * (W - bw)
    y1 = 1 + rng.uniform(0, 1, m) * (H - bh)
    boxes = np.stack([x1, y1, np.minimum(x1 + bw, W), np.minimum(y1 + bh, H)], 1).round()
    return Dataset.from_arrays(image_ids=[f"{i:06d}" for i in range(n_images)], widths=widths, heights=heights,
                               image_index=image_index, class_index=rng.integers(0, 20, m), boxes=boxes,
                               difficult=rng.random(m) < 0.1, truncated=rng.random(m) < 0.3, sets=sets)


def test_distances_zero_for_identical_and_symmetric():
    a, b = _dataset(0), _dataset(1, scale=0.5)
    d0 = distribution_distances(a, a)
    assert all(v == pytest.approx(0.0, abs=1e-12) for f in d0.values() for v in f.values())
    dab, dba = distribution_distances(a, b), distribution_distances(b, a)
    assert set(dab) == {"objects_per_image", "box_area", "box_log_aspect", "image_aspect", "box_center_x",
                        "box_center_y", "class_share"}
    for f in dab:
        for m in dab[f]:
            assert dab[f][m] == pytest.approx(dba[f][m], rel=1e-12, abs=1e-15)
    assert dab["box_area"]["tv"] > 0.2  # half-size boxes: clearly different areas
    assert 0 <= dab["box_area"]["tv"] <= 1


def test_distance_primitives_known_values():
    assert wasserstein_1d([0, 1], [2, 3]) == pytest.approx(2.0)
    assert wasserstein_1d([0.0], [0.0, 1.0]) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    assert wasserstein_1d(x, x + 0.3) == pytest.approx(0.3)
    assert total_variation([1, 0], [0, 1]) == 1.0
    assert total_variation([2, 2], [1, 1]) == 0.0
    assert histogram_tv([0.1, 0.1], [0.9, 0.9], [0, 0.5, 1]) == 1.0


def test_coco_size_counts():
    ds = Dataset.from_arrays(image_ids=["a"], widths=[500], heights=[500], image_index=[0, 0, 0, 0],
                             class_index=[0, 0, 1, 1],
                             boxes=[[1, 1, 32, 32], [1, 1, 33, 33], [1, 1, 97, 97], [1, 1, 96, 97]],
                             difficult=[False, False, False, True])
    df = coco_size_counts(ds)
    # VOC pixel areas ('+1'), pycocotools' inclusive ranges: 32² is small AND medium, 33² medium, 97² large;
    # the difficult box is left out
    assert df.loc["aeroplane"].tolist() == [1, 2, 0]
    assert df.loc["bicycle"].tolist() == [0, 0, 1]
    assert df.loc["total"].tolist() == [1, 2, 1]


def test_dataset_report_renders_with_every_figure(tmp_path):
    main = _dataset(2, n_images=80, sets=("2007:trainval",))
    other = _dataset(3, n_images=40, scale=0.7, sets=("2007:test",))
    analysis = analyze_dataset_anchors(main, k=3, curve=range(1, 5), n_init=2)
    path = write_dataset_report(tmp_path / "ds.html", main, stats=compute_stats(main, by_set=True),
                                anchor_analysis=analysis, compare=[("synthetic", other)])
    html = path.read_text()
    assert analysis.darknet_line() in html  # the analysis passed in is the one shown
    assert "synthetic" in html and "anchors = " in html
    headings = list(SECTION_TITLES) + [COMPARE_TITLE] + list(ANCHOR_TITLES) + [
        "Class balance", "Objects per image", "Box areas (normalised)", "Image aspect ratios", "4:3 (1.333)",
        "3:2 (1.5)", "3:4 (0.75)", "Box centre heat map", "Average IoU vs number of anchors", "ssd300",
        "mobilenet-ssd", "yolo-voc"]
    # class balance, objects/image, areas, w-h, aspect, centres, sizes + curve, grid, clusters
    dom = assert_renders(path, headings, min_svgs=10)
    assert dom.count("<h2") == len(SECTION_TITLES) + 1 + len(ANCHOR_TITLES)


def test_dataset_report_without_anchors_or_compare(tmp_path):
    ds = _dataset(4)
    path = write_dataset_report(tmp_path / "plain.html", ds, stats=compute_stats(ds, by_set=True), anchors=False,
                                title="Tiny")
    html = path.read_text()
    assert "Tiny" in html and ANCHOR_TITLES[0] not in html and COMPARE_TITLE not in html
    assert html.count("<svg") == 7


def _voc_counts_plain(root, year: str, split: str) -> dict:
    """Independent counts from the XML files with xml.etree (not vocbench's reader): images, objects, COCO size
    classes of the non-difficult objects (area in VOC pixels, (xmax - xmin + 1) * (ymax - ymin + 1), and
    pycocotools' ranges, as the evaluator's COCO protocol measures them)."""
    import xml.etree.ElementTree as ET
    from collections import Counter

    base = root / f"VOC{year}"
    ids = (base / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
    objects, objects_all, sizes, difficult = Counter(), Counter(), Counter(), 0
    for image_id in ids:
        for obj in ET.parse(base / "Annotations" / f"{image_id}.xml").findall("object"):
            name = obj.findtext("name").strip()
            objects_all[name] += 1
            if int(obj.findtext("difficult") or 0):
                difficult += 1
                continue
            objects[name] += 1
            bb = obj.find("bndbox")
            x1, y1, x2, y2 = (float(bb.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))
            area = (x2 - x1 + 1) * (y2 - y1 + 1)
            # pycocotools' areaRng are inclusive at both ends: an area of exactly 32² or 96² is in two classes
            for label, lo, hi in (("small", 0, 32 ** 2), ("medium", 32 ** 2, 96 ** 2), ("large", 96 ** 2, 1e10)):
                sizes[(name, label)] += lo <= area <= hi
    return {"images": len(ids), "objects": objects, "objects_all": objects_all, "difficult": difficult,
            "sizes": sizes}


def test_dataset_report_numbers_match_an_independent_count(tmp_path, voc_root):
    """The report generated from the real VOC2007 test annotations shows the counts an independent xml.etree
    pass gives: images, objects (non-difficult) per class, difficult, and COCO size classes (the evaluator's)."""
    import io

    import pandas as pd

    from vocbench.io.voc import load_voc

    plain = _voc_counts_plain(voc_root, "2007", "test")
    ds = load_voc(voc_root, ["2007:test"], cache=False)
    path = write_dataset_report(tmp_path / "voc07test.html", ds, stats=compute_stats(ds, by_set=True),
                                anchors=False)
    tables = pd.read_html(io.StringIO(path.read_text(encoding="utf-8")))
    overview = next(t for t in tables if "set" in t.columns and "images" in t.columns)
    row = overview[overview["set"] == "2007:test"].iloc[0]
    assert (row["images"], row["objects"], row["objects_all"], row["difficult"]) == (
        plain["images"], sum(plain["objects"].values()), sum(plain["objects_all"].values()), plain["difficult"])
    assert (plain["images"], sum(plain["objects"].values())) == (4952, 12032)  # the published VOC2007 test
    per_class = next(t for t in tables if list(t.columns[:3]) == ["class", "images", "objects"]).set_index("class")
    for name in ds.classes:
        assert per_class.loc[name, "objects"] == plain["objects"][name], name
        assert per_class.loc[name, "objects_all"] == plain["objects_all"][name], name
    sizes = next(t for t in tables if list(t.columns) == ["class", "small", "medium", "large"]).set_index("class")
    for name in ds.classes:
        got = sizes.loc[name, ["small", "medium", "large"]].tolist()
        assert got == [plain["sizes"][(name, k)] for k in ("small", "medium", "large")], name
    assert_renders(path, list(SECTION_TITLES), min_svgs=5)


def test_writer_computes_nothing(tmp_path, monkeypatch):
    """The dataset report writes what it is given: no k-means, no statistics of its own."""
    import vocbench.anchors
    import vocbench.stats

    def refuse(*_a, **_k):
        raise AssertionError("the report writer computed")

    ds = _dataset(5, n_images=20)
    stats = compute_stats(ds, by_set=True)
    analysis = analyze_dataset_anchors(ds, k=2, curve=range(1, 3), n_init=1)
    monkeypatch.setattr(vocbench.anchors, "analyze_dataset_anchors", refuse)
    monkeypatch.setattr(vocbench.stats, "compute_stats", refuse)
    html = write_dataset_report(tmp_path / "r.html", ds, stats=stats, anchor_analysis=analysis).read_text()
    assert analysis.darknet_line() in html
    with pytest.raises(ValueError, match="anchor_analysis"):
        write_dataset_report(tmp_path / "s.html", ds, stats=stats)
