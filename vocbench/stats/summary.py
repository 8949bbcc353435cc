"""The numbers of the classic VOC split table (images, objects, difficult) and per-class counts.

"objects" follows the convention of published VOC tables: **non-difficult** objects. ``objects_all`` counts
difficult ones too. An image counts for a class when it holds at least one non-difficult object of it (the
devkit's per-class image lists mark images with only difficult objects as 0, not 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vocbench.structures import Dataset

__all__ = ["DatasetStats", "compute_stats"]


@dataclass(frozen=True)
class DatasetStats:
    """Counts for one dataset (a union of sets); ``by_set`` holds the same for each set alone.

    Attributes:
        sets: the set specs covered.
        images: number of images.
        objects: non-difficult objects.
        objects_all: all objects, difficult included.
        difficult, truncated: object counts with that flag.
        empty_images: images without any object.
        max_objects_per_image: the largest number of non-difficult objects in one image.
        images_by_object_count: {n: images holding exactly n non-difficult objects}, n = 0..max.
        per_class: {class: {"images", "objects", "objects_all", "difficult", "truncated"}}.
        by_set: {set spec: DatasetStats} when computed with ``by_set=True``.
    """

    sets: tuple[str, ...]
    images: int
    objects: int
    objects_all: int
    difficult: int
    truncated: int
    empty_images: int
    max_objects_per_image: int
    images_by_object_count: dict[int, int]
    per_class: dict[str, dict[str, int]]
    by_set: dict[str, DatasetStats] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict (``images_by_object_count`` keys become strings in JSON)."""
        out = {
            "sets": list(self.sets), "images": self.images, "objects": self.objects,
            "objects_all": self.objects_all, "difficult": self.difficult, "truncated": self.truncated,
            "empty_images": self.empty_images, "max_objects_per_image": self.max_objects_per_image,
            "images_by_object_count": {int(k): int(v) for k, v in self.images_by_object_count.items()},
            "per_class": {c: dict(v) for c, v in self.per_class.items()},
        }
        if self.by_set:
            out["by_set"] = {k: v.to_dict() for k, v in self.by_set.items()}
        return out

    def to_pandas(self, table: str = "per_class") -> pd.DataFrame:
        """``"per_class"`` (one row per class plus a ``total`` row; the default) or ``"sets"`` (one row per set
        plus the union)."""
        if table == "sets":
            return self._sets_frame()
        if table != "per_class":
            raise ValueError(f"table must be 'per_class' or 'sets', got {table!r}")
        df = pd.DataFrame.from_dict(self.per_class, orient="index")
        df.index.name = "class"
        total = pd.DataFrame([{"images": self.images, "objects": self.objects, "objects_all": self.objects_all,
                               "difficult": self.difficult, "truncated": self.truncated}], index=["total"])
        return pd.concat([df, total])

    def _sets_frame(self) -> pd.DataFrame:
        rows = []
        for name, st in list(self.by_set.items()) + [(" + ".join(self.sets), self)]:
            rows.append({"set": name, "images": st.images, "objects": st.objects, "objects_all": st.objects_all,
                         "difficult": st.difficult, "truncated": st.truncated,
                         "max_objects_per_image": st.max_objects_per_image})
        return pd.DataFrame(rows).drop_duplicates(subset=["set"])

    def __str__(self) -> str:
        head = self.to_pandas("sets").to_string(index=False)
        return f"{head}\n\n{self.to_pandas().to_string()}"


def compute_stats(dataset: Dataset, by_set: bool = False) -> DatasetStats:
    """Count images and objects of ``dataset`` (see the module docstring for the conventions)."""
    n_img, n_cls = dataset.num_images, dataset.num_classes
    nd = ~dataset.difficult
    per_image = np.bincount(dataset.image_index[nd], minlength=n_img)
    per_image_all = np.bincount(dataset.image_index, minlength=n_img)
    max_obj = int(per_image.max()) if n_img else 0
    hist = np.bincount(per_image, minlength=max_obj + 1) if n_img else np.zeros(1, np.int64)

    cls = dataset.class_index
    objects = np.bincount(cls[nd], minlength=n_cls)
    objects_all = np.bincount(cls, minlength=n_cls)
    difficult = np.bincount(cls[dataset.difficult], minlength=n_cls)
    truncated = np.bincount(cls[dataset.truncated], minlength=n_cls)
    # images per class: unique (image, class) pairs among non-difficult objects
    pairs = np.unique(dataset.image_index[nd] * n_cls + cls[nd]) if nd.any() else np.zeros(0, np.int64)
    images_per_class = np.bincount(pairs % n_cls, minlength=n_cls) if n_cls else np.zeros(0, np.int64)
    per_class = {
        c: {"images": int(images_per_class[i]), "objects": int(objects[i]), "objects_all": int(objects_all[i]),
            "difficult": int(difficult[i]), "truncated": int(truncated[i])}
        for i, c in enumerate(dataset.classes)
    }
    sets_detail = {}
    if by_set and len(dataset.sets) > 1:
        sets_detail = {s: compute_stats(dataset.split(s)) for s in dataset.sets}
    return DatasetStats(
        sets=dataset.sets, images=n_img, objects=int(nd.sum()), objects_all=dataset.num_objects,
        difficult=int(dataset.difficult.sum()), truncated=int(dataset.truncated.sum()),
        empty_images=int((per_image_all == 0).sum()), max_objects_per_image=max_obj,
        images_by_object_count={i: int(v) for i, v in enumerate(hist)}, per_class=per_class, by_set=sets_detail,
    )
