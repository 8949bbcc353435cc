"""Why a detector loses AP: TIDE's error decomposition under VOC or COCO rules, Hoiem's sensitivity to object
characteristics, and a confusion matrix (:func:`diagnose`)."""

from vocbench.diagnose.results import (
                                       ERROR_DESCRIPTIONS,
                                       ERROR_TYPES,
                                       SPECIAL_TYPES,
                                       ConfusionMatrix,
                                       Diagnosis,
                                       Sensitivity,
)
from vocbench.diagnose.sensitivity import HOIEM_N_FRACTION
from vocbench.diagnose.tide import DIAGNOSE_PROTOCOLS, TIDE_MAX_DETS, diagnose, diagnose_evaluation

__all__ = ["diagnose", "diagnose_evaluation", "Diagnosis", "Sensitivity", "ConfusionMatrix", "ERROR_TYPES",
           "SPECIAL_TYPES", "ERROR_DESCRIPTIONS", "DIAGNOSE_PROTOCOLS", "TIDE_MAX_DETS", "HOIEM_N_FRACTION"]
