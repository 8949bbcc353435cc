"""Box geometry: pairwise IoU and areas, VOC '+1' and continuous pixel conventions."""

from vocbench.boxes.iou import PIXEL_CONVENTIONS, as_boxes, box_area, box_iou, inverted_boxes

__all__ = ["PIXEL_CONVENTIONS", "box_iou", "box_area", "inverted_boxes", "as_boxes"]
