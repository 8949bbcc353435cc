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
