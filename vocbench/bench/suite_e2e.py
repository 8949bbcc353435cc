"""End-to-end rows of ``vocbench bench``: each tool in its own fresh process, from the two COCO JSON files to the 12
summary numbers (interpreter start, imports, reading, evaluating, printing), wall time and peak RSS.

The sets are :mod:`vocbench.bench.coco_sets` (generated once into a cache folder, never committed). Every tool runs
single-threaded (:data:`THREAD_ENV`: rayon, Numba, OpenMP and BLAS pools of one thread) as the other rows do; the
vocbench row's note says which kernels it ran (:func:`kernel_path`: ahead-of-time native or Numba JIT). The fast
tools (vocbench, ultrafast-pycocotools, hotcoco) run in alternation (one untimed warm-up round: JIT cache, page
cache), so load from other work on a shared machine falls on all of them; the slow pycocotools-style tools run once.
Peak RSS is the child's ``ru_maxrss`` (:func:`os.wait4`), the whole process's resident high-water mark.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from vocbench.bench.coco_sets import coco_set_spec, write_coco_set
from vocbench.bench.harness import BenchRow

__all__ = ["bench_e2e", "run_process", "kernel_path", "E2E_TOOLS", "STAT_NAMES", "THREAD_ENV", "sets_folder"]

#: The 12 numbers in pycocotools' ``stats`` order, as ``vocbench eval --json`` names them.
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

#: The peers' side: files → ``stats`` with each tool's own API, printed as JSON (run with ``python -c``).
_PEER_SCRIPT = r"""
import contextlib, io, json, sys
tool, gt, dt = sys.argv[1:4]
with contextlib.redirect_stdout(io.StringIO()):
    if tool == "hotcoco":
        import hotcoco
        g = hotcoco.COCO(gt); d = g.load_res(dt); e = hotcoco.COCOeval(g, d, "bbox")
    else:
        if tool == "pycocotools":
            from pycocotools.coco import COCO; from pycocotools.cocoeval import COCOeval
        elif tool == "faster-coco-eval":
            from faster_coco_eval import COCO, COCOeval_faster as COCOeval
        elif tool == "ultrafast-pycocotools":
            from ultrafast_pycocotools import COCO, COCOeval
        else:
            from pycocotools.coco import COCO; from vernier import COCOeval
        g = COCO(gt); d = g.loadRes(dt); e = COCOeval(g, d, "bbox")
    e.evaluate(); e.accumulate(); e.summarize()
print(json.dumps([float(x) for x in e.stats]))
"""

#: tool → Python module that must be importable
E2E_TOOLS = {"vocbench": "vocbench", "ultrafast-pycocotools": "ultrafast_pycocotools", "hotcoco": "hotcoco",
             "pycocotools": "pycocotools", "faster-coco-eval": "faster_coco_eval", "vernier": "vernier"}
_FAST = ("vocbench", "ultrafast-pycocotools", "hotcoco")


def sets_folder() -> Path:
    """Where the generated sets live: ``$VOCBENCH_CACHE_DIR/bench-sets`` (default ``~/.cache/vocbench``)."""
    base = os.environ.get("VOCBENCH_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "vocbench")
    return Path(base) / "bench-sets"


def _argv(tool: str, gt: Path, dt: Path) -> list[str]:
    if tool == "vocbench":
        return [sys.executable, "-m", "vocbench", "eval", "--gt", str(gt), "--dets", str(dt), "--metric", "coco",
                "--json", "-"]
    return [sys.executable, "-c", _PEER_SCRIPT, tool, str(gt), str(dt)]


#: A small launcher between the benchmark and each tool: Linux carries the forking process's RSS high-water mark
#: into the child's ``ru_maxrss`` across ``exec``, so the tool is forked from this ~10 MB process instead of from
#: the benchmark (hundreds of MB); it prints its child's wall time and ``ru_maxrss`` (KiB) as its last line.
_LAUNCHER = r"""
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
cpu = usage.ru_utime + usage.ru_stime
sys.stderr.write(f"\nvocbench-launcher {wall!r} {usage.ru_maxrss} {cpu!r}\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_process(argv: list[str], env: dict, timeout_s: float | None = None) -> tuple[float, float, str]:
    """Run ``argv`` to completion: ``(wall seconds, peak RSS MiB of that process, stdout)``, through
    :data:`_LAUNCHER` (the peak is the tool's own ``ru_maxrss``; its CPU seconds go to :data:`LAST_CPU`).
    RuntimeError on a non-zero exit or a timeout."""
    with _TempOut() as out, _TempOut() as err:
        proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, *argv], stdout=out.fh, stderr=err.fh,
                                env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the tool: their own session (below)
            proc.wait()
            raise RuntimeError(f"timed out after {timeout_s:.0f} s") from None
        text, detail = out.read(), err.read()
    lines = detail.rstrip().splitlines()
    if code != 0 or not lines or not lines[-1].startswith("vocbench-launcher "):
        raise RuntimeError(f"exit {code}: {detail.strip()[-300:]}")
    _, wall, peak, cpu = lines[-1].split()
    LAST_CPU[0] = float(cpu)
    return float(wall), int(peak) / 1024.0, text


#: user + system CPU seconds of the last :func:`run_process` child (the machine is shared: CPU time is what the
#: tool itself spent, whatever the load)
LAST_CPU = [float("nan")]


class _TempOut:
    """A temporary file for a child's stdout (a pipe could fill up while we poll ``wait4``)."""

    def __enter__(self):
        import tempfile

        self.fh = tempfile.TemporaryFile()
        return self

    def read(self) -> str:
        self.fh.seek(0)
        return self.fh.read().decode(errors="replace")

    def __exit__(self, *exc) -> None:
        self.fh.close()


def _stats(tool: str, text: str) -> np.ndarray:
    if tool == "vocbench":
        coco = json.loads(text)["coco"]
        return np.array([coco[k] for k in STAT_NAMES], np.float64)
    return np.array(json.loads(text.strip().splitlines()[-1]), np.float64)


#: Thread pools pinned to one thread in every child: rayon (hotcoco, ultrafast-pycocotools), Numba, and the BLAS /
#: OpenMP pools numpy may load.
THREAD_ENV = {"RAYON_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _env() -> dict:
    env = dict(os.environ)
    env.pop("NUMBA_DISABLE_JIT", None)
    env.update(THREAD_ENV)
    return env


#: Runs ``vocbench eval`` in-process as ``python -m vocbench`` does; prints its exit code, whether Numba was imported
#: and what :func:`vocbench._native.describe` says of each kernel module (``{}`` without that module).
_KERNEL_PROBE = r"""
import contextlib, io, json, sys
from vocbench.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["eval", "--gt", sys.argv[1], "--dets", sys.argv[2], "--metric", "coco", "--json", "-"])
native = sys.modules.get("vocbench._native")
print(json.dumps([code, "numba" in sys.modules, native.describe() if native is not None else {}]))
"""


def kernel_path(gt: Path, dt: Path, env: dict) -> str:
    """Which kernels ``vocbench eval`` ran on these files, from one untimed run: ``"native (ahead-of-time
    compiled; Numba not imported)"``, ``"JIT (Numba)"`` with the loader's reason when it gives one, or a mix."""
    done = subprocess.run([sys.executable, "-c", _KERNEL_PROBE, str(gt), str(dt)], capture_output=True, text=True,
                          env=env, check=False)
    try:
        code, numba_loaded, modules = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        code = None
    if done.returncode != 0 or code != 0:
        return f"kernel path unknown (probe exit {done.returncode})"
    status = {m.rsplit(".", 1)[-1]: s for m, s in modules.items() if m != "misfit calls"}
    aot = sorted(m for m, s in status.items() if s == "aot")
    if not numba_loaded:
        return "native (ahead-of-time compiled; Numba not imported)" if aot or not status else \
            "no compiled kernels ran (Numba not imported)"
    why = sorted({s for s in status.values() if s != "aot"})
    if aot:
        return f"mixed: {', '.join(aot)} native; JIT (Numba) for the rest ({'; '.join(why)})"
    return "JIT (Numba)" + (f": {'; '.join(why)}" if why else "")


def _installed(tool: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(E2E_TOOLS[tool]) is not None


def _measure(tools: list[str], gt: Path, dt: Path, rounds: int, env: dict, timeout_s: float):
    """Alternating rounds after a warm-up round: tool → (walls, peaks, stats) or an error string."""
    out: dict[str, object] = {}
    walls: dict[str, list[float]] = {t: [] for t in tools}
    peaks: dict[str, list[float]] = {t: [] for t in tools}
    cpus: dict[str, list[float]] = {t: [] for t in tools}
    for r in range(rounds + 1):
        for tool in tools:
            if isinstance(out.get(tool), str):
                continue
            try:
                wall, peak, text = run_process(_argv(tool, gt, dt), env, timeout_s)
                stats = _stats(tool, text)
            except Exception as exc:  # a tool that fails on this input is reported, not fatal
                out[tool] = f"failed: {type(exc).__name__}: {str(exc)[:160]}"
                continue
            out[tool] = stats
            if r or not rounds:  # round 0 warms the JIT cache and the page cache (a tool run once: that run)
                walls[tool].append(wall)
                peaks[tool].append(peak)
                cpus[tool].append(LAST_CPU[0])
    return {t: out[t] if isinstance(out[t], str) else (walls[t], peaks[t], out[t], cpus[t]) for t in tools}


def _describe(name: str) -> str:
    n_img, n_cat, _, per = coco_set_spec(name)
    label = {"coco": "COCO-scale", "o365": "Objects365-like"}.get(name, name)
    return f"{label} files -> 12 numbers ({n_img // 1000}k images, {n_cat} cats, {n_img * per / 1e6:g}M dets)"


def _rows_for_set(name: str, quick: bool, progress) -> list[BenchRow]:
    gt, dt = write_coco_set(name, sets_folder())
    case = _describe(name)
    n = coco_set_spec(name)[0] * coco_set_spec(name)[3]
    size = f"{dt.stat().st_size / 1e6:.1f} MB results, {gt.stat().st_size / 1e6:.1f} MB instances"
    env = _env()
    fast = [t for t in _FAST if _installed(t)]
    slow = [t for t in E2E_TOOLS if t not in _FAST and _installed(t)]
    skipped = ""
    if quick:
        slow, skipped = [], "skipped in --quick (slow pycocotools-style tool)"
    elif name == "o365":  # ~1.4 GB and 35 s per 500k detections on COCO-scale: ~14 GB and minutes on 5M
        slow, skipped = [], "not run on the Objects365-like set (pycocotools-style: ~10x its COCO-scale 1-2 GB)"
    if progress:
        progress(f"e2e {name}: {', '.join(fast)} in alternation")
    res = _measure(fast, gt, dt, 3 if quick or name == "o365" else 5, env, timeout_s=1200)
    for tool in slow:
        if progress:
            progress(f"e2e {name}: {tool} once")
        res.update(_measure([tool], gt, dt, 0, env, timeout_s=1800))
    kernels = kernel_path(gt, dt, env) if "vocbench" in fast else ""
    return _rows(name, case, n, size, skipped, res, kernels)


def _rows(name, case, n, size, skipped: str, res, kernels: str = "") -> list[BenchRow]:
    ref_tool = "pycocotools" if not isinstance(res.get("pycocotools", ""), str) else "ultrafast-pycocotools"
    ref = res.get(ref_tool)
    ref_stats = None if ref is None or isinstance(ref, str) else ref[2]
    vb = res.get("vocbench")
    vb_med = float("nan") if vb is None or isinstance(vb, str) else float(np.median(vb[0]))
    rows = []
    for tool in E2E_TOOLS:
        if tool not in res:
            why = skipped if skipped and _installed(tool) else f"not installed ({E2E_TOOLS[tool]})"
            rows.append(BenchRow("e2e", case, tool, n, note=why))
            continue
        r = res[tool]
        if isinstance(r, str):
            rows.append(BenchRow("e2e", case, tool, n, note=r))
            continue
        walls, peaks, stats = r[:3]
        if not walls:
            walls, peaks = [float("nan")], [float("nan")]
        cpu = float(np.median(r[3])) if len(r) > 3 and len(r[3]) else float("nan")
        agrees, note = _agreement(stats, ref_stats, ref_tool, tool)
        med = float(np.median(walls))
        ratio = float("nan") if tool == "vocbench" else med / vb_med
        if tool == "vocbench" and kernels:
            note = f"{note}; kernels: {kernels}"
        rows.append(BenchRow.from_times("e2e", case, tool, n, walls, ratio=ratio, agrees=agrees,
                                        peak_rss_mb=float(np.max(peaks)),
                                        note=f"{note}; CPU (user+sys) {cpu:.2f} s; {size}; whole process, "
                                             f"1 thread, median of {len(walls)}"))
    return rows


def _agreement(stats, ref, ref_tool: str, tool: str) -> tuple[bool | None, str]:
    if tool == ref_tool:
        return None, "the reference for the 12 numbers"
    if ref is None:
        return None, "no reference run"
    diff = float(np.max(np.abs(stats - ref)))
    if diff == 0:
        return True, f"12 numbers identical to {ref_tool}"
    worst = STAT_NAMES[int(np.argmax(np.abs(stats - ref)))]
    return False, f"max |diff| {diff:.2e} vs {ref_tool} ({worst})"


def bench_e2e(quick: bool = False, shared: Path | None = None, progress=None) -> list[BenchRow]:
    """End-to-end rows (see the module docstring): the COCO-scale set; without ``quick`` also the Objects365-like
    set and the slow pycocotools-style tools (pycocotools, faster-coco-eval, vernier), each once."""
    rows = _rows_for_set("coco", quick, progress)
    if quick:
        n_img, n_cat, _, per = coco_set_spec("o365")
        rows.append(BenchRow("e2e", _describe("o365"), "vocbench", n_img * per,
                             note="Objects365-like set not run in --quick (5M detections; run without --quick)"))
    else:
        rows += _rows_for_set("o365", quick, progress)
    return rows
