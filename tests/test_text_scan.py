"""The byte scanner of the text readers (devkit, CSV, YOLO txt) against their checked paths: the numpy devkit reader,
pandas, and the line-by-line Python reader are its twins (same arrays bit for bit, same error messages), and every
number it gives is Python's ``float`` of its text."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.conftest import DATA
from vocbench import InputError, VocbenchWarning, load_voc, read_detections
from vocbench.bench.text_sets import text_set_dataset, write_text_set
from vocbench.io import _text_scan
from vocbench.io.yolo import read_label_tables, read_numeric_tables

DETS = DATA / "dets"
FIELDS = ("image_index", "class_index", "scores", "boxes")


@pytest.fixture(scope="module")
def small():
    return load_voc(DATA / "voc_small", ["2007:trainval"], cache=False)


def _read(path, ds, scanner: bool, **kw):
    saved = dict(_text_scan.SCAN_MIN_BYTES)
    for k in saved:
        _text_scan.SCAN_MIN_BYTES[k] = 0 if scanner else 1 << 62
    try:
        return read_detections(path, ds, **kw)
    finally:
        _text_scan.SCAN_MIN_BYTES.update(saved)


def _same(a, b) -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f


def _error(path, ds, scanner: bool, **kw) -> str:
    with pytest.raises(InputError) as exc:
        _read(path, ds, scanner, **kw)
    return str(exc.value)


def _same_outcome(path, ds, **kw) -> None:
    """The scanner and the checked reader both fail with the same message, or both give the same arrays."""
    try:
        want = _read(path, ds, False, **kw)
    except InputError as exc:
        assert _error(path, ds, True, **kw) == str(exc)
        return
    _same(_read(path, ds, True, **kw), want)


def _tokens(rng, n: int) -> list[str]:
    """Numbers as files write them: fixed decimals, integers, signs, exponents, long mantissas, leading zeros."""
    v = rng.uniform(-50, 700, n)
    styles = rng.integers(0, 9, n)
    out = []
    for x, s in zip(v.tolist(), styles.tolist()):
        out.append([f"{x:.6f}", f"{x:.2f}", str(round(x)), repr(x), f"{x:.3e}", f"+{abs(x):.1f}",
                    f"{x:.25f}", f"00{abs(x):.4f}", f"{abs(x):g}"][s])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_devkit_scanner_equals_numpy_reader_on_odd_files(small, tmp_path, seed):
    rng = np.random.default_rng(seed)
    ids = small.image_ids.tolist()
    for c, name in enumerate(small.classes):
        n = int(rng.integers(0, 60))
        toks = _tokens(rng, 5 * n)
        ends = ["\n", "\r\n", "\r"][seed]
        lines = [f"{ids[int(rng.integers(len(ids)))]}{' ' if k % 3 else chr(9)}{' '.join(toks[5 * k:5 * k + 5])}"
                 + ("  " if k % 4 == 0 else "") for k in range(n)]
        if n > 3:
            lines.insert(2, "")  # blank lines are skipped, line numbers count them
        (tmp_path / f"comp4_det_test_{name}.txt").write_bytes(ends.join(lines).encode() + (b"\n" if c % 2 else b""))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        _same(_read(tmp_path, small, True), _read(tmp_path, small, False))


@pytest.mark.parametrize("folder", ["bad_malformed", "bad_unknown", "bad_nan"])
def test_devkit_errors_are_the_checked_readers(small, folder):
    assert _error(DETS / folder, small, True) == _error(DETS / folder, small, False)


@pytest.mark.filterwarnings("ignore:.*no result file")
def test_devkit_unknown_id_names_the_line_and_drops(small, tmp_path):
    (tmp_path / "comp4_det_test_dog.txt").write_text("000001 0.5 1 2 3 4\n\n000042 0.5 1 2 3 4\n000001 1 1 2 3 4\n")
    msg = _error(tmp_path, small, True)
    assert msg == _error(tmp_path, small, False)
    assert "comp4_det_test_dog.txt: line 3: image id '000042' is not in the evaluated set" in msg
    with pytest.warns(VocbenchWarning, match="dropped 1 detection"):
        got = _read(tmp_path, small, True, ignore_unknown_images=True)
    assert got.scores.tolist() == [0.5, 1.0]


def test_devkit_file_outside_the_subset_takes_the_checked_reader(small, tmp_path):
    (tmp_path / "comp4_det_test_dog.txt").write_text("000001 0.5 1 2 3 4\n000001 0.25 1 2 3 4\n")
    (tmp_path / "comp4_det_test_car.txt").write_text("000001 0.5 1e1 2 3 4\n000001 0.25 1 2 3 4\x0c\n")
    (tmp_path / "comp4_det_test_person.txt").write_bytes("000001 0.5 1 2 3 4 \u00a0\n".encode())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        got = _read(tmp_path, small, True)
        _same(got, _read(tmp_path, small, False))
    assert got.boxes[0].tolist() == [10.0, 2.0, 3.0, 4.0]


def test_scanned_numbers_are_python_float(tmp_path):
    rng = np.random.default_rng(7)
    toks = _tokens(rng, 6000) + ["1_0", "-0", "0.1", "9007199254740993", "123456789.123456789", ".5", "5.", "-.5"]
    toks += ["0.30000000000000004", "1" * 30, "2.2250738585072014e-308", "17976931348623157" + "0" * 292]
    toks += ["3"] * (-len(toks) % 6)
    text = "\n".join(" ".join(toks[i:i + 6]) for i in range(0, len(toks), 6))
    (tmp_path / "a.txt").write_text(text)
    t = _text_scan.scan_table([tmp_path / "a.txt"], ["num"] * 6)
    assert not t.fallback.any()
    expected = np.array([float(x) for x in toks]).reshape(-1, 6)
    assert np.array_equal(t.values.T, expected)
    assert t.lines.tolist() == list(range(1, len(expected) + 1))


def test_csv_scanner_equals_pandas(small, tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    toks = _tokens(rng, 5 * n)
    ids = small.image_ids.tolist()
    rows = [f"{ids[int(rng.integers(len(ids)))]},{small.classes[int(rng.integers(small.num_classes))]},"
            + ",".join(toks[5 * k:5 * k + 5]) for k in range(n)]
    rows.insert(10, "")
    path = tmp_path / "d.csv"
    path.write_text("image_id,class,score,xmin,ymin,xmax,ymax\r\n" + "\r\n".join(rows) + "\r\n")
    _same(_read(path, small, True), _read(path, small, False))


def test_csv_errors_name_the_line(small, tmp_path):
    assert _error(DETS / "bad_class.csv", small, True) == _error(DETS / "bad_class.csv", small, False)
    path = tmp_path / "d.csv"
    head = "image_id,class,score,xmin,ymin,xmax,ymax\n"
    path.write_text(head + "000001,dog,0.5,1,2,3,4\n000042,dog,0.5,1,2,3,4\n")
    msg = _error(path, small, True)
    assert msg == _error(path, small, False) and "line 3: image id '000042'" in msg
    with pytest.warns(VocbenchWarning, match="dropped 1 detection"):
        _same(_read(path, small, True, ignore_unknown_images=True),
              _read(path, small, False, ignore_unknown_images=True))
    for body in ("000001,dog,0.5,1,2,,4\n", "000001,dog,nan,1,2,3,4\n", '"000001",dog,0.5,1,2,3,4\n',
                 "000001,dog,0.5,1,2,3,x\n", "000001,dog,0.5,1,2,3,4,\n", "000001,dog, 0.5,1,2,3,4\n",
                 " 000001,dog,0.5,1,2,3,4\n", "000001,dog,1e-3,1,2,3,4\n", "   \n"):
        path.write_text(head + "000001,dog,0.5,1,2,3,4\n" + body)
        _same_outcome(path, small)


def _yolo_folder(tmp_path, rng, n_files: int = 40):
    from vocbench.io.yolo import format_float

    ds = text_set_dataset("tiny")
    for stem in ds.image_ids[:n_files].tolist():
        n = int(rng.integers(0, 20))
        rows = [" ".join([str(int(rng.integers(ds.num_classes))), *(format_float(v) for v in rng.random(5))])
                for _ in range(n)]
        (tmp_path / f"{stem}.txt").write_text("\n".join(rows) + ("\n" if n % 2 else ""))
    return ds


def test_yolo_scanner_equals_python_reader(tmp_path):
    ds = _yolo_folder(tmp_path, np.random.default_rng(5))
    _same(_read(tmp_path, ds, True, format="yolo"), _read(tmp_path, ds, False, format="yolo"))
    paths = sorted(tmp_path.glob("*.txt"))
    _, v0, l0, o0 = read_label_tables(paths, 6, "class_index cx cy w h confidence")
    saved = dict(_text_scan.SCAN_MIN_BYTES)
    _text_scan.SCAN_MIN_BYTES["yolo"] = 0
    try:
        v1, l1, o1 = read_numeric_tables(paths, 6, "class_index cx cy w h confidence")
    finally:
        _text_scan.SCAN_MIN_BYTES.update(saved)
    assert np.array_equal(v0, v1) and np.array_equal(l0, l1) and np.array_equal(o0, o1)


@pytest.mark.parametrize("bad", ["0 0.5 0.5 0.1 0.1\n", "0 0.5 0.5 0.1 0.1 x\n", "1.5 0.5 0.5 0.1 0.1 0.9\n",
                                 "0 0.5 0.5 0.1 inf 0.9\n", "0 0.5 0.5 0.1 0.1 0.9 \u00e9\n"])
def test_yolo_errors_and_odd_files_are_the_python_readers(tmp_path, bad):
    ds = _yolo_folder(tmp_path, np.random.default_rng(6), 10)
    victim = sorted(tmp_path.glob("*.txt"))[4]
    victim.write_text("0 0.5 0.5 0.1 0.1 0.9\n" + bad)
    _same_outcome(tmp_path, ds, format="yolo")
    if bad.count(" ") == 5:  # one field too few, a word, a fraction, inf: errors naming the line
        assert f"{victim}: line 2" in _error(tmp_path, ds, True, format="yolo")


def test_bench_text_sets_read_back_to_the_generated_detections(tmp_path):
    from vocbench.bench.coco_sets import _detections, _ground_truth, coco_set_spec

    n_img, n_cat, per, det = coco_set_spec("tiny")
    rng = np.random.default_rng([0, n_img, n_cat])
    gt = _ground_truth(rng, n_img, n_cat, per)
    img_ids, _, xywh, score = _detections(rng, gt, det)
    for fmt in ("devkit", "csv", "yolo"):
        path, ds = write_text_set("tiny", fmt, tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VocbenchWarning)
            got, old = _read(path, ds, True, format=fmt), _read(path, ds, False, format=fmt)
        _same(got, old)
        assert len(got) == len(score)
        if fmt != "yolo":  # (YOLO text has 6 significant digits)
            order = np.lexsort((got.scores, got.image_index))
            want = np.lexsort((score, np.searchsorted(gt[1], img_ids)))
            assert np.allclose(got.scores[order], score[want], atol=1e-6)


@pytest.mark.parametrize("token", ["1e400", "-1e400", "inf", "nan", "1.5x", "--1"])
def test_a_number_python_refuses_or_makes_infinite_sends_the_file_back(tmp_path, token):
    (tmp_path / "a.txt").write_text("1 2 3\n")
    (tmp_path / "b.txt").write_text(f"1 2 3\n4 {token} 6\n")
    t = _text_scan.scan_table([tmp_path / "a.txt", tmp_path / "b.txt"], ["num"] * 3)
    assert t.fallback.tolist() == [False, True] and t.values.T.tolist() == [[1.0, 2.0, 3.0]]
    assert t.row_offsets.tolist() == [0, 1, 1]
