"""k-means on box shapes with the distance d = 1 − IoU (YOLOv2's dimension clusters).

The data points are box (width, height) pairs; two pairs are compared with both boxes aligned at a common centre,
so only shape and size matter, not position. Centroids are the mean (option: median) of their members.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numba
import numpy as np

from vocbench.anchors import _kernels
from vocbench.boxes import check_wh
from vocbench.boxes._kernels import wh_iou_matrix_kernel
from vocbench.errors import InputError
from vocbench.limits import check_count, check_ks

__all__ = ["IoUKMeans", "wh_iou", "mean_iou", "iou_kmeans_curve", "sse_kmeans_curve", "as_wh"]


def as_wh(wh, name: str = "wh") -> np.ndarray:
    """Validate box shapes: ``float64[N, 2]`` C-contiguous, finite and > 0 — :func:`vocbench.boxes.check_wh`."""
    return check_wh(wh, name)


def wh_iou(wh_a, wh_b) -> np.ndarray:
    """IoU of (w, h) pairs aligned at a common centre — :func:`vocbench.boxes.wh_iou` (the one kernel).

    Args:
        wh_a: float[N, 2] widths and heights (any unit, same as ``wh_b``).
        wh_b: float[K, 2].

    Returns:
        float64[N, K]: ``min(w_a, w_b) min(h_a, h_b) / (w_a h_a + w_b h_b − min(w_a, w_b) min(h_a, h_b))``.
    """
    return wh_iou_matrix_kernel(check_wh(wh_a, "wh_a"), check_wh(wh_b, "wh_b"))


def mean_iou(wh, priors) -> float:
    """Mean over boxes of the IoU with the closest prior (aligned shapes): YOLOv2's "Avg IOU".

    Args:
        wh: float[N, 2] box shapes; priors: float[K, 2] prior shapes in the same unit.
    """
    wh = as_wh(wh)
    priors = as_wh(priors, "priors")
    if len(wh) == 0 or len(priors) == 0:
        return float("nan")
    return float(_kernels.best_wh_iou(wh, priors).mean())


class IoUKMeans:
    """k-means clustering of box shapes with the distance d = 1 − IoU, scikit-learn style.

    Args:
        n_clusters: number of centroids (anchors) k, 1..1000.
        n_init: number of restarts, 1..1000; the run with the highest mean IoU wins. Ignored (1) when ``init`` is
            an array.
        max_iter: maximum number of centroid updates per run, 0..100000.
        init: ``"random"`` (k distinct boxes drawn uniformly; the default, as YOLOv2's clustering),
            ``"k-means++"`` (D² sampling with D = 1 − IoU) or an array ``float[k, 2]`` of starting centroids.
        centroid: ``"mean"`` (default; reproduces the YOLOv2/essay VOC anchors) or ``"median"`` of the members.
        random_state: seed (int) or ``numpy.random.Generator``; a fixed seed gives identical centroids.

    Fitted attributes:
        cluster_centers_: float64[k, 2] (w, h), sorted by area (w·h), in the unit of the data.
        labels_: int64[N] index of the closest centroid (by IoU, ties to the lower index) for every box.
        iou_: float64[N] IoU of every box with its centroid.
        mean_iou_: mean of ``iou_`` — the objective (higher is better).
        n_iter_: number of centroid updates of the winning run.
        converged_: whether the winning run reached a fixed point (no label changed) within ``max_iter``.
        inertia_: sum of (1 − IoU) over the boxes (what k-means minimises, sklearn's name).

    The counts are checked by :meth:`fit` against :data:`vocbench.limits.ANCHOR_LIMITS` (the bounds of the CLI's
    options too): outside them, or not integers, they raise :class:`~vocbench.errors.InputError` (a ValueError).

    Each run iterates to a fixed point (no label changes) and reports that final state — not an intermediate
    step, even though Lloyd updates with the mean are not guaranteed to raise the mean IoU at every step. Empty
    clusters are re-seeded at the box with the lowest IoU to its centroid.
    """

    def __init__(self, n_clusters: int = 5, *, n_init: int = 10, max_iter: int = 300,
                 init: Literal["random", "k-means++"] | np.ndarray = "random",
                 centroid: Literal["mean", "median"] = "mean", random_state=None) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.init = init
        self.centroid = centroid
        self.random_state = random_state

    def __repr__(self) -> str:
        init = "array" if isinstance(self.init, np.ndarray) else repr(self.init)
        return (f"IoUKMeans(n_clusters={self.n_clusters}, n_init={self.n_init}, max_iter={self.max_iter}, "
                f"init={init}, centroid={self.centroid!r}, random_state={self.random_state!r})")

    # ------------------------------------------------------------------ fitting
    def _check(self, wh: np.ndarray) -> None:
        for name in ("n_clusters", "n_init", "max_iter"):  # integers within ANCHOR_LIMITS, never truncated
            check_count(name, getattr(self, name))
        if self.centroid not in ("mean", "median"):
            raise InputError(f"centroid must be 'mean' or 'median', got {self.centroid!r}")
        if len(wh) < self.n_clusters:
            raise InputError(f"need at least n_clusters={self.n_clusters} boxes, got {len(wh)}")

    def _starts(self, wh: np.ndarray, rng: np.random.Generator, exp2: int = 0) -> list[np.ndarray]:
        k = int(self.n_clusters)
        if isinstance(self.init, (np.ndarray, list, tuple)):
            init = as_wh(self.init, "init")
            if init.shape != (k, 2):
                raise InputError(f"init: expected shape ({k}, 2), got {init.shape}")
            return [np.ldexp(init, exp2)]
        if self.init == "random":
            return [wh[rng.choice(len(wh), k, replace=False)].copy() for _ in range(int(self.n_init))]
        if self.init == "k-means++":
            return [_kmeanspp(wh, k, rng) for _ in range(int(self.n_init))]
        raise InputError(f"init must be 'random', 'k-means++' or an array, got {self.init!r}")

    def fit(self, wh, y=None) -> IoUKMeans:
        """Cluster the box shapes ``wh`` (float[N, 2], positive). Returns ``self``."""
        wh = as_wh(wh)
        self._check(wh)
        rng = self.random_state if isinstance(self.random_state, np.random.Generator) \
            else np.random.default_rng(self.random_state)
        e = _exact_exponent(wh)  # IoU is scale-free: subnormal or huge shapes are fitted at a power-of-2 scale
        wh_s = np.ldexp(wh, e) if e else wh
        centers, labels, iou, mean, n_iter, converged = _best_of(wh_s, self._starts(wh_s, rng, e),
                                                                 int(self.max_iter), self.centroid == "median")
        self._set_fitted(centers, labels, iou, mean, n_iter, converged, exp2=e)
        n_shapes = len(np.unique(wh, axis=0))
        if n_shapes < int(self.n_clusters):
            import warnings

            from vocbench.errors import VocbenchWarning

            warnings.warn(f"n_clusters={self.n_clusters} is above the {n_shapes} distinct box shape(s): some "
                          "centres are duplicates", VocbenchWarning, stacklevel=2)
        return self

    def _set_fitted(self, centers, labels, iou, mean, n_iter, converged, exp2: int = 0) -> None:
        order = np.argsort(centers[:, 0] * centers[:, 1], kind="stable")  # by area, at the scale they were fitted
        centers = np.ldexp(centers, -exp2) if exp2 else centers
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        self.cluster_centers_ = centers[order]
        self.labels_ = rank[labels]
        self.iou_ = iou
        self.mean_iou_ = float(mean)
        self.inertia_ = float(np.sum(1.0 - iou))
        self.n_iter_ = int(n_iter)
        self.converged_ = bool(converged)

    def fit_predict(self, wh, y=None) -> np.ndarray:
        return self.fit(wh).labels_

    def predict(self, wh) -> np.ndarray:
        """Index of the closest fitted centroid (by IoU) for every box shape."""
        wh = as_wh(wh)
        labels = np.empty(len(wh), np.int64)
        e = _exact_exponent(np.concatenate([wh, self.cluster_centers_]))
        _kernels.assign_clusters(np.ldexp(wh, e), np.ldexp(self.cluster_centers_, e), labels, np.empty(len(wh)))
        return labels

    def score(self, wh, y=None) -> float:
        """Mean IoU of ``wh`` with the closest fitted centroid (higher is better)."""
        return mean_iou(wh, self.cluster_centers_)


def _exact_exponent(wh: np.ndarray) -> int:
    """``e`` such that ``ldexp(wh, e)`` (exact: a power-of-two scale) brings shapes outside [1e-100, 1e100] near 1;
    0 when they are inside already.

    Raises InputError when the shapes span a range no scale can hold (areas would underflow or overflow).
    """
    if len(wh) == 0:
        return 0
    lo, hi = float(wh.min()), float(wh.max())
    if lo >= 1e-100 and hi <= 1e100:
        return 0
    e = -round((float(np.log2(lo)) + float(np.log2(hi))) / 2)
    if not (np.ldexp(lo, e) >= 1e-100 and np.ldexp(hi, e) <= 1e100):
        raise InputError(f"box shapes span {lo:g} .. {hi:g}: too wide a range for IoU arithmetic in float64")
    return int(e)


def _locality_order(wh: np.ndarray) -> np.ndarray:
    """A permutation putting similar shapes next to each other (snake order over a 64×64 log-size grid).

    Pure speed: neighbouring boxes take the same branches in the kernel. Results do not depend on it (the
    kernel gets the original order as ``visit`` for everything order-dependent).
    """
    if len(wh) == 0:
        return np.zeros(0, np.int64)
    lw, lh = np.log(wh[:, 0]), np.log(wh[:, 1])
    qx = np.clip(((lw - lw.min()) / max(np.ptp(lw), 1e-12) * 63).astype(np.int64), 0, 63)
    qy = np.clip(((lh - lh.min()) / max(np.ptp(lh), 1e-12) * 63).astype(np.int64), 0, 63)
    key = qx * 64 + np.where(qx % 2 == 0, qy, 63 - qy)
    return np.argsort(key, kind="stable")


class _Prepared:
    """Box shapes sorted for locality, with the maps back to the caller's order."""

    def __init__(self, wh: np.ndarray) -> None:
        self.order = _locality_order(wh)
        self.sorted = np.ascontiguousarray(wh[self.order])
        self.visit = np.empty_like(self.order)  # visit[t] = position of original box t in the sorted array
        self.visit[self.order] = np.arange(len(self.order))

    def run_many(self, inits: list[np.ndarray], max_iter: int, use_median: bool,
                 n_threads: int | None = None) -> list:
        """:meth:`run` for every start, on ``n_threads`` threads (default: Numba's thread count; the kernel
        releases the GIL). Each result is bit-identical to :meth:`run`'s, whatever the thread count."""
        n_threads = int(numba.get_num_threads()) if n_threads is None else int(n_threads)
        if n_threads <= 1 or len(inits) <= 1:
            return [self.run(x, max_iter, use_median) for x in inits]
        with ThreadPoolExecutor(min(n_threads, len(inits))) as pool:
            return list(pool.map(lambda x: self.run(x, max_iter, use_median), inits))

    def run(self, init: np.ndarray, max_iter: int, use_median: bool):
        c, labels, iou, mean, n_iter, conv = _kernels.lloyd_iou_kmeans_visit(
            self.sorted, self.visit, np.ascontiguousarray(init, np.float64), max_iter, use_median)
        iou = iou[self.visit]
        return c, labels[self.visit], iou, float(iou.mean()) if len(iou) else float("nan"), n_iter, conv


def _pick_best(runs: list):
    """The run with the highest mean IoU, the first one on ties (as :func:`_best_of` visits its starts)."""
    best = None
    for res in runs:
        if best is None or res[3] > best[3]:
            best = res
    return best


def _best_of(wh, starts: list[np.ndarray], max_iter: int, use_median: bool):
    prep = wh if isinstance(wh, _Prepared) else _Prepared(wh)
    best = None
    for init in starts:
        res = prep.run(init, max_iter, use_median)
        if best is None or res[3] > best[3]:
            best = res
    return best


def _kmeanspp(wh: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding with D = 1 − IoU (D² weighting)."""
    centers = [wh[rng.integers(len(wh))]]
    d = 1.0 - _kernels.wh_iou_matrix(wh, np.asarray(centers))[:, 0]
    for _ in range(1, k):
        p = d * d
        s = p.sum()
        idx = int(rng.choice(len(wh), p=p / s)) if s > 0 else int(rng.integers(len(wh)))
        centers.append(wh[idx])
        d = np.minimum(d, 1.0 - _kernels.wh_iou_matrix(wh, wh[idx:idx + 1])[:, 0])
    return np.asarray(centers, np.float64)


def iou_kmeans_curve(wh, ks: Iterable[int], *, n_init: int = 5, max_iter: int = 300,
                     centroid: Literal["mean", "median"] = "mean", random_state: int = 0) -> list[IoUKMeans]:
    """Fit IoU k-means for every k in ``ks`` (the "Avg IOU vs number of anchors" curve).

    Per k, ``n_init`` runs compete by mean IoU: ``n_init - 1`` random starts (seeded by ``(random_state, k)``,
    so a k's random starts do not depend on the other ks) plus one warm start — the winning centroids of the
    previous (smaller) k plus, for each missing centroid, the box worst covered so far. The first k has only
    random starts.

    Monotonicity, honestly: the warm start's *initial* centroids already reach at least the previous k's mean
    IoU (adding a centroid cannot lower any box's best IoU). If no run's fixed point reaches the previous k's
    value — it has not happened on VOC — those initial centroids are what is reported for k (then
    ``converged_`` is False and ``n_iter_`` is 0). Either way the reported centroids achieve the reported mean
    IoU, and the curve is non-decreasing in k.

    Returns:
        One fitted :class:`IoUKMeans` per k, in increasing k.
    """
    wh = as_wh(wh)
    ks = check_ks(ks)
    n_init, max_iter = check_count("n_init", n_init), check_count("max_iter", max_iter)
    out: list[IoUKMeans] = []
    prev: IoUKMeans | None = None
    use_median = centroid == "median"
    prep = _Prepared(wh)
    ests, random_starts = [], []
    for i, k in enumerate(ks):
        est = IoUKMeans(k, n_init=n_init, max_iter=max_iter, centroid=centroid, random_state=random_state)
        est._check(wh)
        ests.append(est)
        rng = np.random.default_rng([int(random_state), k])
        n_random = n_init - 1 if i > 0 else n_init
        random_starts.append([wh[rng.choice(len(wh), k, replace=False)].copy() for _ in range(max(n_random, 0))])
    # the random starts do not depend on other ks: worker threads run them (the kernel releases the GIL) in
    # increasing k while this thread follows the chain of warm starts, each of which needs the previous k's
    # winner. Every run is the serial kernel on its own arrays: the results do not depend on the threads.
    n_threads = int(numba.get_num_threads())
    pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
    try:
        pending = [[pool.submit(prep.run, s, max_iter, use_median) for s in starts] for starts in random_starts] \
            if pool is not None else None
        for i, (k, est) in enumerate(zip(ks, ests)):
            runs = []
            warm = None
            if prev is not None:
                warm = _grow(wh, prev.cluster_centers_, k)
                runs.append(prep.run(warm, max_iter, use_median))
            if pending is not None:
                runs += [f.result() for f in pending[i]]
            else:
                runs += [prep.run(s, max_iter, use_median) for s in random_starts[i]]
            result = _pick_best(runs)
            if prev is not None and result[3] < prev.mean_iou_:
                labels = np.empty(len(wh), np.int64)
                iou = np.empty(len(wh), np.float64)
                total = _kernels.assign_clusters(wh, warm, labels, iou)
                result = (warm, labels, iou, total / len(wh), 0, False)
            est._set_fitted(*result)
            out.append(est)
            prev = est
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return out


def _grow(wh: np.ndarray, centers: np.ndarray, k: int) -> np.ndarray:
    """``centers`` plus, one at a time, the box with the lowest IoU to its closest centre (k rows)."""
    centers = centers.copy()
    best = _kernels.best_wh_iou(wh, centers)
    while len(centers) < k:
        i = int(np.argmin(best))
        centers = np.vstack([centers, wh[i:i + 1]])
        best = np.maximum(best, _kernels.wh_iou_matrix(wh, wh[i:i + 1])[:, 0])
    return np.ascontiguousarray(centers)


def sse_kmeans_curve(wh, ks: Iterable[int], *, n_init: int = 5,
                     random_state: int = 0) -> list[tuple[int, np.ndarray, float]]:
    """The Euclidean baseline: scikit-learn ``KMeans`` (sum of squared errors) on the same (w, h).

    Returns ``[(k, centers float64[k, 2] sorted by area, mean IoU of the boxes with their closest centre)]``.
    The mean IoU uses the closest centre *by IoU*, as for the IoU clusters (YOLOv2's Table 1 comparison).
    """
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    wh = as_wh(wh)
    n_init = check_count("n_init", n_init)
    out = []
    for k in check_ks(ks):
        with warnings.catch_warnings():  # k above the number of distinct shapes: fine for a baseline
            warnings.simplefilter("ignore", ConvergenceWarning)
            km = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(wh)
        centers = km.cluster_centers_
        centers = np.ascontiguousarray(centers[np.argsort(centers[:, 0] * centers[:, 1], kind="stable")])
        out.append((k, centers, mean_iou(wh, centers)))
    return out
