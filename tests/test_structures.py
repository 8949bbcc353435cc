"""Dataset / Detections: selection (mask, slice, index array), filter, concat, empty, tables, frozen arrays."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import numpy as np
import pandas as pd
import pytest

from vocbench import Dataset, Detections


def _dets(n: int = 7, seed: int = 0) -> Detections:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(1, 200, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 50, (n, 2))], axis=1)
    return Detections(rng.integers(0, 3, n), rng.integers(0, 4, n), rng.random(n), boxes, source="unit")


def _rows(d: Detections) -> list[tuple]:
    """Row tuples built field by field (the independent view every selection is checked against)."""
    return [(int(i), int(c), float(s), tuple(float(v) for v in b))
            for i, c, s, b in zip(d.image_index, d.class_index, d.scores, d.boxes)]


def test_getitem_mask_slice_indices_and_int_select_the_same_rows_as_plain_python():
    d = _dets()
    rows = _rows(d)
    mask = d.scores > 0.5
    assert _rows(d[mask]) == [r for r, m in zip(rows, mask) if m]
    assert _rows(d[1:6:2]) == rows[1:6:2]
    assert _rows(d[[4, 0, 4]]) == [rows[4], rows[0], rows[4]]
    assert _rows(d[np.array([], np.int64)]) == [] and _rows(d[[]]) == []
    assert _rows(d[-1]) == [rows[-1]] and isinstance(d[2], Detections) and len(d[2]) == 1
    assert d[mask].source == "unit"


def test_getitem_rejects_bad_keys():
    d = _dets()
    with pytest.raises(IndexError, match="out of range"):
        d[7]
    with pytest.raises(IndexError, match="boolean mask has shape"):
        d[np.ones(3, bool)]
    with pytest.raises(TypeError, match="boolean mask, a slice or integers"):
        d[np.array([0.5])]


def test_filter_combines_conditions_with_and():
    d = _dets(50, seed=3)
    got = d.filter(min_score=0.3, classes=[1, 2], images={0})
    want = [r for r in _rows(d) if r[2] >= 0.3 and r[1] in (1, 2) and r[0] == 0]
    assert _rows(got) == want and len(want) > 0
    mask = d.boxes[:, 0] < 100
    assert _rows(d.filter(mask, min_score=0.5)) == [r for r, m in zip(_rows(d), mask) if m and r[2] >= 0.5]
    assert _rows(d.filter()) == _rows(d)
    with pytest.raises(ValueError, match="mask must be boolean"):
        d.filter(np.ones(3, bool))


def test_concat_and_empty():
    a, b = _dets(4, seed=1), _dets(3, seed=2)
    both = Detections.concat([a, b])
    assert _rows(both) == _rows(a) + _rows(b) and both.source == "unit"
    assert _rows(Detections.concat([a, Detections.empty()])) == _rows(a)
    e = Detections.empty("nothing")
    assert len(e) == 0 and e.is_empty() and e.boxes.shape == (0, 4) and e.source == "nothing"
    assert len(Detections.concat([])) == 0
    assert list(e.to_pandas().columns) == ["image_index", "class_index", "score", "xmin", "ymin", "xmax", "ymax"]


def test_selections_stay_frozen():
    d = _dets()[::2]
    with pytest.raises(ValueError):
        d.scores[0] = 1.0
    with pytest.raises(FrozenInstanceError):
        d.source = "x"  # type: ignore[misc]


def _ds() -> Dataset:
    return Dataset.from_arrays(image_ids=["a", "b", "c"], widths=[10, 20, 30], heights=[11, 21, 31],
                               image_index=[0, 2, 2], class_index=[1, 0, 14],
                               boxes=[[1, 1, 5, 5], [2, 2, 9, 9], [3, 3, 7, 8]], difficult=[False, True, False])


def test_dataset_to_pandas_tables_and_aliases():
    ds = _ds()
    objects = ds.to_pandas()
    assert objects["image_id"].tolist() == ["a", "c", "c"]
    assert objects["class"].tolist() == ["bicycle", "aeroplane", "person"]
    assert objects["difficult"].tolist() == [False, True, False]
    images = ds.to_pandas("images")
    assert images["image_id"].tolist() == ["a", "b", "c"] and images["width"].tolist() == [10, 20, 30]
    pd.testing.assert_frame_equal(ds.to_pandas("objects"), objects)
    pd.testing.assert_frame_equal(ds.to_pandas("images"), images)
    with pytest.raises(ValueError, match="'objects' or 'images'"):
        ds.to_pandas("boxes")


def test_detections_to_pandas_with_dataset_names():
    ds = _ds()
    d = Detections([2, 0], [14, 1], [0.9, 0.2], [[3, 3, 7, 8], [1, 1, 5, 5]])
    df = d.to_pandas(ds)
    assert df["image_id"].tolist() == ["c", "a"] and df["class"].tolist() == ["person", "bicycle"]
    assert df["score"].tolist() == [0.9, 0.2]
