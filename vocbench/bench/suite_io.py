"""``vocbench bench io`` and ``vocbench bench startup``: the VOC XML reader and the start-up of a whole command.

XML rows. *cold* means vocbench's parsed-annotation cache (the ``.npz`` under ``$VOCBENCH_CACHE_DIR``) is off
(``load_voc(cache=False)``: every file is opened, read and parsed); the operating system's page cache is *warm*
(every file was read before timing), so the rows compare parsers, not disks. *cached* is a hit of vocbench's
annotation cache. vocbench, the lxml path it falls back to (scanner off) and the plain ``xml.etree`` loop are run
in turns — one call of each per round, after one warm-up call of each — so a load spike on the machine hits all of
them alike; the ratio is the peer's median over vocbench's.

Start-up rows time whole processes (interpreter start, imports, cached annotation load, scoring, printing) in
turns with ``python -c "import numpy"``, ``python -c "import numba"`` and the first call of one cached kernel (the
floor any Numba tool pays; ``vocbench eval``'s VOC path does not pay it: numpy devkit reader and VOC engine, see
:mod:`vocbench.eval.engine`). *Warm caches* means vocbench's annotation cache and Python's bytecode cache are
filled by the untimed warm-up round (children write ``.pyc`` files under the private cache folder,
``PYTHONPYCACHEPREFIX``, even where ``PYTHONDONTWRITEBYTECODE`` is set, as an installed package has them). They
are absolute times; the eval row's ratio is the 0.4 s target over its median (> 1: within the target), and its
note gives the child's CPU time too (steadier on a shared machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from vocbench.bench.harness import BenchRow, alternate, peak_rss_call, time_call

__all__ = ["bench_io", "bench_startup", "alternate", "XML_CASES", "STARTUP_TARGET_S"]

XML_CASES = (("VOC2007 test", ("2007:test",)), ("VOC07+12 trainval", ("2007:trainval", "2012:trainval")))
ETREE = "xml.etree loop (voc_eval parse_rec)"
LXML = "vocbench lxml path (scanner off)"
#: The issue's start-up target for ``vocbench eval`` (YOLOv2 set, warm annotation cache), seconds.
STARTUP_TARGET_S = 0.4
FIRST_KERNEL = "python: first call of one cached kernel"


@contextmanager
def _scanner_off():
    from vocbench.io import _voc_scan

    saved = _voc_scan.use_kernel
    _voc_scan.use_kernel = lambda: False
    try:
        yield
    finally:
        _voc_scan.use_kernel = saved


@contextmanager
def _cache_dir():
    old = os.environ.get("VOCBENCH_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="vocbench-bench-cache-") as folder:
        os.environ["VOCBENCH_CACHE_DIR"] = folder
        try:
            yield folder
        finally:
            if old is None:
                os.environ.pop("VOCBENCH_CACHE_DIR", None)
            else:
                os.environ["VOCBENCH_CACHE_DIR"] = old


def _same_dataset(a, b) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in
               ("widths", "heights", "depths", "image_index", "class_index", "boxes", "difficult", "truncated",
                "occluded", "poses")) and a.issues == b.issues


def _xml_rows(root: Path, name: str, sets: list[str], rounds: int) -> list[BenchRow]:
    import vocbench
    from vocbench.bench import peers

    def vb():
        return vocbench.load_voc(root, sets, cache=False)

    def lxml_path():
        with _scanner_off():
            return vocbench.load_voc(root, sets, cache=False)

    def etree():
        return peers.parse_voc_xml_plain(root, sets)

    case = f"XML parse {name} (cold)"
    times, res = alternate({"vocbench": vb, LXML: lxml_path, ETREE: etree}, rounds)
    ds = res["vocbench"]
    n = ds.num_images
    med = float(np.median(times["vocbench"]))
    recs = res[ETREE]
    n_obj = sum(len(v) for v in recs.values())
    _, vb_peak, vb_added = peak_rss_call(vb)
    _, et_peak, et_added = peak_rss_call(etree)
    rows = [
        BenchRow.from_times("io", case, "vocbench", n, times["vocbench"], peak_rss_mb=vb_peak, rss_added_mb=vb_added,
                            note=f"{ds.num_objects} objects; cold = annotation cache off, page cache warm; "
                                 "runs alternate with the peers"),
        BenchRow.from_times("io", case, LXML, n, times[LXML], ratio=float(np.median(times[LXML])) / med,
                            agrees=_same_dataset(res[LXML], ds), note="same arrays and issues as the scanner"),
        BenchRow.from_times("io", case, ETREE, n, times[ETREE], ratio=float(np.median(times[ETREE])) / med,
                            peak_rss_mb=et_peak, rss_added_mb=et_added,
                            agrees=len(recs) == n and n_obj == ds.num_objects,
                            note=f"{len(recs)} images, {n_obj} objects"),
    ]
    with _cache_dir():
        vocbench.load_voc(root, sets, cache=True)  # fill the cache
        t_hot, ds2, _ = time_call(lambda: vocbench.load_voc(root, sets, cache=True), 2 * rounds, warmup=1)
    rows.append(BenchRow.from_times("io", f"XML parse {name} (cached)", "vocbench", n, t_hot,
                                    ratio=med / float(np.median(t_hot)), agrees=_same_dataset(ds2, ds),
                                    note="ratio = vocbench cold / cached (.npz annotation cache hit)"))
    return rows


def _devkit_rows(shared: Path, root: Path, rounds: int) -> list[BenchRow]:
    import vocbench
    from vocbench.bench import peers

    det_dir = shared / "voc" / "detections" / "yolov2-voc07test"
    case = "devkit text parse (YOLOv2, 20 files)"
    if not det_dir.exists():
        return [BenchRow("io", case, "vocbench", note=f"detections not found under {det_dir}")]
    ds = vocbench.load_voc(root, ["2007:test"])
    times, res = alternate({"vocbench": lambda: vocbench.read_detections(det_dir, ds),
                            "plain": lambda: peers.parse_det_lines_plain(det_dir, ds.classes)}, 2 * rounds)
    dets = res["vocbench"]
    med = float(np.median(times["vocbench"]))
    m = sum(len(v) for v in res["plain"].values())
    return [BenchRow.from_times("io", case, "vocbench", len(dets), times["vocbench"]),
            BenchRow.from_times("io", case, "plain Python split (voc_eval)", len(dets), times["plain"],
                                ratio=float(np.median(times["plain"])) / med, agrees=m == len(dets),
                                note=f"{m} lines")]


def bench_io(quick: bool = False, shared: Path | None = None, progress=None) -> list[BenchRow]:
    """XML parsing of VOC2007 test and VOC07+12 trainval (cold and cached) and devkit text parsing."""
    from vocbench.bench.suites import default_shared

    shared = Path(shared or default_shared())
    root = shared / "voc" / "VOCdevkit"
    if not root.exists():
        return [BenchRow("io", "XML parse", "vocbench", note=f"real data not found under {shared}")]
    rounds = 3 if quick else 7
    rows: list[BenchRow] = []
    for name, sets in XML_CASES:
        if progress:
            progress(f"io: {name}")
        rows += _xml_rows(root, name, list(sets), rounds)
    if progress:
        progress("io: detections")
    rows += _devkit_rows(shared, root, rounds)
    return rows


def _process_time(argv: list[str], env: dict, cpu: list[float]) -> Callable[[], int]:
    """A call that runs ``argv`` to completion; appends the child's user+system CPU seconds to ``cpu``."""
    def run() -> int:
        before = os.times()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
        after = os.times()
        cpu.append(after.children_user - before.children_user + after.children_system - before.children_system)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])} ...: exit {done.returncode}: "
                               f"{done.stderr.decode(errors='replace').strip()[-200:]}")
        return done.returncode
    return run


def bench_startup(quick: bool = False, shared: Path | None = None, progress=None) -> list[BenchRow]:
    """Whole-process time of ``import vocbench`` and of ``vocbench eval`` (YOLOv2, VOC07 test, warm cache)."""
    from vocbench.bench.suites import default_shared

    shared = Path(shared or default_shared())
    root = shared / "voc" / "VOCdevkit"
    det_dir = shared / "voc" / "detections" / "yolov2-voc07test"
    py = sys.executable
    env = dict(os.environ)
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached under the private folder below (module docstring)
    procs = {
        "python -c 'import numpy'": [py, "-c", "import numpy"],
        "python -c 'import numba'": [py, "-c", "import numba"],
        "python -c 'import vocbench'": [py, "-c", "import vocbench"],
        FIRST_KERNEL: [py, "-c", "import numpy as np\nfrom vocbench.nms import nms\n"
                       "nms(np.array([[0, 0, 9, 9], [1, 1, 9, 9.]]), np.array([0.9, 0.8]), 0.5)"],
    }
    eval_cmd = "vocbench eval (YOLOv2, VOC07 test)"
    if root.exists() and det_dir.exists():
        procs[eval_cmd] = [py, "-m", "vocbench", "eval", "--gt", str(root), "--set", "2007:test", "--dets",
                           str(det_dir)]
    if progress:
        progress("startup: whole processes")
    rounds = 3 if quick else 7
    cpu: dict[str, list[float]] = {name: [] for name in procs}
    with _cache_dir() as folder:  # a private annotation (and bytecode) cache, filled by the warm-up round
        env["VOCBENCH_CACHE_DIR"] = folder
        env["PYTHONPYCACHEPREFIX"] = os.path.join(folder, "pycache")
        runs: dict[str, Callable[[], object]] = {name: _process_time(argv, env, cpu[name])
                                                 for name, argv in procs.items()}
        times, _ = alternate(runs, rounds)
    case = "whole process, warm caches"
    rows = []
    ref = float(np.median(times[eval_cmd])) if eval_cmd in times else float("nan")
    for name in procs:
        med = float(np.median(times[name]))
        cpu_med = float(np.median(cpu[name][1:] or cpu[name]))  # [0] is the warm-up run
        if name == eval_cmd:
            verdict = "met" if med <= STARTUP_TARGET_S else f"missed: {med:.2f} s, target <= {STARTUP_TARGET_S:g} s"
            note = (f"target <= {STARTUP_TARGET_S:g} s: {verdict} (import + cached load + score + print; "
                    "numpy reader and VOC engine, no numba/pandas)")
        elif name == "python -c 'import vocbench'":
            note = "numba, pandas, matplotlib, lxml load on first use"
        elif name == FIRST_KERNEL:
            note = ("what a Numba tool pays first: numpy + numba + its CPU target + one cached kernel (NMS, "
                    "diagnose, COCO; not the VOC eval)")
        else:
            note = f"{med / ref:.0%} of the eval command" if ref == ref else ""
        ratio = STARTUP_TARGET_S / med if name == eval_cmd else float("nan")  # > 1: within the target
        rows.append(BenchRow.from_times("startup", case, name, 0, times[name], ratio=ratio,
                                        note=f"{note}; CPU (user+sys) {cpu_med:.3f} s"))
    return rows
