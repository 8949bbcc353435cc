"""Which implementation runs the VOC pass: the plain-numpy engine or the Numba kernels (same numbers, bit for bit).

Both engines implement grouping, devkit / voc_eval matching, precision/recall curves, VOC07 / VOC12 AP and the
best-F1 threshold with the same float operations in the same order (:mod:`vocbench.eval._vectorised` and
:mod:`vocbench.eval._kernels`; tests hold them equal to each other and to the plain-Python twin). They differ in
cost only:

* Numba: the VOC pass on the YOLOv2 VOC07-test set (101,139 detections, one IoU threshold) takes ~8 ms, but
  importing Numba and loading its cached kernels costs ~0.5 s per process — more than a whole ``vocbench eval``
  should take.
* numpy: ~39 ms on the same set (4.9x; radix sorts, then every detection against the GT of its class and image
  at once), nothing to load; its temporaries grow with the number of (detection, GT) pairs (1M detections:
  544 MiB peak RSS vs 321 MiB with the kernels).

Rule of ``engine="auto"`` (:func:`resolve_engine`): **Numba when it is already imported in this process** (its
start-up is paid; e.g. after NMS, diagnose, the COCO metrics) **or when this call and the detections already
scored with numpy in this process reach** :data:`NUMBA_MIN_DETECTIONS` (numpy's extra ~0.4 µs per detection
then adds up to Numba's start-up — the ski-rental rule: never more than about twice the better choice made in
hindsight — and a large set's pair arrays stay out of memory); **numpy otherwise**. So a one-shot
``vocbench eval`` never loads Numba, while a process that scores large sets, scores many times or already uses
Numba ends up on the kernels. Results are the same either way; ``engine="numpy"`` / ``"numba"`` force one.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

__all__ = ["ENGINES", "NUMBA_MIN_DETECTIONS", "resolve_engine", "voc_engine"]

ENGINES = ("auto", "numpy", "numba")
#: From this many detections (this call plus those already scored with numpy in this process) ``engine="auto"``
#: takes the Numba kernels even when Numba is not imported yet.
NUMBA_MIN_DETECTIONS = 1_000_000
_numpy_detections = 0  # detections scored by engine="auto" with numpy in this process

_NAMES = ("group_by_key", "argsort_desc_stable", "stable_partition", "match_voc", "pr_curve", "ap_voc07",
          "ap_voc12", "best_f1")


def resolve_engine(engine: str, num_detections: int) -> str:
    """``"numpy"`` or ``"numba"`` for ``engine`` (``"auto"``: the rule of the module docstring; an ``"auto"`` call
    that answers ``"numpy"`` adds ``num_detections`` to this process's count)."""
    global _numpy_detections
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    if "numba" in sys.modules or _numpy_detections + num_detections >= NUMBA_MIN_DETECTIONS:
        return "numba"
    _numpy_detections += num_detections
    return "numpy"


def voc_engine(engine: str) -> SimpleNamespace:
    """The functions of engine ``"numpy"`` or ``"numba"``, under the numpy engine's names and signatures."""
    if engine == "numpy":
        from vocbench.eval import _vectorised as v

        return SimpleNamespace(**{name: getattr(v, name) for name in _NAMES})
    if engine == "numba":
        from vocbench.eval import _kernels as k

        return SimpleNamespace(group_by_key=k.group_by_key, argsort_desc_stable=k.argsort_desc_stable,
                               stable_partition=k.stable_partition, match_voc=k.match_voc_kernel,
                               pr_curve=k.pr_curve_kernel, ap_voc07=k.ap_voc07_kernel, ap_voc12=k.ap_voc12_kernel,
                               best_f1=k.best_f1_kernel)
    raise ValueError(f"engine must be 'numpy' or 'numba', got {engine!r}")
