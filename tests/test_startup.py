"""Start-up: ``import vocbench`` stays light, the lazy public API still behaves like the eager one.

Imports are checked in fresh interpreters (``sys.modules`` after the import); no timing is asserted here (times
live in ``vocbench bench startup``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("pandas", "matplotlib", "lxml", "numba", "scipy", "sklearn", "jinja2", "tqdm")


def _modules_after(code: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_vocbench_loads_no_heavy_stack():
    loaded = _modules_after("import vocbench")
    assert "vocbench" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_version_and_errors_need_no_heavy_stack():
    loaded = _modules_after("import vocbench\nvocbench.__version__\nvocbench.InputError\nvocbench.VocbenchError")
    assert not loaded & set(HEAVY)


def test_loading_the_cli_parser_loads_no_pandas_or_lxml():
    """Building every subcommand's parser (what each ``vocbench ...`` pays first) defers numba, pandas, lxml."""
    loaded = _modules_after("from vocbench.cli import build_parser\nbuild_parser()")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_first_access_imports_only_what_is_used():
    loaded = _modules_after("import vocbench\nvocbench.batched_nms")
    assert "numba" in loaded  # the NMS kernels
    assert not loaded & {"pandas", "matplotlib", "lxml", "sklearn"}


def test_numba_kernels_load_without_scipy_linalg():
    """vocbench._numba answers numba's import-time BLAS probe itself (no kernel uses BLAS)."""
    code = ("import sys, numpy as np\nfrom vocbench.nms import nms\n"
            "nms(np.array([[0, 0, 10, 10], [1, 1, 10, 10.]]), np.array([0.9, 0.8]), 0.5)\n"
            "import numba.np.arraymath as am\n"
            "assert am._HAVE_BLAS, 'flag restored'\n"
            "assert 'scipy.linalg' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_all_dir_and_lazy_names():
    import vocbench

    public = set(vocbench._PUBLIC)
    assert set(vocbench.__all__) == public | {"__version__", "VocbenchError", "VocbenchWarning", "InputError"}
    assert len(vocbench.__all__) == len(set(vocbench.__all__))
    assert set(vocbench.__all__) <= set(dir(vocbench))
    for name in vocbench.__all__:
        value = getattr(vocbench, name)
        if name in public:
            module = __import__(vocbench._PUBLIC[name], fromlist=[name])
            assert value is getattr(module, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        vocbench.no_such_name  # noqa: B018


def test_public_function_named_like_its_subpackage_stays_the_function():
    """``vocbench.diagnose`` is the function even when the subpackage is imported first (as eagerly it was)."""
    code = ("import vocbench.diagnose\nimport vocbench\n"
            "assert callable(vocbench.diagnose) and not isinstance(vocbench.diagnose, type(vocbench)), "
            "vocbench.diagnose\n"
            "from vocbench import diagnose\nassert diagnose is vocbench.diagnose")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_subpackages_resolve_after_a_bare_import():
    code = ("import vocbench\nimport sys\nassert 'vocbench.nms' not in sys.modules\n"
            "assert vocbench.nms.nms is sys.modules['vocbench.nms'].nms\nassert vocbench.io.voc.load_voc is "
            "vocbench.load_voc\nassert not hasattr(vocbench, 'no_such_subpackage')")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_star_import():
    ns: dict = {}
    exec("from vocbench import *", ns)
    import vocbench

    assert {k for k in ns if not k.startswith("__")} | {"__version__"} == set(vocbench.__all__)


def test_version_command_loads_no_heavy_stack():
    loaded = _modules_after("from vocbench.cli import main\nmain(['--version'])")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def _eval_modules(root, set_name, dets, cache_dir) -> tuple[list[str], str]:
    """Every module loaded by ``vocbench eval`` (VOC metrics) in a fresh interpreter, run twice so that the second
    run finds the annotation cache warm; and that run's output."""
    code = ("import sys\nfrom vocbench.cli import main\n"
            f"rc = main(['eval', '--gt', {str(root)!r}, '--set', {set_name!r}, '--dets', {str(dets)!r}])\n"
            "assert rc == 0, rc\nimport json\nprint('MODULES', json.dumps(sorted(sys.modules)))")
    env = {**os.environ, "VOCBENCH_CACHE_DIR": str(cache_dir)}
    for _ in range(2):  # the first run fills the annotation cache
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    text, mods = out.stdout.rsplit("MODULES", 1)
    return json.loads(mods), text


def _check_eval_modules(mods: list[str]) -> None:
    tops = {m.split(".")[0] for m in mods}
    assert not tops & set(HEAVY), sorted(tops & set(HEAVY))  # numba, pandas, lxml, matplotlib, jinja2, tqdm, ...
    assert "scipy.linalg" not in mods
    # only the eval command's parser is built: no other command module, no entry-point scan, no COCO kernels
    assert [m for m in mods if m.startswith("vocbench.commands.")] == ["vocbench.commands._common",
                                                                       "vocbench.commands.eval"]
    assert not {"vocbench.plugins", "importlib.metadata", "vocbench.eval.coco", "vocbench.eval._kernels",
                "vocbench._numba"} & set(mods)
    assert "numpy.ma" not in mods  # np.unique imports it (~30 ms): not on this path


def test_eval_command_with_warm_cache_loads_no_heavy_stack(tmp_path):
    """``vocbench eval`` (default VOC07 + VOC12, devkit) on tests/data with a warm annotation cache: no Numba (the
    numpy VOC engine), no pandas (numpy devkit reader), no lxml (nothing parsed), no matplotlib/jinja2 (no report)."""
    from tests.conftest import DATA

    mods, out = _eval_modules(DATA / "voc_small", "2007:trainval", DATA / "dets" / "voc_small", tmp_path)
    _check_eval_modules(mods)
    assert "mAP" in out and "car" in out


def test_eval_command_on_real_yolov2_loads_no_heavy_stack(voc_root, yolov2_dets, tmp_path):
    mods, out = _eval_modules(voc_root, "2007:test", yolov2_dets, tmp_path)
    _check_eval_modules(mods)
    assert "0.7214" in out and "0.7452" in out  # the devkit's VOC07 / VOC12 mAP of YOLOv2


def test_import_vocbench_eval_loads_no_numba_until_coco():
    loaded = _modules_after("import vocbench.eval\nfrom vocbench.eval import evaluate, match_detections")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    # the COCO front end loads the JIT module only when a kernel is looked up on the JIT path (ahead-of-time kernels,
    # when built, load no Numba at all: tests/test_native.py)
    code = "import os\nos.environ['VOCBENCH_NATIVE'] = '0'\nimport vocbench.eval\nf = vocbench.eval.evaluate_coco\n"
    assert "numba" not in _modules_after(code)
    assert "numba" in _modules_after(code + "import vocbench.eval.coco as c\nc._ck.coco_evaluate_kernel\n")
