"""Ahead-of-time kernels (vocbench._native): the compiled code equals the JIT code bit for bit, a stale build is
never used, and ``vocbench eval --metric coco`` on COCO files runs without importing Numba.

The compiled module is built by ``make setup`` / ``make native``: under CI these tests fail when it is missing or
stale; elsewhere they skip (run ``python -m vocbench._native build``).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vocbench._native as native
from vocbench._lazy import LazyModule
from vocbench._native import build as native_build
from vocbench._native._entry import AotEntry, arg_check
from vocbench.bench.coco_sets import write_coco_set

KERNEL_MODULES = ("vocbench.io._json_kernels", "vocbench.eval._coco_kernels", "vocbench.boxes._kernels")
#: wrapper module → its attribute holding the kernels it calls
WRAPPERS = {"vocbench.io._json_scan": "_k", "vocbench.eval.coco": "_ck", "vocbench.boxes.conventions": "_k",
            "vocbench.io.detections": "_bk"}
FORBIDDEN = ("numba", "llvmlite", "scipy", "pandas", "matplotlib", "lxml", "yaml", "jinja2")
#: vocbench modules the COCO eval command has no use for (reports, the VOC cache, file writers, the VOC accumulator)
UNUSED = ("vocbench.report", "vocbench.io.cache", "vocbench.io.atomic", "vocbench.eval.accumulate", "vocbench._numba",
          "numpy.ma")  # numpy.ma: np.unique / np.isin import it (numpy 2.4), ~15-30 ms
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def aot() -> dict[str, object]:
    """module → its compiled kernels; fails under CI (make native builds them), skips elsewhere when not built."""
    why = native_build.stale()
    if why:
        msg = f"the ahead-of-time kernels are not usable ({why}): run `make native`"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    out = {}
    for m in KERNEL_MODULES:
        reason, ns = native._compiled(m)
        assert ns is not None, reason
        out[m] = ns
    return out


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> tuple[Path, Path]:
    return write_coco_set("tiny", tmp_path_factory.mktemp("coco"))


# ------------------------------------------------------------------------------------------------ helpers
def _snapshot(args: tuple, specs: list) -> tuple:
    """Copies of the arguments (same bytes, read-only where the signature says so)."""
    out = []
    for a, spec in zip(args, specs):
        if isinstance(a, np.ndarray):
            c = a.copy()
            c.flags.writeable = not spec[4]
            out.append(c)
        else:
            out.append(a)
    return tuple(out)


def _same(a, b) -> bool:
    """Bit-for-bit equality of kernel outputs (arrays, tuples, scalars; NaN equals NaN of the same bits)."""
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes()


class _Recorder:
    """Stands in for a wrapper's kernels: runs the compiled entries (strictly: a misfit raises) and records each
    call's arguments before it, its result and its arguments after it."""

    def __init__(self, ns, calls: list) -> None:
        self._ns, self._calls = ns, calls

    def __getattr__(self, name: str):
        entry = getattr(self._ns, name)
        if not isinstance(entry, AotEntry):
            return entry

        def call(*args):
            before = _snapshot(args, entry.args)
            result = entry.compiled(*args)
            self._calls.append((entry, before, result, _snapshot(args, entry.args)))
            return result

        return call


@pytest.fixture
def recorded(aot, monkeypatch) -> list:
    """Calls of the compiled entries made through the real wrappers while the test runs."""
    calls: list = []
    for wrapper, attr in WRAPPERS.items():
        mod = importlib.import_module(wrapper)
        monkeypatch.setattr(mod, attr, _Recorder(aot[getattr(mod, attr)._module], calls))
    return calls


def _replay_on_jit(calls: list) -> set[str]:
    """Runs every recorded call on the JIT kernel from the same bytes; asserts the same result and arguments."""
    seen = set()
    for entry, before, result, after in calls:
        jit = getattr(importlib.import_module(entry.module), entry.name)
        args = _snapshot(before, entry.args)
        got = jit(*args)
        where = f"{entry.module}.{entry.name}"
        assert _same(result, got), f"{where}: compiled result differs from the JIT result"
        for i, (x, y) in enumerate(zip(after, args)):
            assert _same(x, y), f"{where}: argument {i} differs after the call"
        seen.add(where)
    return seen


# ------------------------------------------------------------------------------------------------ equality
def test_compiled_equals_jit_on_the_tiny_set(tiny_set, recorded):
    from vocbench.cli import main

    gt, dt = tiny_set
    assert main(["eval", "--gt", str(gt), "--dets", str(dt), "--metric", "coco", "--json", os.devnull]) == 0
    seen = _replay_on_jit(recorded)
    every = {f"{m}.{e}" for m in KERNEL_MODULES for e in importlib.import_module(m).ENTRY_POINTS}
    assert seen == every  # the eval path called every entry, through the compiled code


def _mutations(data: bytes, rng: np.random.Generator, count: int):
    """Damaged copies of a JSON file: bytes replaced by JSON-significant ones, deleted, inserted, truncations."""
    alphabet = np.frombuffer(b'{}[]:,"0123456789.-+eE \\ntfalsu\x00\xff', np.uint8)
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(0, len(buf)))
            op = int(rng.integers(0, 4))
            if op == 0:
                buf[at] = int(rng.choice(alphabet))
            elif op == 1:
                del buf[at]
            elif op == 2:
                buf.insert(at, int(rng.choice(alphabet)))
            else:
                del buf[at:]
                break
        yield bytes(buf)


def _small_results(rng: np.random.Generator, n: int) -> bytes:
    recs = [{"image_id": int(rng.integers(0, 5)), "category_id": int(rng.integers(1, 4)),
             "bbox": [round(float(v), int(rng.integers(0, 17))) for v in rng.uniform(0, 500, 4)],
             "score": float(rng.random())} for _ in range(n)]
    return json.dumps(recs).encode()


def test_compiled_equals_jit_on_damaged_json(tiny_set, recorded):
    from vocbench.io._json_scan import scan_coco_gt, scan_coco_results

    rng = np.random.default_rng(7)
    gt = tiny_set[0].read_bytes()[:3000]  # the head: images and the start of the annotations
    for data in _mutations(_small_results(rng, 12), rng, 150):
        scan_coco_results(data)
    for data in [b'{"images": [], "annotations": [], "categories": []}', *_mutations(gt, rng, 150)]:
        scan_coco_gt(data)
    assert len(recorded) >= 250  # invalid UTF-8 never reaches the kernel
    assert _replay_on_jit(recorded) == {"vocbench.io._json_kernels._scan_results_kernel",
                                        "vocbench.io._json_kernels._scan_gt_kernel"}


def _random_coco(rng: np.random.Generator) -> dict:
    n_img, n_cat = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    m, n = int(rng.integers(0, 25)), int(rng.integers(0, 60))
    grid = rng.integers(0, 4)  # coarse coordinates: ties of IoU and score, exact-threshold IoUs
    def boxes(k):
        xy = np.round(rng.uniform(0, 40, (k, 2)), grid)
        return np.concatenate([xy, np.round(rng.uniform(0, 30, (k, 2)), grid)], axis=1)
    gt = boxes(m)
    return dict(gt_image=rng.integers(0, n_img, m), gt_category=rng.integers(0, n_cat, m), gt_xywh=gt,
                gt_area=gt[:, 2] * gt[:, 3] * rng.uniform(0.5, 1, m) * 40, gt_iscrowd=rng.random(m) < 0.15,
                dt_image=rng.integers(0, n_img, n), dt_category=rng.integers(0, n_cat, n), dt_xywh=boxes(n),
                dt_score=np.round(rng.random(n), int(rng.integers(1, 3))), num_images=n_img, num_categories=n_cat,
                max_dets=(1, 3, 100))


def test_compiled_equals_jit_on_random_coco_sets(recorded):
    from vocbench.eval.coco import evaluate_coco_arrays

    rng = np.random.default_rng(11)
    for _ in range(60):
        evaluate_coco_arrays(**_random_coco(rng))
    assert len(recorded) == 60
    assert _replay_on_jit(recorded) == {"vocbench.eval._coco_kernels.coco_evaluate_kernel"}


def test_compiled_equals_jit_on_nonfinite_rows(aot):
    entry = aot["vocbench.boxes._kernels"].first_nonfinite_row
    jit = importlib.import_module("vocbench.boxes._kernels").first_nonfinite_row
    rng = np.random.default_rng(3)
    answers = set()
    for _ in range(200):
        a = rng.normal(size=(int(rng.integers(0, 9)), 4))
        for _ in range(int(rng.integers(0, 3))):
            if a.size:
                a.flat[int(rng.integers(0, a.size))] = rng.choice([np.nan, np.inf, -np.inf, -0.0, 1e308])
        a.flags.writeable = bool(rng.integers(0, 2))
        got = entry.compiled(a)
        assert got == jit(a)
        answers.add(got)
    assert -1 in answers and len(answers) > 3


# ------------------------------------------------------------------------------------------------ loader
def test_a_misfit_call_runs_the_jit_kernel_and_is_reported(aot):
    entry = aot["vocbench.boxes._kernels"].first_nonfinite_row
    a32 = np.array([[0, 0, 1, 1], [0, np.nan, 1, 1]], np.float32)  # float32: the compiled code reads float64
    with pytest.raises(TypeError):
        entry.compiled(a32)
    before = len(native._MISFITS)
    assert entry(a32) == 1
    assert entry(np.asfortranarray(np.array([[0, 0, 1, np.inf]] * 2))) == 0  # not C-contiguous
    assert native._MISFITS[before:] == ["vocbench.boxes._kernels.first_nonfinite_row"] * 2
    assert "first_nonfinite_row" in native.describe()["misfit calls"]


def test_argument_checks():
    ro = np.zeros(3)
    ro.flags.writeable = False
    writable, readonly = arg_check(["array", "float64", 1, "C", False]), arg_check(["array", "float64", 1, "C", True])
    assert writable(np.zeros(3)) and readonly(np.zeros(3)) and readonly(ro) and not writable(ro)
    assert not readonly(np.zeros(3, np.float32)) and not readonly(np.zeros((3, 1))) and not readonly(np.zeros(6)[::2])
    assert not readonly([0.0, 1.0]) and not readonly(np.zeros(3, ">f8"))
    i64, f64, flag = arg_check(["int64"]), arg_check(["float64"]), arg_check(["bool"])
    assert i64(3) and i64(np.int64(3)) and not i64(True) and not i64(2**63) and not i64(3.0) and not i64(np.int32(3))
    assert f64(1.5) and f64(np.float64(1)) and not f64(1) and not f64(np.float32(1))
    assert flag(True) and flag(np.bool_(False)) and not flag(1)


def test_a_stale_source_hash_falls_back_to_jit(aot, monkeypatch):
    side = json.loads(native.sidecar_path().read_text())
    module = "vocbench.eval._coco_kernels"
    rel = "vocbench/boxes/_kernels.py"  # a helper the compiled code inlines (bbiou_select), not the module itself
    side["modules"][module]["files"][rel].update(sha256="0" * 64, mtime_ns=0)  # as after an edit
    monkeypatch.setattr(native, "_sidecar", lambda: side)
    monkeypatch.setattr(native, "_STATUS", {})
    assert native.stale_reason(side, module) == f"{rel} changed since the build"
    got = native._load(module)
    assert isinstance(got, LazyModule)
    assert native._STATUS[module] == f"jit ({rel} changed since the build)"
    assert native._load("vocbench.io._json_kernels") is not got and native._STATUS["vocbench.io._json_kernels"] == "aot"
    side["numpy"] = "0.0"
    assert native.stale_reason(side, "vocbench.io._json_kernels").startswith("built with numpy 0.0")


def test_a_touched_but_equal_source_stays_fresh_and_an_edit_does_not(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "SOURCE_ROOT", tmp_path)
    monkeypatch.setattr(native, "_FILE_HASHES", {})
    (tmp_path / "k.py").write_text("x = 1\n")
    record = native.file_record("k.py")
    assert native.file_unchanged("k.py", record)
    os.utime(tmp_path / "k.py", ns=(1, 1))  # a checkout: other mtime, same bytes → the hash decides
    assert native.file_unchanged("k.py", record)
    native._FILE_HASHES.clear()
    (tmp_path / "k.py").write_text("x = 2\n")  # same size, new content
    assert not native.file_unchanged("k.py", record)
    assert not native.file_unchanged("gone.py", record)


def test_a_sidecar_that_does_not_fit_falls_back_to_jit(aot, monkeypatch):
    side = json.loads(native.sidecar_path().read_text())
    module = "vocbench.boxes._kernels"
    side["modules"][module]["entries"]["first_nonfinite_row"]["symbol"] = "no_such_symbol"
    monkeypatch.setattr(native, "_sidecar", lambda: side)
    monkeypatch.setattr(native, "_STATUS", {})
    assert isinstance(native._load(module), LazyModule)
    assert native._STATUS[module].startswith("jit (the build's description of vocbench.boxes._kernels is unusable")
    monkeypatch.setattr(native, "_sidecar", lambda: None)
    assert isinstance(native._load(module), LazyModule) and native._STATUS[module].startswith("jit (not built")


def test_switches_choose_the_jit_or_python_path(monkeypatch):
    monkeypatch.setattr(native, "_STATUS", {})
    monkeypatch.setenv("VOCBENCH_NATIVE", "0")
    assert isinstance(native._load("vocbench.boxes._kernels"), LazyModule)
    assert native._STATUS["vocbench.boxes._kernels"] == "jit (VOCBENCH_NATIVE=0)"
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    native._load("vocbench.boxes._kernels")
    assert native._STATUS["vocbench.boxes._kernels"] == "python (NUMBA_DISABLE_JIT)"
    assert not native.jit_enabled() and not native.native_enabled()


def _eval_in_subprocess(tiny_set, env_extra: dict) -> dict:
    gt, dt = tiny_set
    code = ("import json, sys, contextlib, io\nfrom vocbench.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            f"    rc = main(['eval', '--gt', {str(gt)!r}, '--dets', {str(dt)!r}, '--metric', 'coco', '--json', '-'])\n"
            "from vocbench._native import describe\n"
            "print(json.dumps({'rc': rc, 'out': json.loads(out.getvalue()), 'paths': describe(),\n"
            "                  'modules': sorted(sys.modules)}))\n")
    env = {**os.environ, **env_extra}
    env.pop("NUMBA_DISABLE_JIT", None) if "NUMBA_DISABLE_JIT" not in env_extra else None
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_coco_eval_process_imports_no_numba(aot, tiny_set):
    got = _eval_in_subprocess(tiny_set, {"VOCBENCH_NATIVE": "1"})
    assert got["rc"] == 0
    assert set(got["paths"].values()) == {"aot"} and set(got["paths"]) == set(KERNEL_MODULES)
    loaded = sorted(set(FORBIDDEN + UNUSED) & set(got["modules"]))
    assert not loaded, f"the COCO eval process imported {loaded}"
    jit = _eval_in_subprocess(tiny_set, {"VOCBENCH_NATIVE": "0"})
    assert "numba" in jit["modules"] and set(jit["paths"].values()) == {"jit (VOCBENCH_NATIVE=0)"}
    assert jit["out"] == got["out"]  # the same numbers, to the last digit


# ------------------------------------------------------------------------------------------------ builder
def test_builder_finds_the_kernel_modules_and_their_sources():
    assert set(KERNEL_MODULES) <= set(native_build.kernel_modules())
    files = native_build.source_files("vocbench.io._json_kernels")
    assert {"vocbench/io/_json_kernels.py", "vocbench/io/_voc_scan.py", "vocbench/_numba.py"} <= set(files)
    files = native_build.source_files("vocbench.eval._coco_kernels")
    assert {"vocbench/eval/_coco_kernels.py", "vocbench/boxes/_kernels.py", "vocbench/_numba.py"} <= set(files)
    assert "vocbench/eval/__init__.py" not in files


def test_builder_wants_one_signature_per_entry():
    from numba import njit

    @njit
    def kernel(a, b):
        return a[0] + b

    with pytest.raises(native_build.BuildError, match="k.kernel: not called"):
        native_build._merge_readonly(kernel, "k.kernel")
    x = np.zeros(2)
    kernel(x, 1)
    x.flags.writeable = False
    kernel(x, 1)  # a read-only variant: one signature, read-only
    args, ret = native_build._merge_readonly(kernel, "k.kernel")
    assert not args[0].mutable and str(ret) == "float64"
    kernel(np.zeros(2, np.float32), 1)
    with pytest.raises(native_build.BuildError, match="k.kernel: 3 signatures"):
        native_build._merge_readonly(kernel, "k.kernel")
