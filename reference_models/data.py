"""Data for the reference detectors: JPEG decoding into a cached ``uint8`` memmap, training/validation samples,
padded batches.

Box conventions: a :class:`vocbench.Dataset` holds VOC 1-based inclusive pixels; the networks see normalised
continuous ``(x0, y0, x1, y1)`` in ``[0, 1]``: ``x0 = (xmin − 1) / W``, ``x1 = xmax / W``. :func:`to_voc_pixels`
is the inverse used when writing detections.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from reference_models.augment import AugmentConfig, augment, resize_only
from vocbench.errors import InputError
from vocbench.structures import Dataset

__all__ = ["image_path", "read_image", "ImageCache", "normalised_truth", "to_voc_pixels", "DetectionData",
           "collate", "to_input", "pad_truth"]

cv2.setNumThreads(1)


def image_path(dataset: Dataset, i: int) -> Path:
    """``ROOT/VOC<year>/JPEGImages/<id>.jpg`` of image ``i`` (``ROOT/<year>/...`` for custom folders)."""
    root = Path(dataset.root)
    year = str(dataset.image_years[i])
    folder = root / f"VOC{year}"
    if not folder.is_dir() and (root / year).is_dir():
        folder = root / year
    return folder / "JPEGImages" / f"{dataset.image_ids[i]}.jpg"


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode a JPEG/PNG to ``uint8[H, W, 3]`` RGB. Raises :class:`InputError` naming the file when unreadable."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path}: cannot read image (missing or not a JPEG/PNG); "
                         "the reference models need VOC<year>/JPEGImages/<id>.jpg")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class ImageCache:
    """Every image of a dataset decoded once into a ``uint8`` memmap under ``cache_dir``, keyed by root, image ids
    and size.

    ``size`` an int: squash-resized to ``size × size`` (``images`` is ``uint8[I, size, size, 3]``, what inference
    sees). ``size=None``: **native size** — the images are stored as decoded, back to back in one flat memmap,
    and ``images[i]`` is a ``uint8[H_i, W_i, 3]`` view; training crops from these and resizes once, so a random
    crop is never an enlargement of an already downscaled image.
    """

    def __init__(self, dataset: Dataset, size: int | None, cache_dir: str | os.PathLike = "runs/cache",
                 progress: bool = False):
        self.size = None if size is None else int(size)
        tag = "native" if self.size is None else str(self.size)
        key = hashlib.sha1(json.dumps([str(Path(dataset.root).resolve()), dataset.image_keys().tolist(), tag])
                           .encode()).hexdigest()[:16]
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"images_{key}_{tag}.u8"
        done = self.path.with_suffix(".done")
        it = range(dataset.num_images)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc=f"decoding {dataset.num_images} images", unit="img")
        if self.size is not None:
            shape = (dataset.num_images, self.size, self.size, 3)
            if not done.exists() or self.path.stat().st_size != int(np.prod(shape)):
                mm = np.memmap(self.path, np.uint8, "w+", shape=shape)
                for i in it:
                    mm[i] = resize_only(read_image(image_path(dataset, i)), self.size)
                mm.flush()
                del mm
                done.write_text("ok\n")
            self.images = np.memmap(self.path, np.uint8, "r", shape=shape)
            return
        shapes = np.stack([dataset.heights, dataset.widths], 1).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1] * 3)])
        if not done.exists() or done.read_text() != f"ok {int(offsets[-1])}\n" \
                or self.path.stat().st_size != int(offsets[-1]):
            mm = np.memmap(self.path, np.uint8, "w+", shape=(max(1, int(offsets[-1])),))
            for i in it:
                img = read_image(image_path(dataset, i))
                if img.shape[:2] != tuple(shapes[i]):
                    raise InputError(f"{image_path(dataset, i)}: image is {img.shape[1]}x{img.shape[0]} but its "
                                     f"annotation says {shapes[i][1]}x{shapes[i][0]}")
                mm[offsets[i]:offsets[i + 1]] = img.reshape(-1)
            mm.flush()
            del mm
            done.write_text(f"ok {int(offsets[-1])}\n")
        self.images = _RaggedImages(np.memmap(self.path, np.uint8, "r", shape=(max(1, int(offsets[-1])),)),
                                    offsets, shapes)

    def __len__(self) -> int:
        return len(self.images)


class _RaggedImages:
    """``images[i]`` → ``uint8[H_i, W_i, 3]`` view into one flat buffer."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray, shapes: np.ndarray):
        self.flat, self.offsets, self.shapes = flat, offsets, shapes

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, i: int) -> np.ndarray:
        h, w = (int(v) for v in self.shapes[i])
        return self.flat[self.offsets[i]:self.offsets[i + 1]].reshape(h, w, 3)


def normalised_truth(dataset: Dataset, include_difficult: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-image boxes ``float32[K, 4]`` (normalised continuous xyxy) and labels ``int64[K]``.

    Difficult objects are left out unless ``include_difficult`` (darknet's ``voc_label.py`` leaves them out).
    """
    keep = np.ones(dataset.num_objects, bool) if include_difficult else ~dataset.difficult
    ii = dataset.image_index[keep]
    b = dataset.boxes[keep]
    w = dataset.widths[ii].astype(np.float64)
    h = dataset.heights[ii].astype(np.float64)
    nb = np.stack(((b[:, 0] - 1) / w, (b[:, 1] - 1) / h, b[:, 2] / w, b[:, 3] / h), 1).clip(0, 1).astype(np.float32)
    counts = np.bincount(ii, minlength=dataset.num_images)
    split = np.cumsum(counts)[:-1]
    return np.split(nb, split), np.split(dataset.class_index[keep].astype(np.int64), split)


def to_voc_pixels(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Normalised continuous xyxy → VOC 1-based inclusive pixels, clipped to ``[1, W] × [1, H]``."""
    boxes = np.asarray(boxes, np.float64)
    out = np.empty_like(boxes)
    out[:, 0] = boxes[:, 0] * width + 1
    out[:, 1] = boxes[:, 1] * height + 1
    out[:, 2] = boxes[:, 2] * width
    out[:, 3] = boxes[:, 3] * height
    out[:, [0, 2]] = out[:, [0, 2]].clip(1, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(1, height)
    return out


class DetectionData(torch.utils.data.Dataset):
    """Samples from an :class:`ImageCache`: ``(uint8[3, S, S] image, float32[K, 4] boxes, int64[K] labels)``.

    With ``train=True`` every access draws a fresh augmentation from a generator seeded by
    ``(seed, epoch, index)`` — reproducible, and independent of worker count and DDP rank.
    """

    def __init__(self, cache: ImageCache, boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray], size: int,
                 train: bool, seed: int = 0, augment_config: AugmentConfig = AugmentConfig()):
        self.cache, self.boxes, self.labels = cache, list(boxes), list(labels)
        self.size, self.train, self.seed, self.cfg = int(size), bool(train), int(seed), augment_config
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, i: int):
        img = np.asarray(self.cache.images[i])
        boxes, labels = self.boxes[i], self.labels[i]
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, int(i)))
            order = rng.permutation(len(boxes))  # object order decides who keeps a colliding YOLO detector
            img, boxes, labels = augment(img, boxes[order], labels[order], self.size, rng, self.cfg)
        else:
            img = resize_only(img, self.size)
        return (torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), torch.from_numpy(boxes),
                torch.from_numpy(labels))


def pad_truth(boxes: Sequence[torch.Tensor], labels: Sequence[torch.Tensor]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lists of per-image boxes/labels → padded ``boxes[N, G, 4]``, ``labels[N, G]``, ``mask[N, G]``."""
    n = len(boxes)
    g = max([len(b) for b in boxes] + [0])
    pb = torch.zeros(n, g, 4)
    pl = torch.zeros(n, g, dtype=torch.long)
    pm = torch.zeros(n, g, dtype=torch.bool)
    for i, (b, lab) in enumerate(zip(boxes, labels)):  # per image, not per box
        k = len(b)
        pb[i, :k] = torch.as_tensor(b, dtype=torch.float32)
        pl[i, :k] = torch.as_tensor(lab, dtype=torch.long)
        pm[i, :k] = True
    return pb, pl, pm


def collate(batch):
    """Stack images (``uint8[N, 3, S, S]``) and pad the truth."""
    imgs = torch.stack([b[0] for b in batch])
    boxes, labels, mask = pad_truth([b[1] for b in batch], [b[2] for b in batch])
    return imgs, boxes, labels, mask


def to_input(images: torch.Tensor) -> torch.Tensor:
    """``uint8[N, 3, S, S]`` RGB → ``float32`` in ``[0, 1]`` (the network input)."""
    return images.float().div_(255.0)
