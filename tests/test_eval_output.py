"""What ``vocbench eval`` prints for people coming from pycocotools (the 12-line ``summarize()`` block, character for
character) and from ultralytics (P, R, mAP50, mAP50-95 columns with an "all" row)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from tests.conftest import DATA
from tests.test_coco import random_coco_case
from vocbench import evaluate
from vocbench.cli import main
from vocbench.io.coco import detections_to_coco, export_coco

pytest.importorskip("pycocotools")
pytestmark = pytest.mark.filterwarnings("ignore::vocbench.errors.VocbenchWarning")

SMALL = DATA / "voc_small"
SMALL_DETS = DATA / "dets" / "voc_small"


def _pycocotools_printout(gt: dict, dt: list) -> str:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(json.loads(json.dumps(dt))), "bbox")
        ev.evaluate()
        ev.accumulate()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ev.summarize()
    return out.getvalue()


@pytest.mark.parametrize("seed", [0, 1, 2, 5, 7])
def test_summarize_text_is_pycocotools_printout(seed):
    ds, dets = random_coco_case(seed)
    expected = _pycocotools_printout(export_coco(ds), detections_to_coco(ds, dets))
    text = evaluate(ds, dets, metrics=["coco"]).coco.summarize_text()
    assert text.splitlines() == expected.splitlines()
    assert len(text.splitlines()) == 12


def test_summarize_text_prints_minus_one_where_pycocotools_does():
    """No small ground truth: pycocotools prints -1.000 for APs and ARs; so does the block."""
    from vocbench import Dataset

    ds, dets = random_coco_case(3)
    b = np.asarray(ds.boxes)
    keep = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1) > 40 ** 2
    ds = Dataset.from_arrays(image_ids=list(ds.image_ids), widths=ds.widths, heights=ds.heights,
                             image_index=ds.image_index[keep], class_index=ds.class_index[keep], boxes=b[keep],
                             difficult=ds.difficult[keep], classes=ds.classes)
    expected = _pycocotools_printout(export_coco(ds), detections_to_coco(ds, dets))
    text = evaluate(ds, dets, metrics=["coco"]).coco.summarize_text()
    assert "area= small | maxDets=100 ] = -1.000" in text
    assert text.splitlines() == expected.splitlines()


def test_eval_cli_prints_the_summarize_block_and_ultralytics_columns(capsys):
    classes = "car,dog,person,train"
    assert main(["eval", "--gt", str(SMALL), "--set", "2007:trainval", "--classes", classes, "--dets",
                 str(SMALL_DETS), "--metric", "voc07", "--metric", "coco", "--no-cache"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("class"))
    assert header.split() == ["class", "instances", "P", "R", "voc07", "mAP50", "mAP50-95"]
    assert "max-F1 score threshold" in out  # P and R say at which confidence they are taken
    block = [line for line in lines if line.startswith(" Average ")]
    assert len(block) == 12
    assert block[0].startswith(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ")

    from vocbench.commands._common import parse_classes
    from vocbench.io.detections import read_detections
    from vocbench.io.voc import load_voc

    ds = load_voc(SMALL, "2007:trainval", classes=parse_classes(classes), cache=False)
    result = evaluate(ds, read_detections(SMALL_DETS, ds), metrics=("voc07", "coco"))
    best = result.scores_at().best_f1
    for k, name in enumerate(ds.classes):
        row = next(line.split() for line in lines if line.split()[:1] == [name])
        p, r = best[k, 1], best[k, 2]
        assert row[2] == ("nan" if np.isnan(p) else f"{p:.4f}")
        assert row[3] == ("nan" if np.isnan(r) else f"{r:.4f}")
        assert row[1] == str(int(result.scores_at().npos[k]))
    all_row = next(line.split() for line in lines if line.split()[:1] == ["all"])
    assert all_row[4] == f"{result.mAP['voc07']:.4f}"
    assert all_row[6] == f"{result.coco.stats['AP']:.4f}"
