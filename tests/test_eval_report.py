"""The evaluation report: built from an EvalResult, self-contained, renders in Chromium."""

from __future__ import annotations

import warnings

import numpy as np

from tests.browser import assert_renders
from tests.conftest import DATA
from vocbench import evaluate, load_voc, read_detections
from vocbench.cli import main
from vocbench.diagnose import diagnose_evaluation
from vocbench.report.eval import downsample_curve, write_eval_report


def test_downsample_curve_keeps_ends_and_the_marked_point():
    assert downsample_curve(10).tolist() == list(range(10))
    idx = downsample_curve(5000, keep=1234, max_points=300)
    assert idx[0] == 0 and idx[-1] == 4999 and 1234 in idx and len(idx) <= 301
    assert np.all(np.diff(idx) > 0)


def test_report_on_small_data_renders(tmp_path):
    ds = load_voc(DATA / "voc_small", ["2007:trainval"], cache=False)
    dets = read_detections(DATA / "dets" / "voc_small", ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(ds, dets, metrics=("voc07", "voc12", "coco"), iou=(0.5, 0.75))
        diagnosis = diagnose_evaluation(ds, dets, result)
    bare = write_eval_report(tmp_path / "bare.html", ds, result, detections=dets).read_text()
    assert "Diagnosis: TIDE errors" not in bare  # the writer diagnoses nothing on its own
    path = write_eval_report(tmp_path / "eval.html", ds, result, detections=dets, diagnosis=diagnosis)
    html = path.read_text()
    assert "Diagnosis: TIDE errors" in html and f"{diagnosis.mAP:.6f}" in html
    assert "<script src" not in html and "<link" not in html
    # one PR curve per class + AP bars + error bars + F1 bars + COCO curve + diagnosis (pie, dAP bars, sensitivity,
    # confusion)
    assert html.count("<svg") == len(ds.classes) + 4 + 4
    assert "0.75" in html and "AP@[.5:.95]" in html
    assert_renders(path, ["Summary", "Per-class results", "Precision-recall curves", "Errors", "IoU thresholds",
                          "COCO protocol", "Mean average precision"], min_svgs=24)


def test_cli_html_on_real_subset(voc07_test, yolov2_dets, tmp_path, capsys):
    """The CLI writes the report; numbers in it are the ones in the JSON."""
    out = tmp_path / "r.html"
    assert main(["eval", "--gt", str(voc07_test.root), "--set", "2007:test", "--dets", str(yolov2_dets),
                 "--metric", "voc07", "--html", str(out)]) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and "0.7214" in text
    html = out.read_text()
    assert "0.721437" in html  # mAP with 6 decimals in the summary table
    assert out.stat().st_size < 3_000_000
