"""I/O: XML parse of VOC2007 test and VOC07+12 trainval (cold and cached) and devkit text parsing."""

from __future__ import annotations

import pytest

import vocbench
from vocbench.bench import peers

SETS = {"voc07test": ["2007:test"], "voc0712trainval": ["2007:trainval", "2012:trainval"]}


@pytest.mark.parametrize("name", SETS)
def test_load_voc_cold(benchmark, shared, name):
    root = shared / "voc" / "VOCdevkit"
    benchmark.group = f"xml {name}"
    ds = benchmark.pedantic(lambda: vocbench.load_voc(root, SETS[name], cache=False), rounds=2, iterations=1,
                            warmup_rounds=1)  # the warm-up round loads (or compiles) the XML scanner kernel
    assert ds.num_images > 4000


@pytest.mark.parametrize("name", SETS)
def test_load_voc_cold_lxml_path(benchmark, shared, name, monkeypatch):
    """The checked path alone (scanner off): what every file the byte scanner rejects costs."""
    from vocbench.io import _voc_scan

    monkeypatch.setattr(_voc_scan, "use_kernel", lambda: False)
    root = shared / "voc" / "VOCdevkit"
    benchmark.group = f"xml {name}"
    ds = benchmark.pedantic(lambda: vocbench.load_voc(root, SETS[name], cache=False), rounds=1, iterations=1)
    assert ds.num_images > 4000


@pytest.mark.parametrize("name", SETS)
def test_load_voc_cached(benchmark, shared, name, tmp_path, monkeypatch):
    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(tmp_path))
    root = shared / "voc" / "VOCdevkit"
    cold = vocbench.load_voc(root, SETS[name], cache=True)
    benchmark.group = f"xml {name}"
    ds = benchmark(lambda: vocbench.load_voc(root, SETS[name], cache=True))
    assert ds.num_objects == cold.num_objects


@pytest.mark.parametrize("name", SETS)
def test_plain_etree(benchmark, shared, name):
    benchmark.group = f"xml {name}"
    recs = benchmark.pedantic(lambda: peers.parse_voc_xml_plain(shared / "voc" / "VOCdevkit", SETS[name]),
                              rounds=1, iterations=1)
    assert len(recs) > 4000


def test_read_detections(benchmark, shared, voc07_test):
    folder = shared / "voc" / "detections" / "yolov2-voc07test"
    benchmark.group = "devkit text"
    dets = benchmark(lambda: vocbench.read_detections(folder, voc07_test))
    assert len(dets) == 101139


def test_plain_text(benchmark, shared, voc07_test):
    folder = shared / "voc" / "detections" / "yolov2-voc07test"
    benchmark.group = "devkit text"
    lines = benchmark(lambda: peers.parse_det_lines_plain(folder, voc07_test.classes))
    assert sum(len(v) for v in lines.values()) == 101139
