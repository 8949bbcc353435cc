"""Bootstrap statistics: percentile intervals, two-sided bootstrap p-values, Holm's step-down, Kendall's tau-b,
shares of replicates where each model is best (ties shared)."""

from __future__ import annotations

import numpy as np

__all__ = ["percentile_interval", "bootstrap_p_value", "holm", "kendall_tau", "top_shares"]


def percentile_interval(samples: np.ndarray, confidence: float) -> np.ndarray:
    """Percentile bootstrap interval along axis 0: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    quantiles of the replicates (``numpy.nanquantile``, linear interpolation = Hyndman-Fan type 7), ignoring NaN
    replicates. Returns float64[2, ...] (NaN where every replicate is NaN)."""
    s = np.asarray(samples, np.float64)
    a = (1.0 - confidence) / 2.0
    out = np.full((2,) + s.shape[1:], np.nan)
    ok = ~np.all(np.isnan(s), axis=0)
    if np.any(ok):
        q = np.nanquantile(s[:, ok], [a, 1.0 - a], axis=0)
        out[:, ok] = q
    return out


def bootstrap_p_value(diffs: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value of "no difference" along axis 0.

    ``p = min(1, 2 (min(#{d* <= 0}, #{d* >= 0}) + 1) / (R + 1))`` over the R non-NaN replicates ``d*`` of a paired
    difference: twice the smaller one-sided tail, with the usual +1 correction (Davison & Hinkley 1997, §4.4), so
    that p never reads 0. It is the smallest level at which the percentile interval excludes 0. Identical models
    (every ``d* = 0``) give exactly 1. NaN where no replicate is defined.
    """
    d = np.asarray(diffs, np.float64)
    valid = ~np.isnan(d)
    r = valid.sum(axis=0)
    le = np.sum(np.where(valid, d <= 0, False), axis=0)
    ge = np.sum(np.where(valid, d >= 0, False), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.minimum(1.0, 2.0 * (np.minimum(le, ge) + 1.0) / (r + 1.0))
    return np.where(r > 0, p, np.nan)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN entries stay NaN, not counted."""
    p = np.asarray(p_values, np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def kendall_tau(x, y) -> float:
    """Kendall's tau-b between two score vectors (ties handled as in ``scipy.stats.kendalltau``); NaN when one
    vector is constant."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = np.sign(x[i] - x[j])
            dy = np.sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denom = np.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return float((concordant - discordant) / denom) if denom > 0 else float("nan")


def _top_sets(scores: np.ndarray) -> np.ndarray:
    """bool[R, M]: the models that share the highest score of each row of ``scores`` (float64[R, M]); a row whose
    scores are all NaN has no top model (all False). Ties are exact float equality: identical detections give
    bit-identical replicate scores."""
    s = np.atleast_2d(np.asarray(scores, np.float64))
    defined = ~np.isnan(s)
    top = np.where(defined, s, -np.inf).max(axis=1, initial=-np.inf)
    return (s == top[:, None]) & defined


def top_shares(replicates: np.ndarray, point: np.ndarray) -> tuple[float, np.ndarray, float]:
    """How often each model is best over the bootstrap replicates, ties shared.

    Args:
        replicates: float64[R, M] replicate scores (NaN = undefined). point: float64[M] point estimates.

    Returns:
        ``(top_change, shares, tie_share)``: the share of replicates whose set of best models differs from the
        point estimate's; float64[M] the share of replicates where each model is best, a replicate whose top is
        tied among k models crediting 1/k to each (so two identical models get 0.5 each, and the shares sum to
        the share of replicates with a defined top); the share of replicates whose top is tied.
    """
    r = np.asarray(replicates, np.float64)
    tops = _top_sets(r)
    k = tops.sum(axis=1)
    shares = (tops / np.maximum(k, 1)[:, None]).mean(axis=0) if len(r) else np.zeros(r.shape[1])
    point_top = _top_sets(np.asarray(point, np.float64)[None, :])[0]
    change = float(np.mean(np.any(tops != point_top[None, :], axis=1))) if len(r) else float("nan")
    tie = float(np.mean(k > 1)) if len(r) else float("nan")
    return change, shares, tie
