"""Timing harness behind ``vocbench bench``: repeats after warm-up, rows of ratios, machine record.

A :class:`BenchRow` is one implementation timed on one case; its ``ratio`` is the peer's median time over
vocbench's median time on the same case in the same run (> 1: vocbench is faster), and ``agrees`` says whether
the peer returned the same answer (same keep set, same AP to a stated tolerance).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["BenchRow", "BenchResult", "time_call", "alternate", "peak_rss_call", "machine_info", "PEAK_RSS_METHOD"]

#: How :func:`peak_rss_call` measures memory (shown in the report).
PEAK_RSS_METHOD = ("peak RSS of one call after warm-up: Linux VmHWM (/proc/self/status), reset just before the call "
                   "by writing 5 to /proc/self/clear_refs; 'peak' is the process's resident high-water mark during "
                   "the call, '+' what it added to the RSS held before it (loaded data, libraries)")


def _vm_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_call(fn: Callable[[], object]) -> tuple[object, float, float]:
    """Run ``fn`` once and return ``(result, peak_mib, added_mib)``: the process's peak resident set size during the
    call and its excess over the RSS just before it (:data:`PEAK_RSS_METHOD`). NaN where the kernel has no
    resettable peak counter (not Linux, or /proc/self/clear_refs not writable)."""
    import gc

    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return fn(), float("nan"), float("nan")
    before = _vm_kib("VmRSS")
    result = fn()
    peak = _vm_kib("VmHWM")
    if before is None or peak is None:
        return result, float("nan"), float("nan")
    return result, peak / 1024.0, max(peak - before, 0) / 1024.0


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 1, budget_s: float | None = None):
    """Run ``fn`` ``warmup`` times untimed (JIT compile, caches), then time it.

    Returns ``(times_s float64[R], last_result, first_call_s)``. With ``budget_s``, the number of timed repeats
    shrinks (at least 1) so the whole measurement stays near that budget; the warm-up call counts as the
    first estimate of one call's time.
    """
    first = 0.0
    result = None
    for i in range(warmup):
        t0 = time.perf_counter()
        result = fn()
        if i == 0:
            first = time.perf_counter() - t0
    if budget_s is not None and warmup and first > 0:
        if first > budget_s:  # one call is over budget: the warm-up call is the measurement (slow peers)
            return np.asarray([first]), result, first
        repeats = max(1, min(repeats, int(budget_s / first)))
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return np.asarray(times), result, first


@dataclass(frozen=True)
class BenchRow:
    """One implementation on one case.

    Attributes:
        suite: ``nms``, ``eval``, ``io`` or ``anchors``.
        case: what was computed on which input (``"clusters n=1917"``, ``"VOC07+VOC12, YOLOv2"``).
        impl: implementation name (``"vocbench"``, ``"torchvision CPU (1 thread)"``, ...).
        n: problem size (boxes, detections, files) or 0.
        median_s, min_s, max_s: over ``repeats`` timed runs after warm-up (NaN when not run).
        repeats: timed runs.
        ratio: this peer's median / vocbench's median on the same case (NaN for vocbench itself or not run).
        agrees: True/False when compared with vocbench's answer, None when not comparable or not run.
        note: agreement detail or why the row was not run (``"peer not installed"``).
        peak_rss_mb: peak resident memory (MiB) of the process during one call (:func:`peak_rss_call`); NaN when
            not measured. rss_added_mb: what that call added to the RSS held before it.
    """

    suite: str
    case: str
    impl: str
    n: int = 0
    median_s: float = float("nan")
    min_s: float = float("nan")
    max_s: float = float("nan")
    repeats: int = 0
    ratio: float = float("nan")
    agrees: bool | None = None
    note: str = ""
    peak_rss_mb: float = float("nan")
    rss_added_mb: float = float("nan")

    @classmethod
    def from_times(cls, suite, case, impl, n, times, **kw) -> BenchRow:
        t = np.asarray(times, float)
        return cls(suite, case, impl, int(n), float(np.median(t)), float(t.min()), float(t.max()), len(t), **kw)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class BenchResult:
    """All rows of a ``vocbench bench`` run plus the machine they ran on."""

    rows: tuple[BenchRow, ...]
    machine: dict = field(default_factory=dict)
    quick: bool = False
    goals: tuple[dict, ...] = ()
    #: suite name -> wall seconds the suite took in this run (data loading and warm-up included)
    durations: dict = field(default_factory=dict)

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame([r.to_dict() for r in self.rows])

    def to_dict(self) -> dict:
        return {"machine": self.machine, "quick": self.quick, "rows": [r.to_dict() for r in self.rows],
                "goals": list(self.goals), "durations": dict(self.durations)}

    def __str__(self) -> str:
        lines = []
        m = self.machine
        lines.append(f"machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores; numba {m.get('numba')}, "
                     f"numpy {m.get('numpy')}, torch {m.get('torch')} ({m.get('torch_threads')} thread(s) for "
                     f"peers), NUMBA_NUM_THREADS={m.get('numba_threads')}")
        suite = None
        header = (f"  {'case':<34} {'implementation':<36} {'median':>10} {'min':>10} {'max':>10} {'ratio':>9} "
                  f"{'peak RSS MiB':>16}  agreement")
        for r in self.rows:
            if r.suite != suite:
                suite = r.suite
                lines.append("")
                lines.append(f"[{suite}]  ratio = peer median / vocbench median (> 1: vocbench faster)")
                lines.append(header)
            ratio = "" if r.ratio != r.ratio else f"{r.ratio:8.1f}x"
            agree = {True: "agrees", False: "DIFFERS", None: "-"}[r.agrees]
            note = f"{agree}: {r.note}" if r.note else agree
            lines.append(f"  {r.case[:34]:<34} {r.impl[:36]:<36} {_fmt_t(r.median_s):>10} {_fmt_t(r.min_s):>10} "
                         f"{_fmt_t(r.max_s):>10} {ratio:>9} {fmt_mem(r):>16}  {note}")
        if self.goals:
            lines.append("")
            lines.append("goals:")
            for g in self.goals:
                lines.append(f"  {g['goal']:<58} measured {g['measured']:>9}  {g['status']}")
        if self.durations:
            lines.append("")
            lines.append("suite wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.durations.items())
                         + f"; total {sum(self.durations.values()):.0f} s")
        return "\n".join(lines)


def alternate(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> tuple[dict, dict]:
    """Call every function once per round, in turn, after ``warmup`` untimed rounds.

    Returns ``(times, results)``: name → float64[rounds] seconds, name → the last result.
    """
    results: dict[str, object] = {}
    for _ in range(warmup):
        for name, fn in fns.items():
            results[name] = fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(1, rounds)):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {k: np.asarray(v) for k, v in times.items()}, results


def fmt_mem(r: BenchRow) -> str:
    """``"812 (+246)"``: peak RSS and what the call added, MiB; ``"-"`` when not measured."""
    if r.peak_rss_mb != r.peak_rss_mb:
        return "-"
    if r.rss_added_mb != r.rss_added_mb:  # a whole process (e2e rows): its peak only
        return f"{r.peak_rss_mb:.0f}"
    return f"{r.peak_rss_mb:.0f} (+{r.rss_added_mb:.0f})"


def _fmt_t(t: float) -> str:
    if t != t:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.1f} us"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def machine_info() -> dict:
    """CPU model, core count, library versions and thread settings (peers' modules only if already imported)."""
    import sys

    import numba

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "numpy": np.__version__, "numba": numba.__version__, "numba_threads": numba.config.NUMBA_NUM_THREADS,  # type: ignore[attr-defined]
        "numba_kernels": "NMS and eval kernels serial; the anchor curve's random restarts run in parallel on "
                         "NUMBA_NUM_THREADS threads (bit-identical to serial)",
    }
    for mod in ("torch", "torchvision", "cv2", "pycocotools", "faster_coco_eval", "torchmetrics", "hotcoco",
                "ultrafast_pycocotools", "vernier"):
        m = sys.modules.get(mod)
        info[mod] = getattr(m, "__version__", "installed") if m is not None else None
    torch = sys.modules.get("torch")
    info["torch_threads"] = torch.get_num_threads() if torch is not None else None
    info["rayon_threads"] = os.environ.get("RAYON_NUM_THREADS")
    from vocbench import __version__

    info["vocbench"] = __version__
    try:  # other work on the machine (runnable processes per core over 1/5/15 min) when the run ended
        load = os.getloadavg()
        info["load_average"] = f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores"
    except OSError:
        pass
    return info
