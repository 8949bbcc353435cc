"""``compare``: image-bootstrap confidence intervals, paired tests and ranking stability for several detectors.

Method (all numbers reproducible from ``seed``):

* **Image bootstrap.** A replicate draws the I images of the set with replacement (``numpy.random.default_rng(seed)
  .integers(0, I, I)``, in chunks of :data:`CHUNK` replicates) and is scored as the resampled set would be by
  :func:`vocbench.evaluate`: image ``i`` drawn ``w_i`` times counts as ``w_i`` distinct images. Matching never
  crosses images, so each model is matched once and a replicate re-weights the matched detections (weighted
  TP/FP cumulative sums, weighted positives; COCO's 100-detection cut is per image and so per copy). Exact, not
  an approximation: replicate ``r`` equals ``evaluate`` on the set that lists image ``i`` ``w_i`` times (copies
  next to each other) and repeats every detection line once per copy right after itself (tests check this to
  1e-12 under VOC07, VOC12 and COCO; detection order only matters on tied scores). Duplicates count: hotcoco's
  ``compare`` instead de-duplicates each draw (a ~63% subsample without replacement), which gives intervals about
  0.76 times as wide (on YOLOv2 vs YOLOv3, COCO AP: hotcoco [-0.0984, -0.0873]; these kernels with de-duplicated
  draws [-0.0988, -0.0871]; with duplicates, as here, [-0.1004, -0.0849]).
* **Intervals.** Percentile intervals (``numpy.nanquantile``, linear interpolation) of the replicates at
  ``confidence``; a replicate where a class has no positive leaves that class out of its mAP, as ``evaluate``
  does, and out of that class's interval (counted in :attr:`Comparison.warnings`).
* **Paired comparison.** All models share each replicate's resample; a pair ``(a, b)`` gets ``diff = b - a``, the
  percentile interval of the replicate differences and the two-sided bootstrap p-value
  (:func:`vocbench.compare.stats.bootstrap_p_value`); per class the same, with Holm's step-down correction over
  the classes of the pair and metric; "significant" means p < 1 - confidence. ``detectable_diff`` is half the
  width of the difference's interval: the smallest difference this test set resolves at that confidence.
* **Ranking stability.** Leaderboards by the point estimates under every metric and, for VOC metrics, both
  protocols (devkit and voc_eval), Kendall's tau-b between them; per bootstrapped metric, how often the top model
  of a replicate differs from the point estimate's, each model's share of replicates on top and the mean tau-b
  between a replicate's scores and the point scores.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vocbench.compare._kernels import coco_bootstrap_kernel, voc_bootstrap_kernel, weights_from_draws_kernel
from vocbench.compare.prepare import CocoInputs, VocInputs, prepare_coco, prepare_voc
from vocbench.compare.stats import bootstrap_p_value, holm, kendall_tau, percentile_interval, top_shares
from vocbench.errors import InputError, VocbenchWarning
from vocbench.eval.coco import COCO_REC_THRESHOLDS
from vocbench.eval.evaluator import as_detections, evaluate
from vocbench.eval.matching import check_iou_threshold, get_protocol, validate_detections
from vocbench.eval.results import METRICS, VOC_METRICS, EvalResult
from vocbench.structures import Dataset, Detections

__all__ = ["compare", "Comparison", "ModelScore", "PairDiff", "RankStability", "bootstrap_weights",
           "bootstrap_memory_bytes", "check_bootstrap", "format_p_value", "MIN_BOOTSTRAP", "MAX_BOOTSTRAP_BYTES",
           "CHUNK"]

#: Fewest replicates accepted (percentile intervals at 95% need a few hundred).
MIN_BOOTSTRAP = 100
#: Largest memory the bootstrap may need (replicate tables + one chunk of weights), bytes.
MAX_BOOTSTRAP_BYTES = 4 * 1024 ** 3
#: Replicates drawn and scored per kernel call.
CHUNK = 256

_LABELS = {"voc07": "VOC07 mAP", "voc12": "VOC12 mAP", "coco": "COCO AP@[.5:.95]"}


# ------------------------------------------------------------------------------------------------ resampling
def _weight_chunks(num_images: int, bootstrap: int, seed: int):
    rng = np.random.default_rng(seed)
    for start in range(0, bootstrap, CHUNK):
        b = min(CHUNK, bootstrap - start)
        draws = rng.integers(0, num_images, size=(b, num_images), dtype=np.int64)
        yield start, weights_from_draws_kernel(draws, num_images)


def bootstrap_weights(num_images: int, bootstrap: int, seed: int = 0) -> np.ndarray:
    """int32[R, I] image multiplicities of the R replicates :func:`compare` uses for this seed (row r: how often
    each image was drawn; every row sums to I)."""
    out = np.empty((bootstrap, num_images), np.int32)
    for start, w in _weight_chunks(num_images, bootstrap, seed):
        out[start:start + len(w)] = w
    return out


def bootstrap_memory_bytes(bootstrap: int, num_images: int, num_models: int, num_metrics: int,
                           num_classes: int) -> int:
    """Bytes the bootstrap needs: the replicate tables (float64 per replicate, model, metric and class + mAP) and
    one chunk of draws (int64) and weights (int32)."""
    tables = bootstrap * num_models * num_metrics * (num_classes + 1) * 8
    return int(tables + min(bootstrap, CHUNK) * num_images * 12)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


# ------------------------------------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class ModelScore:
    """One model under one metric: the point estimate with its percentile interval, overall and per class.

    Attributes:
        name, metric: model name, ``"voc07"``/``"voc12"``/``"coco"``.
        mAP: the headline score (COCO: AP@[.5:.95]) of the full set: VOC exactly :func:`vocbench.evaluate`'s;
            COCO exactly :func:`vocbench.eval.coco.evaluate_coco`'s ``stats["AP"]`` (pycocotools' ``stats[0]``).
        ci: (lo, hi) percentile interval.
        per_class: float64[C] AP per class (NaN without positives). per_class_ci: float64[2, C].
    """

    name: str
    metric: str
    mAP: float
    ci: tuple[float, float]
    per_class: np.ndarray
    per_class_ci: np.ndarray


@dataclass(frozen=True, eq=False)
class PairDiff:
    """Paired difference ``b - a`` under one metric.

    Attributes:
        a, b, metric: the pair and metric.
        diff: point difference of the mAP. ci: its percentile interval. p_value: two-sided bootstrap p-value.
        detectable: half the width of ``ci`` (the smallest difference the set resolves at the confidence).
        significant: p_value < 1 - confidence.
        per_class_diff, per_class_p, per_class_p_holm: float64[C]; per_class_ci: float64[2, C];
        per_class_significant: bool[C] (Holm-adjusted p < 1 - confidence).
    """

    a: str
    b: str
    metric: str
    diff: float
    ci: tuple[float, float]
    p_value: float
    detectable: float
    significant: bool
    per_class_diff: np.ndarray
    per_class_ci: np.ndarray
    per_class_p: np.ndarray
    per_class_p_holm: np.ndarray
    per_class_significant: np.ndarray


@dataclass(frozen=True, eq=False)
class RankStability:
    """Leaderboards across metrics and protocols, and how stable the top of the board is under resampling.

    Attributes:
        leaderboards: key (``"voc07/devkit"``, ``"voc07/voc_eval"``, ..., ``"coco"``) → model names, best first.
        scores: key → {model: point score}.
        kendall_tau: ``"key1 vs key2"`` → Kendall's tau-b between the two boards' scores.
        top_change: metric → share of replicates whose set of best models differs from the point estimate's.
        p_top: metric → {model: share of replicates where it is best}; a replicate whose top score is shared by
            k models credits 1/k to each (two identical models: 0.5 each), see :func:`top_shares`.
        replicate_tau: metric → mean tau-b between a replicate's scores and the point scores.
        p_tie: metric → share of replicates whose top score is shared by two or more models.
    """

    leaderboards: dict
    scores: dict
    kendall_tau: dict
    top_change: dict
    p_top: dict
    replicate_tau: dict
    p_tie: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"leaderboards": {k: list(v) for k, v in self.leaderboards.items()}, "scores": self.scores,
                "kendall_tau": self.kendall_tau, "top_change": self.top_change, "p_top": self.p_top,
                "p_tie": self.p_tie, "replicate_tau": self.replicate_tau}


@dataclass(frozen=True, eq=False)
class Comparison:
    """Everything :func:`compare` measured (frozen). JSON layout of :meth:`to_dict`::

        {"models": {name: {metric: {"mAP", "ci": [lo, hi], "per_class": {cls: {"AP", "ci"}}}}},
         "pairs": [{"a", "b", "metric", "diff", "ci", "p_value", "detectable_diff", "significant",
                    "per_class": {cls: {"diff", "ci", "p_value", "p_holm", "significant"}}}],
         "rank_stability": {"leaderboards", "scores", "kendall_tau", "top_change", "p_top", "p_tie", "replicate_tau"},
         "bootstrap": R, "seed": S, "confidence", "method", "protocol", "iou_threshold", "num_images",
         "num_detections", "warnings"}

    Attributes:
        names, classes, metrics: models (input order), class names, metrics compared.
        protocol, iou_threshold: VOC conventions (COCO ignores them).
        bootstrap, seed, confidence: the resampling settings.
        num_images: images of the set. num_detections: per model.
        point: float64[K, M] point mAP per metric and model. point_per_class: float64[K, M, C].
        replicates: float64[K, R, M] replicate mAP. replicates_per_class: float64[K, R, M, C].
        models, pairs, rank_stability: the summaries (:class:`ModelScore`, :class:`PairDiff`, :class:`RankStability`).
        results: model → :class:`~vocbench.eval.results.EvalResult` of the VOC metrics (PR curves for reports).
        warnings: what was flagged (classes without positives in some replicates, ...).
    """

    names: tuple[str, ...]
    classes: tuple[str, ...]
    metrics: tuple[str, ...]
    protocol: str
    iou_threshold: float
    bootstrap: int
    seed: int
    confidence: float
    num_images: int
    num_detections: dict
    point: np.ndarray
    point_per_class: np.ndarray
    replicates: np.ndarray
    replicates_per_class: np.ndarray
    models: tuple[ModelScore, ...]
    pairs: tuple[PairDiff, ...]
    rank_stability: RankStability
    results: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    method: str = ("image bootstrap (resample images with replacement; match once, re-weight); percentile "
                   "intervals; two-sided bootstrap p-values; Holm-corrected per-class tests")

    # -------------------------------------------------------------- access
    def score(self, name: str, metric: str) -> ModelScore:
        for m in self.models:
            if m.name == name and m.metric == metric:
                return m
        raise KeyError(f"no score for model {name!r} under {metric!r}")

    def pair(self, a: str, b: str, metric: str) -> PairDiff:
        """The :class:`PairDiff` of models ``a`` and ``b`` under ``metric``, given in either order; its ``diff`` is
        ``b - a`` of its own ``a`` and ``b`` (the input order of the models)."""
        for p in self.pairs:
            if p.metric == metric and {p.a, p.b} == {a, b}:
                return p
        raise KeyError(f"no pair {a!r}/{b!r} under {metric!r}")

    # -------------------------------------------------------------- export
    def to_dict(self) -> dict:
        """The JSON layout of the class docstring (NaN stays float NaN; the CLI writes it as null)."""
        cls = self.classes
        models: dict = {n: {} for n in self.names}
        for m in self.models:
            models[m.name][m.metric] = {
                "mAP": m.mAP, "ci": [float(m.ci[0]), float(m.ci[1])],
                "per_class": {c: {"AP": float(m.per_class[k]),
                                  "ci": [float(m.per_class_ci[0, k]), float(m.per_class_ci[1, k])]}
                              for k, c in enumerate(cls)}}
        pairs = []
        for p in self.pairs:
            pairs.append({
                "a": p.a, "b": p.b, "metric": p.metric, "diff": p.diff, "ci": [float(p.ci[0]), float(p.ci[1])],
                "p_value": p.p_value, "detectable_diff": p.detectable, "significant": p.significant,
                "per_class": {c: {"diff": float(p.per_class_diff[k]),
                                  "ci": [float(p.per_class_ci[0, k]), float(p.per_class_ci[1, k])],
                                  "p_value": float(p.per_class_p[k]), "p_holm": float(p.per_class_p_holm[k]),
                                  "significant": bool(p.per_class_significant[k])} for k, c in enumerate(cls)}})
        return {"models": models, "pairs": pairs, "rank_stability": self.rank_stability.to_dict(),
                "bootstrap": self.bootstrap, "seed": self.seed, "confidence": self.confidence,
                "method": self.method, "protocol": self.protocol, "iou_threshold": self.iou_threshold,
                "num_images": self.num_images, "num_detections": dict(self.num_detections),
                "warnings": list(self.warnings)}

    def to_pandas(self, table: str = "leaderboard", metric: str | None = None) -> pd.DataFrame:
        """``"leaderboard"`` (the default): one row per (metric, model) with the point mAP, its interval and the
        share of replicates where the model is best; ``"pairs"``: one row per (metric, pair), diff = b - a, its
        interval, p-value, detectable difference; ``"per_class"``: the per-class paired differences (one row per
        metric, pair and class; only ``metric`` when given)."""
        if table == "pairs":
            return self._pairs_frame()
        if table == "per_class":
            return self._per_class_frame(metric)
        if table != "leaderboard":
            raise ValueError(f"table must be 'leaderboard', 'pairs' or 'per_class', got {table!r}")
        rows = []
        for m in self.models:
            rows.append({"metric": m.metric, "model": m.name, "mAP": m.mAP, "ci_lo": m.ci[0], "ci_hi": m.ci[1],
                         "p_top": self.rank_stability.p_top.get(m.metric, {}).get(m.name, float("nan"))})
        return pd.DataFrame(rows).set_index(["metric", "model"])

    def _pairs_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"metric": p.metric, "a": p.a, "b": p.b, "diff": p.diff, "ci_lo": p.ci[0],
                              "ci_hi": p.ci[1], "p_value": p.p_value, "detectable_diff": p.detectable,
                              "significant": p.significant} for p in self.pairs])

    def _per_class_frame(self, metric: str | None = None) -> pd.DataFrame:
        rows = []
        for p in self.pairs:
            if metric is not None and p.metric != metric:
                continue
            for k, c in enumerate(self.classes):
                rows.append({"metric": p.metric, "a": p.a, "b": p.b, "class": c, "diff": p.per_class_diff[k],
                             "ci_lo": p.per_class_ci[0, k], "ci_hi": p.per_class_ci[1, k],
                             "p_value": p.per_class_p[k], "p_holm": p.per_class_p_holm[k],
                             "significant": bool(p.per_class_significant[k])})
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        lines = [f"compare: {len(self.names)} models on {self.num_images} images; {self.bootstrap} bootstrap "
                 f"replicates (seed {self.seed}), {pct} percentile intervals; protocol {self.protocol}, "
                 f"IoU {self.iou_threshold:g}"]
        width = max(len(n) for n in self.names)
        for metric in self.metrics:
            lines.append("")
            lines.append(f"{_LABELS[metric]}:")
            board = self.rank_stability.leaderboards.get(_board_key(metric, self.protocol), self.names)
            values = [self.score(n, metric).mAP for n in board]
            for n in board:
                s = self.score(n, metric)
                top = self.rank_stability.p_top.get(metric, {}).get(n, float("nan"))
                tied = "  (tied)" if values.count(s.mAP) > 1 else ""
                lines.append(f"  {n:<{width}}  {s.mAP:.6f}  [{s.ci[0]:.4f}, {s.ci[1]:.4f}]  best in {top:6.1%}"
                             f" of replicates{tied}")
            tie = self.rank_stability.p_tie.get(metric, 0.0)
            if tie > 0:
                lines.append(f"  the top score is tied in {tie:.1%} of replicates; a tie credits each tied model "
                             "equally")
            for p in self.pairs:
                if p.metric != metric:
                    continue
                sig = [c for c, s in zip(self.classes, p.per_class_significant) if s]
                lines.append(f"  {p.b} - {p.a}: {p.diff:+.4f}  [{p.ci[0]:+.4f}, {p.ci[1]:+.4f}]  "
                             f"{_p_text(p.p_value, self.bootstrap)}"
                             f"{'  significant' if p.significant else ''}; resolves ±{p.detectable:.4f}; "
                             f"classes significant after Holm: {', '.join(sig) if sig else 'none'}")
        rs = self.rank_stability
        if any(v == v for v in rs.kendall_tau.values()):
            lines += ["", _tau_text(rs.kendall_tau)]
        lines.append("top model changes in " + ", ".join(f"{v:.1%} of {m} replicates"
                                                          for m, v in rs.top_change.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Comparison(models={list(self.names)}, metrics={list(self.metrics)}, bootstrap={self.bootstrap}, "
                f"seed={self.seed})")


def format_p_value(p: float, bootstrap: int) -> str:
    """A bootstrap p-value as text: ``0.0123``, or at the smallest p-value ``bootstrap`` replicates can give
    (2 / (R + 1), :func:`~vocbench.compare.stats.bootstrap_p_value`) the bound it stands for: ``< 0.001`` at
    R = 2000 (not ``0.0010``), ``< 0.01`` at R = 500."""
    floor = 2.0 / (bootstrap + 1.0)
    if p == p and p <= floor * (1 + 1e-9):
        bound = next((b for b in (0.001, 0.01, 0.05) if floor < b), None)
        return f"< {bound:g}" if bound is not None else f"<= {floor:.2g} (the floor of {bootstrap} replicates)"
    return f"{p:.4f}"


def _p_text(p: float, bootstrap: int) -> str:
    """``p = 0.0123`` or ``p < 0.001`` (:func:`format_p_value`)."""
    text = format_p_value(p, bootstrap)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _tau_text(taus: dict[str, float]) -> str:
    """One line on ranking stability: the leaderboards that agree fully are counted, not listed pair by pair."""
    defined = {k: v for k, v in taus.items() if v == v}
    boards = sorted({b for k in defined for b in k.split(" vs ")})
    if all(v == 1.0 for v in defined.values()):
        return (f"ranking stability: the same order under all {len(boards)} leaderboards "
                f"({', '.join(boards)}; every Kendall tau = +1.00)")
    differ = "; ".join(f"tau({k}) = {v:+.2f}" for k, v in defined.items() if v != 1.0)
    agree = sum(v == 1.0 for v in defined.values())
    return f"ranking stability: {differ}" + (f"; the other {agree} pairs agree (tau = +1.00)" if agree else "")


def _tau_rows(rows: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between every row of ``rows`` (float64[R, M]) and ``ref`` (float64[M]), vectorised."""
    i, j = np.triu_indices(rows.shape[1], 1)
    with np.errstate(invalid="ignore"):
        sx = np.sign(rows[:, i] - rows[:, j])
        sy = np.sign(ref[i] - ref[j])[None, :]
        both = sx * sy
        conc = (both > 0).sum(axis=1)
        disc = (both < 0).sum(axis=1)
        tx = ((sx == 0) & (sy != 0)).sum(axis=1)
        ty = ((sy == 0) & (sx != 0)).sum(axis=1)
        denom = np.sqrt((conc + disc + tx) * (conc + disc + ty).astype(np.float64))
        return np.where(denom > 0, (conc - disc) / np.where(denom > 0, denom, 1.0), np.nan)


def _board_key(metric: str, protocol: str) -> str:
    return "coco" if metric == "coco" else f"{metric}/{protocol}"


# ------------------------------------------------------------------------------------------------ input
def _as_pairs(detections) -> list[tuple[str, object]]:
    if isinstance(detections, Mapping):
        items = list(detections.items())
    elif isinstance(detections, Sequence) and not isinstance(detections, (str, bytes)):
        items = []
        for item in detections:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise TypeError("detections must be a mapping {name: detections} or a sequence of (name, detections)")
            items.append(item)
    else:
        raise TypeError("detections must be a mapping {name: detections} or a sequence of (name, detections)")
    seen: set[str] = set()
    for name, _ in items:
        name = str(name)
        if not name:
            raise InputError("a detection set has an empty name")
        if name in seen:
            raise InputError(f"two detection sets are named {name!r}; give every model its own name")
        seen.add(name)
    if len(items) < 2:
        raise InputError(f"compare needs at least 2 detection sets, got {len(items)}")
    return [(str(n), d) for n, d in items]


def _load(dataset: Dataset, dets) -> Detections:
    if isinstance(dets, (str, os.PathLike)):
        from vocbench.io.detections import read_detections

        return read_detections(dets, dataset)
    return as_detections(dataset, dets)


def check_bootstrap(bootstrap, num_images: int, num_models: int, num_metrics: int, num_classes: int) -> int:
    """The number of replicates as an int; :class:`InputError` when below :data:`MIN_BOOTSTRAP` or when the
    bootstrap would need more than :data:`MAX_BOOTSTRAP_BYTES` (the message says how much)."""
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)):
        raise InputError(f"bootstrap must be an integer number of replicates, got {bootstrap!r}")
    bootstrap = int(bootstrap)
    if bootstrap < MIN_BOOTSTRAP:
        raise InputError(f"bootstrap {bootstrap} is too few replicates for percentile intervals; use at least "
                         f"{MIN_BOOTSTRAP} (2000 is the default)")
    need = bootstrap_memory_bytes(bootstrap, num_images, num_models, num_metrics, num_classes)
    if need > MAX_BOOTSTRAP_BYTES:
        per = bootstrap_memory_bytes(1, num_images, num_models, num_metrics, num_classes) - num_images * 12
        raise InputError(f"bootstrap {bootstrap} would need {_fmt_bytes(need)} of memory ({num_models} models x "
                         f"{num_metrics} metrics x {num_classes + 1} values x 8 bytes = {_fmt_bytes(per)} per "
                         f"replicate); the limit is {_fmt_bytes(MAX_BOOTSTRAP_BYTES)}, i.e. at most "
                         f"{int(MAX_BOOTSTRAP_BYTES // max(per, 1)):,} replicates")
    return bootstrap


# ------------------------------------------------------------------------------------------------ compare
def compare(dataset: Dataset, detections, metrics: Sequence[str] | str = ("voc07", "voc12", "coco"),
            protocol: str = "devkit", iou: float = 0.5, bootstrap: int = 2000, seed: int = 0,
            confidence: float = 0.95, progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Compare detectors on one test set with an image bootstrap (module docstring for the method).

    Args:
        dataset: the ground truth.
        detections: ``{name: detections}`` or a sequence of ``(name, detections)`` (at least 2, unique names);
            each value is :class:`~vocbench.structures.Detections`, a DataFrame, a mapping of arrays or a path
            :func:`vocbench.read_detections` reads.
        metrics: any of ``"voc07"``, ``"voc12"``, ``"coco"`` (default all three).
        protocol: VOC protocol, ``"devkit"`` (default) or ``"voc_eval"``; the other one is scored too for the
            ranking-stability leaderboards.
        iou: VOC IoU threshold in (0, 1]; default 0.5.
        bootstrap: replicates R, at least :data:`MIN_BOOTSTRAP`; default 2000.
        seed: seed of ``numpy.random.default_rng``; default 0. Same seed, same numbers.
        confidence: interval level in (0, 1); default 0.95.
        progress: optional ``progress(done, total)`` called after each chunk of replicates.

    Returns:
        A frozen :class:`Comparison`.

    Raises:
        InputError: duplicate names, fewer than 2 sets, detections outside the dataset, too few or too many
            replicates (the message says how much memory they would need).
    """
    mets, proto, iou, confidence, seed = _check_options(metrics, protocol, iou, confidence, seed)
    items = _as_pairs(detections)
    names = tuple(n for n, _ in items)
    ni = dataset.num_images
    bootstrap = check_bootstrap(bootstrap, ni, len(names), len(mets), dataset.num_classes)
    if ni == 0:
        raise InputError("the dataset has no images")
    dets = {}
    for name, d in items:
        dets[name] = _load(dataset, d)
        validate_detections(dataset, dets[name])
    messages = _coverage_messages(dets, ni)
    pts = _point_estimates(dataset, names, dets, mets, proto.name, iou)
    messages += [m for m in pts.messages if m not in messages]
    reps = _replicates(dataset, names, mets, pts, proto.voc07_thresholds, bootstrap, seed, progress)
    messages += _lost_class_messages(dataset, mets, reps, bootstrap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (a class without positives)
        reps_map = np.nanmean(reps.per_class, axis=3)  # float64[K, R, M]
    models = _model_scores(names, mets, pts, reps.per_class, reps_map, confidence)
    pairs = _pair_diffs(names, mets, pts, reps.per_class, reps_map, confidence)
    rank = _rank_stability(names, mets, pts, reps_map, proto.name)
    for msg in messages:
        warnings.warn(msg, VocbenchWarning, stacklevel=2)
    return Comparison(names=names, classes=tuple(dataset.classes), metrics=tuple(mets), protocol=proto.name,
                      iou_threshold=iou, bootstrap=bootstrap, seed=seed, confidence=confidence, num_images=ni,
                      num_detections={n: len(d) for n, d in dets.items()}, point=pts.point,
                      point_per_class=pts.point_per_class, replicates=reps_map, replicates_per_class=reps.per_class,
                      models=models, pairs=pairs, rank_stability=rank, results=pts.results,
                      warnings=tuple(messages))


def _check_options(metrics, protocol: str, iou: float, confidence: float, seed: int):
    """``(metrics without repeats, Protocol, iou, confidence, seed)`` checked; ValueError names the bad one."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    mets: list[str] = []
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; expected some of {list(METRICS)}")
        if m not in mets:
            mets.append(m)
    if not mets:
        raise ValueError("no metric to compare")
    proto = get_protocol(protocol)
    iou = check_iou_threshold(iou)
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return mets, proto, iou, confidence, int(seed)


def _coverage_messages(dets: dict[str, Detections], num_images: int) -> list[str]:
    """A warning for each set with detections on fewer than half the images another set covers."""
    covered = {n: int(np.unique(d.image_index).size) for n, d in dets.items()}
    most = max(covered.values())
    return [f"{n}: detections on only {k} of {num_images} images (another set covers {most}); was it made "
            "for a different image list?" for n, k in covered.items() if most and k < 0.5 * most]


@dataclass(frozen=True, eq=False)
class _Points:
    """The one matching pass of every model and its point estimates.

    point: float64[K, M] mAP by metric and model; point_per_class: float64[K, M, C]; results: the VOC
    :class:`EvalResult` of each model; voc_in / coco_in: the matched detections the replicates re-weight;
    board_scores: leaderboard key (``"voc07/devkit"``, ``"coco"``) -> model -> mAP; messages: the warnings the
    evaluations raised.
    """

    point: np.ndarray
    point_per_class: np.ndarray
    results: dict[str, EvalResult]
    voc_in: dict[str, VocInputs]
    coco_in: dict[str, CocoInputs]
    board_scores: dict[str, dict[str, float]]
    messages: list[str]


def _other_protocol(protocol: str) -> str:
    return "voc_eval" if protocol == "devkit" else "devkit"


def _point_estimates(dataset: Dataset, names: tuple[str, ...], dets: dict[str, Detections], mets: list[str],
                     protocol: str, iou: float) -> _Points:
    nk, nm, nc = len(mets), len(names), dataset.num_classes
    voc_mets = tuple(m for m in mets if m in VOC_METRICS)
    other = _other_protocol(protocol)
    pts = _Points(np.full((nk, nm), np.nan), np.full((nk, nm, nc), np.nan), {}, {}, {}, {}, [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VocbenchWarning)
        for j, name in enumerate(names):
            if voc_mets:
                res = evaluate(dataset, dets[name], metrics=voc_mets, protocol=protocol, iou=iou)
                pts.results[name] = res
                pts.voc_in[name] = prepare_voc(dataset, dets[name], res.voc[0].outcome)
                alt = evaluate(dataset, dets[name], metrics=voc_mets, protocol=other, iou=iou)
                for m in voc_mets:
                    pts.board_scores.setdefault(f"{m}/{protocol}", {})[name] = res.voc[0].mAP[m]
                    pts.board_scores.setdefault(f"{m}/{other}", {})[name] = alt.voc[0].mAP[m]
            if "coco" in mets:
                pts.coco_in[name] = prepare_coco(dataset, dets[name])
                pts.board_scores.setdefault("coco", {})[name] = pts.coco_in[name].ap
            for k, m in enumerate(mets):
                if m == "coco":
                    pts.point[k, j] = pts.coco_in[name].ap
                    pts.point_per_class[k, j] = pts.coco_in[name].per_class
                else:
                    pts.point[k, j] = pts.results[name].voc[0].mAP[m]
                    pts.point_per_class[k, j] = pts.results[name].voc[0].ap[m]
    for w in caught:
        if str(w.message) not in pts.messages:
            pts.messages.append(str(w.message))
    return pts


@dataclass(frozen=True, eq=False)
class _Replicates:
    """per_class: float64[K, R, M, C] AP by metric, replicate, model and class; lost: metric -> int64[C]
    replicates where the class drew no positive; lost_replicates: metric -> replicates that lost any class."""

    per_class: np.ndarray
    lost: dict[str, np.ndarray]
    lost_replicates: dict[str, int]


def _replicates(dataset: Dataset, names: tuple[str, ...], mets: list[str], pts: _Points, voc07_thresholds,
                bootstrap: int, seed: int, progress: Callable[[int, int], None] | None) -> _Replicates:
    """Every replicate's per-class AP: the matched detections of each model re-weighted by the image draws."""
    nc = dataset.num_classes
    out = _Replicates(np.empty((len(mets), bootstrap, len(names), nc)), {m: np.zeros(nc, np.int64) for m in mets},
                      {m: 0 for m in mets})
    has_pos = {m: ~np.isnan(pts.point_per_class[k, 0]) for k, m in enumerate(mets)}
    thresholds07 = np.asarray(voc07_thresholds, np.float64)
    for start, w in _weight_chunks(dataset.num_images, bootstrap, seed):
        sl = slice(start, start + len(w))
        for j, name in enumerate(names):
            if name in pts.voc_in:
                v = pts.voc_in[name]
                ap07, ap12, npos = voc_bootstrap_kernel(w, v.class_runs, v.run_offsets, v.run_is_tp, v.det_image,
                                                        v.pos_offsets, v.pos_image, v.pos_count, thresholds07)
                for k, m in enumerate(mets):
                    if m in VOC_METRICS:
                        out.per_class[k, sl, j] = ap07 if m == "voc07" else ap12
                if j == 0:
                    for m in mets:
                        if m in VOC_METRICS:
                            _count_lost(out, m, (npos == 0) & has_pos[m])
            if name in pts.coco_in:
                c = pts.coco_in[name]
                ap, npig = coco_bootstrap_kernel(w, c.class_offsets, c.det_image, c.kind, c.tp_mask,
                                                 c.counted_mask, c.det_block, c.fp_run_end, c.num_thresholds,
                                                 c.pos_offsets, c.pos_image, c.pos_count, COCO_REC_THRESHOLDS)
                out.per_class[mets.index("coco"), sl, j] = ap
                if j == 0:
                    _count_lost(out, "coco", (npig == 0) & has_pos["coco"])
        if progress is not None:
            progress(min(start + len(w), bootstrap), bootstrap)
    return out


def _count_lost(out: _Replicates, metric: str, lost: np.ndarray) -> None:
    """Add one chunk's bool[R', C] "class with positives drew none" to the counts of ``metric``."""
    out.lost[metric] += lost.sum(axis=0)
    out.lost_replicates[metric] += int(lost.any(axis=1).sum())


def _lost_class_messages(dataset: Dataset, mets: list[str], reps: _Replicates, bootstrap: int) -> list[str]:
    """One warning for the metrics whose replicates lost the same classes."""
    lost_by: dict[tuple[int, str], list[str]] = {}
    for m in mets:
        if reps.lost_replicates[m]:
            which = ", ".join(f"{dataset.classes[c]} x{int(reps.lost[m][c])}" for c in np.flatnonzero(reps.lost[m]))
            lost_by.setdefault((reps.lost_replicates[m], which), []).append(m)
    return [f"{', '.join(ms)}: {count} of {bootstrap} replicates drew no positive of some class ({which}); that "
            "class is left out of those replicates' mAP and of its interval" for (count, which), ms in lost_by.items()]


def _model_scores(names: tuple[str, ...], mets: list[str], pts: _Points, reps_pc: np.ndarray, reps: np.ndarray,
                  confidence: float) -> tuple[ModelScore, ...]:
    models = []
    for k, m in enumerate(mets):
        ci = percentile_interval(reps[k], confidence)  # [2, M]
        ci_pc = percentile_interval(reps_pc[k], confidence)  # [2, M, C]
        for j, name in enumerate(names):
            models.append(ModelScore(name=name, metric=m, mAP=float(pts.point[k, j]),
                                     ci=(float(ci[0, j]), float(ci[1, j])), per_class=pts.point_per_class[k, j].copy(),
                                     per_class_ci=ci_pc[:, j].copy()))
    return tuple(models)


def _pair_diffs(names: tuple[str, ...], mets: list[str], pts: _Points, reps_pc: np.ndarray, reps: np.ndarray,
                confidence: float) -> tuple[PairDiff, ...]:
    alpha = 1.0 - confidence
    point, point_pc = pts.point, pts.point_per_class
    pairs = []
    for k, m in enumerate(mets):
        for ia in range(len(names)):
            for ib in range(ia + 1, len(names)):
                d = reps[k, :, ib] - reps[k, :, ia]
                dci = percentile_interval(d[:, None], confidence)[:, 0]
                p = float(bootstrap_p_value(d[:, None])[0])
                dpc = reps_pc[k, :, ib] - reps_pc[k, :, ia]
                pc_p = bootstrap_p_value(dpc)
                pc_p = np.where(np.isnan(point_pc[k, ib] - point_pc[k, ia]), np.nan, pc_p)
                pc_h = holm(pc_p)
                pairs.append(PairDiff(
                    a=names[ia], b=names[ib], metric=m, diff=float(point[k, ib] - point[k, ia]),
                    ci=(float(dci[0]), float(dci[1])), p_value=p, detectable=float((dci[1] - dci[0]) / 2),
                    significant=bool(p < alpha), per_class_diff=point_pc[k, ib] - point_pc[k, ia],
                    per_class_ci=percentile_interval(dpc, confidence), per_class_p=pc_p, per_class_p_holm=pc_h,
                    per_class_significant=np.nan_to_num(pc_h, nan=1.0) < alpha))
    return tuple(pairs)


def _rank_stability(names: tuple[str, ...], mets: list[str], pts: _Points, reps: np.ndarray,
                    protocol: str) -> RankStability:
    voc_mets = [m for m in mets if m in VOC_METRICS]
    scores = pts.board_scores
    order_keys = ([f"{m}/{p}" for m in voc_mets for p in (protocol, _other_protocol(protocol))]
                  + (["coco"] if "coco" in mets else []))
    boards = {}
    for key in order_keys:
        sc = scores[key]
        boards[key] = tuple(sorted(names, key=lambda n: (-sc[n] if sc[n] == sc[n] else math.inf, names.index(n))))
    taus = {}
    for i1 in range(len(order_keys)):
        for i2 in range(i1 + 1, len(order_keys)):
            k1, k2 = order_keys[i1], order_keys[i2]
            taus[f"{k1} vs {k2}"] = kendall_tau([scores[k1][n] for n in names], [scores[k2][n] for n in names])
    top_change, p_top, p_tie, rep_tau = {}, {}, {}, {}
    for k, m in enumerate(mets):
        top_change[m], shares, p_tie[m] = top_shares(reps[k], pts.point[k])
        p_top[m] = {n: float(shares[j]) for j, n in enumerate(names)}
        t = _tau_rows(reps[k], pts.point[k])
        rep_tau[m] = float(np.nanmean(t)) if np.any(~np.isnan(t)) else float("nan")
    return RankStability(leaderboards=boards, scores=scores, kendall_tau=taus, top_change=top_change,
                         p_top=p_top, replicate_tau=rep_tau, p_tie=p_tie)
