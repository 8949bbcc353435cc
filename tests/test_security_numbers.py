"""Issue #21 part 2: no silent wrong number, traceback or hang from numbers.

Ties in ``compare`` are shared, fractional/absurd indices are refused, every numeric CLI option is finite and
bounded, empty detection folders are refused, user text is never matplotlib math, intervals that exclude their
point estimate are drawn, and the detection readers survive fuzzing (a result or an InputError naming the file).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from vocbench import Dataset, Detections
from vocbench.cli import main
from vocbench.errors import InputError, VocbenchWarning

CLASSES = ("cat", "dog", "car")


def _dataset(n_images: int = 24, seed: int = 0, classes=CLASSES) -> Dataset:
    """A small in-memory set: 1-3 objects per image, every class present."""
    rng = np.random.default_rng(seed)
    img, cls, boxes = [], [], []
    for i in range(n_images):
        for k in range(1 + i % 3):
            x, y = rng.uniform(1, 200, 2)
            w, h = rng.uniform(20, 100, 2)
            img.append(i)
            cls.append((i + k) % len(classes))
            boxes.append((x, y, x + w, y + h))
    return Dataset.from_arrays(image_ids=[f"im{i:03d}" for i in range(n_images)], widths=np.full(n_images, 320),
                               heights=np.full(n_images, 320), image_index=np.asarray(img, np.int64),
                               class_index=np.asarray(cls, np.int64), boxes=np.asarray(boxes), classes=classes)


def _detections(ds: Dataset, seed: int, jitter: float = 6.0, extra: int = 20) -> Detections:
    """Noisy copies of the ground truth plus some false positives, random scores."""
    rng = np.random.default_rng(seed)
    n = ds.num_objects
    boxes = ds.boxes + rng.normal(0, jitter, (n, 4))
    fp_img = rng.integers(0, ds.num_images, extra)
    fp_box = np.sort(rng.uniform(1, 300, (extra, 2)), axis=1)[:, [0, 0, 1, 1]] + [0, 5, 0, 9]
    return Detections(image_index=np.concatenate([ds.image_index, fp_img]),
                      class_index=np.concatenate([ds.class_index, rng.integers(0, ds.num_classes, extra)]),
                      scores=rng.uniform(0, 1, n + extra), boxes=np.concatenate([boxes, fp_box]), source=f"s{seed}")


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    """The small set written as a VOCdevkit (split 2007:memory) with two CSV detection files."""
    from vocbench.io.writers import write_voc_dataset

    root = tmp_path_factory.mktemp("sn")
    ds = _dataset()
    write_voc_dataset(ds, root / "gt")
    paths = {}
    for name, seed in (("a", 1), ("b", 5)):
        paths[name] = root / f"{name}.csv"
        _detections(ds, seed).to_pandas(ds)[["image_id", "class", "score", "xmin", "ymin", "xmax", "ymax"]].to_csv(
            paths[name], index=False)
    gt = ["--gt", str(root / "gt" / "VOCdevkit"), "--set", "2007:memory", "--classes", ",".join(CLASSES)]
    return {"root": root, "ds": ds, "gt": gt, **paths}


def _compare(ds, dets, **kw):
    from vocbench.compare import compare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        return compare(ds, dets, **{"bootstrap": 200, **kw})


# ------------------------------------------------------------------------------------------ 1. compare ties
def test_identical_models_share_the_top_equally():
    ds = _dataset()
    a = _detections(ds, 1)
    cmp = _compare(ds, {"a": a, "copy": a})
    for m in cmp.metrics:
        np.testing.assert_array_equal(cmp.replicates[cmp.metrics.index(m), :, 0],
                                      cmp.replicates[cmp.metrics.index(m), :, 1])
        assert cmp.rank_stability.p_top[m] == {"a": 0.5, "copy": 0.5}
        assert cmp.rank_stability.p_tie[m] == 1.0
        assert cmp.rank_stability.top_change[m] == 0.0
    d = json.loads(json.dumps(cmp.to_dict()))
    assert d["rank_stability"]["p_top"]["voc07"] == {"a": 0.5, "copy": 0.5}
    assert d["rank_stability"]["p_tie"]["voc07"] == 1.0
    frame = cmp.to_pandas()
    assert frame["p_top"].tolist() == [0.5] * len(frame)
    text = str(cmp)
    assert "best in  50.0% of replicates  (tied)" in text and "best in 100.0%" not in text
    assert "tied in 100.0% of replicates" in text


def test_tie_shares_against_a_twin_three_models_two_identical():
    ds = _dataset(30, seed=2)
    a, b = _detections(ds, 1), _detections(ds, 5, jitter=12.0)
    cmp = _compare(ds, [("a", a), ("b", b), ("a2", a)], metrics=("voc07", "coco"))
    for k, m in enumerate(cmp.metrics):
        r = cmp.replicates[k]
        want = np.zeros(3)
        ties = 0
        for row in r:  # slow twin: credit 1/k to each of the k models sharing the maximum
            best = [j for j in range(3) if row[j] == max(row)]
            ties += len(best) > 1
            for j in best:
                want[j] += 1.0 / len(best) / len(r)
        got = cmp.rank_stability.p_top[m]
        assert [got["a"], got["b"], got["a2"]] == pytest.approx(want, abs=1e-12)
        assert got["a"] == got["a2"]
        assert sum(got.values()) == pytest.approx(1.0)
        assert cmp.rank_stability.p_tie[m] == ties / len(r)


def test_top_shares_rows_without_a_defined_score_credit_nobody():
    from vocbench.compare.stats import top_shares

    r = np.array([[0.5, 0.5, 0.1], [0.2, 0.7, 0.7], [np.nan, np.nan, np.nan], [np.nan, 0.3, 0.1]])
    change, shares, tie = top_shares(r, np.array([0.4, 0.4, 0.0]))
    np.testing.assert_allclose(shares, [0.5 / 4, (0.5 + 0.5 + 1) / 4, 0.5 / 4])
    assert tie == 0.5
    assert change == 0.75  # rows 2, 3, 4 have another top set than the point's {0, 1}


def test_compare_cli_identical_models_text_json_and_html(disk, tmp_path, capsys):
    out = tmp_path / "cmp.json"
    argv = ["compare", *disk["gt"][:2], *disk["gt"][2:], "--dets", f"a={disk['a']}", "--dets", f"same={disk['a']}",
            "--bootstrap", "100", "--json", str(out), "--html", str(tmp_path / "cmp.html")]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "best in  50.0% of replicates  (tied)" in text and "best in 100.0%" not in text
    d = json.loads(out.read_text())
    for m in ("voc07", "voc12", "coco"):
        assert d["rank_stability"]["p_top"][m] == {"a": 0.5, "same": 0.5}
        assert d["rank_stability"]["top_change"][m] == 0.0
    page = (tmp_path / "cmp.html").read_text()
    assert "top tied" in page


def test_report_leaderboard_gives_tied_models_one_rank():
    from vocbench.report.compare import _leaderboard

    ds = _dataset()
    a, b = _detections(ds, 1), _detections(ds, 5, jitter=12.0)
    cmp = _compare(ds, [("a", a), ("b", b), ("a2", a)], metrics=("voc07",))
    board = _leaderboard(cmp).set_index("model")
    assert board.loc["a", "rank"] == board.loc["a2", "rank"]
    assert board.loc["a", "best in (share of replicates)"] == board.loc["a2", "best in (share of replicates)"]


# ------------------------------------------------------------------------------ 6. intervals excluding the point
def test_compare_report_draws_intervals_that_exclude_their_point(tmp_path):
    import dataclasses

    from vocbench.report.compare import write_compare_report

    ds = _dataset()
    cmp = _compare(ds, {"a": _detections(ds, 1), "b": _detections(ds, 5, jitter=12.0)}, metrics=("voc07",))
    m0 = cmp.models[0]
    models = (dataclasses.replace(m0, ci=(m0.mAP + 0.01, m0.mAP + 0.05)),) + cmp.models[1:]
    p0 = cmp.pairs[0]
    pc_ci = p0.per_class_ci.copy()
    pc_ci[:, 0] = p0.per_class_diff[0] - 0.2, p0.per_class_diff[0] - 0.1  # interval entirely below the point
    pairs = (dataclasses.replace(p0, ci=(p0.diff - 0.3, p0.diff - 0.2), per_class_ci=pc_ci),)
    skewed = dataclasses.replace(cmp, models=models, pairs=pairs)
    page = write_compare_report(tmp_path / "r.html", ds, skewed).read_text()
    assert "do not contain their point estimate" in page
    assert f"a under VOC07 mAP (11-point): {m0.mAP:.4f} outside" in page
    assert "1 per-class difference(s) outside their interval" in page
    assert page.count("<svg") >= 4


# ------------------------------------------------------------------------------------------ 5. user text is never math
MATH_CLASSES = ("a$^$b", "$x$", r"$\frac$", "dog")


@pytest.fixture(scope="module")
def math_disk(tmp_path_factory):
    from vocbench.io.writers import write_voc_dataset

    root = tmp_path_factory.mktemp("math")
    ds = _dataset(classes=MATH_CLASSES)
    write_voc_dataset(ds, root / "gt")
    _detections(ds, 1).to_pandas(ds)[["image_id", "class", "score", "xmin", "ymin", "xmax", "ymax"]].to_csv(
        root / "d.csv", index=False)
    (root / "classes.txt").write_text("\n".join(MATH_CLASSES) + "\n")
    return root


def _svg_texts(page: str) -> list[str]:
    import html
    import re

    return [html.unescape(t) for svg in re.findall(r"<svg.*?</svg>", page, re.S)
            for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]


@pytest.mark.parametrize("command", ["stats", "eval", "diagnose", "compare", "audit"])
def test_dollar_class_and_model_names_are_drawn_literally_in_every_report(math_disk, command, tmp_path, capsys):
    gt = [str(math_disk / "gt" / "VOCdevkit"), "--set", "2007:memory", "--classes", str(math_disk / "classes.txt")]
    dets = str(math_disk / "d.csv")
    out = tmp_path / "r.html"
    argv = {"stats": ["stats", *gt],
            "eval": ["eval", "--gt", *gt, "--dets", dets],
            "diagnose": ["diagnose", "--gt", *gt, "--dets", dets],
            "audit": ["audit", "--gt", *gt, "--dets", f"$^$={dets}"],
            "compare": ["compare", "--gt", *gt, "--dets", f"$^$={dets}", "--dets", f"$y$={dets}", "--bootstrap",
                        "100"]}[command] + ["--html", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    texts = _svg_texts(out.read_text())
    assert texts
    names = {"compare": MATH_CLASSES[:3] + ("$^$", "$y$"), "audit": ()}.get(command, MATH_CLASSES[:3])
    for name in names:  # (the audit figures draw grids and shapes, no class or model names: it must not crash)
        assert any(name in t for t in texts), f"{name!r} not drawn literally in the {command} report"
    assert not any("\\$" in t for t in texts)  # the escape never shows


def test_literal_text_keeps_log_axis_math_and_escapes_user_labels():
    from vocbench.report.plots import fig_to_svg, new_figure

    fig, ax = new_figure(3, 2)
    ax.bar(["$x$", "a$^$b"], [10, 1000])
    ax.set_yscale("log")
    ax.set_title(r"$\frac$ model")
    ax.legend(["$^$"])
    texts = _svg_texts(fig_to_svg(fig))
    assert {"$x$", "a$^$b", r"$\frac$ model", "$^$"} <= set(texts)
    assert not any("mathdefault" in t or "\\$" in t for t in texts)  # log ticks still drawn as 10^k math


# ------------------------------------------------------------------------------------------ 3. numeric options
def _subparsers():
    import argparse

    from vocbench.cli import build_parser

    parser = build_parser()  # the full parser: built-in and plug-in (reference_models) commands
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _numeric_options():
    """(command, option, type) of every option that converts its value (anything but plain strings/choices)."""
    out = []
    for name, sp in _subparsers().items():
        for a in sp._actions:
            if a.type is None or a.type is str or a.choices:
                continue
            out.append((name, a.option_strings[-1], a.type))
    return out


def test_the_walk_sees_every_command_and_plugin():
    names = set(_subparsers())
    assert {"eval", "diagnose", "compare", "anchors", "synth", "demo"} <= names
    opts = {(c, o) for c, o, _ in _numeric_options()}
    assert {("anchors", "--n-init"), ("predict", "--score-threshold"), ("train", "--epochs"), ("synth", "--images"),
            ("compare", "--bootstrap")} <= opts or "train" not in names


BAD_ALWAYS = ["nan", "NaN", "inf", "-inf", "1e309", "-1e309", str(2**70), "-" + str(2**70), "true", "", "1e999999"]


#: Options whose upper bound is a run-time check that says why (memory), exit 1 with one line.
RUNTIME_BOUNDED = {("compare", "--bootstrap")}


def test_runtime_bounded_bootstrap_is_refused_before_any_work(disk, capsys):
    argv = ["compare", *disk["gt"], "--dets", f"a={disk['a']}", "--dets", f"b={disk['b']}", "--bootstrap",
            "1000000000"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would need" in err[0]


@pytest.mark.parametrize("command,option,kind", _numeric_options(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_numeric_option_is_finite_and_bounded(command, option, kind):
    import argparse

    from vocbench.commands._common import MAX_SEED, NumberOption

    for bad in BAD_ALWAYS:
        with pytest.raises((argparse.ArgumentTypeError, ValueError, TypeError)):
            kind(bad)
    if option == "--seed":
        assert isinstance(kind, NumberOption) and kind.bounds == (0, MAX_SEED)
        return
    if (command, option) in RUNTIME_BOUNDED:  # bounded by a check that states the cost (see the CLI test below)
        return
    with pytest.raises((argparse.ArgumentTypeError, ValueError, TypeError)):  # bounded the way -k is
        kind("1000000000")
    if isinstance(kind, NumberOption) and kind.kind is int:
        with pytest.raises(argparse.ArgumentTypeError):
            kind("2.5")  # a count is never truncated


@pytest.mark.parametrize("argv", [
    ["anchors", "ROOT", "--set", "2007:test", "--n-init", "1000000000"],
    ["anchors", "ROOT", "--set", "2007:test", "--max-iter", "1e9"],
    ["anchors", "ROOT", "--set", "2007:test", "-k", "nan"],
    ["synth", "OUT", "--images", "100000000000"],
    ["synth", "OUT", "--workers", "0"],
    ["diagnose", "--gt", "ROOT", "--set", "2007:test", "--dets", "D", "--score-threshold", "nan"],
    ["compare", "--gt", "ROOT", "--set", "2007:test", "--dets", "a=A", "--dets", "b=B", "--bootstrap", "1e12"],
    ["compare", "--gt", "ROOT", "--set", "2007:test", "--dets", "a=A", "--dets", "b=B", "--seed", str(2**70)],
    ["predict", "RUN", "--data", "ROOT", "--out", "OUT", "--score-threshold", "nan"],
    ["predict", "RUN", "--data", "ROOT", "--out", "OUT", "--iou", "inf"],
    ["train", "yolo", "--data", "ROOT", "--epochs", "1000000000"],
    ["train", "yolo", "--data", "ROOT", "--lr", "nan"],
    ["profile", "RUN", "--batch", "1,100000000"],
])
def test_bad_numeric_option_is_usage_error_exit_2_one_line(argv, capsys, tmp_path):
    if argv[0] in ("predict", "train", "profile") and argv[0] not in _subparsers():
        pytest.skip("reference_models plug-in not installed")
    argv = [str(tmp_path / v) if v.isupper() else v for v in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"vocbench {argv[0]}: error: argument")
    assert "Traceback" not in "\n".join(err)
    assert not any(tmp_path.iterdir())  # nothing written


def test_ablation_script_options_are_bounded():
    from reference_models.ablation import main as ablation_main

    for opt, bad in (("--epochs", "1000000000"), ("--width", "nan"), ("--seed", "-1")):
        with pytest.raises(SystemExit) as exc:
            ablation_main(["--data", "x", "--out", "y", opt, bad])
        assert exc.value.code == 2


# -------------------------------------------------------------------------------------- 2. indices in the Python API
BAD_INDICES = [0.5, 1.5, float("nan"), float("inf"), True, 2**70, -(2**70), "1"]


@pytest.mark.parametrize("field", ["image_index", "class_index"])
@pytest.mark.parametrize("bad", BAD_INDICES, ids=repr)
def test_detections_refuse_fractional_boolean_and_huge_indices(field, bad):
    ds = _dataset()
    d = _detections(ds, 1)
    values = getattr(d, field).tolist()
    values[3] = bad
    with pytest.raises(InputError, match=rf"{field}\[3\]|{field} is"):
        Detections(**{"image_index": d.image_index, "class_index": d.class_index, "scores": d.scores,
                      "boxes": d.boxes, field: values})
    if isinstance(bad, bool):
        arr = np.ones(len(values), bool)  # a mask passed by mistake
    else:
        arr = np.asarray(values, dtype=object if isinstance(bad, (int, str)) else None)
    with pytest.raises(InputError):
        Detections(**{"image_index": d.image_index, "class_index": d.class_index, "scores": d.scores,
                      "boxes": d.boxes, field: arr})


@pytest.mark.parametrize("kw", [{"n_clusters": 2.5}, {"n_init": 1.5}, {"max_iter": float("nan")}, {"n_init": True},
                                {"n_clusters": 2, "n_init": 0}])
def test_kmeans_counts_are_integers_never_truncated(kw):
    import vocbench

    wh = np.random.default_rng(0).uniform(0.05, 0.9, (40, 2))
    with pytest.raises(InputError, match=next(iter(k for k in kw if k != "n_clusters" or len(kw) == 1))):
        vocbench.IoUKMeans(**{"n_clusters": 3, **kw}).fit(wh)


def test_detections_filter_refuses_fractional_indices():
    ds = _dataset()
    d = _detections(ds, 1)
    assert len(d.filter(images=[1, 2.0])) == int(np.isin(d.image_index, [1, 2]).sum())
    with pytest.raises(InputError, match=r"images=...\)\[0\] is 1.5"):
        d.filter(images=[1.5])
    with pytest.raises(InputError, match="classes"):
        d.filter(classes=[True])


def test_subset_images_takes_a_mask_not_indices():
    ds = _dataset()
    assert ds.subset_images(np.arange(ds.num_images) < 5).num_images == 5
    for bad in ([0, 3, 4], np.ones(ds.num_images), np.ones(3, bool)):
        with pytest.raises(InputError, match="boolean mask"):
            ds.subset_images(bad)


def test_integral_floats_and_small_int_dtypes_are_accepted_exactly():
    d = Detections(np.array([0.0, 2.0]), np.array([1, 2], np.int8), [0.5, 0.4], np.zeros((2, 4)))
    assert d.image_index.tolist() == [0, 2] and d.class_index.tolist() == [1, 2]
    assert d.image_index.dtype == np.int64 and d.class_index.dtype == np.int64


@pytest.mark.parametrize("entry", ["evaluate", "diagnose", "compare", "dataframe", "evaluator"])
def test_fractional_indices_refused_by_every_api_entry(entry):
    import pandas as pd

    import vocbench

    ds = _dataset()
    d = _detections(ds, 1)
    arrays = {"image_index": d.image_index + 0.5, "class_index": d.class_index, "scores": d.scores, "boxes": d.boxes}
    with warnings.catch_warnings(), pytest.raises(InputError, match=r"image_index|labels\[1\] is 0.5"):
        warnings.simplefilter("ignore", VocbenchWarning)
        if entry == "evaluate":
            vocbench.evaluate(ds, arrays)
        elif entry == "diagnose":
            vocbench.diagnose(ds, arrays)
        elif entry == "compare":
            vocbench.compare(ds, {"a": arrays, "b": d}, bootstrap=100)
        elif entry == "dataframe":
            frame = d.to_pandas()
            frame["image_index"] = frame["image_index"] + 0.5
            vocbench.evaluate(ds, frame)
        else:
            ev = vocbench.VocEvaluator(ds)
            ev.update([{"boxes": d.boxes[:2], "scores": d.scores[:2], "labels": np.array([1.0, 0.5])}])
    if entry == "dataframe":
        frame = pd.DataFrame({**{k: v for k, v in arrays.items() if k != "boxes"}, "image_index": d.image_index,
                              "class_index": [True] * len(d), "score": d.scores, "xmin": d.boxes[:, 0],
                              "ymin": d.boxes[:, 1], "xmax": d.boxes[:, 2], "ymax": d.boxes[:, 3]})
        with pytest.raises(InputError, match="class_index"):
            vocbench.evaluate(ds, frame)


@pytest.mark.parametrize("bad", [-1, 24, 2**63 - 1])
def test_out_of_range_indices_refused_by_evaluate(bad):
    import vocbench

    ds = _dataset()
    d = _detections(ds, 1)
    idx = d.image_index.copy()
    idx[5] = bad
    with pytest.raises(InputError, match="image_index"):
        vocbench.evaluate(ds, {"image_index": idx, "class_index": d.class_index, "scores": d.scores,
                               "boxes": d.boxes})


def test_dataset_refuses_fractional_and_huge_sizes_and_indices():
    ds = _dataset()
    base = dict(image_ids=ds.image_ids, widths=ds.widths, heights=ds.heights, image_index=ds.image_index,
                class_index=ds.class_index, boxes=ds.boxes, classes=ds.classes)
    for name, value in (("widths", [2**70] + [320] * 23), ("heights", [320.5] + [320] * 23),
                        ("class_index", [True] * ds.num_objects), ("image_index", ds.image_index + 0.25)):
        with pytest.raises(InputError, match=name):
            Dataset.from_arrays(**{**base, name: value})


def test_csv_index_columns_beyond_int64_are_refused(tmp_path):
    import vocbench

    ds = _dataset()
    d = _detections(ds, 1)
    frame = d.to_pandas()
    for col, val in (("image_index", str(2**70)), ("image_index", str(2**64 - 1)), ("class_index", "1.5"),
                     ("class_index", "True")):
        f = frame.astype({col: object})
        f.loc[2, col] = val
        path = tmp_path / "d.csv"
        f.to_csv(path, index=False)
        with pytest.raises(InputError, match=rf"d.csv: line 4: {col}"):
            vocbench.read_detections(path, ds)


# ------------------------------------------------------------------------------------------ 4. empty folders
@pytest.mark.parametrize("fmt", ["yolo", "absolute", "devkit", None])
def test_folder_without_detection_files_is_refused(disk, fmt, tmp_path, capsys):
    empty = tmp_path / "preds"
    empty.mkdir()
    (empty / "notes.md").write_text("nothing here\n")
    argv = ["eval", *disk["gt"], "--dets", str(empty)]
    if fmt:
        argv += ["--format", fmt]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(empty) in err[0] and "no detection" in err[0]
    if fmt in ("yolo", "absolute"):
        import vocbench

        with pytest.raises(InputError, match="no detection files found"):
            vocbench.read_detections(empty, disk["ds"], format=fmt)


def test_folder_of_empty_txt_files_is_a_valid_no_detections(disk):
    import vocbench

    folder = disk["root"] / "none"
    folder.mkdir()
    (folder / "im000.txt").write_text("")
    assert len(vocbench.read_detections(folder, disk["ds"], format="yolo")) == 0


def test_absolute_class_index_with_thousands_of_digits_is_one_line(disk, tmp_path):
    import vocbench

    (tmp_path / "im000.txt").write_text("9" * 5000 + " 0.5 1 1 20 20\n")
    with pytest.raises(InputError, match="im000.txt: line 1: unknown class"):
        vocbench.read_detections(tmp_path, disk["ds"], format="absolute")


# ------------------------------------------------------------------------------------------ 7. reader fuzzing
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
_FUZZ_DS = _dataset(6)
NUMBERS = ["0", "1", "0.5", "-1", "1e3", "1e309", "-1e309", "nan", "NaN", "inf", "-inf", "1e-320", str(2**70),
           str(2**63), str(-(2**63) - 1), "9" * 400,
           "9" * 5000, "1_0", "0x10", "+1", "-0", ".5", "5.", "1e", "--1", "١", "½", "True"]
WORDS = list(_FUZZ_DS.image_ids[:3]) + list(CLASSES) + ["", "x", "../x", "\0", "é", "comp4", "\ufeff", "$x$"]
token = st.sampled_from(NUMBERS + WORDS) | st.text(max_size=6) | st.integers(-(2**70), 2**70).map(str) | \
    st.floats(allow_nan=True, allow_infinity=True).map(repr)
number = st.sampled_from(NUMBERS) | st.floats(-1e4, 1e4).map(repr) | st.integers(-5, 500).map(str)
row6 = st.tuples(st.sampled_from(WORDS) | number, st.lists(number, min_size=5, max_size=5)).map(
    lambda t: [t[0], *t[1]])  # shaped like a real line: id/class then five numbers
line = (st.lists(token, min_size=0, max_size=8) | row6).flatmap(
    lambda toks: st.sampled_from([" ", "\t", ",", "  "]).map(lambda sep: sep.join(toks)))
text_file = st.lists(line, max_size=12).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda nl: nl.join(lines).encode("utf-8", "surrogatepass")))
raw_file = st.binary(max_size=400) | text_file | text_file.map(lambda b: b"\xef\xbb\xbf" + b) | \
    text_file.map(lambda b: b.replace(b"0", b"\xff"))


def _check_outcome(read, where: str) -> None:
    """``read()`` returns valid detections for the fuzz dataset or raises InputError naming ``where``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            d = read()
        except InputError as exc:
            msg = str(exc)
            assert where in msg, msg
            assert "\n" not in msg.strip() or len(msg) < 2000
            return
    assert isinstance(d, Detections)
    n = len(d)
    assert d.image_index.shape == (n,) and d.class_index.shape == (n,) and d.boxes.shape == (n, 4)
    if n:
        assert 0 <= d.image_index.min() and d.image_index.max() < _FUZZ_DS.num_images
        assert 0 <= d.class_index.min() and d.class_index.max() < _FUZZ_DS.num_classes
        assert np.isfinite(d.scores).all() and np.isfinite(d.boxes).all()


def _fuzz_dir(tmp_path_factory, name):
    import shutil

    folder = tmp_path_factory.getbasetemp() / f"fuzz-{name}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


@FUZZ
@given(data=raw_file)
def test_fuzz_csv_reader(tmp_path_factory, data):
    import vocbench

    folder = _fuzz_dir(tmp_path_factory, "csv")
    path = folder / "d.csv"
    header = b"image_id,class,score,xmin,ymin,xmax,ymax\n" if data[:1] != b"i" else b""
    path.write_bytes(header + data.replace(b" ", b",").replace(b"\t", b","))
    _check_outcome(lambda: vocbench.read_detections(path, _FUZZ_DS, format="csv"), str(path))


@FUZZ
@given(data=raw_file, name=st.sampled_from(["comp4_det_test_cat.txt", "x_dog.txt", "comp4_det_test_car.txt"]))
def test_fuzz_devkit_reader(tmp_path_factory, data, name):
    import vocbench

    folder = _fuzz_dir(tmp_path_factory, "devkit")
    (folder / name).write_bytes(data)
    _check_outcome(lambda: vocbench.read_detections(folder, _FUZZ_DS, format="devkit"), str(folder))


@FUZZ
@given(data=raw_file, stem=st.sampled_from(list(_FUZZ_DS.image_ids[:2]) + ["nope"]),
       fmt=st.sampled_from(["yolo", "absolute"]))
def test_fuzz_per_image_txt_readers(tmp_path_factory, data, stem, fmt):
    import vocbench

    folder = _fuzz_dir(tmp_path_factory, "txt")
    (folder / f"{stem}.txt").write_bytes(data)
    _check_outcome(lambda: vocbench.read_detections(folder, _FUZZ_DS, format=fmt), str(folder))


json_scalar = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | \
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5) | st.sampled_from([1, 2, 3, 6, 0, -1])
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    st.sampled_from(["image_id", "category_id", "bbox", "score", "x"]), inner, max_size=5), max_leaves=20)
result = st.fixed_dictionaries(
    {"image_id": st.integers(0, 8) | json_scalar, "category_id": st.integers(0, 4) | json_scalar,
     "bbox": st.lists(st.floats(-10, 500) | json_scalar, min_size=3, max_size=5) | json_scalar,
     "score": st.floats(0, 1) | json_scalar})
coco_doc = st.lists(result, max_size=8) | json_value | st.dictionaries(st.just("annotations"), st.lists(result),
                                                                      max_size=1)


@FUZZ
@given(doc=coco_doc, indent=st.sampled_from([None, 1]))
def test_fuzz_coco_results_reader(tmp_path_factory, doc, indent):
    import vocbench

    folder = _fuzz_dir(tmp_path_factory, "coco")
    path = folder / "r.json"
    path.write_text(json.dumps(doc, indent=indent))  # NaN/Infinity as Python's json writes them
    _check_outcome(lambda: vocbench.read_detections(path, _FUZZ_DS, format="coco"), str(path))


@FUZZ
@given(data=raw_file)
def test_fuzz_coco_results_reader_bytes(tmp_path_factory, data):
    import vocbench

    folder = _fuzz_dir(tmp_path_factory, "cocob")
    path = folder / "r.json"
    path.write_bytes(b'[{"image_id": 1, "category_id": 1, "bbox": [' + data + b"]")
    _check_outcome(lambda: vocbench.read_detections(path, _FUZZ_DS, format="coco"), str(path))


@pytest.fixture(scope="module")
def yolo_gt(tmp_path_factory):
    """A YOLO data.yaml with two tiny PNG images; the first label file is what the fuzzer rewrites."""
    from PIL import Image

    root = tmp_path_factory.mktemp("yologt")
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    for stem in ("a", "b"):
        Image.new("RGB", (64, 48)).save(root / "images" / "val" / f"{stem}.png")
        (root / "labels" / "val" / f"{stem}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text(f"path: {root}\nval: images/val\nnames: [cat, dog, car]\n")
    return root


@FUZZ
@given(data=raw_file)
def test_fuzz_yolo_ground_truth_labels(yolo_gt, data):
    from vocbench import load_ground_truth

    label = yolo_gt / "labels" / "val" / "a.txt"
    label.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = load_ground_truth(yolo_gt / "data.yaml", "val")
        except InputError as exc:
            assert "a.txt" in str(exc), str(exc)
            return
    assert ds.num_images == 2 and np.isfinite(ds.boxes).all()
    assert ((0 <= ds.class_index) & (ds.class_index < 3)).all()


coco_ann = st.fixed_dictionaries(
    {"id": st.integers(1, 50) | json_scalar, "image_id": st.integers(1, 3) | json_scalar,
     "category_id": st.integers(1, 3) | json_scalar,
     "bbox": st.lists(st.floats(-10, 500) | json_scalar, min_size=3, max_size=5) | json_scalar},
    optional={"iscrowd": st.sampled_from([0, 1, "0", 0.5, [0], True, None]), "area": json_scalar})
coco_gt_doc = st.fixed_dictionaries(
    {"images": st.just([{"id": 1, "width": 100, "height": 80, "file_name": "a.jpg"},
                        {"id": 2, "width": 50, "height": 50, "file_name": "b.jpg"}]) | st.lists(
        st.fixed_dictionaries({"id": json_scalar | st.integers(1, 3), "width": json_scalar,
                               "height": json_scalar, "file_name": st.text(max_size=8) | json_scalar}),
        max_size=3),
     "categories": st.just([{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]) | json_value,
     "annotations": st.lists(coco_ann, max_size=6) | json_value})


@FUZZ
@given(doc=coco_gt_doc)
def test_fuzz_coco_ground_truth(tmp_path_factory, doc):
    from vocbench import load_ground_truth

    folder = _fuzz_dir(tmp_path_factory, "cocogt")
    path = folder / "instances.json"
    path.write_text(json.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = load_ground_truth(path)
        except InputError as exc:
            assert str(path) in str(exc) or path.name in str(exc), str(exc)
            return
    assert np.isfinite(ds.boxes).all()
    assert len(ds.image_index) == 0 or (0 <= ds.image_index.min() and ds.image_index.max() < ds.num_images)


@pytest.mark.parametrize("kw", [{"score_threshold": float("nan")}, {"score_threshold": float("inf")},
                                {"iou_threshold": float("nan")}, {"iou_threshold": 0.0}, {"top_k": 2.5},
                                {"pre_nms_top_k": 0}, {"top_k": True}])
def test_reference_models_postprocess_config_refuses_nan_and_fractions(kw):
    predict = pytest.importorskip("reference_models.predict")
    with pytest.raises(InputError, match=next(iter(kw))):
        predict.PostprocessConfig(**kw)
    assert predict.PostprocessConfig().score_threshold == 0.005


@pytest.mark.parametrize("kw", [{"k": 2.5}, {"stride": 2.5}, {"input_size": float("nan")}, {"curve": [1.5, 2]},
                                {"k": True}, {"stride": 0}])
def test_analyze_anchors_sizes_are_integers_never_truncated(kw):
    import vocbench

    wh = np.random.default_rng(0).uniform(0.05, 0.9, (40, 2))
    with pytest.raises(InputError, match=next(iter(kw))):
        vocbench.analyze_anchors(wh, **{"k": 3, "curve": None, **kw})


@pytest.mark.parametrize("field", ["image_id", "category_id", "score"])
def test_coco_results_number_of_5000_digits_is_one_line(tmp_path, field):
    """json.loads raises a bare ValueError past CPython's 4300-digit int limit (found by the fuzz test)."""
    from vocbench.io.coco_columns import read_coco_results_columns

    rec = {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}
    text = json.dumps([rec]).replace(f'"{field}": {rec[field]}', f'"{field}": {"9" * 5000}')
    p = tmp_path / "r.json"
    p.write_text(text)
    with pytest.raises(InputError, match=r"r\.json: a number has over 4300 digits"):
        read_coco_results_columns(p)
