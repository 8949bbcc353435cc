"""The diagnosis report and the ``vocbench diagnose`` command: JSON layout, gallery on synthetic images, Chromium."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import vocbench
from tests.browser import assert_renders
from vocbench.cli import main
from vocbench.diagnose import ERROR_TYPES, diagnose
from vocbench.report.diagnose import THUMBNAIL_PX, gallery_html, write_diagnosis_report
from vocbench.structures import Detections


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """16 synthetic images with JPEGs and detections built from the GT: exact, shifted, wrong class, background."""
    from vocbench.synth import generate

    root = generate(tmp_path_factory.mktemp("synth"), images=16, size=160, seed=3, workers=1)
    ds = vocbench.load_voc(root, ["2007:trainval", "2007:test"], cache=False)
    rng = np.random.default_rng(0)
    im, cl, sc, bx = [], [], [], []
    for j in range(ds.num_objects):
        b = ds.boxes[j].copy()
        kind = j % 4
        c = int(ds.class_index[j])
        if kind == 1:
            w = b[2] - b[0]
            b[[0, 2]] += 0.6 * w  # mislocalised
        elif kind == 2:
            c = (c + 1) % ds.num_classes  # wrong class
        im.append(int(ds.image_index[j]))
        cl.append(c)
        sc.append(float(rng.random()))
        bx.append(b)
    for i in range(ds.num_images):  # a background box in every image's corner
        im.append(i)
        cl.append(0)
        sc.append(float(rng.random()))
        bx.append([1.0, 1.0, 6.0, 6.0])
    dets = Detections(image_index=np.array(im), class_index=np.array(cl), scores=np.array(sc),
                      boxes=np.array(bx, np.float64), source="synthetic test detections")
    return ds, dets


def test_gallery_draws_thumbnails_on_images(synth, tmp_path):
    ds, dets = synth
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = diagnose(ds, dets)
    html, why = gallery_html(ds, d, dets)
    assert html is not None and why == ""
    for t in ("cls", "loc", "bkg"):
        assert f"<h3>{t} " in html
    assert html.count("data:image/jpeg;base64,") >= 3
    path = write_diagnosis_report(tmp_path / "diag.html", ds, d, detections=dets)
    dom = assert_renders(path, ["TIDE errors", "dAP per class", "Sensitivity to object characteristics",
                                "Confusion matrix", "Top false positives"], min_svgs=4)
    assert "data:image/jpeg;base64," in dom
    # thumbnails are capped
    import base64
    import io

    from PIL import Image

    first = html.split("data:image/jpeg;base64,")[1].split('"')[0]
    with Image.open(io.BytesIO(base64.b64decode(first))) as img:
        assert max(img.size) <= THUMBNAIL_PX + 1


def test_gallery_left_out_without_images(voc07_test, yolov2_dets, tmp_path):
    dets = vocbench.read_detections(yolov2_dets, voc07_test)
    d = diagnose(voc07_test, dets, sensitivity=False, confusion=False)
    html, why = gallery_html(voc07_test, d, dets)
    assert html is None and "no images found" in why


def test_cli_json_layout_and_html(voc07_test, yolov2_dets, tmp_path, capsys):
    out = tmp_path / "d.json"
    page = tmp_path / "d.html"
    assert main(["diagnose", "--gt", str(voc07_test.root), "--set", "2007:test", "--dets", str(yolov2_dets),
                 "--protocol", "coco", "--json", str(out), "--html", str(page)]) == 0
    data = json.loads(out.read_text())
    for key in ("protocol", "iou_threshold", "mAP", "errors", "special", "per_class", "sensitivity", "confusion"):
        assert key in data
    assert data["protocol"] == "coco" and data["iou_threshold"] == 0.5
    assert set(data["errors"]) == set(ERROR_TYPES)
    assert set(data["special"]) == {"false_pos", "false_neg"}
    assert abs(data["mAP"] - 0.7450440740479806) < 1e-12  # tidecv 1.0.1: 74.50440740479806
    assert set(data["per_class"]) == set(voc07_test.classes)
    assert len(data["confusion"]["matrix"]) == 21 and data["confusion"]["rows"][-1] == "background"
    assert data["sensitivity"]["n_norm"] == pytest.approx(0.15 * 4952)
    assert "wrote" in capsys.readouterr().out
    assert page.stat().st_size < 3_000_000
    text = page.read_text()
    assert "Gallery left out" in text


def test_cli_bad_input_is_one_line(tmp_path, capsys, voc07_test):
    bad = tmp_path / "dets.json"
    bad.write_text("[{\"image_id\": 1, \"category_id\": 99, \"bbox\": [1, 1, 5, 5], \"score\": 0.5}]")
    code = main(["diagnose", "--gt", str(voc07_test.root), "--set", "2007:test", "--dets", str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert main(["diagnose", "--gt", str(voc07_test.root), "--set", "2007:test", "--dets", str(bad),
                 "--iou", "0.3", "--background-iou", "0.5"]) == 2


@pytest.mark.slow
def test_bench_suite_reports_the_tidecv_ratio(shared_dir):
    pytest.importorskip("tidecv")
    from vocbench.bench.suite_diagnose import bench_diagnose

    rows = bench_diagnose(quick=True, shared=shared_dir)
    peer = [r for r in rows if r.impl.startswith("tidecv")]
    assert len(peer) == 1 and peer[0].agrees is True
    assert peer[0].ratio == peer[0].ratio and peer[0].ratio > 0  # a measured number (its size is not asserted)
