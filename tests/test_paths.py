"""vocbench.paths: the one rule that finds the shared data folder (tests, bench and demo all use it)."""

from __future__ import annotations

from pathlib import Path

from vocbench import paths


def test_env_wins_even_when_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("VOCBENCH_SHARED", str(tmp_path / "nowhere"))
    assert paths.shared_dir() == tmp_path / "nowhere"
    assert paths.voc_devkit_dir() == tmp_path / "nowhere" / "voc" / "VOCdevkit"
    assert paths.detections_dir("yolov2-voc07test") == tmp_path / "nowhere" / "voc" / "detections" / "yolov2-voc07test"
    assert paths.find_voc_devkit() is None


def test_sibling_shared_folder_of_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("VOCBENCH_SHARED", raising=False)
    (tmp_path / "shared" / "voc" / "VOCdevkit" / "VOC2007" / "Annotations").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert paths.shared_dir().resolve() == (tmp_path / "shared").resolve()
    assert paths.find_voc_devkit().resolve() == (tmp_path / "shared" / "voc" / "VOCdevkit").resolve()


def test_bench_demo_and_tests_use_the_same_rule(monkeypatch, tmp_path):
    from tests import conftest
    from vocbench.bench.suites import default_shared
    from vocbench.demo import find_voc

    assert conftest.SHARED == paths.shared_dir().resolve()  # the fixtures' folder, found by the same rule
    monkeypatch.setenv("VOCBENCH_SHARED", str(tmp_path))
    assert default_shared() == Path(tmp_path)
    assert find_voc() is None  # no VOCdevkit there
    (tmp_path / "voc" / "VOCdevkit" / "VOC2007" / "Annotations").mkdir(parents=True)
    assert find_voc() == tmp_path / "voc" / "VOCdevkit"
