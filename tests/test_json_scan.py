"""The COCO JSON byte scanner (vocbench.io._json_scan) against json.loads: same values bit for bit on every file it
accepts, None (the json path) on everything else, on hand-written edge cases, fuzzed files and mutated bytes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vocbench.io._json_scan import GT_FIELDS, scan_coco_gt, scan_coco_results

FIELDS = ("image_id", "category_id", "bbox", "score")


def results_from_json(data: bytes):
    """The slow twin: json.loads, then the columns the scanner promises (None when the file is not of that shape)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(obj, list):
        return None
    cols: dict[str, list] = {f: [] for f in FIELDS}
    for d in obj:
        if not isinstance(d, dict) or not all(f in d for f in FIELDS):
            return None
        for f in ("image_id", "category_id"):
            if type(d[f]) is not int:
                return None
        if type(d["score"]) not in (int, float) or not isinstance(d["bbox"], list) or len(d["bbox"]) != 4 \
                or any(type(v) not in (int, float) for v in d["bbox"]):
            return None
        for f in FIELDS:
            cols[f].append(d[f])
    return cols


def same_bits(a: np.ndarray, b) -> bool:
    b = np.asarray(b, np.float64).reshape(a.shape)
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def check_results(data: bytes, must_accept: bool = False):
    got = scan_coco_results(data, force=True)
    ref = results_from_json(data)
    if got is None:
        assert not must_accept, data[:200]
        return None
    assert ref is not None, f"scanner accepted what json rejects: {data[:200]!r}"
    n = len(ref["score"])
    assert got["image_id"].tolist() == ref["image_id"] and got["category_id"].tolist() == ref["category_id"]
    assert same_bits(np.ascontiguousarray(got["bbox"]), np.array(ref["bbox"], np.float64).reshape(n, 4))
    assert same_bits(np.ascontiguousarray(got["score"]), ref["score"])
    return got


# ------------------------------------------------------------------------------------------- hand-written
@pytest.mark.parametrize("text", [
    '[]', ' [ ] ', '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]',
    '[{"score":1e-5,"bbox":[-0,0.0,1E+2,2.5e-3],"category_id":-7,"image_id":0}]',
    '\n[\r\n\t{"image_id" : 397133 , "category_id":18,"bbox":[258.15,41.29,348.26,243.78],"score":0.236}\n]\n',
    '[{"image_id": 1, "category_id": 2, "bbox": [0.1, 0.2, 0.30000000000000004, 123456789.123], '
    '"score": 0.9983041286468506, "extra": {"a": [1, {"b": null}, true, false, "x"]}, "segmentation": []}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1e308, 4.9e-324, 2.2250738585072014e-308, 9007199254740993],'
    ' "score": 1}]',
    '[{"image_id": 123456789012345678, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "file_name": "a b.jpg"}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5,'
    ' "f": "a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00E9\\ud83d"}]',
])
def test_accepted_shapes_equal_json(text):
    check_results(text.encode(), must_accept=True)


@pytest.mark.parametrize("text", [
    '', '{}', '[1]', '[{"image_id": 1}]', '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3], "score": 0.5}]',
    '[{"image_id": 1.0, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": NaN}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": Infinity}]',
    '[{"image_id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": "0.5"}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": true}]',
    '[{"image_id": 01, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1., 2, 3, 4], "score": 0.5}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": .5}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": +0.5}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5},]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}] x',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "n\\u00e4me": 1}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "x": [1, 2}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "x": tru}]',
    '[{"image_id": 1234567890123456789, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "f": "a\\qb"}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "f": "\\u12G4"}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "f": "\\u12"}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "f": "ab\\"}]',
    '\ufeff[]', '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "x": "a\tb"}]',
    '[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "x": ' + "[" * 100 + "]" * 100 + "}]",
])
def test_unusual_files_go_to_json(text):
    assert scan_coco_results(text.encode(), force=True) is None


def test_invalid_utf8_in_a_skipped_string_is_not_accepted():
    data = b'[{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5, "f": "\xff"}]'
    assert scan_coco_results(data, force=True) is None


# ------------------------------------------------------------------------------------------------ fuzzed
finite = st.floats(allow_nan=False, allow_infinity=False)
number = st.one_of(finite, st.integers(-10**15, 10**15), finite.map(lambda v: round(v, 2) if abs(v) < 1e9 else v))
extra = st.recursive(st.one_of(st.none(), st.booleans(), number, st.text(st.characters(min_codepoint=32,
                                                                                          max_codepoint=126))),
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3),
                     max_leaves=6)


@st.composite
def result_files(draw):
    n = draw(st.integers(0, 12))
    recs = []
    for _ in range(n):
        rec = {"image_id": draw(st.integers(-10**12, 10**12)), "category_id": draw(st.integers(0, 400)),
               "bbox": draw(st.lists(number, min_size=4, max_size=4)), "score": draw(number)}
        for k in draw(st.lists(st.sampled_from(["segmentation", "area", "id", "file_name", "é"]), max_size=2,
                               unique=True)):
            rec[k] = draw(extra)
        keys = draw(st.permutations(list(rec)))
        recs.append({k: rec[k] for k in keys})
    indent = draw(st.sampled_from([None, 0, 1, 2, "\t"]))
    seps = draw(st.sampled_from([(", ", ": "), (",", ":"), (" , ", " : ")]))
    return json.dumps(recs, indent=indent, separators=seps, ensure_ascii=draw(st.booleans())).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(result_files())
def test_fuzzed_files_equal_json(data):
    # strict-JSON files of the usual shape must be accepted unless a skipped string needs an escape
    check_results(data, must_accept=b"\\" not in data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(result_files(), st.data())
def test_mutated_bytes_never_accepted_wrongly(data, draw):
    if not data:
        return
    b = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        at = draw.draw(st.integers(0, len(b) - 1))
        op = draw.draw(st.sampled_from(["flip", "drop", "dup", "byte"]))
        if op == "flip":
            b[at] = draw.draw(st.sampled_from(b'{}[],:"0123456789.-+eE \\tnul'))
        elif op == "drop":
            del b[at]
        elif op == "dup":
            b.insert(at, b[at])
        else:
            b[at] = draw.draw(st.integers(0, 255))
        if not b:
            return
    check_results(bytes(b))


@settings(max_examples=300, deadline=None)
@given(finite)
def test_every_double_reads_back_bit_for_bit(v):
    text = json.dumps([{"image_id": 1, "category_id": 1, "bbox": [v, -v, v / 3 if v else 0.0, 1.0], "score": v}])
    got = check_results(text.encode(), must_accept=True)
    assert got is not None and math.copysign(1.0, got["score"][0]) == math.copysign(1.0, v)


# ----------------------------------------------------------------------------------------- ground truth
def gt_from_json(data: bytes):
    obj = json.loads(data)
    out = {}
    for sec, fields in GT_FIELDS.items():
        if sec in obj:
            out[sec] = {f: [r.get(f) for r in obj[sec]] for f, _ in fields}
    return out


@st.composite
def gt_files(draw):
    def image(k):
        return {"id": k + 1, "width": draw(st.integers(1, 2000)), "height": draw(st.integers(1, 2000)),
                "file_name": draw(st.sampled_from([f"{k:06d}.jpg", f"d/{k}.png", f"ü{k}.jpg"])), "license": 3}

    def ann(k):
        a = {"id": k, "image_id": draw(st.integers(1, 5)), "category_id": draw(st.integers(1, 3)),
             "bbox": draw(st.lists(number, min_size=4, max_size=4)), "area": draw(number),
             "segmentation": draw(st.sampled_from([[[1.5, 2, 3, 4.25]], {"counts": "ab", "size": [4, 5]}, []]))}
        if draw(st.booleans()):
            a["iscrowd"] = draw(st.integers(0, 1))
        return {k: a[k] for k in draw(st.permutations(list(a)))}

    data = {"info": {"year": 2017, "v": [1, {"x": None}]},
            "images": [image(k) for k in range(draw(st.integers(0, 5)))],
            "annotations": [ann(k) for k in range(draw(st.integers(0, 8)))],
            "categories": [{"supercategory": "s", "id": c, "name": f"c{c}"} for c in (3, 1, 2)]}
    keys = draw(st.permutations(list(data)))
    return json.dumps({k: data[k] for k in keys}, indent=draw(st.sampled_from([None, 1])),
                      ensure_ascii=False).encode()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gt_files())
def test_ground_truth_sections_equal_json(data):
    check_gt(data)


@pytest.mark.parametrize("text", [
    # an unknown key, then a name another section also has ("id"): fields are matched within their section
    '{"images": [{"license": 1, "id": 1, "width": 2, "height": 3}], "annotations": [{"segmentation": [], "id": 5,'
    ' "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 1.0}], "categories": [{"x": 0, "id": 1,'
    ' "name": "a"}]}',
    # fields in an order other than the table's, some missing
    '{"categories": [{"name": "a", "id": 1}], "annotations": [{"area": 2, "bbox": [1, 2, 3, 4], "image_id": 1,'
    ' "id": 1, "category_id": 1}, {"iscrowd": 1, "id": 2}], "images": [{"height": 3, "width": 2, "id": 1}]}',
])
def test_ground_truth_key_orders_equal_json(text):
    check_gt(text.encode())


def check_gt(data: bytes) -> None:
    got = scan_coco_gt(data, force=True)
    assert got is not None
    ref = gt_from_json(data)
    assert set(got) == set(ref)
    for sec, fields in GT_FIELDS.items():
        for f, _ in fields:
            want = ref[sec][f]
            have = got[sec][f]
            assert got[sec]["present"][f].tolist() == [v is not None for v in want]
            if isinstance(have, list):
                assert have == want
            elif have.ndim == 2:
                rows = [w if w is not None else [math.nan] * 4 for w in want]
                assert same_bits(have, np.array(rows, np.float64).reshape(-1, 4))
            elif have.dtype == np.float64:
                assert same_bits(have, [math.nan if w is None else w for w in want])
            else:
                assert have.tolist() == [0 if w is None else w for w in want]


@pytest.mark.parametrize("text", [
    '[]', '{"images": {}, "categories": []}', '{"images": [], "images": [], "categories": []}',
    '{"images": [{"id": 1.5}], "categories": []}', '{"images": [], "categories": []} []',
    '{"images": [{"id": 1, "file_name": "a\\u00e9.jpg"}], "categories": []}',
])
def test_unusual_ground_truth_goes_to_json(text):
    assert scan_coco_gt(text.encode(), force=True) is None


# ---------------------------------------------------------------------------------------------- readers
def _load_both(tmp_path, monkeypatch, gt: bytes, dets: bytes):
    """(scanner path, json path) of load_coco_gt + read_detections on the same files."""
    import vocbench.io._json_scan as scan
    from vocbench.io.coco_gt import load_coco_gt
    from vocbench.io.detections import read_detections

    (tmp_path / "gt.json").write_bytes(gt)
    (tmp_path / "dt.json").write_bytes(dets)
    out = []
    for off in (False, True):
        if off:
            monkeypatch.setattr(scan, "scan_coco_gt", lambda data, force=False: None)
            monkeypatch.setattr(scan, "scan_coco_results", lambda data, force=False: None)
        ds = load_coco_gt(tmp_path / "gt.json")
        out.append((ds, read_detections(tmp_path / "dt.json", ds)))
    return out


def test_readers_same_dataset_and_detections_both_paths(tmp_path, monkeypatch):
    from vocbench.bench.coco_sets import write_coco_set
    from vocbench.io.coco_gt import coco_ids

    gt_path, dt_path = write_coco_set("tiny", tmp_path / "set")
    (a, da), (b, db) = _load_both(tmp_path, monkeypatch, gt_path.read_bytes(), dt_path.read_bytes())
    assert da.scores.size > 1000 and a.num_objects > 50
    for f in ("image_ids", "widths", "heights", "image_index", "class_index", "boxes", "difficult", "classes"):
        assert np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f))), f
    for x, y in zip(coco_ids(a), coco_ids(b)):
        assert np.array_equal(x, y)
    for f in ("image_index", "class_index", "scores", "boxes"):
        assert np.array_equal(getattr(da, f), getattr(db, f)), f


@pytest.mark.parametrize("dets, message", [
    ('[{"image_id": 999999999, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]', "result 0: image id"),
    ('[{"image_id": IMG, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},'
     ' {"image_id": IMG, "category_id": 4242, "bbox": [1, 2, 3, 4], "score": 0.5}]', "result 1: category_id 4242"),
    ('[{"image_id": IMG, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1e999}]', "result 0"),
    ('[{"image_id": IMG, "category_id": 1, "bbox": [1, 2, 3, 4]}]', "result 0"),
])
def test_reader_errors_name_file_and_record(tmp_path, dets, message):
    from vocbench.bench.coco_sets import write_coco_set
    from vocbench.errors import InputError
    from vocbench.io.coco_gt import coco_ids, load_coco_gt
    from vocbench.io.detections import read_detections

    gt_path, _ = write_coco_set("tiny", tmp_path / "set")
    ds = load_coco_gt(gt_path)
    (tmp_path / "dt.json").write_text(dets.replace("IMG", str(int(coco_ids(ds)[0][0]))))
    with pytest.raises(InputError, match=message) as exc:
        read_detections(tmp_path / "dt.json", ds)
    assert str(tmp_path / "dt.json") in str(exc.value)


def test_shortest_records_fit_the_columns():
    """The columns hold len(data) // 58 + 1 records: the shortest valid records must all fit."""
    rec = '{"image_id":0,"category_id":0,"bbox":[0,0,0,0],"score":0}'
    for n in (1, 2, 57, 1000):
        got = check_results(("[" + ",".join([rec] * n) + "]").encode(), must_accept=True)
        assert got is not None and len(got["score"]) == n
    assert scan_coco_results(("[" + ",".join(["{}"] * 100) + "]").encode(), force=True) is None


# ------------------------------------------------------------------------------- numbers beyond Clinger's path
def _number_file(values: list[str], rng: np.random.Generator) -> bytes:
    """A results file whose bbox and score tokens are ``values`` as written (5 per record, in order)."""
    recs = []
    for k in range(0, len(values) - 4, 5):
        b = ", ".join(values[k:k + 4])
        recs.append(f'{{"image_id": {k}, "category_id": {int(rng.integers(1, 91))}, "bbox": [{b}], '
                    f'"score": {values[k + 4]}}}')
    return ("[" + ", ".join(recs) + "]").encode()


def _slow_tokens(monkeypatch) -> list[int]:
    """Counts the tokens the kernel leaves to Python's ``float`` (``_convert_slow``), per call."""
    import vocbench.io._json_scan as scan

    seen: list[int] = []
    real = scan._convert_slow

    def counting(data, floats, slow):
        seen.append(int(sum(bin(int(v)).count("1") for v in slow)))
        return real(data, floats, slow)

    monkeypatch.setattr(scan, "_convert_slow", counting)
    return seen


def _random_doubles(rng: np.random.Generator, n: int) -> np.ndarray:
    v = np.frombuffer(rng.bytes(8 * n), np.float64)
    return v[np.isfinite(v)]


@pytest.mark.parametrize("shape", ["repr", "float32", "exponent", "halfway", "long"])
def test_numbers_beyond_the_fast_path_equal_float(shape, monkeypatch):
    """Every token shape Python writes or a tool prints reads bit for bit as ``float`` reads it, and only tokens
    of more than 18 significant digits whose neighbours round apart are left to Python (exact Eisel-Lemire in
    the kernel: a file of 17-digit reprs stays in the kernel)."""
    from decimal import Decimal

    rng = np.random.default_rng(["repr", "float32", "exponent", "halfway", "long"].index(shape))
    if shape == "repr":  # doubles of every magnitude, 17-digit reprs, subnormals
        values = [repr(v) for v in _random_doubles(rng, 20_000).tolist()]
    elif shape == "float32":  # detectron2 / mmdet: float32 boxes and scores written as json.dumps(tensor.tolist())
        f32 = np.concatenate([rng.uniform(0, 1333, 15_000), rng.uniform(0, 1, 5_000)]).astype(np.float32)
        values = [json.dumps(v) for v in f32.astype(np.float64).tolist()]
    elif shape == "exponent":
        values = [f"{m}e{e}" for m, e in zip(rng.integers(1, 10 ** 17, 20_000).tolist(),
                                             rng.integers(-345, 310, 20_000).tolist())]
        values += ["4.9e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "1e-400", "-0e5", "2E+22"]
    elif shape == "halfway":  # exactly between two doubles: ties to even (digits written in full)
        x = _random_doubles(rng, 4_000)
        x = x[(np.abs(x) > 1e-30) & (np.abs(x) < 1e30)]
        values = [format((Decimal(a) + Decimal(b)) / 2, "f")[:250]
                  for a, b in zip(x.tolist(), np.nextafter(x, np.inf).tolist())]
        values += [str(2 ** 53 + 1), str(2 ** 54 + 2), "9007199254740993.0", "1.00000000000000011102230246251565"]
    else:  # more than 18 significant digits
        values = ["".join(map(str, rng.integers(0, 10, int(d)))).lstrip("0") + "." + str(int(f))
                  for d, f in zip(rng.integers(19, 40, 5_000).tolist(), rng.integers(0, 10 ** 6, 5_000).tolist())]
    values += ["0"] * (-len(values) % 5)
    slow = _slow_tokens(monkeypatch)
    got = check_results(_number_file(values, rng), must_accept=True)
    assert got is not None and got["score"].size == len(values) // 5
    if shape in ("repr", "float32", "exponent"):
        assert slow == [0]
    elif shape == "long":  # only the undecided ones leave the kernel (exact ties, written in full, all do)
        assert slow[0] < len(values) // 20


@pytest.mark.parametrize("tool", ["ultralytics", "mmdet", "detectron2", "indent2", "indent4-crlf", "unicode"])
def test_files_written_by_other_tools_equal_json(tool):
    """Results files shaped as detectors' tools write them read exactly as ``json`` reads them (all accepted)."""
    rng = np.random.default_rng(7)
    n = 400
    box = rng.uniform(0, 640, (n, 4))
    score = rng.uniform(0, 1, n)
    if tool == "ultralytics":  # rounded values, keys in its order
        recs = [{"image_id": int(i), "category_id": int(c), "bbox": [round(float(x), 3) for x in b],
                 "score": round(float(s), 5)} for i, c, b, s in zip(rng.integers(0, 5000, n),
                                                                    rng.integers(1, 91, n), box, score)]
    else:  # float32 tensors .tolist(): 17-digit reprs
        b32 = box.astype(np.float32).astype(np.float64).tolist()
        s32 = score.astype(np.float32).astype(np.float64).tolist()
        recs = [{"image_id": int(i), "bbox": b, "score": s, "category_id": int(c)}
                for i, c, b, s in zip(rng.integers(0, 5000, n).tolist(), rng.integers(1, 91, n).tolist(), b32, s32)]
    if tool == "mmdet":  # extra keys: a segmentation RLE and an area
        for r in recs:
            r["segmentation"] = {"size": [480, 640], "counts": "PPR3`0i<5L3M2N2O0O100O01O1N2L4Kc]X6"}
            r["area"] = 1234.5
    if tool == "unicode":
        for r in recs:
            r["file_name"] = "图像/ü-0001.jpg"
    indent = {"indent2": 2, "indent4-crlf": 4}.get(tool)
    text = json.dumps(recs, indent=indent, ensure_ascii=tool != "unicode")
    if tool == "indent4-crlf":
        text = text.replace("\n", "\r\n")
    got = check_results(text.encode(), must_accept=True)
    assert got is not None and got["score"].size == n


def test_pretty_printed_ground_truth_equals_json():
    data = {"info": {"description": 'a "quoted" \\ line\n\u00e9', "url": "http:\\/\\/x"},
            "images": [{"id": 1, "width": 640, "height": 480, "file_name": "ü.jpg"}],
            "annotations": [{"segmentation": [[1.5, 2.25, 3.0, 4.0]], "area": 0.30000001192092896, "iscrowd": 0,
                             "image_id": 1, "bbox": [257.3699951171875, 1e-7, 3.0, 4.5], "category_id": 2, "id": 9}],
            "categories": [{"id": 2, "name": "car", "supercategory": "vehicle"}]}
    for text in (json.dumps(data, indent=4, ensure_ascii=False),
                 json.dumps(data, indent=2, ensure_ascii=False).replace("\n", "\r\n")):
        assert "\\" in text  # escapes in strings vocbench skips: accepted, checked
        got = scan_coco_gt(text.encode(), force=True)
        assert got is not None
        ann = data["annotations"][0]
        assert same_bits(got["annotations"]["bbox"], [ann["bbox"]])
        assert same_bits(got["annotations"]["area"], [ann["area"]])
        assert got["images"]["file_name"] == ["ü.jpg"] and got["categories"]["name"] == ["car"]


def test_powers_of_five_table_matches_fast_float():
    """Rows of fast_float's ``power_of_five_128`` (its first row, 5**-1, 5**0, 5**1) and every row normalised."""
    from vocbench.io._json_scan import _POW5

    assert _POW5.shape == (651, 2) and (_POW5[:, 0] >> np.uint64(63) == 1).all()
    rows = {-342: (0xEEF453D6923BD65A, 0x113FAA2906A13B3F), -1: (0xCCCCCCCCCCCCCCCC, 0xCCCCCCCCCCCCCCCD),
            0: (0x8000000000000000, 0), 1: (0xA000000000000000, 0)}
    for q, (hi, lo) in rows.items():
        assert (int(_POW5[q + 342, 0]), int(_POW5[q + 342, 1])) == (hi, lo), q


def test_ground_truth_of_records_shorter_than_the_first_capacity_equals_json():
    """The first scan sizes its rows at one per 32 bytes; a file of shorter records (1200 categories of ~20 bytes,
    empty annotations) is scanned again with a row for every '{' and reads as json reads it."""
    import vocbench.io._json_scan as scan

    cats = ",".join(f'{{"id":{k},"name":"c{k}"}}' for k in range(1, 1201))
    data = ('{"images":[{"id":1,"width":2,"height":3}],"annotations":[' + ",".join(["{}"] * 300)
            + '],"categories":[' + cats + "]}").encode()
    assert data.count(b"{") > len(data) // 32 + 64  # the retry path runs
    check_gt(data)
    got = scan.scan_coco_gt(data, force=True)
    assert got is not None and got["categories"]["count"] == 1200 and got["annotations"]["count"] == 300
    assert got["categories"]["name"][-1] == "c1200"
