"""``vocbench audit`` end to end (VOC, COCO and YOLO ground truth, the real YOLOv2/YOLOv3 detections), the
``assignment`` entries of ``vocbench anchors --json``, and the audit sections of the HTML reports in Chromium."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vocbench
from tests.browser import assert_renders
from vocbench.audit import analyze_assignment
from vocbench.cli import main
from vocbench.report.audit import AUDIT_TITLES, LABEL_ISSUE_TITLE


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit-cli-synth")
    assert main(["synth", str(out), "--images", "60", "--seed", "5", "--size", "160", "--workers", "1",
                 "--json", str(out / "s.json")]) == 0
    return out / "VOCdevkit"


def _json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_audit_same_counts_on_voc_coco_and_yolo(synth, tmp_path, capsys):
    assert main(["convert", str(synth), "--set", "2007:val", "--to", "coco", str(tmp_path / "gt.json")]) == 0
    assert main(["convert", str(synth), "--to", "yolo", str(tmp_path / "yolo")]) == 0
    capsys.readouterr()
    voc = _json(capsys, "audit", "--gt", str(synth), "--set", "2007:val", "--json", "-")
    coco = _json(capsys, "audit", "--gt", str(tmp_path / "gt.json"), "--json", "-")
    yolo = _json(capsys, "audit", "--gt", str(tmp_path / "yolo" / "data.yaml"), "--set", "val", "--json", "-")
    keys = ("grid", "prior_set", "objects", "shared_cell", "lost_cell", "lost_cell_anchor")
    want = {k: voc["assignment"][0][k] for k in keys}
    assert want["objects"] > 0 and want["grid"] == "13x13" and want["prior_set"] == "yolo-voc"
    for other in (coco, yolo):  # difficult objects are left out of the assignment: YOLO dropping them changes nothing
        assert {k: other["assignment"][0][k] for k in keys} == want
        assert other["ssd_matching"]["unmatched"] == voc["ssd_matching"]["unmatched"]


def test_audit_leakage_between_loaded_splits(synth, capsys):
    out = _json(capsys, "audit", "--gt", str(synth), "--set", "2007:train", "--set", "2007:trainval", "--json", "-")
    train = (synth / "VOC2007" / "ImageSets" / "Main" / "train.txt").read_text().split()
    assert out["health"]["counts"]["leakage"] == len(train) > 0
    out = _json(capsys, "audit", "--gt", str(synth), "--set", "2007:train", "--set", "2007:val", "--json", "-")
    assert out["health"]["counts"]["leakage"] == 0


@pytest.fixture(scope="module")
def voc07_audit(voc_root, yolov2_dets, yolov3_dets, tmp_path_factory):
    out = tmp_path_factory.mktemp("audit-voc07")
    rc = main(["audit", "--gt", str(voc_root), "--set", "2007:test", "--dets", f"yolov2={yolov2_dets}",
               "--dets", f"yolov3={yolov3_dets}", "--json", str(out / "a.json"), "--html", str(out / "a.html")])
    assert rc == 0
    return json.loads((out / "a.json").read_text()), out / "a.html"


def test_audit_voc07_label_issues_json(voc07_audit, voc07_test):
    data, _ = voc07_audit
    issues = data["label_issues"]
    assert {e["kind"] for e in issues} == {"missing", "wrong_class", "badloc", "spurious"}
    assert all({"image_id", "kind", "class", "box", "score"} <= set(e) for e in issues)
    scores = [e["score"] for e in issues]
    assert scores == sorted(scores, reverse=True)
    assert data["counts"] == {k: sum(e["kind"] == k for e in issues) for k in data["counts"]}
    lookup = voc07_test.image_lookup()
    for e in issues[:200]:  # annotation-based kinds carry the annotation's own VOC pixel box
        if e["kind"] != "missing":
            assert e["box"] == voc07_test.boxes[e["object"]].tolist()
            assert voc07_test.image_index[e["object"]] == lookup[e["image_id"]]
            assert not voc07_test.difficult[e["object"]]
    first = data["assignment"][0]
    assert (first["grid"], first["prior_set"]) == ("13x13", "yolo-voc")
    assert first["lost_cell"] == analyze_assignment(voc07_test).lost_cell


@pytest.mark.slow
def test_audit_voc07_html_renders(voc07_audit):
    _, html = voc07_audit
    assert html.stat().st_size < 3_000_000
    dom = assert_renders(html, [LABEL_ISSUE_TITLE, *AUDIT_TITLES], min_svgs=4)
    assert "wrong_class: top" in dom and "spurious: top" in dom


@pytest.mark.slow
def test_dataset_report_shows_the_audit(synth, tmp_path):
    out = tmp_path / "ds.html"
    assert main(["stats", str(synth), "--set", "2007:trainval", "--html", str(out), "--json", str(tmp_path / "s.json"),
                 "--no-anchors"]) == 0
    dom = assert_renders(out, list(AUDIT_TITLES), min_svgs=4)
    assert "13×13" in dom or "13x13" in dom
    assert main(["stats", str(synth), "--set", "2007:trainval", "--html", str(tmp_path / "b.html"), "--no-audit",
                 "--no-anchors", "--json", str(tmp_path / "t.json")]) == 0
    assert AUDIT_TITLES[0] not in (tmp_path / "b.html").read_text()


def test_anchors_json_assignment_entries(synth, capsys):
    out = _json(capsys, "anchors", str(synth), "--set", "2007:trainval", "--curve", "none", "--no-sse",
                "--json", "-")
    entries = out["assignment"]
    assert {"grid", "prior_set", "objects", "lost_cell", "lost_cell_anchor"} <= set(entries[0])
    assert {e["prior_set"] for e in entries} == {"yolo-voc", "kmeans"}
    ds = vocbench.load_voc(synth, ["2007:trainval"])
    yv = [e for e in entries if e["prior_set"] == "yolo-voc" and e["grid"] == "13x13"][0]
    r = analyze_assignment(ds)
    assert (yv["objects"], yv["lost_cell"], yv["lost_cell_anchor"]) == (r.objects, r.lost_cell, r.lost_cell_anchor)
    km = [e for e in entries if e["prior_set"] == "kmeans" and e["grid"] == "13x13"][0]
    r = analyze_assignment(ds, priors=np.asarray(out["anchors_norm"]))
    assert km["lost_cell_anchor"] == r.lost_cell_anchor


@pytest.mark.parametrize("argv, code", [
    (["--stride", "0"], 2), (["--min-score", "1.5"], 2), (["--grids", "0,13"], 2), (["--top", "x"], 2),
    (["--dets", "/nonexistent/dets"], 1), (["--stride", "500"], 1), (["-k", "65"], 2),
    (["--grids", ",".join(str(g) for g in range(1, 40))], 2), (["--input-size", "-5"], 2)])
def test_audit_bad_input_one_line(synth, capsys, argv, code):
    rc = main(["audit", "--gt", str(synth), "--set", "2007:val", *argv, "--json", "-"])
    err = capsys.readouterr().err.strip()
    assert rc == code
    assert "Traceback" not in err and (code == 2 or len(err.splitlines()) == 1)


def test_audit_health_on_a_broken_voc_file(capsys):
    from pathlib import Path

    root = Path(__file__).parent / "data" / "voc_bad"
    out = _json(capsys, "audit", "--gt", str(root), "--set", "2007:border", "--json", "-")
    counts = out["health"]["counts"]
    assert (counts["degenerate"], counts["out_of_image"]) == (1, 1)  # an inverted box, a box past the border
    kinds = {f["kind"]: f for f in out["health"]["findings"]}
    assert kinds["out_of_image"]["detail"] == "image is 500x375" and kinds["degenerate"]["xmin"] == 200.0
