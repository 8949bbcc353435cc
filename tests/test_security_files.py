"""Safety of files (issue 21, part 1): no code runs from a file, nothing is written outside OUT nor read outside the
dataset root, inputs are never touched, stale output is never scored, YAML and image headers are bounded.

Every test here failed on the code before the fix (checked once against that tree); each runs the real command or
API on inputs shaped like users' files and checks the files on disk, not just the exit code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DATA, REPO
from vocbench import Dataset, Detections, InputError, load_voc
from vocbench.cli import main

SMALL = DATA / "voc_small"
DETS = DATA / "dets" / "voc_small"


# ------------------------------------------------------------------------------------------ helpers
def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def one_error(err: str, *needles: str) -> str:
    """Exactly one ``vocbench: error:`` line, no traceback, holding every needle; returns it."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("vocbench: warning:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``folder`` (symlinks as their target text)."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for f in files:
            p = Path(dirpath) / f
            data = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
            out[str(p.relative_to(folder))] = hashlib.sha256(data).hexdigest()
    return out


def files_under(folder: Path) -> list[Path]:
    return [Path(d) / f for d, _, fs in os.walk(folder) for f in fs]


@pytest.fixture
def voc(tmp_path) -> Path:
    """A writable copy of tests/data/voc_small (VOC2007 trainval = 000001..000004, no JPEGs)."""
    root = tmp_path / "src" / "VOCdevkit"
    shutil.copytree(SMALL, root)
    return root


def tiny_image(path: Path, w: int = 64, h: int = 48) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), (90, 120, 150)).save(path)
    return path


def yolo_dataset(root: Path, names=("cat", "dog"), stems=("a", "b"), folders=("",)) -> Path:
    """``root/data.yaml`` + ``images/<folder>/<stem>.jpg`` + labels; split ``val`` = the images folder."""
    for folder in folders:
        for s in stems:
            tiny_image(root / "images" / folder / f"{s}.jpg")
            lab = root / "labels" / folder / f"{s}.txt"
            lab.parent.mkdir(parents=True, exist_ok=True)
            lab.write_text("0 0.5 0.5 0.25 0.25\n1 0.25 0.25 0.125 0.25\n")
    (root / "data.yaml").write_text("val: images\nnames:\n" + "".join(f"  {k}: {json.dumps(n)}\n"
                                                                     for k, n in enumerate(names)))
    return root / "data.yaml"


# ================================================================ 1. no code runs from a checkpoint
def test_every_torch_load_in_the_repo_is_weights_only():
    calls = []
    for folder in ("vocbench", "reference_models"):
        for p in (REPO / folder).rglob("*.py"):
            text = p.read_text()
            for m in re.finditer(r"torch\.load\(", text):
                end = text.find("\n", text.find(")", m.end()))
                calls.append((p, text[m.start():end]))
    assert calls, "expected at least the checkpoint loader"
    for p, call in calls:
        assert "weights_only=True" in call, f"{p}: {call}"


class _Evil:
    """Pickles as ``os.system(cmd)``: what a crafted checkpoint holds."""

    def __init__(self, marker: Path) -> None:
        self.cmd = f"touch {marker}"

    def __reduce__(self):
        return (os.system, (self.cmd,))


@pytest.fixture(scope="module")
def synth_voc(tmp_path_factory) -> Path:
    from vocbench.synth import generate

    out = tmp_path_factory.mktemp("synth")
    generate(out, images=12, size=80, seed=3, workers=1)
    return out / "VOCdevkit"


def _train_args(data: Path, out: Path, epochs: int = 1) -> list[str]:
    return ["train", "yolo", "--data", str(data), "--set", "2007:train", "--val-set", "none", "--width", "0.125",
            "--input-size", "64", "--batch-size", "4", "--workers", "0", "--device", "cpu", "--warmup-iters", "1",
            "--epochs", str(epochs), "--cache-dir", str(out.parent / "cache"), "--out", str(out)]


def _bad_checkpoints(tmp_path: Path, marker: Path) -> dict[str, Path]:
    torch = pytest.importorskip("torch")
    import pickle

    files = {}
    files["crafted"] = tmp_path / "crafted.pt"
    torch.save({"model": _Evil(marker)}, files["crafted"])
    files["crafted_legacy"] = tmp_path / "legacy.pt"
    files["crafted_legacy"].write_bytes(pickle.dumps({"model": _Evil(marker)}))
    files["empty"] = tmp_path / "empty.pt"
    files["empty"].write_bytes(b"")
    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.zeros(1000)}}, good)
    files["truncated"] = tmp_path / "truncated.pt"
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["garbage"] = tmp_path / "garbage.pt"
    files["garbage"].write_bytes(b"\x80\x04not a checkpoint" * 50)
    return files


def test_bad_resume_state_is_one_line_and_never_runs_code(synth_voc, tmp_path, capsys):
    pytest.importorskip("torch")
    marker = tmp_path / "PWNED"
    for kind, bad in _bad_checkpoints(tmp_path, marker).items():
        out = tmp_path / f"run_{kind}"
        out.mkdir()
        shutil.copyfile(bad, out / "last.pt")
        rc, _, err = cli(capsys, *_train_args(synth_voc, out))
        assert rc == 1, (kind, err)
        line = one_error(err, str(out / "last.pt"))
        assert "weights_only" not in line and "--no-resume" in line, line
        assert not marker.exists(), f"{kind}: code from the checkpoint ran"


def test_bad_model_checkpoint_is_one_line_and_never_runs_code(synth_voc, tmp_path, capsys):
    pytest.importorskip("torch")
    marker = tmp_path / "PWNED"
    for kind, bad in _bad_checkpoints(tmp_path, marker).items():
        rc, _, err = cli(capsys, "predict", bad, "--data", synth_voc, "--set", "2007:test",
                         "--out", tmp_path / f"dets_{kind}")
        assert rc == 1, (kind, err)
        line = one_error(err, str(bad))
        assert "weights_only" not in line, line
        assert not marker.exists()


def _tiny_config() -> dict:
    from vocbench.structures import VOC_CLASSES

    return {"model": "yolov2_tiny", "num_classes": 20, "classes": list(VOC_CLASSES),
            "anchors": [[1.0, 1.5], [3.0, 2.0]], "width": 0.125, "input_size": 64}


@pytest.mark.parametrize("damage", ["shape", "config_width", "config_type", "missing_key"])
def test_checkpoint_that_does_not_fit_is_one_line(synth_voc, tmp_path, capsys, damage):
    torch = pytest.importorskip("torch")
    from reference_models.predict import build_model

    cfg = _tiny_config()
    sd = build_model(cfg).state_dict()
    first = next(iter(sd))
    if damage == "shape":
        sd[first] = torch.zeros(3)
    elif damage == "config_width":
        cfg["width"] = 1e9  # would allocate without bound
    elif damage == "config_type":
        cfg["num_classes"] = "twenty"
    else:
        del sd[first]
    path = tmp_path / "model.pt"
    torch.save({"config": cfg, "state_dict": sd}, path)
    rc, _, err = cli(capsys, "predict", path, "--data", synth_voc, "--set", "2007:test", "--out", tmp_path / "d")
    assert rc == 1
    one_error(err, str(path))


def test_resume_state_that_does_not_fit_is_one_line(synth_voc, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    out = tmp_path / "run"
    assert main(_train_args(synth_voc, out)) == 0
    good = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    for damage in ("shape", "anchors", "optimizer"):
        state = dict(good)
        if damage == "shape":
            state["model"] = {k: torch.zeros(1) for k in good["model"]}
        elif damage == "anchors":
            state["model_config"] = {**good["model_config"], "anchors": [["x", 1]]}
        else:
            state["optimizer"] = {"state": {}, "param_groups": []}
        torch.save(state, out / "last.pt")
        capsys.readouterr()
        rc, _, err = cli(capsys, *_train_args(synth_voc, out, epochs=2))
        assert rc == 1, damage
        one_error(err, str(out / "last.pt"), "--no-resume")


def _plain(obj) -> bool:
    import torch

    if isinstance(obj, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_plain(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor))


def test_resume_state_is_plain_data_and_resumes_bit_for_bit(synth_voc, tmp_path):
    torch = pytest.importorskip("torch")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(_train_args(synth_voc, straight, epochs=2)) == 0
    assert main(_train_args(synth_voc, resumed, epochs=1)) == 0
    state = torch.load(resumed / "last.pt", map_location="cpu", weights_only=True)
    assert _plain(state) and state["epoch"] == 0 and state["optimizer"]["state"]
    assert main(_train_args(synth_voc, resumed, epochs=2)) == 0
    a = torch.load(straight / "last.pt", map_location="cpu", weights_only=True)
    b = torch.load(resumed / "last.pt", map_location="cpu", weights_only=True)
    assert b["epoch"] == 1 and a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


# ================================================================ 2. no write outside OUT, no read outside the root
BAD_NAMES = ["x/../../../ESCAPED", "../../ESCAPED", "..", ".", "", "a\\..\\..\\ESCAPED", "nul\x00byte", "tab\tname",
             "line\nbreak", "/abs/ESCAPED", "x" * 300, "é" * 120]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_safe_name_refuses_unsafe_names(name):
    from vocbench.paths import safe_name

    with pytest.raises(InputError) as exc:
        safe_name(name, "names.txt: line 3", "class name")
    assert str(exc.value).startswith("names.txt: line 3: class name ")


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=0, max_size=90))
def test_safe_name_property_stays_inside_the_folder(name):
    from vocbench.paths import safe_name

    out = "/tmp/OUT"
    try:
        got = safe_name(name, "f", "name")
    except InputError:
        return
    assert got == name
    joined = os.path.normpath(os.path.join(out, name + ".txt"))
    assert os.path.commonpath([joined, out]) == out and os.path.dirname(joined) == out
    assert "\x00" not in name and "/" not in name and "\\" not in name and ".." not in name


_NAME_ALPHABET = st.sampled_from(list(string.ascii_letters[:6] + "./\\ _-é\x00\n\x7f"))
_names = st.text(_NAME_ALPHABET, min_size=0, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(_names, min_size=1, max_size=3, unique=True), classes=st.lists(_names, min_size=1, max_size=3,
                                                                                       unique=True))
def test_writers_never_write_outside_out(tmp_path_factory, ids, classes):
    from vocbench.io.detections import write_devkit
    from vocbench.io.writers import write_voc_dataset, write_yolo_dataset
    from vocbench.io.yolo import write_absolute_detections, write_yolo_detections

    base = tmp_path_factory.mktemp("w")
    n = len(ids)
    ds = Dataset.from_arrays(image_ids=ids, widths=np.full(n, 50), heights=np.full(n, 40),
                             image_index=np.arange(n), class_index=np.zeros(n, np.int64),
                             boxes=np.tile([1.0, 1.0, 10.0, 10.0], (n, 1)), classes=classes, root="mem")
    dets = Detections(np.arange(n), np.arange(n) % len(classes), np.linspace(0.9, 0.1, n),
                      np.tile([1.0, 1.0, 9.0, 9.0], (n, 1)))
    images = [tiny_image(base / "src" / f"img{i}.jpg") for i in range(n)]  # ids are not the file names
    writers = {"voc": lambda o: write_voc_dataset(ds, o, images=images),
               "yolo_dataset": lambda o: write_yolo_dataset(ds, o, images),
               "devkit": lambda o: write_devkit(dets, ds, o),
               "yolo": lambda o: write_yolo_detections(dets, ds, o),
               "absolute": lambda o: write_absolute_detections(dets, ds, o)}
    for kind, write in writers.items():
        out = base / kind / "a" / "b" / "c" / "d" / "e" / "f" / "OUT"  # deep enough to catch every 12-char escape
        out.mkdir(parents=True)
        try:
            write(out)
        except InputError:
            pass
        for p in files_under(base / kind):
            assert os.path.commonpath([os.path.realpath(p), os.path.realpath(out)]) == os.path.realpath(out), p


def test_image_id_in_split_file_never_reads_outside_the_root(voc):
    outside = voc.parent / "x.xml"  # ROOT/VOC2007/Annotations/../../../x.xml
    shutil.copyfile(voc / "VOC2007" / "Annotations" / "000001.xml", outside)
    split = voc / "VOC2007" / "ImageSets" / "Main" / "trainval.txt"
    split.write_text("000001\n../../../x\n")
    with pytest.raises(InputError, match=r"trainval\.txt:2: image id '\.\./\.\./\.\./x' holds a path separator"):
        load_voc(voc, "2007:trainval", cache=False)


@pytest.mark.parametrize("spec", ["2007:../../x", "../VOC2007:trainval"])
def test_set_spec_never_leaves_the_root(voc, spec):
    from vocbench.errors import VocbenchError

    (voc / "VOC2007" / "x.txt").write_text("000001\n")  # ROOT/VOC2007/ImageSets/Main/../../x.txt
    shutil.copytree(voc / "VOC2007", voc.parent / "VOC2007")  # ROOT/../VOC2007
    with pytest.raises(VocbenchError, match=r"(year|split) .* holds a path separator"):
        load_voc(voc, spec, cache=False)


def _coco_gt(path: Path, category: str) -> Path:
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20], "area": 400,
                           "iscrowd": 0}],
          "categories": [{"id": 1, "name": category}]}
    path.write_text(json.dumps(gt))
    return path


@pytest.mark.parametrize("name", ["x/../../../ESCAPED", "..", "a\\..\\..\\ESCAPED"])
def test_convert_detections_with_escaping_class_name_writes_nothing(tmp_path, capsys, name):
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    gt = _coco_gt(work / "gt.json", name)
    (work / "res.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20],
                                                "score": 0.9}]))
    before = set(files_under(tmp_path))
    rc, _, err = cli(capsys, "convert", work / "res.json", "--gt", gt, "--to", "devkit", work / "OUT")
    assert rc == 1
    one_error(err, str(gt), "class name")
    assert set(files_under(tmp_path)) == before


def test_convert_yolo_dataset_with_escaping_names_writes_nothing_outside(tmp_path, capsys):
    yaml_path = yolo_dataset(tmp_path / "y", names=("x/../../../ESCAPED", "dog"))
    out = tmp_path / "y_voc"
    rc, _, _ = cli(capsys, "convert", yaml_path, "--set", "val", "--to", "voc", out)
    assert rc == 0  # a class name goes inside the XML (escaped), never into a file name
    for p in files_under(tmp_path):
        assert p.is_relative_to(tmp_path / "y") or p.is_relative_to(out), p
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "a.txt").write_text("0 0.5 0.5 0.25 0.25 0.9\n")
    rc, _, err = cli(capsys, "convert", preds, "--gt", yaml_path, "--set", "val", "--format", "yolo", "--to",
                     "devkit", tmp_path / "dk")
    assert rc == 1
    one_error(err, str(yaml_path), "class name 'x/../../../ESCAPED'")
    assert not (tmp_path / "dk").exists() and not list(tmp_path.parent.rglob("*ESCAPED*"))


# ================================================================ 3. inputs never touched
def _voc_convert_args(src: Path, out: Path, *extra) -> list:
    return ["convert", src, "--set", "2007:trainval", "--to", "voc", out, *extra]


@pytest.mark.parametrize("where", ["parent", "same", "inside", "grandparent"])
def test_convert_out_around_or_inside_src_is_refused_and_src_intact(voc, capsys, where):
    out = {"parent": voc.parent, "same": voc, "inside": voc / "VOC2007" / "conv",
           "grandparent": voc.parent.parent}[where]
    before = snapshot(voc.parent.parent)
    rc, _, err = cli(capsys, *_voc_convert_args(voc, out, "--overwrite"))
    assert rc == 1
    one_error(err, str(out))
    assert snapshot(voc.parent.parent) == before


def test_convert_out_through_a_symlink_to_src_is_refused(voc, tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(voc.parent)
    before = snapshot(voc)
    rc, _, err = cli(capsys, *_voc_convert_args(voc, link, "--overwrite"))
    assert rc == 1 and snapshot(voc) == before


def test_convert_yolo_into_its_own_folder_is_refused_and_images_kept(tmp_path, capsys):
    yaml_path = yolo_dataset(tmp_path / "y")
    before = snapshot(tmp_path / "y")
    for out in (tmp_path / "y", tmp_path / "y" / "images", tmp_path / "y" / "labels"):
        rc, _, err = cli(capsys, "convert", yaml_path, "--set", "val", "--to", "yolo", out, "--overwrite")
        assert rc == 1, out
        one_error(err, str(out))
        assert snapshot(tmp_path / "y") == before


def test_export_coco_validates_dets_before_replacing_out(voc, tmp_path, capsys):
    gt_out = tmp_path / "gt.json"
    gt_out.write_text('{"earlier": true}')
    bad = tmp_path / "bad_dets"
    shutil.copytree(DETS, bad)
    (bad / "comp4_det_test_car.txt").write_text("000001 0.9 1 1 nan 5\n")
    rc, _, err = cli(capsys, "export-coco", voc, "--set", "2007:trainval", "--out", gt_out, "--dets", bad,
                     "--dets-out", tmp_path / "res.json")
    assert rc == 1
    one_error(err, "comp4_det_test_car.txt")
    assert gt_out.read_text() == '{"earlier": true}' and not (tmp_path / "res.json").exists()


# ================================================================ 4. stale output
def _two_class_dets(folder: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(DETS / "comp4_det_test_car.txt", folder / "comp4_det_test_car.txt")
    return folder


@pytest.mark.parametrize("to", ["devkit", "yolo", "absolute"])
def test_convert_detections_into_non_empty_out_needs_overwrite_and_leaves_no_stale_file(voc, tmp_path, capsys, to):
    out = tmp_path / "OUT"
    base = ["convert", "--gt", voc, "--set", "2007:trainval", "--to", to]
    assert cli(capsys, *base[:1], DETS, *base[1:], out)[0] == 0
    first = snapshot(out)
    new = _two_class_dets(tmp_path / "fewer")
    rc, _, err = cli(capsys, *base[:1], new, *base[1:], out)
    assert rc == 1
    one_error(err, str(out), "--overwrite")
    assert snapshot(out) == first
    assert cli(capsys, *base[:1], new, *base[1:], out, "--overwrite")[0] == 0
    fresh = tmp_path / "fresh"
    assert cli(capsys, *base[:1], new, *base[1:], fresh)[0] == 0
    assert snapshot(out) == snapshot(fresh)  # nothing of the first conversion is left to be scored


@pytest.mark.parametrize("to", ["voc", "yolo"])
def test_overwrite_refuses_a_foreign_file_and_removes_nothing(tmp_path, capsys, to):
    yaml_path = yolo_dataset(tmp_path / "y")
    out = tmp_path / "OUT"
    assert cli(capsys, "convert", yaml_path, "--set", "val", "--to", to, out)[0] == 0
    (out / "notes.md").write_text("mine")
    before = snapshot(out)
    rc, _, err = cli(capsys, "convert", yaml_path, "--set", "val", "--to", to, out, "--overwrite")
    assert rc == 1
    one_error(err, str(out / "notes.md"))
    assert snapshot(out) == before


def test_overwrite_replaces_an_earlier_dataset_conversion_without_leftovers(tmp_path, capsys):
    big = yolo_dataset(tmp_path / "big", stems=("a", "b", "c"))
    small = yolo_dataset(tmp_path / "small", stems=("a",))
    out = tmp_path / "OUT"
    assert cli(capsys, "convert", big, "--set", "val", "--to", "voc", out)[0] == 0
    assert cli(capsys, "convert", small, "--set", "val", "--to", "voc", out, "--overwrite")[0] == 0
    xmls = sorted(p.name for p in out.rglob("*.xml"))
    assert xmls == ["a.xml"]
    ds = load_voc(out / "VOCdevkit", "2007:val", classes=("cat", "dog"), cache=False)
    assert ds.image_ids.tolist() == ["a"]


# ================================================================ 5. YOLO data: stems, path, YAML, image headers
def test_yolo_same_stem_in_two_folders_is_refused_naming_both(tmp_path, capsys):
    yaml_path = yolo_dataset(tmp_path / "y", stems=("a", "b"), folders=("VOC2007", "VOC2012"))
    from vocbench.io.gt import load_yolo_dataset

    with pytest.raises(InputError) as exc:
        load_yolo_dataset(yaml_path, "val")
    msg = str(exc.value)
    assert str(tmp_path / "y" / "images" / "VOC2007" / "a.jpg") in msg
    assert str(tmp_path / "y" / "images" / "VOC2012" / "a.jpg") in msg
    rc, _, err = cli(capsys, "convert", yaml_path, "--set", "val", "--to", "voc", tmp_path / "OUT")
    assert rc == 1 and not (tmp_path / "OUT").exists()
    one_error(err, "a.jpg")


def test_relative_yaml_path_resolves_once(tmp_path, monkeypatch):
    from vocbench.io.gt import load_yolo_dataset

    yaml_path = yolo_dataset(tmp_path / "ds")
    yaml_path.write_text(yaml_path.read_text() + "path: ds\n")
    monkeypatch.chdir(tmp_path)  # ultralytics: a relative path is relative to the working folder
    ds = load_yolo_dataset(yaml_path, "val")
    assert sorted(ds.image_ids.tolist()) == ["a", "b"]
    monkeypatch.chdir(tmp_path / "ds")  # here both rules give ds/ds: tried once, named once
    with pytest.raises(InputError) as exc:
        load_yolo_dataset(yaml_path, "val")
    assert str(exc.value).count(str(tmp_path / "ds" / "ds")) == 1, str(exc.value)


def test_yaml_aliases_are_refused(tmp_path):
    from vocbench.io.gt import load_yolo_dataset

    yaml_path = yolo_dataset(tmp_path / "y")
    yaml_path.write_text("val: &v images\ntest: *v\nnames: [cat, dog]\n")
    with pytest.raises(InputError, match=r"data\.yaml: line 2: .*alias"):
        load_yolo_dataset(yaml_path, "val")


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    import subprocess
    import sys

    yaml_path = yolo_dataset(tmp_path / "y")
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for k in range(1, 10):
        prev, cur = chr(ord("a") + k - 1), chr(ord("a") + k)
        levels.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    yaml_path.write_text("\n".join(levels) + "\nval: images\nnames: *j\n")  # 10**10 names once expanded
    proc = subprocess.run([sys.executable, "-m", "vocbench", "stats", str(yaml_path), "--set", "val"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1, proc.stderr[-2000:]
    one_error(proc.stderr, str(yaml_path), "alias")


def _png_header(path: Path, w: int, h: int) -> Path:
    """A 100-byte PNG whose header claims ``w x h`` (its pixel data is a few bytes: nothing to decode)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


def test_huge_image_header_is_read_without_decoding_and_bounded(tmp_path, capsys):
    from vocbench.io.gt import MAX_IMAGE_SIDE, image_header, load_yolo_dataset

    big = _png_header(tmp_path / "y" / "images" / "big.png", 60000, 60000)
    (tmp_path / "y" / "data.yaml").write_text("val: images\nnames: [cat]\n")
    ds = load_yolo_dataset(tmp_path / "y" / "data.yaml", "val")
    assert ds.widths.tolist() == [60000] and ds.heights.tolist() == [60000]
    assert image_header(big)[:2] == (60000, 60000)
    huge = _png_header(tmp_path / "z" / "images" / "huge.png", MAX_IMAGE_SIDE + 1, 10)
    with pytest.raises(InputError, match=rf"huge\.png: image size {MAX_IMAGE_SIDE + 1}x10 in the header"):
        image_header(huge)
    (tmp_path / "z" / "data.yaml").write_text("val: images\nnames: [cat]\n")
    rc, _, err = cli(capsys, "stats", tmp_path / "z" / "data.yaml", "--set", "val")
    assert rc == 1
    one_error(err, str(huge))


def test_coco_file_name_never_reads_outside_the_image_folder(tmp_path, capsys):
    secret = tmp_path / "secret.jpg"
    tiny_image(secret)
    work = tmp_path / "coco"
    work.mkdir()
    gt = _coco_gt(work / "gt.json", "cat")
    data = json.loads(gt.read_text())
    data["images"][0]["file_name"] = "../secret.jpg"
    gt.write_text(json.dumps(data))
    rc, _, err = cli(capsys, "convert", gt, "--to", "voc", tmp_path / "OUT")
    assert rc == 1
    one_error(err, str(gt), "../secret.jpg")
    assert not (tmp_path / "OUT").exists()


def test_voc_writer_refuses_class_names_xml_cannot_carry(tmp_path):
    from vocbench.io.writers import write_voc_dataset

    ds = Dataset.from_arrays(image_ids=["a"], widths=[50], heights=[40], image_index=[0], class_index=[0],
                             boxes=[[1.0, 1.0, 9.0, 9.0]], classes=["bell\x07"], root="mem.json")
    with pytest.raises(InputError, match="mem.json: class 0 name 'bell\\\\x07' holds a control character"):
        write_voc_dataset(ds, tmp_path / "OUT")
    assert not (tmp_path / "OUT").exists()


@pytest.mark.parametrize("command", ["eval", "diagnose", "stats"])
def test_failed_report_leaves_an_earlier_json_as_it_was(voc, tmp_path, capsys, command):
    earlier = tmp_path / "result.json"
    earlier.write_text('{"earlier": true}')
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    data = ["--gt", voc, "--dets", DETS] if command != "stats" else [voc]
    rc, _, err = cli(capsys, command, *data, "--set", "2007:trainval", "--json", earlier,
                     "--html", blocker / "report.html")  # the report cannot be written under a file
    assert rc == 1
    one_error(err, "a_file")
    assert earlier.read_text() == '{"earlier": true}'


def test_round_trip_through_symlinked_images_never_deletes_the_originals(tmp_path, capsys):
    yaml_path = yolo_dataset(tmp_path / "y")
    before = snapshot(tmp_path / "y")
    voc_out = tmp_path / "v"
    assert cli(capsys, "convert", yaml_path, "--set", "val", "--to", "voc", voc_out, "--images", "symlink")[0] == 0
    rc, _, err = cli(capsys, "convert", voc_out / "VOCdevkit", "--set", "2007:val", "--classes", "cat,dog",
                     "--to", "yolo", tmp_path / "y", "--overwrite")  # back over the images the symlinks point at
    assert rc == 1
    one_error(err, str(tmp_path / "y"))
    assert snapshot(tmp_path / "y") == before


def test_oversized_label_file_is_refused_before_parsing(tmp_path, monkeypatch):
    import vocbench.io.yolo as yolo_io
    from vocbench.io.gt import load_yolo_dataset

    yaml_path = yolo_dataset(tmp_path / "y", stems=("a",))
    monkeypatch.setattr(yolo_io, "MAX_LABEL_CHARS", 1000)  # the real bound is 64 MiB
    (tmp_path / "y" / "labels" / "a.txt").write_text("0 0.5 0.5 0.25 0.25\n" * 100)
    with pytest.raises(InputError, match=r"a\.txt: larger than"):
        load_yolo_dataset(yaml_path, "val")


def _raises_within(fn, seconds: float = 30.0) -> BaseException | None:
    """Run ``fn`` in a thread; the exception it raised, None if it returned, or a failure if it still blocks."""
    import threading

    box: list = []

    def target():
        try:
            fn()
            box.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        pytest.fail(f"blocked for {seconds} s")
    return box[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_yaml_or_image_never_blocks(tmp_path):
    from vocbench.io.gt import load_yolo_dataset

    root = tmp_path / "y"
    (root / "images").mkdir(parents=True)
    os.mkfifo(root / "data.yaml")
    exc = _raises_within(lambda: load_yolo_dataset(root / "data.yaml", "val"))
    assert isinstance(exc, InputError) and "data.yaml is a FIFO" in str(exc)
    (root / "data.yaml").unlink()
    (root / "data.yaml").write_text("val: list.txt\nnames: [cat]\n")
    (root / "list.txt").write_text("./images/x.jpg\n")
    os.mkfifo(root / "images" / "x.jpg")
    exc = _raises_within(lambda: load_yolo_dataset(root / "data.yaml", "val"))
    assert isinstance(exc, InputError) and "x.jpg: image is not a regular file" in str(exc)


# ---------------------------------------------------------------- data files: never added to a folder vocbench reads
@pytest.mark.parametrize("to", ["coco", "csv"])
@pytest.mark.parametrize("where", ["dets folder", "VOCdevkit", "VOC2007 inside it"])
def test_convert_detections_file_inside_an_input_folder_is_refused(voc, tmp_path, capsys, to, where):
    """A file target follows the folder targets' rule: not inside SRC or --gt (a new file too), one line, exit 1,
    nothing written; docs/security.md "Output folders"."""
    dets = tmp_path / "dets"
    shutil.copytree(DETS, dets)
    folder = {"dets folder": dets, "VOCdevkit": voc, "VOC2007 inside it": voc / "VOC2007"}[where]
    out = folder / f"new.{'json' if to == 'coco' else 'csv'}"
    before = snapshot(tmp_path)
    rc, _, err = cli(capsys, "convert", dets, "--gt", voc, "--set", "2007:trainval", "--to", to, out)
    assert rc == 1
    line = one_error(err, str(out), "lies inside the input", "write it outside the inputs")
    assert ("SRC" if where == "dets folder" else "--gt") in line
    assert snapshot(tmp_path) == before and not out.exists()


def test_convert_dataset_to_coco_inside_the_source_is_refused_next_to_a_file_input_is_fine(voc, tmp_path, capsys):
    out = voc / "VOC2007" / "gt.json"
    before = snapshot(voc)
    rc, _, err = cli(capsys, "convert", voc, "--set", "2007:trainval", "--to", "coco", out)
    assert rc == 1
    one_error(err, str(out), "lies inside the input SRC")
    assert snapshot(voc) == before
    # the user named a file, not a folder: the folder that holds it is not an input
    gt = tmp_path / "cocodir" / "instances.json"
    gt.parent.mkdir()
    assert cli(capsys, "convert", voc, "--set", "2007:trainval", "--to", "coco", gt)[0] == 0
    assert cli(capsys, "convert", gt, "--to", "coco", gt.parent / "again.json")[0] == 0
    again = json.loads((gt.parent / "again.json").read_text())
    assert again["annotations"] == json.loads(gt.read_text())["annotations"]
    rc, _, err = cli(capsys, "convert", gt, "--to", "coco", gt)
    assert rc == 1
    one_error(err, str(gt))


def test_library_coco_writer_refuses_the_dataset_folder(voc, tmp_path):
    from vocbench.io.writers import write_coco_dataset

    ds = load_voc(voc, ["2007:trainval"])
    with pytest.raises(InputError, match="lies inside the input dataset"):
        write_coco_dataset(ds, voc / "gt.json")
    assert not (voc / "gt.json").exists()
    write_coco_dataset(ds, tmp_path / "gt.json")
    assert (tmp_path / "gt.json").is_file()


@pytest.mark.parametrize("flag", ["--out", "--dets-out"])
def test_export_coco_file_inside_root_or_dets_folder_is_refused(voc, tmp_path, capsys, flag):
    dets = tmp_path / "dets"
    shutil.copytree(DETS, dets)
    for folder in (voc, dets):
        target = folder / "new.json"
        other = tmp_path / ("res.json" if flag == "--out" else "gt.json")
        paths = {"--out": target, "--dets-out": other} if flag == "--out" else {"--out": other, "--dets-out": target}
        before = snapshot(tmp_path)
        rc, _, err = cli(capsys, "export-coco", voc, "--set", "2007:trainval", "--dets", dets,
                         *[v for k, p in paths.items() for v in (k, p)])
        assert rc == 1
        one_error(err, str(target), "lies inside the input")
        assert snapshot(tmp_path) == before
