"""The scoring engine: VOC matching (devkit / voc_eval protocols), VOC07 and VOC12 AP, and the COCO protocol.

Entry points: :func:`evaluate` → :class:`EvalResult`; :class:`VocEvaluator` accumulates batches in a training loop.
Importing this package loads no Numba: the VOC metrics run on numpy unless Numba is already in use
(:mod:`vocbench.eval.engine`); :func:`evaluate_coco` (the COCO kernels) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vocbench._lazy import lazy_attributes

if TYPE_CHECKING:
    from vocbench.eval.accumulate import VocEvaluator, detections_from_list
    from vocbench.eval.ap import average_precision_voc07, average_precision_voc12
    from vocbench.eval.coco import evaluate_coco
    from vocbench.eval.evaluator import evaluate
    from vocbench.eval.matching import PROTOCOLS, MatchResult, Protocol, match_detections
    from vocbench.eval.results import COCO_STAT_NAMES, CocoScores, EvalResult, VocScores

__all__ = ["evaluate", "VocEvaluator", "detections_from_list", "EvalResult", "VocScores", "CocoScores",
           "COCO_STAT_NAMES", "match_detections", "MatchResult", "Protocol", "PROTOCOLS", "average_precision_voc07",
           "average_precision_voc12", "evaluate_coco"]

# Start-up: each name loads its module on first use (PEP 562), so `vocbench eval --metric coco` never imports the
# VOC accumulator or AP code, and nothing here imports the COCO kernels before the COCO metrics are asked for.
_PUBLIC = {"evaluate": "evaluator", "VocEvaluator": "accumulate", "detections_from_list": "accumulate",
           "EvalResult": "results", "VocScores": "results", "CocoScores": "results", "COCO_STAT_NAMES": "results",
           "match_detections": "matching", "MatchResult": "matching", "Protocol": "matching", "PROTOCOLS": "matching",
           "average_precision_voc07": "ap", "average_precision_voc12": "ap", "evaluate_coco": "coco"}


__getattr__, __dir__ = lazy_attributes(__name__, {name: f"{__name__}.{module}" for name, module in _PUBLIC.items()})
