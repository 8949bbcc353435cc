"""`compute_stats` and `vocbench stats` on the real VOC data and small trees."""

from __future__ import annotations

import json
import os

from tests.conftest import DATA
from vocbench import load_voc
from vocbench.cli import main
from vocbench.stats import compute_stats


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_voc0712_train(capsys, voc_root):
    out = run_json(capsys, ["stats", str(voc_root), "--set", "2007:train", "--set", "2012:train", "--json", "-"])
    assert out["images"] == 8218 and out["objects"] == 19910


def test_voc0712_val(capsys, voc_root):
    out = run_json(capsys, ["stats", str(voc_root), "--set", "2007:val", "--set", "2012:val", "--json", "-"])
    assert (out["images"], out["objects"], out["max_objects_per_image"]) == (8333, 20148, 39)
    hist = {int(k): v for k, v in out["images_by_object_count"].items()}
    assert sum(hist.values()) == 8333 and max(hist) == 39
    assert sum(k * v for k, v in hist.items()) == 20148


def test_voc07_test(capsys, voc_root):
    out = run_json(capsys, ["stats", str(voc_root), "--set", "2007:test", "--json", "-"])
    assert (out["images"], out["objects"], out["objects_all"]) == (4952, 12032, 14976)
    pc = out["per_class"]
    assert sum(v["objects"] for v in pc.values()) == 12032
    assert sum(v["objects_all"] for v in pc.values()) == 14976
    # published VOC2007 test per-class counts (non-difficult objects / images)
    assert pc["person"] == {"images": 2007, "objects": 4528, "objects_all": 5227, "difficult": 699,
                            "truncated": pc["person"]["truncated"]}
    assert (pc["car"]["images"], pc["car"]["objects"]) == (721, 1201)


def test_by_set(capsys, voc_root):
    out = run_json(capsys, ["stats", str(voc_root), "--set", "2007:train", "--set", "2012:train", "--by-set",
                            "--json", "-"])
    assert out["by_set"]["2007:train"]["images"] == 2501
    assert out["by_set"]["2012:train"]["images"] == 5717


def test_small_tree_counts():
    st = compute_stats(load_voc(DATA / "voc_small", ["2007:trainval"], cache=False))
    assert (st.images, st.objects, st.objects_all, st.difficult, st.empty_images) == (4, 5, 7, 2, 1)
    assert st.images_by_object_count == {0: 1, 1: 1, 2: 2}
    # image 000001 has only a difficult person → does not count as a person image
    assert st.per_class["person"] == {"images": 1, "objects": 1, "objects_all": 2, "difficult": 1, "truncated": 0}
    assert st.to_pandas().loc["total", "objects_all"] == 7
    assert "objects_all" in str(st)


def test_stats_html_renders(tmp_path, capsys):
    from tests.browser import assert_renders

    out = tmp_path / "stats.html"
    assert main(["stats", str(DATA / "voc_small"), "--set", "2007:train", "--set", "2007:val", "--no-cache",
                 "--no-anchors", "--html", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    html = out.read_text()
    assert "2007:train" in html and "2007:val" in html
    assert "vocbench stats" in html or "pytest" in html
    dom = assert_renders(out, ["2007:train", "person", "diningtable"], min_svgs=1)
    assert "<svg" in dom


def test_stats_report_of_real_voc_states_the_published_counts(voc_root, tmp_path, capsys):
    """The report `make reports` commits (reports/voc0712_stats.html), written now by the code from the real
    annotations: the published VOC counts (images / non-difficult objects) are on the page."""
    from tests.browser import assert_renders

    path = tmp_path / "voc0712_stats.html"
    assert main(["stats", str(voc_root), "--set", "2007:train", "--set", "2012:train", "--compare", "2007:test",
                 "--no-anchors", "--no-audit", "--html", str(path), "--json", os.devnull]) == 0
    html = path.read_text()
    # 2007 train 2501 images / 6301 objects; 2012 train 5717 / 13609; their union 8218 / 19910; 2007 test 4952 /
    # 12032 (the VOC devkit's tables)
    for number in ("2501", "6301", "5717", "13609", "8218", "19910", "4952", "12032"):
        assert number in html, f"{number} missing from {path.name}"
    assert_renders(path, ["2007:train", "2012:train", "2007:test"], min_svgs=1)
