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


@pytest.mark.slow
def test_demo_with_real_voc(tmp_path, voc_root, capsys):
    out = tmp_path / "demo_voc"
    rc = main(["demo", str(out), "--images", "40", "--quick", "--voc", str(voc_root), "--no-models"])
    stdout = capsys.readouterr().out
    assert stdout.strip().splitlines()[-1] == f"Open {out / 'index.html'}"
    assert rc == 0, stdout
    targets = [t.name for t in _check_links(out / "index.html")]
    assert "voc0712_dataset.html" in targets and "yolov2_voc07test_eval.html" in targets
    dom = assert_renders(out / "synthetic_dataset.html", headings=["Layout against VOC07+12", "Synthetic classes"])
    assert "VOC07 test vs VOC07+12 trainval" in dom
    assert_renders(out / "index.html", headings=["Reports"])
