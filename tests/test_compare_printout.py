"""What ``vocbench compare`` prints: p-values at the bootstrap's floor as a bound, Kendall's tau summarised when
every leaderboard agrees, and a lost-class warning once for all the metrics it concerns."""

from __future__ import annotations

import warnings

import numpy as np

from vocbench import Dataset, Detections
from vocbench.compare import compare
from vocbench.compare.comparison import _p_text, _tau_text
from vocbench.compare.stats import bootstrap_p_value
from vocbench.errors import VocbenchWarning


def test_p_at_the_floor_of_2000_replicates_reads_as_a_bound():
    floor = float(bootstrap_p_value(np.full((2000, 1), 0.5))[0])  # every replicate on one side
    assert floor == 2.0 / 2001
    assert _p_text(floor, 2000) == "p < 0.001"
    assert _p_text(0.0123, 2000) == "p = 0.0123"
    assert _p_text(float("nan"), 2000) == "p = nan"


def test_p_at_the_floor_of_few_replicates_names_the_floor():
    floor = float(bootstrap_p_value(np.full((500, 1), -0.2))[0])
    assert _p_text(floor, 500) == "p < 0.01"  # 2/501 = 0.004
    floor = float(bootstrap_p_value(np.full((100, 1), -0.2))[0])
    assert _p_text(floor, 100) == "p < 0.05"  # 2/101 = 0.0198


def test_tau_all_agreeing_is_one_summary():
    taus = {"voc07/devkit vs voc07/voc_eval": 1.0, "voc07/devkit vs coco": 1.0, "voc07/voc_eval vs coco": 1.0}
    text = _tau_text(taus)
    assert "tau(" not in text
    assert "all 3 leaderboards" in text and "+1.00" in text


def test_tau_lists_only_the_disagreements():
    taus = {"a vs b": 1.0, "a vs c": -1.0, "b vs c": -1.0, "a vs d": float("nan")}
    text = _tau_text(taus)
    assert "tau(a vs c) = -1.00" in text and "tau(b vs c) = -1.00" in text
    assert "tau(a vs b)" not in text and "the other 1 pairs agree" in text


def _one_rare_class_case():
    """Class 1 has one positive on one of 40 images: most replicates lose it under every metric."""
    rng = np.random.default_rng(0)
    ni = 40
    image_index = list(range(ni)) + [7]
    class_index = [0] * ni + [1]
    boxes = [[10, 10, 60, 60]] * ni + [[100, 100, 160, 170]]
    ds = Dataset.from_arrays(image_ids=[f"{i:04d}" for i in range(ni)], widths=np.full(ni, 300),
                             heights=np.full(ni, 300), image_index=image_index, class_index=class_index,
                             boxes=boxes, difficult=[False] * len(boxes), classes=("common", "rare"))
    def model(shift):
        b = np.asarray(boxes, float) + rng.normal(0, shift, (len(boxes), 4))
        return Detections(image_index=image_index, class_index=class_index, scores=rng.random(len(boxes)), boxes=b)
    return ds, model(2.0), model(6.0)


def test_lost_class_warning_once_for_every_metric():
    ds, a, b = _one_rare_class_case()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VocbenchWarning)
        cmp = compare(ds, {"a": a, "b": b}, metrics=("voc07", "voc12", "coco"), bootstrap=200, seed=1)
    lost = [str(w.message) for w in caught if "drew no positive" in str(w.message)]
    assert len(lost) == 1, lost
    assert lost[0].startswith("voc07, voc12, coco: ")
    assert "rare x" in lost[0]
    assert sum("drew no positive" in m for m in cmp.warnings) == 1


def test_report_table_prints_the_bound_too():
    from vocbench.compare.comparison import format_p_value

    assert format_p_value(2.0 / 2001, 2000) == "< 0.001"
    assert format_p_value(0.5, 2000) == "0.5000"
