"""``vocbench compare`` end to end on the real YOLOv2/YOLOv3 VOC2007-test files, its report, and bad input."""

from __future__ import annotations

import json

import pytest

from tests.browser import assert_renders
from vocbench.cli import main


@pytest.fixture(scope="module")
def cli_run(voc_root, yolov2_dets, yolov3_dets, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    html, js = out / "cmp.html", out / "cmp.json"
    argv = ["compare", "--gt", str(voc_root), "--set", "2007:test", "--dets", f"yolov2={yolov2_dets}",
            "--dets", f"yolov3={yolov3_dets}", "--bootstrap", "300", "--seed", "5", "--json", str(js),
            "--html", str(html)]
    assert main(argv) == 0
    return json.loads(js.read_text()), html


def test_cli_json_layout(cli_run):
    d, _ = cli_run
    assert d["bootstrap"] == 300 and d["seed"] == 5
    assert set(d["models"]) == {"yolov2", "yolov3"}
    for name in ("yolov2", "yolov3"):
        assert set(d["models"][name]) == {"voc07", "voc12", "coco"}
        for v in d["models"][name].values():
            assert set(v) >= {"mAP", "ci", "per_class"}
            assert len(v["ci"]) == 2 and v["ci"][0] < v["mAP"] < v["ci"][1]
            assert len(v["per_class"]) == 20
    assert round(d["models"]["yolov2"]["voc07"]["mAP"], 6) == 0.721437
    assert round(d["models"]["yolov2"]["coco"]["mAP"], 4) == 0.4218
    assert len(d["pairs"]) == 3
    for p in d["pairs"]:
        assert set(p) >= {"a", "b", "metric", "diff", "ci", "p_value", "per_class"}
        assert (p["a"], p["b"]) == ("yolov2", "yolov3")
        assert p["ci"][0] <= p["diff"] <= p["ci"][1]
        assert 0 < p["p_value"] <= 1
    rs = d["rank_stability"]
    assert set(rs["leaderboards"]) == {"voc07/devkit", "voc07/voc_eval", "voc12/devkit", "voc12/voc_eval", "coco"}
    assert set(rs["top_change"]) == {"voc07", "voc12", "coco"}
    assert all(v == 1.0 for v in rs["kendall_tau"].values())  # YOLOv2 leads under every rule set


def test_cli_json_stdout_is_quiet_and_deterministic(voc_root, yolov2_dets, yolov3_dets, capsys):
    argv = ["compare", "--gt", str(voc_root), "--set", "2007:test", "--dets", f"a={yolov2_dets}", "--dets",
            f"b={yolov3_dets}", "--metric", "voc07", "--bootstrap", "150", "--json", "-"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    second = capsys.readouterr().out
    assert json.loads(first) == json.loads(second)
    assert first.lstrip().startswith("{")


def test_report_renders(cli_run):
    _, html = cli_run
    assert html.stat().st_size < 3_000_000
    dom = assert_renders(html, ["Leaderboard", "Forest plot", "Pairwise differences", "Per-class differences",
                                "Precision-recall curves", "Ranking stability"], min_svgs=20 + 1 + 3 + 3)
    assert "yolov2" in dom and "0.7214" in dom


@pytest.mark.parametrize("extra, message", [
    (["--dets", "x={v2}", "--dets", "x={v3}"], "the name 'x' is given twice"),
    (["--dets", "x={v2}"], "at least 2 --dets"),
    (["--dets", "a={v2}", "--dets", "b={v3}", "--bootstrap", "10"], "use at least 100"),
    (["--dets", "a={v2}", "--dets", "b={v3}", "--bootstrap", "1000000000"], "would need"),
    (["--dets", "a={v2}", "--dets", "b={other}"], "comp4_det_test_car.txt"),
])
def test_cli_bad_input_one_line(voc_root, yolov2_dets, yolov3_dets, tmp_path, capsys, extra, message):
    other = tmp_path / "other"
    other.mkdir()
    (other / "comp4_det_test_car.txt").write_text("000005 0.9 1 1 50 50\n2008_000001 0.5 1 1 20 20\n")
    extra = [e.format(v2=yolov2_dets, v3=yolov3_dets, other=other) for e in extra]
    rc = main(["compare", "--gt", str(voc_root), "--set", "2007:test", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    errors = [ln for ln in err if ln.startswith("vocbench: error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in "\n".join(err)


def test_report_states_the_numbers_of_the_run(cli_run):
    """The page the code writes now (not a committed file) shows this run's replicates and every model's point
    estimate and interval, as the JSON of the same run has them."""
    d, html = cli_run
    dom = assert_renders(html, ["Leaderboard", "Forest plot", "Pairwise differences", "Per-class differences",
                                "Precision-recall curves", "Ranking stability"], min_svgs=27)
    assert "300 replicates" in dom and "seed 5" in dom
    for name, metrics in d["models"].items():
        for m in metrics.values():
            for v in (m["mAP"], *m["ci"]):
                assert f"{v:.4f}" in dom, (name, v)
