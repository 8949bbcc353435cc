"""What a reader sees in the reports, where a test can see it: axis labels and units, the colour bar in counts, the
link back to the demo index and the command that rebuilds a report, tables that scroll, tolerances stated."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from tests.conftest import DATA
from vocbench import evaluate, load_voc, read_detections
from vocbench.diagnose import diagnose_evaluation
from vocbench.report.eval import write_eval_report
from vocbench.report.html import ReportMeta, Section, render_report, report_defaults, text_block


@pytest.fixture(scope="module")
def eval_page(tmp_path_factory) -> str:
    ds = load_voc(DATA / "voc_small", ["2007:trainval"], classes=("car", "dog", "person", "train"), cache=False)
    dets = read_detections(DATA / "dets" / "voc_small", ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(ds, dets, metrics=("voc07", "voc12", "coco"))
        path = write_eval_report(tmp_path_factory.mktemp("looks") / "eval.html", ds, result, detections=dets,
                                 diagnosis=diagnose_evaluation(ds, dets, result))
    return path.read_text(encoding="utf-8")


def _svg_texts(html: str) -> list[str]:
    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", html)]


def test_errors_chart_is_shares_on_a_linear_axis(eval_page):
    texts = _svg_texts(eval_page)
    assert "share of the class's detections" in texts
    assert "symlog" not in eval_page and "10^{" not in eval_page


def test_f1_chart_has_a_y_label(eval_page):
    assert "precision, recall" in _svg_texts(eval_page)


def test_confusion_colour_bar_is_in_counts(eval_page):
    texts = _svg_texts(eval_page)
    assert "log(1 + count)" not in eval_page
    assert "detections (colour on a log scale)" in texts
    assert {"0", "1", "10"} <= set(texts)  # colour-bar ticks are counts


def test_cell_numbers_are_readable(eval_page):
    sizes = [float(s) for s in re.findall(r"font-size:\s*([0-9.]+)px", eval_page)]
    assert sizes and min(sizes) >= 6.0  # the smallest text of any figure (was 5 pt in the confusion matrix)


def test_report_defaults_set_command_and_home_link():
    with report_defaults(command="vocbench eval --gt G --dets D --html x.html", home="index.html"):
        page = render_report("T", [Section("S", [text_block("x")])], ReportMeta(data="d"))
    assert '<a href="index.html">' in page
    assert "vocbench eval --gt G --dets D --html x.html" in page
    page = render_report("T", [Section("S", [text_block("x")])], ReportMeta(data="d"))
    assert '<a href="index.html">' not in page  # outside the block: no link home


def test_wide_tables_scroll_with_the_class_column_pinned(eval_page):
    assert ".table-wrap { overflow-x: auto" in eval_page
    assert "position: sticky; left: 0" in eval_page
    tables = eval_page.count("<table")
    assert tables and eval_page.count('<div class="table-wrap">') == tables


def test_bench_agreement_states_its_tolerance():
    from vocbench.bench.suite_eval import _COCO_TOL, _coco_exact

    class Scores:
        stats = {"AP": 0.5, "AP50": 0.7}
        precision = np.full((2, 3), 0.25)
        recall = np.full(2, 0.5)

    compare = _coco_exact(Scores)
    close = {"stats": np.array([0.5, 0.7]), "precision": Scores.precision + 2.2e-16, "recall": Scores.recall}
    ok, note = compare(close)
    assert ok and f"equal within {_COCO_TOL:g}" in note and "2.2e-16" in note
    far = {"stats": np.array([0.5, 0.7]), "precision": Scores.precision + 1e-4, "recall": Scores.recall}
    ok, note = compare(far)
    assert not ok and "equal within" not in note


def test_compare_about_text_is_in_the_report_header(tmp_path, capsys):
    from vocbench.cli import main

    dets = DATA / "dets" / "voc_small"
    out = tmp_path / "cmp.html"
    about = "model a: darknet weights trained on VOC07+12 at 416 px"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(["compare", "--gt", str(DATA / "voc_small"), "--set", "2007:trainval", "--classes",
                   "car,dog,person,train", "--dets", f"a={dets}", "--dets", f"b={dets}", "--bootstrap", "100",
                   "--metric", "voc07", "--no-cache", "--html", str(out), "--about", about, "--json", "-"])
    assert rc == 0
    capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    assert f"<dt>About the data</dt><dd>{about}</dd>" in page


def test_train_loss_default_is_the_measured_better_preset():
    pytest.importorskip("torch")
    from reference_models.train import TrainConfig
    from vocbench.cli import build_parser

    args = build_parser().parse_args(["train", "yolo", "--data", "somewhere"])
    assert args.loss == "modern" == TrainConfig().loss


def test_header_counts_non_difficult_objects_like_every_page(eval_page):
    ds = load_voc(DATA / "voc_small", ["2007:trainval"], classes=("car", "dog", "person", "train"), cache=False)
    assert f"({ds.num_images} images, {int((~ds.difficult).sum())} non-difficult objects)" in eval_page
    assert ds.difficult.any()  # the case tells the two counts apart


def test_compare_report_summarises_agreeing_leaderboards(tmp_path):
    from types import SimpleNamespace

    from vocbench.report.compare import _stability

    rs = SimpleNamespace(leaderboards={"voc07/devkit": ("a", "b")}, scores={"voc07/devkit": {"a": 0.7, "b": 0.6}},
                         kendall_tau={"x vs y": 1.0, "x vs z": 1.0, "y vs z": 1.0}, top_change={"voc07": 0.0},
                         p_tie={}, replicate_tau={})
    c = SimpleNamespace(rank_stability=rs, metrics=("voc07",))
    blocks = _stability(c)
    texts = [b["html"] for b in blocks if b["kind"] == "text"]
    assert any("same order" in t and "all 3 pairs" in t for t in texts)
    assert not any("Agreement between leaderboards" in b.get("caption", "") for b in blocks)
    rs.kendall_tau["x vs z"] = -1.0
    assert any("Agreement between leaderboards" in b.get("caption", "") for b in _stability(c))
