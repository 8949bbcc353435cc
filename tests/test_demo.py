"""``vocbench demo``: runs end to end on a tiny set, ends pointing to index.html, and every page renders."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.browser import assert_renders
from vocbench.cli import main


def _hrefs(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', html)


def _check_links(index: Path) -> list[Path]:
    targets = []
    text = index.read_text(encoding="utf-8")
    for href in _hrefs(text):
        if href.startswith("#"):  # the page's own table of contents
            assert f'id="{href[1:]}"' in text, f"{index}: in-page link {href!r} has no target"
            continue
        assert not href.startswith(("http:", "https:", "/", "file:")), f"link {href!r} is not relative"
        target = (index.parent / unquote(href.split("#")[0])).resolve()
        assert target.is_file(), f"{index} links to {href!r}, which does not exist"
        targets.append(target)
    return targets


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo_out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", str(out), "--images", "40", "--quick", "--no-voc", "--no-models"])
    return rc, buf.getvalue(), out


def test_demo_ends_with_the_index_path(demo_run):
    rc, stdout, out = demo_run
    assert rc == 0, stdout
    assert stdout.strip().splitlines()[-1] == f"Open {out / 'index.html'}"
    assert (out / "index.html").is_file()
    assert (out / "data" / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "test.txt").is_file()


def test_index_links_exist_and_render(demo_run):
    _, _, out = demo_run
    index = out / "index.html"
    targets = _check_links(index)
    assert (out / "synthetic_dataset.html").resolve() in targets
    dom = assert_renders(index, headings=["vocbench demo", "Reports", "Skipped steps", "Reproduce"])
    assert "synthetic_dataset.html" in dom
    assert "--no-models" in dom and "no VOC annotations found" in dom  # the skipped steps are explained


def test_synthetic_report_renders_with_samples_and_anchors(demo_run):
    _, _, out = demo_run
    page = out / "synthetic_dataset.html"
    dom = assert_renders(page, headings=["Synthetic classes", "Sample images", "Objects per image"], min_svgs=4)
    assert dom.count("data:image/jpeg;base64,") == 8
    assert "diamond" in dom and "magenta/black" in dom  # the class style table
    assert "Anchor" in dom or "anchor" in dom


def test_demo_rejects_a_bad_voc_root(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "d"), "--voc", str(tmp_path / "nowhere"), "--images", "10"]) == 1
    assert "expected a VOCdevkit folder" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["inside the VOCdevkit", "the detections folder"])
def test_demo_never_writes_into_the_voc_it_reads(tmp_path, capsys, where):
    import shutil

    from tests.conftest import DATA

    voc = tmp_path / "shared" / "voc" / "VOCdevkit"
    shutil.copytree(DATA / "voc_small", voc)
    (voc.parent / "detections").mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = voc / "demo" if where == "inside the VOCdevkit" else voc.parent / "detections"
    assert main(["demo", str(out), "--voc", str(voc), "--images", "10", "--no-models", "--no-speed"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and str(out) in err[0] and "input" in err[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.slow
def test_demo_with_real_voc(tmp_path, voc_root, capsys):
    out = tmp_path / "demo_voc"
    rc = main(["demo", str(out), "--images", "40", "--quick", "--voc", str(voc_root), "--no-models"])
    stdout = capsys.readouterr().out
    assert stdout.strip().splitlines()[-1] == f"Open {out / 'index.html'}"
    assert rc == 0, stdout
    targets = [t.name for t in _check_links(out / "index.html")]
    assert "voc0712_dataset.html" in targets and "yolov2_voc07test_eval.html" in targets
    assert {"voc07test_yolov2_diagnosis.html", "voc07test_yolov3_diagnosis.html"} <= set(targets)
    assert any(t.startswith("voc07test_yolov2_vs_yolov3") for t in targets)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "YOLOv2 on VOC2007 test" in index and "numpy greedy (py_cpu_nms)" in index  # the speed table
    dom = assert_renders(out / "synthetic_dataset.html", headings=["Layout against VOC07+12", "Synthetic classes"])
    assert "VOC07 test vs VOC07+12 trainval" in dom
    assert_renders(out / "index.html", headings=["Reports"])


# ------------------------------------------------------------------------------------------ library + plug-ins
def _fake_detector(dataset, seed: int, keep: float):
    """A stand-in detector: the ground truth of ``dataset`` with jittered boxes and random scores, some objects
    missed and some background boxes added (no torch)."""
    import numpy as np

    from vocbench import Detections

    rng = np.random.default_rng(seed)
    hit = rng.random(dataset.num_objects) < keep
    boxes = dataset.boxes[hit] + rng.normal(0, 2, (int(hit.sum()), 4))
    n_bg = max(1, dataset.num_images // 2)
    img = rng.integers(0, dataset.num_images, n_bg)
    xy = rng.uniform(1, 100, (n_bg, 2))
    bg = np.concatenate([xy, xy + rng.uniform(10, 60, (n_bg, 2))], axis=1)
    return Detections(np.concatenate([dataset.image_index[hit], img]),
                      np.concatenate([dataset.class_index[hit], rng.integers(0, dataset.num_classes, n_bg)]),
                      np.concatenate([rng.uniform(0.4, 1.0, int(hit.sum())), rng.uniform(0, 0.5, n_bg)]),
                      np.concatenate([boxes, bg]), source=f"fake{seed}")


@pytest.fixture(scope="module")
def plugin_demo(tmp_path_factory):
    """run_demo with a fake ``vocbench.demo`` plug-in standing in for the reference detectors."""
    from vocbench import demo as demo_mod
    from vocbench import plugins
    from vocbench.io.voc import load_voc
    from vocbench.plugins import DemoContribution
    from vocbench.report.html import ReportMeta, text_block, write_report
    from vocbench.report.html import Section as S

    calls = []

    def step(out_dir, data_root, sets, progress):
        calls.append((Path(out_dir), Path(data_root), tuple(sets)))
        ds = load_voc(data_root, list(sets), cache=False)
        page = write_report(Path(out_dir) / "fake_models.html", "Fake detectors", [S("Fake", [text_block("x")])],
                            ReportMeta(data="fake"))
        return DemoContribution(reports=(("Fake detectors", page),), dataset=ds, description="two fake detectors",
                                detections={"fake-a": _fake_detector(ds, 1, 0.9), "fake-b": _fake_detector(ds, 2, 0.6)})

    mp = pytest.MonkeyPatch()
    mp.setattr(plugins, "demo_steps", lambda: [("fake", step, "")])
    out = tmp_path_factory.mktemp("plugdemo") / "out"
    lines: list[str] = []
    try:
        result = demo_mod.run_demo(out, images=60, quick=True, use_voc=False, log=lines.append)
    finally:
        mp.undo()
    return result, calls, lines


def test_run_demo_returns_a_typed_result_and_calls_the_plugin(plugin_demo):
    result, calls, lines = plugin_demo
    from vocbench.demo import DemoResult

    assert isinstance(result, DemoResult)
    assert result.failed == 0, result.notes
    assert len(calls) == 1 and calls[0][2] == ("2007:test",) and calls[0][1].name == "VOCdevkit"
    names = [r.path.name for r in result.reports]
    assert names[:2] == ["synthetic_dataset.html", "fake_models.html"]
    assert {"synthetic_fake_a_eval.html", "synthetic_fake_b_eval.html"} <= set(names)  # vocbench's scoring
    assert {"synthetic_fake_a_diagnosis.html", "synthetic_fake_b_diagnosis.html"} <= set(names)
    assert "synthetic_fake_a_vs_fake_b.html" in names
    d = result.to_dict()
    assert d["failed"] == 0 and [r["title"] for r in d["reports"]] == [r.title for r in result.reports]
    assert str(result).splitlines()[-1] == f"Open {result.index}"
    assert result.to_pandas()["path"].tolist() == [str(r.path) for r in result.reports]
    assert any("diagnosis" in line for line in lines)


def test_demo_speed_table_is_the_bench_nms_and_map_suites(plugin_demo):
    """The demo times nothing itself: its table is rows of vocbench.bench (bench nms --quick, suite_map)."""
    result, _, _ = plugin_demo
    speed = result.speed
    assert speed is not None
    impls = set(speed["impl"])
    assert {"vocbench", "numpy greedy (py_cpu_nms)"} <= impls
    peers = speed[(speed["impl"] != "vocbench") & speed["median_ms"].notna() & (speed["task"] == "nms")]
    assert len(peers) >= 2 and peers["agrees"].tolist() == [True] * len(peers), peers.to_string()
    assert (peers["ratio"] > 0).all() and (speed[speed["impl"] == "vocbench"]["median_ms"] > 0).all()
    assert set(speed["task"]) == {"nms", "map"}
    nms = speed[speed["task"] == "nms"]
    assert {"clusters n=2000", "uniform n=2000"} == set(nms["case"])
    maps = speed[speed["task"] == "map"]
    assert {c.split(",")[0] for c in maps["case"]} == {"VOC07 mAP", "COCO mAP"}
    assert "plain devkit loop (voc_eval.py)" in set(maps["impl"]) and "faster-coco-eval" in set(maps["impl"])
    ran = maps[maps["impl"] != "vocbench"].dropna(subset=["median_ms"])
    assert len(ran) >= 2 and ran["agrees"].tolist() == [True] * len(ran), ran.to_string()


def test_demo_reports_link_home_and_name_their_standalone_command(plugin_demo):
    result, _, _ = plugin_demo
    for report in result.reports:
        text = report.path.read_text(encoding="utf-8")
        assert '<a href="index.html">' in text, report.path.name
    eval_page = (result.out / "synthetic_fake_a_eval.html").read_text(encoding="utf-8")
    dets = result.out / "dets" / "fake_a"
    assert dets.is_dir() and any(dets.glob("comp4_det_test_*.txt"))
    assert f"vocbench eval --gt {result.out / 'data' / 'VOCdevkit'} --set 2007:test --dets {dets}" in eval_page
    assert "<title>Detection evaluation: fake_a</title>" in eval_page  # not a temporary folder's name
    assert "vocbench-dets-" not in eval_page
    compare_page = (result.out / "synthetic_fake_a_vs_fake_b.html").read_text(encoding="utf-8")
    assert f"vocbench compare --gt {result.out / 'data' / 'VOCdevkit'} --set 2007:test --dets fake-a={dets}" \
        in compare_page
    index = result.index.read_text(encoding="utf-8")
    assert "benchmarks.html" in index  # the committed speed benchmarks


def test_demo_report_commands_rebuild_the_same_numbers(plugin_demo, tmp_path, capsys):
    """The eval report's command, run on its own, scores the files the demo kept exactly as the demo did."""
    import json
    import shlex

    result, _, _ = plugin_demo
    page = (result.out / "synthetic_fake_b_eval.html").read_text(encoding="utf-8")
    command = re.search(r"<dt>Command</dt><dd><code>([^<]+)</code>", page).group(1)
    import html as _html

    argv = shlex.split(_html.unescape(command))
    assert argv[:2] == ["vocbench", "eval"]
    argv = argv[1:argv.index("--html")] + ["--json", "-"]
    assert main(argv) == 0
    scored = json.loads(capsys.readouterr().out)
    assert f"{scored['voc07']['mAP']:.6f}" in page


def test_plugin_demo_index_links_every_page_and_renders(plugin_demo):
    result, _, _ = plugin_demo
    targets = {t.name for t in _check_links(result.index)}
    assert {r.path.name for r in result.reports} <= targets
    dom = assert_renders(result.index, headings=["Reports", "Speed", "Reproduce"])
    assert "numpy greedy" in dom and "fake-a vs fake-b" in dom
    assert_renders(result.out / "synthetic_fake_a_diagnosis.html", headings=[])


def test_models_commands_come_from_the_plugin_entry_point(capsys):
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="vocbench.commands")}
    assert eps.get("models") == "reference_models.cli:register"
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: vocbench train" in out and "--data ROOT" in out and "--epochs" in out


def test_missing_plugin_gives_one_line_install_hint(monkeypatch, capsys):
    from vocbench import plugins

    monkeypatch.setattr(plugins, "_entry_points", lambda group: [])
    for argv in (["train", "yolo", "--data", "x"], ["profile", "runs/yolo"], ["predict"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err == "vocbench: error: the reference models are not installed: pip install -e '.[models]'\n", err
    assert main(["--help"]) == 0
    assert "(not installed)" in capsys.readouterr().out


def test_plugin_that_fails_to_import_is_treated_as_absent(monkeypatch, capsys):
    from importlib.metadata import EntryPoint

    from vocbench import plugins

    broken = EntryPoint("models", "no_such_package_xyz.cli:register", "vocbench.commands")
    monkeypatch.setattr(plugins, "_entry_points", lambda group: [broken])
    assert main(["export", "run", "--onnx", "m.onnx"]) == 1
    assert "pip install -e '.[models]'" in capsys.readouterr().err
    with pytest.raises(plugins.PluginUnavailable, match="no_such_package_xyz"):  # --debug says why
        main(["--debug", "export", "x"])


def test_model_handler_without_torch_says_how_to_install(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    monkeypatch.delitem(__import__("sys").modules, "reference_models.train", raising=False)
    assert main(["train", "yolo", "--data", "nowhere"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("vocbench: error: the reference models are not installed: pip install -e '.[models]'")
    assert "torch" in err and len(err.splitlines()) == 1


def test_vocbench_never_names_reference_models():
    """The dependency points one way: no file of the vocbench package mentions reference_models."""
    from tests.conftest import REPO

    hits = [str(p.relative_to(REPO)) for p in (REPO / "vocbench").rglob("*")
            if p.is_file() and p.suffix in (".py", ".html", ".css", ".txt", ".md")
            and "reference_models" in p.read_text(encoding="utf-8", errors="replace")]
    assert hits == []


def test_demo_json_to_stdout_is_quiet_and_machine_readable(tmp_path, capsys):
    import json

    out = tmp_path / "jdemo"
    rc = main(["demo", str(out), "--images", "20", "--quick", "--no-voc", "--no-models", "--no-speed", "--json", "-"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    data = json.loads(captured.out)  # nothing but the JSON on stdout
    assert data["failed"] == 0 and data["index"] == str(out / "index.html") and data["speed"] == []
    assert [r["path"] for r in data["reports"]] == [str(out / "synthetic_dataset.html")]
    assert any("--no-models" in n for n in data["notes"])
