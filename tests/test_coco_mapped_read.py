"""COCO results are read from the file mapped into memory: the same columns as from its bytes, the json path
still taking (and naming the record of) every file outside the scanner's subset, an empty file still refused
with one line, and the input file left as it was."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vocbench.errors import InputError
from vocbench.io.coco_columns import read_coco_results_columns
from vocbench.io.detections import _read_bytes, read_detections
from vocbench.structures import Dataset

RESULTS = [{"image_id": 1, "category_id": 1, "bbox": [1.5, 2, 30.25, 40], "score": 0.9},
           {"image_id": 2, "category_id": 2, "bbox": [0, 0.1, 5, 7e-1], "score": 0.3000000000000001}]


def _dataset() -> Dataset:
    return Dataset.from_arrays(image_ids=["1", "2"], widths=[100, 100], heights=[100, 100], image_index=[0, 1],
                               class_index=[0, 1], boxes=[[1, 1, 10, 10], [2, 2, 20, 20]], classes=("a", "b"))


def _columns_equal(a, b) -> None:
    for name in ("image_id", "category_id", "xywh", "score"):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("text", [
    json.dumps(RESULTS),  # the scanner's subset
    json.dumps(RESULTS).replace("0.9", "NaN"),  # outside it (json reads NaN): the json path, from the mapped file
    "\ufeff" + json.dumps(RESULTS),  # a BOM: the json path
    json.dumps([dict(r, note="caf\u00e9") for r in RESULTS], ensure_ascii=False),  # non-ASCII UTF-8, skipped
])
def test_mapped_file_reads_as_its_bytes(tmp_path, text):
    p = tmp_path / "r.json"
    p.write_bytes(text.encode("utf-8"))
    before = p.read_bytes()
    mapped = _read_bytes(p)
    assert isinstance(mapped, np.ndarray) and mapped.dtype == np.uint8 and not mapped.flags.writeable
    assert mapped.tobytes() == before
    _columns_equal(read_coco_results_columns(p, raw=mapped), read_coco_results_columns(p, raw=before))
    del mapped
    assert p.read_bytes() == before


def test_mapped_file_errors_name_the_file_and_record(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps(RESULTS[:1] + [{"image_id": 2, "category_id": 2, "bbox": [0, 0, 1], "score": 0.5}]))
    with pytest.raises(InputError, match=r"r\.json: result 1: "):
        read_detections(p, _dataset(), format="coco")


def test_empty_or_invalid_results_file_is_one_line(tmp_path):
    p = tmp_path / "empty.json"
    p.write_bytes(b"")
    assert _read_bytes(p) == b""  # an empty file cannot be mapped: read as bytes
    with pytest.raises(InputError, match=r"empty\.json"):
        read_detections(p, _dataset(), format="coco")
    q = tmp_path / "latin1.json"
    q.write_bytes(json.dumps(RESULTS).replace('"score"', '"sc\xf6re"').encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.json: not UTF-8"):
        read_detections(q, _dataset(), format="coco")


def test_read_detections_from_a_mapped_file_keeps_every_number(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps(RESULTS))
    dets = read_detections(p, _dataset(), format="coco")
    assert dets.scores.tolist() == [0.9, 0.3000000000000001]
