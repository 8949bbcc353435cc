"""Bad-input campaign (issue 13): every command, the API and the cache, fed what a careless user or an attacker
would feed them — odd sizes, encodings, special files, permissions, concurrency, partial writes.

CLI cases assert the exit code, exactly one ``vocbench: error:`` line naming the file (and line where one exists)
and no traceback; API cases assert the exception type and message; silent-wrong cases assert the warning text.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, REPO
from vocbench import InputError, VocbenchError, VocbenchWarning, load_voc, read_detections
from vocbench.cli import main
from vocbench.io.atomic import atomic_open, atomic_write_text

SMALL = DATA / "voc_small"
DETS = DATA / "dets" / "voc_small"


# ------------------------------------------------------------------------------------------ helpers
@pytest.fixture
def voc(tmp_path) -> Path:
    """A writable copy of tests/data/voc_small (VOC2007 trainval = 000001..000004)."""
    root = tmp_path / "voc"
    shutil.copytree(SMALL, root)
    return root


@pytest.fixture
def dets(tmp_path) -> Path:
    out = tmp_path / "dets"
    shutil.copytree(DETS, out)
    return out


def ann(root: Path, image_id: str = "000001") -> Path:
    return root / "VOC2007" / "Annotations" / f"{image_id}.xml"


def split_file(root: Path, name: str = "trainval") -> Path:
    return root / "VOC2007" / "ImageSets" / "Main" / f"{name}.txt"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture changed: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def assert_one_error(err: str, *needles: str) -> str:
    """Exactly one ``vocbench: error:`` line (warnings aside), no traceback; returns the line."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("vocbench: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("vocbench: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def run_subprocess(*argv: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "vocbench", *map(str, argv)], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout, env=env, **kw)


def load(root: Path, **kw):
    kw.setdefault("cache", False)
    return load_voc(root, ["2007:trainval"], **kw)


# ------------------------------------------------------------------------------------------ annotations: numbers
@pytest.mark.parametrize("tag,old,new", [
    ("xmin", "<xmin>48</xmin>", "<xmin>nan</xmin>"),
    ("ymax", "<ymax>371</ymax>", "<ymax>NaN</ymax>"),
    ("xmax", "<xmax>195</xmax>", "<xmax>inf</xmax>"),
    ("ymin", "<ymin>240</ymin>", "<ymin>-Infinity</ymin>"),
    ("xmax", "<xmax>195</xmax>", "<xmax>1e400</xmax>"),
    ("xmax", "<xmax>195</xmax>", "<xmax>1e30</xmax>"),
    ("width", "<width>500</width>", "<width>inf</width>"),
    ("width", "<width>500</width>", "<width>1e30</width>"),
    ("height", "<height>375</height>", "<height>nan</height>"),
    ("depth", "<depth>3</depth>", "<depth>1e300</depth>"),
    ("difficult", "<difficult>0</difficult>", "<difficult>inf</difficult>"),
    ("difficult", "<difficult>0</difficult>", "<difficult>nan</difficult>"),
    ("truncated", "<truncated>1</truncated>", "<truncated>-inf</truncated>"),
])
@pytest.mark.parametrize("strict", [False, True])
def test_non_finite_or_absurd_numbers_are_errors_with_file_and_line(voc, tag, old, new, strict):
    path = ann(voc)
    edit(path, old, new)
    line = line_of(path, new)
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}:{line}: <{tag}> is "):
        load(voc, strict=strict)


def test_nan_coordinate_cli_exit_1_one_line(voc, capsys):
    edit(ann(voc), "<xmin>48</xmin>", "<xmin>nan</xmin>")
    rc, out, err = cli(capsys, "stats", voc, "--set", "2007:trainval", "--no-cache", "--strict")
    assert rc == 1
    assert_one_error(err, f"{ann(voc)}:{line_of(ann(voc), 'nan')}: <xmin> is 'nan'")


def test_nan_coordinate_not_served_from_cache_either(voc, tmp_path, monkeypatch):
    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(tmp_path / "cache"))
    good = load(voc, cache=True)
    edit(ann(voc), "<xmin>48</xmin>", "<xmin>nan</xmin>")
    with pytest.raises(InputError, match="<xmin> is 'nan'"):
        load(voc, cache=True)
    assert np.isfinite(good.boxes).all()


def test_negative_size_and_zero_size(voc):
    edit(ann(voc), "<width>500</width>", "<width>-5</width>")
    with pytest.raises(InputError, match=r"000001\.xml:\d+: image size -5x375"):
        load(voc)


def test_missing_bndbox_and_missing_name(voc):
    text = ann(voc).read_text()
    ann(voc).write_text(re.sub(r"<bndbox>.*?</bndbox>", "", text, count=1, flags=re.S))
    with pytest.raises(InputError, match=r"000001\.xml:\d+: object #1 \(dog\) has no <bndbox>"):
        load(voc)
    ann(voc).write_text(text.replace("<name>dog</name>", "<name> </name>"))
    with pytest.raises(InputError, match=r"object #1 has no <name> value"):
        load(voc)


def test_unknown_class_names_file_line_and_known_classes(voc):
    edit(ann(voc), "<name>dog</name>", "<name>hot dog</name>")
    with pytest.raises(InputError, match=r"000001\.xml:\d+: object #1 has unknown class 'hot dog' \(known classes: "
                                         r"aeroplane, .*pass --classes"):
        load(voc)


# ------------------------------------------------------------------------------------------ annotations: bytes
def test_empty_annotation_file(voc):
    ann(voc).write_bytes(b"")
    with pytest.raises(InputError, match=r"000001\.xml:1: malformed XML: Document is empty"):
        load(voc)


def test_truncated_annotation_file(voc):
    data = ann(voc).read_bytes()
    ann(voc).write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"000001\.xml:\d+: malformed XML"):
        load(voc)


def test_latin1_bytes_in_utf8_annotation(voc):
    ann(voc).write_bytes(ann(voc).read_bytes().replace(b"Left", b"L\xe9ft"))
    with pytest.raises(InputError, match=r"000001\.xml:\d+: malformed XML: .*encoding"):
        load(voc)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_utf16_and_bom_annotations_are_read_exactly(voc, encoding):
    ref = load(voc)
    ann(voc).write_bytes(ann(voc).read_text().encode(encoding))
    ds = load(voc)
    assert np.array_equal(ds.boxes, ref.boxes) and ds.poses.tolist() == ref.poses.tolist()


def test_external_entity_is_not_resolved(voc, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    text = ann(voc).read_text()
    ann(voc).write_text(f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>\n'
                        + text.replace("<pose>Left</pose>", "<pose>&x;</pose>"))
    try:
        ds = load(voc)
    except InputError as exc:  # refusing is fine too; leaking is not
        assert "TOPSECRET" not in str(exc)
    else:
        assert "TOPSECRET" not in "".join(ds.poses.tolist())


def test_billion_laughs_is_refused(voc):
    ents = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    text = ann(voc).read_text().replace("<pose>Left</pose>", "<pose>&l9;</pose>")
    ann(voc).write_text(f'<?xml version="1.0"?><!DOCTYPE a [{ents}]>\n{text}')
    with pytest.raises(InputError, match=r"000001\.xml:\d+: malformed XML"):
        load(voc)


def test_deeply_nested_xml_is_refused(voc):
    ann(voc).write_text("<annotation>" + "<a>" * 20000 + "</a>" * 20000 + "</annotation>")
    with pytest.raises(InputError, match=r"000001\.xml:1: malformed XML: .*depth"):
        load(voc)


# ------------------------------------------------------------------------------------------ annotations: special files
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_annotation_is_refused_not_waited_on(voc):
    ann(voc).unlink()
    os.mkfifo(ann(voc))
    proc = run_subprocess("stats", voc, "--set", "2007:trainval", "--no-cache", timeout=120)
    assert proc.returncode == 1
    assert_one_error(proc.stderr, f"{ann(voc)}: annotation file is a FIFO, expected a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_split_file_is_refused(voc):
    split_file(voc).unlink()
    os.mkfifo(split_file(voc))
    proc = run_subprocess("stats", voc, "--set", "2007:trainval", "--no-cache", timeout=120)
    assert proc.returncode == 1
    assert_one_error(proc.stderr, "trainval.txt: split file is a FIFO")


def test_annotation_that_is_a_folder(voc):
    ann(voc).unlink()
    ann(voc).mkdir()
    with pytest.raises(InputError, match=r"000001\.xml: annotation file is a folder"):
        load(voc)


def test_symlink_loop_annotation_cli_one_line(voc, capsys):
    ann(voc).unlink()
    os.symlink(ann(voc), ann(voc))  # points at itself: ELOOP
    for extra in ((), ("--no-cache",)):
        rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval", *extra)
        assert rc == 1
        assert_one_error(err, str(ann(voc)))


def test_over_long_image_id_cli_one_line(voc, capsys):
    split_file(voc).write_text("x" * 5000 + "\n")
    rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval")
    assert rc == 1
    line = assert_one_error(err, "xxxx")
    assert "too long" in line.lower() or "not found" in line


def test_unreadable_annotation_is_one_line(voc, capsys, monkeypatch):
    import vocbench.io.voc as vocmod

    real = os.open

    def deny(path, *a, **k):
        if str(path).endswith("000003.xml"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(vocmod.os, "open", deny)  # os.open is what both the byte scanner and lxml's path use
    rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval", "--no-cache")
    assert rc == 1
    assert_one_error(err, "000003.xml", "Permission denied")


# ------------------------------------------------------------------------------------------ split files
def test_utf8_bom_in_split_file_is_not_part_of_the_first_id(voc):
    ref = load(voc)
    split_file(voc).write_bytes(b"\xef\xbb\xbf" + split_file(voc).read_bytes())
    ds = load(voc)
    assert ds.image_ids.tolist() == ref.image_ids.tolist() == ["000001", "000002", "000003", "000004"]


def test_crlf_and_blank_lines_in_split_file(voc):
    split_file(voc).write_bytes(b"000001\r\n\r\n  000002  \r\n\t\n000003\r\n000004")
    assert load(voc).image_ids.tolist() == ["000001", "000002", "000003", "000004"]


def test_empty_split_warns(voc):
    split_file(voc).write_text("\n\n")
    with pytest.warns(VocbenchWarning, match=r"trainval\.txt: split file lists no image ids"):
        ds = load(voc)
    assert ds.num_images == 0


def test_split_lists_an_id_without_xml(voc, capsys):
    split_file(voc).write_text("000001\n000099\n")
    rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval")
    assert rc == 1
    assert_one_error(err, "000099.xml: annotation file not found")


@pytest.mark.parametrize("spec", ["2007", "2007:", ":test", "2007:test:x", "1999:test"])
def test_bad_set_specs(voc, spec, capsys):
    rc, _, err = cli(capsys, "stats", voc, "--set", spec, "--no-cache")
    assert rc == 1
    assert_one_error(err, spec)


# ------------------------------------------------------------------------------------------ cache
@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(d))
    return d


def test_cache_in_place_edit_with_same_size_and_restored_mtime_is_not_stale(voc, cache):
    first = load(voc, cache=True)
    path = ann(voc)
    st = path.stat()
    edit(path, "<xmin>48</xmin>", "<xmin>47</xmin>")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime restored
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    second = load(voc, cache=True)
    assert first.boxes[0, 0] == 48 and second.boxes[0, 0] == 47


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04 truncated zip"])
def test_corrupt_cache_entry_is_a_miss(voc, cache, content):
    ref = load(voc, cache=True)
    entries = list(cache.glob("voc-*.npz"))
    assert len(entries) == 1
    entries[0].write_bytes(content)
    ds = load(voc, cache=True)
    assert np.array_equal(ds.boxes, ref.boxes)
    assert entries[0].stat().st_size > 100  # rewritten


def test_foreign_npz_with_other_or_inconsistent_arrays_is_a_miss(voc, cache):
    ref = load(voc, cache=True)
    entry = next(cache.glob("voc-*.npz"))
    np.savez(entry, a=np.arange(3))  # foreign keys
    assert np.array_equal(load(voc, cache=True).boxes, ref.boxes)
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["class_index"] = arrays["class_index"] + 100  # right keys, impossible values
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)
    ds = load(voc, cache=True)
    assert np.array_equal(ds.class_index, ref.class_index)
    arrays["boxes"] = arrays["boxes"][:1]  # right keys, wrong shapes
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)
    assert np.array_equal(load(voc, cache=True).boxes, ref.boxes)


def test_pickled_object_array_in_cache_is_never_unpickled(voc, cache):
    ref = load(voc, cache=True)
    entry = next(cache.glob("voc-*.npz"))
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["poses"] = np.array([object()] * len(arrays["poses"]), dtype=object)
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)  # allow_pickle would be needed to read this back
    assert load(voc, cache=True).poses.tolist() == ref.poses.tolist()


def test_cache_folder_that_is_a_file_is_a_miss_with_one_warning(voc, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(blocker / "sub"))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        a = load(voc, cache=True)
        b = load(voc, cache=True)
    msgs = [str(w.message) for w in rec if issubclass(w.category, VocbenchWarning)]
    assert len(msgs) == 1 and "annotation cache folder cannot be written" in msgs[0] and str(blocker) in msgs[0]
    assert np.array_equal(a.boxes, b.boxes)


def test_unreadable_cache_entry_is_a_miss_with_one_warning(voc, cache, monkeypatch):
    import vocbench.io.cache as cachemod

    load(voc, cache=True)
    real_open = open

    def deny(path, *a, **k):
        if str(path).endswith(".npz") and str(cache) in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(cachemod, "open", deny, raising=False)
    with pytest.warns(VocbenchWarning, match="cannot be read .*Permission denied"):
        ds = load(voc, cache=True)
    assert ds.num_images == 4


def test_cache_cli_never_fails_on_a_broken_cache(voc, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(blocker))
    with pytest.warns(VocbenchWarning, match="cache folder cannot be written"):
        rc, out, err = cli(capsys, "stats", voc, "--set", "2007:trainval", "--json", "-")
    assert rc == 0 and json.loads(out)


def test_concurrent_loads_share_the_cache_without_corruption(voc, cache):
    ref = load(voc)
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append(load(voc, cache=True))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 12 and all(np.array_equal(r.boxes, ref.boxes) for r in results)
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) == []  # no temp files left


# ------------------------------------------------------------------------------------------ detections: devkit
@pytest.fixture(scope="module")
def small():
    return load_voc(SMALL, ["2007:trainval"], cache=False)


def test_dets_folder_without_result_files_is_an_error(small, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match=r"no detection result files .*found 1 other \.txt"):
        read_detections(tmp_path / "empty", small)
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets",
                     tmp_path / "empty")
    assert rc == 1
    assert_one_error(err, str(tmp_path / "empty"), "no detection result files")


def test_misnamed_class_file_warns_naming_class_and_expected_file(small, dets):
    (dets / "comp4_det_test_dog.txt").rename(dets / "comp4_det_test_Dog.txt")
    # voc_small has ground truth for car, dog, person, train; the folder has no train file either
    with pytest.warns(VocbenchWarning, match=r"no result file for 2 class\(es\) with ground truth, scored as no "
                                             r"detections: dog \(expected comp4_det_test_dog\.txt\), train "):
        d = read_detections(dets, small)
    assert "dog" not in np.asarray(small.classes)[d.class_index].tolist()


def test_missing_class_file_is_an_error_with_strict(dets, capsys):
    (dets / "comp4_det_test_person.txt").unlink()
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", dets,
                     "--strict")
    assert rc == 1
    assert_one_error(err, "person (expected comp4_det_test_person.txt)", "--strict")


def test_class_suffix_matches_the_whole_class_name(tmp_path):
    root = tmp_path / "voc"
    shutil.copytree(SMALL, root)
    edit(ann(root, "000001"), "<name>dog</name>", "<name>hot_dog</name>")
    classes = ["car", "dog", "hot_dog", "person", "train"]
    ds = load_voc(root, ["2007:trainval"], classes=classes, cache=False)
    d = tmp_path / "d"
    d.mkdir()
    (d / "res_hot_dog.txt").write_text("000001 0.9 48 240 195 371\n")
    (d / "res_car.txt").write_text("000004 0.9 1 1 5 5\n")
    (d / "res_dog.txt").write_text("")
    # dog no longer has ground truth (its only object became hot_dog): no warning for it, nor a file mix-up
    with pytest.warns(VocbenchWarning, match=r"2 class\(es\) with ground truth, .*: person \(expected "
                                             r"comp4_det_test_person\.txt\), train \(expected "):
        out = read_detections(d, ds)
    assert sorted(np.asarray(classes)[out.class_index].tolist()) == ["car", "hot_dog"]
    (d / "res_dog.txt").unlink()
    (d / "res_hotdog.txt").write_text("000001 0.9 48 240 195 371\n")  # no class is called hotdog
    with pytest.warns(VocbenchWarning, match="person"):
        assert sorted(np.asarray(classes)[read_detections(d, ds).class_index].tolist()) == ["car", "hot_dog"]


@pytest.mark.parametrize("line,pattern", [
    ("000001 0.9 1 2 inf 4", r"line 2: xmax is 'inf'; expected a finite number"),
    ("000001 nan 1 2 3 4", r"line 2: score is 'nan'"),
    ("000001 0.9 1 2 3", r"line 2: expected 6 fields"),
    ("000001 0.9 1 2 3 4 5", r"line 2: expected 6 fields"),
    ("000001 0.9 1 2 3 x", r"line 2: ymax 'x' is not a number"),
])
def test_bad_devkit_lines_name_file_and_line(small, dets, line, pattern):
    (dets / "comp4_det_test_dog.txt").write_text("000001 0.5 1 2 3 4\n" + line + "\n")
    with pytest.raises(InputError, match=r"comp4_det_test_dog\.txt: " + pattern):
        read_detections(dets, small)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_result_file_is_refused(dets):
    (dets / "comp4_det_test_dog.txt").unlink()
    os.mkfifo(dets / "comp4_det_test_dog.txt")
    proc = run_subprocess("eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", dets)
    assert proc.returncode == 1
    assert_one_error(proc.stderr, "comp4_det_test_dog.txt")


def test_symlink_loop_and_over_long_dets_paths(tmp_path, capsys):
    loop = tmp_path / "loop.json"
    os.symlink(loop, loop)
    for path in (loop, tmp_path / ("y" * 300 + ".json")):
        rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", path)
        assert rc == 1
        assert_one_error(err, path.name[:50])


# ------------------------------------------------------------------------------------------ detections: COCO JSON
def coco_file(tmp_path, results, name="r.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(results))
    return p


GOOD = {"image_id": 1, "category_id": 12, "bbox": [47.0, 239.0, 148.0, 132.0], "score": 0.9}


@pytest.mark.parametrize("field,value,why", [
    ("image_id", 1.9, "not an integer"),
    ("category_id", 12.9, "not an integer"),
    ("image_id", True, "a boolean"),
    ("category_id", False, "a boolean"),
    ("image_id", "3", "a str, not a number"),
    ("category_id", None, "a NoneType, not a number"),
    ("image_id", 1e20, "not an integer"),
    ("category_id", 10**30, "not an integer"),
])
def test_coco_ids_must_be_integers(small, tmp_path, field, value, why):
    p = coco_file(tmp_path, [GOOD, dict(GOOD, **{field: value})])
    with pytest.raises(InputError, match=rf"r\.json: result 1: {field} .* is {re.escape(why)}"):
        read_detections(p, small)


def test_coco_integral_float_ids_are_matched_like_pycocotools(small, tmp_path):
    p = coco_file(tmp_path, [dict(GOOD, image_id=1.0, category_id=12.0)])
    d = read_detections(p, small)
    assert d.image_index.tolist() == [0] and small.classes[d.class_index[0]] == "dog"


@pytest.mark.parametrize("bad", [
    dict(GOOD, bbox=[1, 2, 3]),
    dict(GOOD, bbox="1,2,3,4"),
    dict(GOOD, score="0.9"),
    dict(GOOD, score=True),
    {k: v for k, v in GOOD.items() if k != "score"},
    [1, 2, 3],
])
def test_coco_malformed_result(small, tmp_path, bad):
    p = coco_file(tmp_path, [GOOD, bad])
    with pytest.raises(InputError, match=r"r\.json: result 1: expected \{image_id, category_id, bbox"):
        read_detections(p, small)


def test_coco_nan_score_literal(small, tmp_path):
    p = tmp_path / "r.json"
    p.write_text('[{"image_id": 1, "category_id": 12, "bbox": [1, 2, 3, 4], "score": NaN}]')
    with pytest.raises(InputError, match=r"r\.json: result 0: NaN or infinite"):
        read_detections(p, small)


@pytest.mark.parametrize("encoding,pattern", [
    ("utf-16", r"not UTF-8 text \(it looks like UTF-16\)"),
    ("utf-32", r"not UTF-8 text"),
    ("latin-1", r"not UTF-8 text: byte \d+ is 0xe9"),
])
def test_coco_json_in_other_encodings(small, tmp_path, capsys, encoding, pattern):
    p = tmp_path / "r.json"
    p.write_bytes(json.dumps([dict(GOOD, note="é")], ensure_ascii=False).encode(encoding))
    with pytest.raises(InputError, match=rf"r\.json: {pattern}"):
        read_detections(p, small)
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", p)
    assert rc == 1
    assert_one_error(err, str(p), "not UTF-8")


def test_coco_json_with_utf8_bom_is_read(small, tmp_path):
    p = tmp_path / "r.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps([GOOD]).encode())
    assert len(read_detections(p, small)) == 1


def test_deeply_nested_json_is_one_line(small, tmp_path, capsys):
    p = tmp_path / "r.json"
    p.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InputError, match=r"r\.json: JSON nested too deeply"):
        read_detections(p, small)
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", p)
    assert rc == 1
    assert_one_error(err, str(p), "nested too deeply")


@pytest.mark.parametrize("text,pattern", [
    ("", r"line 1: not valid JSON"),
    ("{\"a\": 1}", r"expected a JSON list"),
    ("[1, 2", r"line 1: not valid JSON"),
    ("\n\n[{]", r"line 3: not valid JSON"),
])
def test_coco_not_a_results_list(small, tmp_path, text, pattern):
    p = tmp_path / "r.json"
    p.write_text(text)
    with pytest.raises(InputError, match=rf"r\.json: {pattern}"):
        read_detections(p, small)


def test_coco_json_read_as_csv_is_refused_at_once(small, tmp_path, capsys):
    big = [dict(GOOD, score=i / 101000) for i in range(101000)]
    p = coco_file(tmp_path, big, name="dets.csv")  # JSON content, CSV name
    with pytest.raises(InputError, match=r"dets\.csv: line 1: this is JSON, not CSV"):
        read_detections(p, small)
    q = coco_file(tmp_path, big, name="dets.json")
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", q,
                     "--format", "csv")
    assert rc == 1
    assert_one_error(err, "dets.json: line 1: this is JSON, not CSV")


def test_csv_with_an_absurd_header_line(small, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(",".join(f"c{i}" for i in range(20000)) + "\n")
    with pytest.raises(InputError, match=r"d\.csv: line 1: header longer than"):
        read_detections(p, small)


def test_unknown_extension_is_sniffed_or_refused_with_cli_wording(small, tmp_path):
    p = coco_file(tmp_path, [GOOD], name="results.out")
    assert len(read_detections(p, small)) == 1  # JSON content: read as COCO results
    q = tmp_path / "results.out2"
    q.write_text("000001 0.9 1 2 3 4\n")
    with pytest.raises(InputError) as exc:
        read_detections(q, small)
    assert "--format" in str(exc.value) and "pass format=" not in str(exc.value)


def test_csv_nan_and_unknown_class(small, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("image_id,class,score,xmin,ymin,xmax,ymax\n000001,dog,0.9,1,2,3,4\n000001,dog,nan,1,2,3,4\n")
    with pytest.raises(InputError, match=r"d\.csv: line 3: NaN or infinite"):
        read_detections(p, small)
    p.write_text("image_id,class,score,xmin,ymin,xmax,ymax\n\n000001,Dog,0.9,1,2,3,4\n")
    with pytest.raises(InputError, match=r"d\.csv: line 3: unknown class 'Dog'"):
        read_detections(p, small)


# ------------------------------------------------------------------------------------------ outputs: nothing lost
def test_json_onto_the_dets_file_is_refused_and_the_file_kept(tmp_path, capsys):
    p = coco_file(tmp_path, [GOOD])
    before = p.read_bytes()
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", p,
                     "--json", p)
    assert rc == 1
    assert_one_error(err, str(p), "would overwrite the input --dets")
    assert p.read_bytes() == before


def test_html_onto_a_file_inside_the_dets_folder_is_refused(dets, capsys):
    target = dets / "comp4_det_test_dog.txt"
    before = target.read_bytes()
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", dets,
                     "--html", target)
    assert rc == 1
    assert_one_error(err, "would overwrite the input --dets")
    assert target.read_bytes() == before


def test_export_coco_out_equal_to_dets_out_is_refused(voc, tmp_path, capsys):
    out = tmp_path / "same.json"
    rc, _, err = cli(capsys, "export-coco", voc, "--set", "2007:trainval", "--no-cache", "--out", out,
                     "--dets", DETS, "--dets-out", out)
    assert rc == 1
    assert_one_error(err, "--dets-out and --out name the same file")
    assert not out.exists()


def test_stats_json_onto_an_annotation_is_refused(voc, capsys):
    before = ann(voc).read_bytes()
    rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval", "--no-cache", "--json", ann(voc))
    assert rc == 1
    assert_one_error(err, "would overwrite the input ROOT")
    assert ann(voc).read_bytes() == before


def test_json_to_a_full_disk_is_one_line(capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    rc, _, err = cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--json", "/dev/full")
    assert rc == 1
    assert_one_error(err, "/dev/full", "No space left on device")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_json_to_dev_null_is_written_in_place(capsys):
    rc, _, err = cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--json", "/dev/null")
    assert rc == 0, err
    assert os.path.exists("/dev/null") and not Path("/dev/null").is_file()  # still the device, not replaced


def test_json_to_a_folder_and_under_a_file(tmp_path, capsys):
    rc, _, err = cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--json", tmp_path)
    assert rc == 1
    assert_one_error(err, str(tmp_path))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--json", blocker / "o.json")
    assert rc == 1
    assert_one_error(err, str(blocker))


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("GOOD\n")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("PARTIAL")
        raise RuntimeError("disk pulled")
    assert target.read_text() == "GOOD\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_export_coco_failing_mid_write_keeps_the_old_file(voc, tmp_path, capsys, monkeypatch):
    import vocbench.io.coco as coco

    out = tmp_path / "gt.json"
    out.write_text('{"old": true}')

    def full_disk(data, fh, **kw):
        fh.write('{"images": [')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(coco.json, "dump", full_disk)
    rc, _, err = cli(capsys, "export-coco", voc, "--set", "2007:trainval", "--no-cache", "--out", out)
    assert rc == 1
    assert_one_error(err, "No space left on device")
    assert out.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_html_report_failing_mid_render_keeps_the_old_file(tmp_path, monkeypatch):
    import vocbench.report.html as html

    out = tmp_path / "r.html"
    out.write_text("OLD")
    monkeypatch.setattr(html, "render_report", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        html.write_report(out, "t", [])
    assert out.read_text() == "OLD"


def test_concurrent_writers_leave_one_complete_file(tmp_path):
    target = tmp_path / "out.json"
    payloads = [json.dumps({"writer": i, "pad": "x" * 200000}) for i in range(8)]
    threads = [threading.Thread(target=atomic_write_text, args=(target, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_text() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("a")
    os.chmod(target, 0o640)
    atomic_write_text(target, "b")
    assert target.read_text() == "b" and (target.stat().st_mode & 0o777) == 0o640


def test_synth_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    folder = tmp_path / "VOCdevkit" / "VOC2007"
    folder.mkdir(parents=True)
    (folder / "precious.txt").write_text("keep")
    rc, _, err = cli(capsys, "synth", tmp_path, "--images", "2", "--workers", "1")
    assert rc == 1
    assert_one_error(err, "refusing to overwrite")
    assert (folder / "precious.txt").read_text() == "keep"


# ------------------------------------------------------------------------------------------ command arguments
def test_anchors_huge_curve_is_refused_before_building_it(capsys):
    rc, _, err = cli(capsys, "anchors", SMALL, "--set", "2007:trainval", "--no-cache", "--curve", "1-1000000000")
    assert rc == 1
    assert_one_error(err, "bad k range '1-1000000000'", "above the maximum 1000")


@pytest.mark.parametrize("argv,needle", [
    (("--curve", "5-1"), "bad k range '5-1'"),
    (("--curve", "a-b"), "bad k range 'a-b'"),
])
def test_anchors_bad_arguments(capsys, argv, needle):
    rc, _, err = cli(capsys, "anchors", SMALL, "--set", "2007:trainval", "--no-cache", *argv)
    assert rc == 1
    assert_one_error(err, needle)


@pytest.mark.parametrize("argv,needle", [
    (("-k", "0"), "argument -k/--k: must be an integer in 1..1000"),
    (("--n-init", "0"), "argument --n-init: must be an integer in 1..1000"),
])
def test_anchors_out_of_range_counts_are_usage_errors(capsys, argv, needle):
    rc, _, err = cli(capsys, "anchors", SMALL, "--set", "2007:trainval", "--no-cache", *argv)
    assert rc == 2 and err.strip().splitlines()[-1] == f"vocbench anchors: error: {needle}, got {argv[1]}"


def test_synth_negative_seed(tmp_path, capsys):
    rc, _, err = cli(capsys, "synth", tmp_path / "s", "--images", "2", "--seed", "-1")
    assert rc == 2
    assert err.strip().splitlines()[-1].startswith("vocbench synth: error: argument --seed: must be an integer in 0..")
    assert not (tmp_path / "s").exists()


def test_synth_help_shows_plain_percent(capsys):
    rc, out, _ = cli(capsys, "synth", "--help")
    assert rc == 0 and "train 50%" in out and "%%" not in out


def test_eval_on_an_empty_split_is_an_error_not_a_crash(voc, capsys):
    split_file(voc, "empty").write_text("")
    p = voc.parent / "r.json"
    p.write_text("[]")
    with pytest.warns(VocbenchWarning, match="split file lists no image ids"):
        rc, _, err = cli(capsys, "eval", "--gt", voc, "--set", "2007:empty", "--no-cache", "--dets", p,
                         "--metric", "coco")
    assert rc == 1
    assert_one_error(err, "has no images; nothing to score")


def test_eval_coco_on_a_split_without_boxes(voc, capsys):
    text = ann(voc, "000002").read_text()
    ann(voc, "000002").write_text(re.sub(r"<object>.*</object>", "", text, flags=re.S))
    split_file(voc, "nobox").write_text("000002\n")
    p = voc.parent / "r.json"
    p.write_text(json.dumps([dict(GOOD, image_id=1)]))
    rc, out, err = cli(capsys, "eval", "--gt", voc, "--set", "2007:nobox", "--no-cache", "--dets", p,
                       "--metric", "coco", "--json", "-")
    assert rc == 0, err
    # pycocotools says -1 when there is no ground truth; vocbench's "undefined" is NaN, written as JSON null
    assert json.loads(out)["coco"]["AP"] is None


def test_stats_html_on_a_split_without_boxes(voc, tmp_path, capsys):
    text = ann(voc, "000002").read_text()
    ann(voc, "000002").write_text(re.sub(r"<object>.*</object>", "", text, flags=re.S))
    split_file(voc, "nobox").write_text("000002\n")
    out = tmp_path / "s.html"
    rc, _, err = cli(capsys, "stats", voc, "--set", "2007:nobox", "--no-cache", "--html", out)
    assert rc == 0, err
    from tests.browser import assert_renders

    dom = assert_renders(out, ["Anchors"], min_svgs=1)
    assert "No boxes to cluster in this dataset" in dom


def test_bad_usage_is_exit_2(capsys):
    rc, _, err = cli(capsys, "eval", "--gt", SMALL, "--set", "2007:trainval", "--dets", DETS, "--iou", "1.5")
    assert rc == 2 and "IoU threshold must be in (0, 1]" in err


def test_main_does_not_leak_its_warning_format(capsys):
    before = warnings.formatwarning
    cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--json", "-")
    cli(capsys, "stats", SMALL, "--set", "nope", "--no-cache")
    assert warnings.formatwarning is before
    import importlib

    import vocbench.cli

    importlib.reload(vocbench.cli)
    assert warnings.formatwarning is before


def test_debug_keeps_the_traceback(tmp_path):
    p = tmp_path / "r.json"
    p.write_bytes("[]".encode("utf-16"))
    plain = run_subprocess("eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", p)
    debug = run_subprocess("--debug", "eval", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", p)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "InputError" in debug.stderr


def test_broken_pipe_is_quiet(tmp_path):
    proc = subprocess.run(f"{sys.executable} -m vocbench stats {SMALL} --set 2007:trainval --no-cache --json - "
                          "| head -c 1", shell=True, capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout == "{" and "Traceback" not in proc.stderr and "Error" not in proc.stderr


def test_the_user_input_is_never_modified(voc, dets, tmp_path, capsys):
    def snapshot():
        return {p: p.read_bytes() for base in (voc, dets) for p in sorted(base.rglob("*")) if p.is_file()}

    before = snapshot()
    rc, _, err = cli(capsys, "eval", "--gt", voc, "--set", "2007:trainval", "--dets", dets, "--json",
                     tmp_path / "e.json", "--html", tmp_path / "e.html", "--metric", "coco")
    assert rc == 0, err
    rc, _, err = cli(capsys, "export-coco", voc, "--set", "2007:trainval", "--out", tmp_path / "gt.json",
                     "--dets", dets, "--dets-out", tmp_path / "dt.json")
    assert rc == 0, err
    assert snapshot() == before


def test_api_errors_are_value_errors_and_vocbench_errors(voc):
    edit(ann(voc), "<xmin>48</xmin>", "<xmin>nan</xmin>")
    with pytest.raises(ValueError):
        load(voc)
    with pytest.raises(VocbenchError):
        load_voc(voc, ["2007:nosuchsplit"], cache=False)


# ------------------------------------------------------------------------------------------ geometry: NMS, k-means
def test_batched_nms_refuses_float_labels_that_collapse():
    from vocbench.nms import batched_nms

    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    with pytest.raises(InputError, match=r"labels\[0\] = 9007199254740992 is a float at or above 2\*\*53"):
        batched_nms(boxes, [0.9, 0.8], np.array([2.0**53, 2.0**53 + 2]), 0.5)
    # integer labels that large stay distinct: both boxes are kept
    assert batched_nms(boxes, [0.9, 0.8], np.array([2**60, 2**60 + 1]), 0.5).tolist() == [0, 1]
    assert batched_nms(boxes, [0.9, 0.8], np.array([2**60, 2**60]), 0.5).tolist() == [0]


@pytest.mark.parametrize("exp2", [-1060, -1000, 1000])
def test_iou_kmeans_on_subnormal_or_huge_shapes(exp2):
    from vocbench.anchors import IoUKMeans

    base = np.random.default_rng(0).uniform(0.01, 1, (60, 2))
    wh = np.ldexp(base, exp2)  # subnormal below 2**-1022
    km = IoUKMeans(3, n_init=2, random_state=0).fit(wh)
    assert np.isfinite(km.cluster_centers_).all() and (km.cluster_centers_ > 0).all()
    assert 0.3 < km.mean_iou_ <= 1.0
    assert km.predict(wh).tolist() == km.labels_.tolist()


@pytest.mark.parametrize("exp2", [-1000, 1000])
def test_iou_kmeans_rescaling_is_exact(exp2):
    from vocbench.anchors import IoUKMeans

    base = np.random.default_rng(0).uniform(0.01, 1, (60, 2))
    init = base[:3]
    ref = IoUKMeans(3, init=init, n_init=1).fit(base)
    got = IoUKMeans(3, init=np.ldexp(init, exp2), n_init=1).fit(np.ldexp(base, exp2))  # normal floats: exact
    assert np.array_equal(np.ldexp(got.cluster_centers_, -exp2), ref.cluster_centers_)
    assert got.mean_iou_ == ref.mean_iou_ and got.labels_.tolist() == ref.labels_.tolist()


def test_iou_kmeans_refuses_an_impossible_range_and_warns_on_duplicate_centres():
    from vocbench.anchors import IoUKMeans

    with pytest.raises(InputError, match="too wide a range"):
        IoUKMeans(2).fit(np.array([[1e-300, 1.0], [1e300, 1.0]]))
    with pytest.warns(VocbenchWarning, match=r"n_clusters=4 is above the 2 distinct box shape\(s\)"):
        IoUKMeans(4, n_init=2).fit(np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0]] * 5))


def test_interrupted_synth_can_be_rerun(tmp_path, capsys, monkeypatch):
    import vocbench.synth.generator as gen

    calls = {"n": 0}
    real = gen._write_one

    def crash_on_third(cfg, index):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(cfg, index)

    monkeypatch.setattr(gen, "_write_one", crash_on_third)
    rc, _, err = cli(capsys, "synth", tmp_path, "--images", "6", "--workers", "1")
    assert rc == 130 and "interrupted" in err
    folder = tmp_path / "VOCdevkit" / "VOC2007"
    assert json.loads((folder / gen.MARKER).read_text())["complete"] is False
    assert not list(folder.rglob(".*.tmp"))  # no temporary files left
    monkeypatch.setattr(gen, "_write_one", real)
    rc, out, err = cli(capsys, "synth", tmp_path, "--images", "6", "--workers", "1", "--json", "-")
    assert rc == 0, err
    assert json.loads(out)["counts"]["images"] == 6 and len(list((folder / "Annotations").glob("*.xml"))) == 6


def test_nul_byte_or_non_utf8_id_in_split_file(voc, capsys):
    split_file(voc).write_bytes(b"000001\n000002\x00x\n")
    rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval", "--no-cache")
    assert rc == 1
    assert_one_error(err, f"{split_file(voc)}:2: image id '000002\\x00x' holds a NUL byte")
    split_file(voc).write_bytes(b"00000\xe9\n")
    with pytest.raises(InputError, match=r"trainval\.txt:1: image id .* not UTF-8"):
        load(voc)


def test_classes_file_that_is_not_utf8(voc, tmp_path, capsys):
    classes = tmp_path / "classes.txt"
    classes.write_bytes(b"dog\ncat\xe9\n")
    rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval", "--no-cache", "--classes", classes)
    assert rc == 1
    assert_one_error(err, f"{classes}: --classes file is not UTF-8 text")


def test_huge_values_are_cut_short_in_messages(voc, dets, small):
    edit(ann(voc), "<xmin>48</xmin>", "<xmin>" + "9" * 100000 + "x</xmin>")
    with pytest.raises(InputError) as exc:
        load(voc)
    assert len(str(exc.value)) < 400 and "<xmin> is '999" in str(exc.value)
    (dets / "comp4_det_test_dog.txt").write_text("000001 " + " ".join(["1"] * 100000) + "\n")
    with pytest.raises(InputError) as exc:
        read_detections(dets, small)
    assert len(str(exc.value)) < 400 and "expected 6 fields" in str(exc.value)


def test_diagnose_and_compare_outputs_never_overwrite_the_detections(tmp_path, capsys):
    p = coco_file(tmp_path, [GOOD])
    before = p.read_bytes()
    for argv in (("diagnose", "--json", p), ("diagnose", "--html", p), ("compare", "--json", p)):
        dets = ("--dets", p, "--dets", DETS) if argv[0] == "compare" else ("--dets", p)
        rc, _, err = cli(capsys, argv[0], "--gt", SMALL, "--set", "2007:trainval", "--no-cache", *dets, *argv[1:])
        assert rc == 1, (argv, err)
        assert_one_error(err, "would overwrite the input --dets")
        assert p.read_bytes() == before


def test_convert_out_equal_to_src_is_refused(voc, tmp_path, capsys):
    before = ann(voc).read_bytes()
    rc, _, err = cli(capsys, "convert", voc, voc, "--to", "voc", "--set", "2007:trainval", "--overwrite")
    assert rc == 1
    assert_one_error(err, "OUT would overwrite the input SRC")
    assert ann(voc).read_bytes() == before
    p = coco_file(tmp_path, [GOOD])
    rc, _, err = cli(capsys, "convert", "--gt", SMALL, "--set", "2007:trainval", p, p, "--to", "coco")
    assert rc == 1
    assert_one_error(err, "OUT would overwrite the input SRC")


def test_json_and_html_onto_the_same_path(tmp_path, capsys):
    out = tmp_path / "same"
    rc, _, err = cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--json", out, "--html", out)
    assert rc == 1
    assert_one_error(err, "--html and --json name the same file")
    assert not out.exists()


def test_bench_and_demo_bad_outputs(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = cli(capsys, "demo", blocker, "--quick", "--no-models", "--no-voc", "--no-speed")
    assert rc == 1
    assert_one_error(err, str(blocker))
    assert blocker.read_text() == "x"
    rc, _, err = cli(capsys, "demo", tmp_path / "d", "--images", "-1", "--no-models", "--no-voc", "--no-speed")
    assert rc == 2  # a bad option value is bad usage (every numeric option, tests/test_security_numbers.py)
    assert err.strip().splitlines()[-1] == "vocbench demo: error: argument --images: must be an integer in " \
        "1..1000000, got -1"
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("mutate,needle", [
    (lambda g: g["annotations"][0].__setitem__("bbox", [float("nan"), 1, 2, 3]), "annotations[0]: bbox has NaN"),
    (lambda g: g["annotations"][0].__setitem__("image_id", True), "annotations[0]: image_id True is not an integer"),
    (lambda g: g["annotations"][0].__setitem__("image_id", 1.5), "annotations[0]: image_id 1.5 is not an integer"),
    (lambda g: g["images"].append(dict(g["images"][0])), "repeated image ids"),
    (None, "JSON nested too deeply"),
])
def test_coco_ground_truth_as_root(tmp_path, capsys, mutate, needle):
    from vocbench.io.coco import export_coco

    gt = export_coco(load_voc(SMALL, ["2007:trainval"], cache=False))
    p = tmp_path / "gt.json"
    if mutate is None:
        p.write_text("[" * 100000 + "]" * 100000)
    else:
        mutate(gt)
        p.write_text(json.dumps(gt))
    rc, _, err = cli(capsys, "stats", p, "--json", "-")
    assert rc == 1
    assert_one_error(err, str(p), needle)


@pytest.fixture(scope="module")
def yolo_data(tmp_path_factory) -> Path:
    """A tiny YOLO dataset (data.yaml + images + labels) converted from a synthetic VOC set."""
    base = tmp_path_factory.mktemp("yolo")
    assert main(["synth", str(base / "syn"), "--images", "8", "--workers", "1", "--json", os.devnull]) == 0
    assert main(["convert", str(base / "syn" / "VOCdevkit"), str(base / "yolo"), "--to", "yolo", "--set",
                 "2007:trainval", "--json", os.devnull]) == 0
    return base / "yolo"


@pytest.mark.parametrize("line,needle", [
    ("nan 0.5 0.5 0.2 0.2", "line 1: class_index 'nan' is not a finite number"),
    ("0 0.5 1e400 0.2 0.2", "line 1: cy '1e400' is not a finite number"),
    ("99 0.5 0.5 0.2 0.2", "line 1: class index 99 is outside 0..19"),
    ("0 0.5 0.5 0.2", "line 1: expected 5 fields"),
    (None, "label file is a folder or a special file"),
])
def test_yolo_ground_truth_bad_labels(yolo_data, tmp_path, capsys, line, needle):
    data = tmp_path / "yolo"
    shutil.copytree(yolo_data, data)
    label = sorted((data / "labels").rglob("*.txt"))[0]
    if line is None:
        if not hasattr(os, "mkfifo"):
            pytest.skip("needs POSIX FIFOs")
        label.unlink()
        os.mkfifo(label)  # would block a reader, and must not count as "no objects"
    else:
        label.write_text(line + "\n")
    rc, _, err = cli(capsys, "stats", data / "data.yaml", "--set", "trainval", "--json", "-")
    assert rc == 1
    assert_one_error(err, str(label) if line is None else label.name, needle)


def test_huge_text_node_is_refused(voc):
    edit(ann(voc), "<pose>Left</pose>", "<pose>" + "x" * 12_000_000 + "</pose>")  # lxml's limit is 10 MB
    with pytest.raises(InputError, match=r"000001\.xml:\d+: malformed XML"):
        load(voc)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlinks_to_an_endless_device_are_refused(voc, dets, small, capsys):
    ann(voc).unlink()
    os.symlink("/dev/zero", ann(voc))
    for extra in ((), ("--no-cache",)):
        rc, _, err = cli(capsys, "stats", voc, "--set", "2007:trainval", *extra)
        assert rc == 1
        assert_one_error(err, f"{ann(voc)}: annotation file is a special file")
    (dets / "comp4_det_test_dog.txt").unlink()
    os.symlink("/dev/zero", dets / "comp4_det_test_dog.txt")
    with pytest.raises(InputError, match=r"comp4_det_test_dog\.txt: detections file is a special file"):
        read_detections(dets, small)
    for fmt in ("csv", "coco", None):
        with pytest.raises(InputError, match=r"/dev/zero: detections file is a special file"):
            read_detections("/dev/zero", small, format=fmt)


def test_symlinked_annotation_to_a_regular_file_is_accepted(voc, tmp_path):
    ref = load(voc)
    elsewhere = tmp_path / "elsewhere.xml"
    shutil.move(ann(voc), elsewhere)
    os.symlink(elsewhere, ann(voc))
    assert np.array_equal(load(voc).boxes, ref.boxes)


def test_non_ascii_image_ids_round_trip(voc, tmp_path):
    shutil.move(ann(voc, "000002"), ann(voc, "bild_ä"))
    split_file(voc).write_text("000001\nbild_ä\n000003\n000004\n", encoding="utf-8")
    ds = load(voc)
    assert ds.image_ids.tolist()[1] == "bild_ä"
    d = tmp_path / "d"
    d.mkdir()
    (d / "comp4_det_test_car.txt").write_text("bild_ä 0.9 1 2 30 40\n", encoding="utf-8")
    with pytest.warns(VocbenchWarning, match="no result file"):
        out = read_detections(d, ds)
    assert ds.image_ids[out.image_index].tolist() == ["bild_ä"]


def test_diagnose_nan_score_threshold_is_refused(capsys):
    rc, _, err = cli(capsys, "diagnose", "--gt", SMALL, "--set", "2007:trainval", "--no-cache", "--dets", DETS,
                     "--score-threshold", "nan")
    assert rc == 2  # a bad option value is bad usage (every numeric option, tests/test_security_numbers.py)
    assert err.strip().splitlines()[-1] == ("vocbench diagnose: error: argument --score-threshold: must be a number "
                                            "in [-1e+06, 1e+06], got nan")


def test_stats_bad_compare_fails_before_printing(tmp_path, capsys):
    out = tmp_path / "r.html"
    rc, stdout, err = cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--compare", "2007:nope",
                          "--html", out)
    assert rc == 1 and stdout == "" and not out.exists()
    assert_one_error(err, "nope.txt: split file not found")
    with pytest.warns(VocbenchWarning, match="--compare only adds columns to the --html report"):
        rc, _, _ = cli(capsys, "stats", SMALL, "--set", "2007:trainval", "--no-cache", "--compare", "2007:val")
    assert rc == 0


@pytest.mark.parametrize("column,value", [("class_index", 1.5), ("image_index", 0.7), ("class_index", np.nan),
                                          ("image_index", True), ("class_index", "1")])
def test_dataframe_index_columns_are_never_truncated(small, column, value):
    import pandas as pd

    row = {"image_index": [0], "class_index": [1], "score": [0.5], "xmin": [1.0], "ymin": [1.0], "xmax": [2.0],
           "ymax": [2.0]}
    row[column] = pd.Series([value], dtype=object if isinstance(value, (bool, str)) else None)
    with pytest.raises(InputError, match=rf"DataFrame: row 0: {column} .* is not an integer"):
        read_detections(pd.DataFrame(row), small)
    ok = read_detections(pd.DataFrame({**row, column: [1.0 if column == "class_index" else 0.0]}), small)
    assert len(ok) == 1


def test_two_processes_filling_the_same_cache_agree(voc, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), VOCBENCH_CACHE_DIR=str(tmp_path / "shared-cache"))
    cmd = [sys.executable, "-m", "vocbench", "stats", str(voc), "--set", "2007:trainval", "--json", "-"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert json.loads(outs[0][0]) == json.loads(outs[1][0])
    entries = list((tmp_path / "shared-cache").iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".npz"  # one entry, no temporary file left
    third = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=180)
    assert third.returncode == 0 and json.loads(third.stdout) == json.loads(outs[0][0])


def test_html_reports_escape_hostile_class_names_and_paths(voc, tmp_path, capsys):
    evil = "<img src=x onerror=alert(1)>"
    edit(ann(voc), "<name>dog</name>", "<name>&lt;img src=x onerror=alert(1)&gt;</name>")
    classes = tmp_path / "classes.txt"
    classes.write_text(f"car\n{evil}\nperson\ntrain\n")
    dets = tmp_path / "d<b onmouseover=alert(2)>"
    dets.mkdir()
    (dets / f"comp4_det_test_{evil}.txt").write_text("000001 0.9 48 240 195 371\n")
    common = ("--gt", voc, "--set", "2007:trainval", "--classes", classes, "--no-cache")
    for argv in (("stats", voc, "--set", "2007:trainval", "--classes", classes, "--no-cache", "--no-anchors"),
                 ("eval", *common, "--dets", dets), ("diagnose", *common, "--dets", dets)):
        out = tmp_path / f"{argv[0]}.html"
        rc, _, err = cli(capsys, *argv, "--html", out)
        assert rc == 0, err
        html = out.read_text()
        assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, escaped
        assert evil not in html and "<b onmouseover" not in html


def test_atomic_write_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    os.symlink(real, link)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    dangling = tmp_path / "dangling.json"
    os.symlink(tmp_path / "sub" / "target.json", dangling)
    atomic_write_text(dangling, "x")  # the link's target (and its folder) is created
    assert dangling.is_symlink() and (tmp_path / "sub" / "target.json").read_text() == "x"
