"""``reference_models/gpu_run.sh`` end to end on the CPU with tiny settings: data, both trainings (selection on
2007:val), predict + eval on both backends and both test sets, profile, packaged weights and model cards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_run_script_tiny_on_cpu(tmp_path):
    vocbench = shutil.which("vocbench") or str(Path(sys.executable).with_name("vocbench"))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "VB_WORK": str(tmp_path / "work"), "VB_IMAGES": "24",
           "VB_TEST_IMAGES": "6", "VB_YOLO_SIZE": "64", "VB_SSD_SIZE": "64", "VB_WIDTH": "0.125",
           "VB_EPOCHS": "1", "VB_BATCH": "4", "VB_TRAIN_MINUTES": "0", "VB_DEVICE": "cpu", "VB_WORKERS": "0",
           "VB_PROFILE_REPEATS": "1", "VB_SYNTH_SIZE": "96", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(vocbench).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", str(ROOT / "reference_models" / "gpu_run.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "out"
    for short, name in (("yolo", "yolov2_tiny"), ("ssd", "ssdlite")):
        cfg = json.loads((tmp_path / "work" / "runs" / short / "train_config.json").read_text())
        assert cfg["sets"] == ["2007:train"] and cfg["val_set"] == "2007:val" and cfg["loss"] == "modern"
        assert (out / "weights" / name / "model.pt").is_file()
        card = (out / "weights" / name / "MODEL_CARD.md").read_text()
        assert "model selection on `2007:val`" in card and "unseen seed 90210" in card
        for root in ("data", "unseen"):
            for backend in ("torch", "onnx"):
                r = json.loads((out / "logs" / f"eval_{short}_{root}_{backend}.json").read_text())
                assert r["num_images"] > 0 and "voc07" in r and "coco" in r
        for backend in ("torch", "onnx"):
            assert (out / "logs" / f"profile_{short}_{backend}.json").is_file()
    assert "done in" in (out / "logs" / "gpu_run.log").read_text()
