"""Parallel k-means restarts (worker threads running the serial kernel) give exactly the serial results."""

from __future__ import annotations

import numpy as np
import pytest

from vocbench.anchors import kmeans as K


def _serial_curve(wh, ks, n_init, random_state=0, max_iter=300):
    """The curve as it was computed before the restarts ran in parallel: every start through the serial kernel."""
    out, prev = [], None
    prep = K._Prepared(wh)
    for k in ks:
        rng = np.random.default_rng([random_state, k])
        n_random = n_init - 1 if prev is not None else n_init
        starts = [wh[rng.choice(len(wh), k, replace=False)].copy() for _ in range(n_random)]
        if prev is not None:
            starts.insert(0, K._grow(wh, prev.cluster_centers_, k))
        est = K.IoUKMeans(k, n_init=n_init, random_state=random_state)
        est._set_fitted(*K._best_of(prep, starts, max_iter, False))
        out.append(est)
        prev = est
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_run_many_equals_run_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    wh = np.exp(rng.normal(-1.5, 0.6, (3000, 2)))
    prep = K._Prepared(wh)
    inits = [wh[rng.choice(len(wh), k, replace=False)] for k in (1, 3, 5, 5, 8, 2, 7)]
    many = prep.run_many(inits, 300, False, n_threads=3)
    assert len(many) == len(inits)
    for init, got in zip(inits, many):
        want = prep.run(init, 300, False)
        for a, b in zip(got, want):
            assert np.array_equal(np.asarray(a), np.asarray(b))


def test_parallel_curve_equals_serial_curve():
    rng = np.random.default_rng(7)
    wh = np.exp(rng.normal(-1.5, 0.6, (4000, 2)))
    got = K.iou_kmeans_curve(wh, range(1, 8), n_init=4)
    want = _serial_curve(wh, range(1, 8), n_init=4)
    for a, b in zip(got, want):
        assert np.array_equal(a.cluster_centers_, b.cluster_centers_) and np.array_equal(a.labels_, b.labels_)
        assert np.array_equal(a.iou_, b.iou_) and a.mean_iou_ == b.mean_iou_
        assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_


@pytest.mark.parametrize("threads", [1, 3])
def test_curve_identical_for_any_thread_count(threads, monkeypatch):
    """The curve through the worker-thread path (3 workers, more than the cores) and the serial path (1)."""
    rng = np.random.default_rng(11)
    wh = np.exp(rng.normal(-1.5, 0.6, (2500, 2)))
    monkeypatch.setattr(K.numba, "get_num_threads", lambda: threads)
    got = K.iou_kmeans_curve(wh, range(1, 7), n_init=3)
    want = _serial_curve(wh, range(1, 7), n_init=3)
    for a, b in zip(got, want):
        assert np.array_equal(a.cluster_centers_, b.cluster_centers_) and np.array_equal(a.labels_, b.labels_)
        assert a.mean_iou_ == b.mean_iou_ and a.n_iter_ == b.n_iter_
