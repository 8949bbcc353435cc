"""The scoring engine: VOC matching (devkit / voc_eval protocols), VOC07 and VOC12 AP, and the COCO protocol.

Entry points: :func:`evaluate` → :class:`EvalResult`; :class:`VocEvaluator` accumulates batches in a training loop.
Importing this package loads no Numba: the VOC metrics run on numpy unless Numba is already in use
(:mod:`vocbench.eval.engine`); :func:`evaluate_coco` (the COCO kernels) is imported on first use.
"""

from typing import TYPE_CHECKING

from vocbench.eval.accumulate import VocEvaluator, detections_from_list
from vocbench.eval.ap import average_precision_voc07, average_precision_voc12
from vocbench.eval.evaluator import evaluate
from vocbench.eval.matching import PROTOCOLS, MatchResult, Protocol, match_detections
from vocbench.eval.results import COCO_STAT_NAMES, CocoScores, EvalResult, VocScores

if TYPE_CHECKING:
    from vocbench.eval.coco import evaluate_coco

__all__ = ["evaluate", "VocEvaluator", "detections_from_list", "EvalResult", "VocScores", "CocoScores",
           "COCO_STAT_NAMES", "match_detections", "MatchResult", "Protocol", "PROTOCOLS", "average_precision_voc07",
           "average_precision_voc12", "evaluate_coco"]


def __getattr__(name: str):
    if name == "evaluate_coco":  # Numba kernels: loaded when the COCO metrics are first asked for
        from vocbench.eval.coco import evaluate_coco

        globals()[name] = evaluate_coco
        return evaluate_coco
    import importlib
    import importlib.util

    if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule (`vocbench.eval.coco`), as when eager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
