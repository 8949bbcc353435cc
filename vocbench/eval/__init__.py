"""The scoring engine: VOC matching (devkit / voc_eval protocols), VOC07 and VOC12 AP, and the COCO protocol.

Entry points: :func:`evaluate` → :class:`EvalResult`; :class:`VocEvaluator` accumulates batches in a training loop.
"""

from vocbench.eval.accumulate import VocEvaluator, detections_from_list
from vocbench.eval.ap import average_precision_voc07, average_precision_voc12
from vocbench.eval.coco import evaluate_coco
from vocbench.eval.evaluator import evaluate
from vocbench.eval.matching import PROTOCOLS, MatchResult, Protocol, match_detections
from vocbench.eval.results import COCO_STAT_NAMES, CocoScores, EvalResult, VocScores

__all__ = ["evaluate", "VocEvaluator", "detections_from_list", "EvalResult", "VocScores", "CocoScores",
           "COCO_STAT_NAMES", "match_detections", "MatchResult", "Protocol", "PROTOCOLS", "average_precision_voc07",
           "average_precision_voc12", "evaluate_coco"]
