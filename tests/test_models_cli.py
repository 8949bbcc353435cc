"""The reference-model commands end to end on a tiny synthetic set (CPU, tiny widths):
``vocbench train`` (checkpoint, CSV, resume) → ``predict`` (torch and onnx backends) → ``eval`` → ``export`` →
``profile``; and the commands never write into the installed package."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vocbench.cli import main  # noqa: E402
from vocbench.io.detections import read_detections  # noqa: E402
from vocbench.io.voc import load_voc  # noqa: E402


@pytest.fixture(scope="module")
def tiny_voc(tmp_path_factory):
    from vocbench.synth import generate

    out = tmp_path_factory.mktemp("tiny_synth")
    generate(out, images=16, size=96, seed=7, workers=1)
    return out / "VOCdevkit"


@pytest.fixture(scope="module")
def yolo_run(tiny_voc, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "yolo"
    cache = run.parent / "cache"
    args = ["train", "yolo", "--data", str(tiny_voc), "--set", "2007:train", "--val-set", "2007:val",
            "--val-images", "4", "--width", "0.125", "--input-size", "64", "--batch-size", "4", "--workers", "0",
            "--device", "cpu", "--warmup-iters", "2", "--cache-dir", str(cache), "--out", str(run)]
    assert main([*args, "--epochs", "1"]) == 0
    first = (run / "last.pt").stat().st_mtime_ns
    assert main([*args, "--epochs", "2"]) == 0  # resumes from last.pt: one more epoch, not two
    assert (run / "last.pt").stat().st_mtime_ns > first
    return run


def test_train_writes_run_folder_and_resumes(yolo_run):
    with open(yolo_run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for r in rows:
        assert np.isfinite(float(r["loss"])) and float(r["images_per_s"]) > 0
        assert 0.0 <= float(r["val_voc07"]) <= 1.0  # scored by vocbench's engine, a number even when tiny
    cfg = json.loads((yolo_run / "train_config.json").read_text())
    assert cfg["model"] == "yolov2_tiny" and cfg["epochs"] == 2 and cfg["input_size"] == 64
    ckpt = torch.load(yolo_run / "model.pt", map_location="cpu", weights_only=True)
    assert ckpt["meta"]["epochs_trained"] >= 1 and ckpt["config"]["model"] == "yolov2_tiny"


def test_predict_backends_agree_and_eval_scores_them(yolo_run, tiny_voc, tmp_path, capsys):
    ds = load_voc(tiny_voc, ["2007:test"])
    outs = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        assert main(["predict", str(yolo_run), "--data", str(tiny_voc), "--set", "2007:test", "--out", str(out),
                     "--backend", backend, "--json", str(tmp_path / f"{backend}.json"),
                     "--score-threshold", "0.0001", "--top-k", "20"]) == 0  # an untrained model scores low
        summary = json.loads((tmp_path / f"{backend}.json").read_text())
        assert summary["images"] == ds.num_images and summary["backend"] == backend
        files = sorted(p.name for p in out.iterdir())
        assert files and all(f.startswith("comp4_det_test_") and f.endswith(".txt") for f in files)
        outs[backend] = read_detections(out, ds)
    a, b = outs["torch"], outs["onnx"]
    assert len(a) == len(b) > 0
    from dataclasses import replace

    from reference_models.report import detections_identical
    assert detections_identical(a, b)
    nudged = a.scores.copy()
    nudged[len(nudged) // 2] += 1e-4  # one score off by more than the files' precision
    assert not detections_identical(a, replace(a, scores=nudged))
    moved = a.boxes.copy()
    moved[0, 2] += 0.5
    assert not detections_identical(replace(a, boxes=moved), b)
    assert not detections_identical(a, replace(a, scores=a.scores[1:], boxes=a.boxes[1:],
                                               image_index=a.image_index[1:], class_index=a.class_index[1:]))
    # the ONNX file went beside the weights, and is re-exported when the weights are newer
    onnx_file = yolo_run / "model.onnx"
    exported = onnx_file.stat().st_mtime_ns
    weights = yolo_run / "model.pt"
    os.utime(weights, ns=(exported + 10**9, exported + 10**9))  # weights newer than the ONNX file
    assert main(["predict", str(yolo_run), "--data", str(tiny_voc), "--set", "2007:test", "--out",
                 str(tmp_path / "again"), "--backend", "onnx", "--json", str(tmp_path / "again.json")]) == 0
    assert onnx_file.stat().st_mtime_ns > exported
    capsys.readouterr()
    assert main(["eval", "--gt", str(tiny_voc), "--set", "2007:test", "--dets", str(tmp_path / "torch"),
                 "--metric", "voc07", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "voc07" in json.dumps(result)


def test_export_parity_and_profile(yolo_run, tiny_voc, tmp_path, capfd):
    onnx = tmp_path / "m.onnx"
    assert main(["export", str(yolo_run), "--onnx", str(onnx), "--data", str(tiny_voc), "--set", "2007:test",
                 "--json", str(tmp_path / "export.json")]) == 0
    summary = json.loads((tmp_path / "export.json").read_text())
    assert summary["opset"] == 17 and summary["parity"]["identical"] is True
    assert summary["parity"]["max_abs_raw"] < 1e-3
    import onnx as onnx_lib
    model = onnx_lib.load(str(onnx))
    assert model.opset_import[0].version == 17
    assert [o.name for o in model.graph.output] == ["raw", "boxes", "scores"]

    prof_json, prof_html = tmp_path / "p.json", tmp_path / "p.html"
    capfd.readouterr()
    assert main(["profile", str(yolo_run), "--batch", "1,2", "--repeats", "2", "--warmup", "1",
                 "--json", str(prof_json), "--html", str(prof_html)]) == 0
    prof = json.loads(prof_json.read_text())
    text = json.dumps(prof)
    for key in ("preprocess", "network", "decode", "nms"):
        assert key in text
    assert prof_html.stat().st_size > 1000
    err = capfd.readouterr().err  # torch.profiler's native tracer lines are filtered out
    assert "USDT" not in err and "gpuGetDeviceCount" not in err, err


def test_profile_of_committed_weights_writes_to_cwd_not_package(tmp_path, monkeypatch, capsys):
    import reference_models

    weights = reference_models.available_weights()["yolov2_tiny"]
    before = sorted(p.name for p in weights.iterdir())
    monkeypatch.chdir(tmp_path)
    assert main(["profile", str(weights), "--batch", "1", "--repeats", "1", "--warmup", "1"]) == 0
    assert sorted(p.name for p in weights.iterdir()) == before
    assert (tmp_path / "profile_yolov2_tiny_torch_cpu.json").is_file()
    assert (tmp_path / "profile_yolov2_tiny_torch_cpu.html").is_file()


def test_train_bad_input_is_one_line_error(tmp_path, capsys):
    rc = main(["train", "yolo", "--data", str(tmp_path / "nowhere"), "--epochs", "1", "--device", "cpu",
               "--out", str(tmp_path / "run")])
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere" in err[0]
    assert not (tmp_path / "run" / "model.pt").exists()
