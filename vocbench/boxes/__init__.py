"""Box geometry in one place: the pixel conventions, the box validator, format conversion, areas, IoU variants
and COCO's size classes. Every other module (evaluator, NMS, anchors, statistics, report, COCO export) measures
boxes through here; the ``@njit`` kernels other kernels call are listed in :mod:`vocbench.boxes._kernels`."""

from vocbench.boxes.conventions import (
                                        COCO_AREA_LABELS,
                                        COCO_AREA_RANGES,
                                        DEFAULT_PIXEL_CONVENTION,
                                        PIXEL_CONVENTIONS,
                                        check_boxes,
                                        check_wh,
                                        coco_area_masks,
                                        pixel_offset,
)
from vocbench.boxes.convert import BOX_FORMATS, box_convert
from vocbench.boxes.iou import as_boxes, box_area, box_iou, box_wh, generalized_box_iou, inverted_boxes, wh_iou

__all__ = ["PIXEL_CONVENTIONS", "DEFAULT_PIXEL_CONVENTION", "pixel_offset", "check_boxes", "check_wh",
           "COCO_AREA_RANGES", "COCO_AREA_LABELS", "coco_area_masks", "BOX_FORMATS", "box_convert", "box_iou",
           "generalized_box_iou", "box_area", "box_wh", "wh_iou", "inverted_boxes", "as_boxes"]
