"""The synthetic VOC generator: determinism, VOC-format validity, box/flag properties, splits, CLI."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vocbench import VOC_CLASSES, VocbenchError, load_voc
from vocbench.synth import CLASS_STYLES, MARKER, SPLIT_FRACTIONS, generate, render_image
from vocbench.synth.draw import upsample_bilinear
from vocbench.synth.generator import DIFFICULT_SIZE

N_IMAGES = 120
SPLITS = ("train", "val", "trainval", "test")


@pytest.fixture(scope="module")
def synth_pair(tmp_path_factory):
    """The same seed generated twice: once in this process, once with 2 worker processes."""
    a = generate(tmp_path_factory.mktemp("synth_a"), images=N_IMAGES, seed=7, workers=1)
    b = generate(tmp_path_factory.mktemp("synth_b"), images=N_IMAGES, seed=7, workers=2)
    return a, b


@pytest.fixture(scope="module")
def synth_root(synth_pair) -> Path:
    return synth_pair[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_whatever_the_workers(synth_pair):
    a, b = synth_pair
    fa, fb = _files(a / "VOC2007"), _files(b / "VOC2007")
    assert sorted(fa) == sorted(fb)
    xml = [k for k in fa if k.startswith("Annotations/")]
    assert len(xml) == N_IMAGES
    for name in fa:  # XML, ImageSets, marker and (same libraries) JPEG bytes
        assert fa[name] == fb[name], name


def test_other_seed_differs(tmp_path, synth_root):
    other = generate(tmp_path, images=5, seed=8, workers=1)
    a = (synth_root / "VOC2007/Annotations/000001.xml").read_bytes()
    assert (other / "VOC2007/Annotations/000001.xml").read_bytes() != a


def test_layout_on_disk(synth_root):
    folder = synth_root / "VOC2007"
    assert synth_root.name == "VOCdevkit"
    for i in range(1, N_IMAGES + 1):
        assert (folder / "JPEGImages" / f"{i:06d}.jpg").is_file()
        assert (folder / "Annotations" / f"{i:06d}.xml").is_file()
    main = folder / "ImageSets" / "Main"
    for split in SPLITS:
        assert (main / f"{split}.txt").is_file()
        for c in VOC_CLASSES:
            assert (main / f"{c}_{split}.txt").is_file()
    meta = json.loads((folder / MARKER).read_text())
    assert meta["seed"] == 7 and meta["images"] == N_IMAGES


def test_xml_parses_with_plain_elementtree_and_matches_the_jpeg(synth_root):
    folder = synth_root / "VOC2007"
    n_obj = 0
    for xml in sorted((folder / "Annotations").glob("*.xml")):
        root = ET.parse(xml).getroot()
        assert root.tag == "annotation"
        assert root.findtext("folder") == "VOC2007"
        assert root.findtext("filename") == xml.stem + ".jpg"
        w, h = int(root.findtext("size/width")), int(root.findtext("size/height"))
        assert int(root.findtext("size/depth")) == 3
        with Image.open(folder / "JPEGImages" / root.findtext("filename")) as im:
            assert im.size == (w, h) and im.mode == "RGB"
        assert max(w, h) == 416 and min(w, h) >= 50
        for obj in root.iter("object"):
            n_obj += 1
            assert obj.findtext("name") in VOC_CLASSES
            assert obj.findtext("pose") in ("Left", "Right", "Frontal", "Unspecified")
            for tag in ("truncated", "difficult", "occluded"):
                assert obj.findtext(tag) in ("0", "1")
            box = [int(obj.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")]
            assert 1 <= box[0] <= box[2] <= w and 1 <= box[1] <= box[3] <= h
    assert n_obj > N_IMAGES  # VOC-like: about 2.9 objects per image


def test_load_voc_reads_it_and_splits_are_a_partition(synth_root):
    ds = load_voc(synth_root, [f"2007:{s}" for s in ("train", "val", "test")], cache=False)
    assert ds.num_images == N_IMAGES
    assert len(set(ds.image_ids.tolist())) == N_IMAGES
    sizes = [ds.split(f"2007:{s}").num_images for s in ("train", "val", "test")]
    expected = [round(N_IMAGES * SPLIT_FRACTIONS[0]), round(N_IMAGES * SPLIT_FRACTIONS[1])]
    assert sizes == [*expected, N_IMAGES - sum(expected)]
    tv = load_voc(synth_root, ["2007:trainval"], cache=False)
    assert set(tv.image_ids.tolist()) == set(ds.split("2007:train").image_ids.tolist()) | set(
        ds.split("2007:val").image_ids.tolist())
    assert not ds.issues  # no border or inverted-box warnings


def test_boxes_inside_and_truncated_iff_box_reaches_the_border(synth_root):
    ds = load_voc(synth_root, ["2007:trainval", "2007:test"], cache=False)
    b = ds.boxes
    w = ds.widths[ds.image_index]
    h = ds.heights[ds.image_index]
    assert np.all(b[:, 0] >= 1) and np.all(b[:, 1] >= 1) and np.all(b[:, 2] <= w) and np.all(b[:, 3] <= h)
    assert np.all(b[:, 2] >= b[:, 0]) and np.all(b[:, 3] >= b[:, 1])
    clipped = np.stack([np.clip(b[:, 0], 1, w), np.clip(b[:, 1], 1, h), np.clip(b[:, 2], 1, w),
                        np.clip(b[:, 3], 1, h)], 1)
    assert np.array_equal(clipped, b)
    touches = (b[:, 0] == 1) | (b[:, 1] == 1) | (b[:, 2] == w) | (b[:, 3] == h)
    assert np.array_equal(ds.truncated, touches)
    assert 0.15 < ds.truncated.mean() < 0.6  # VOC: 35 % of boxes reach the border
    # tiny objects are difficult
    size = np.sqrt((b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1) / (w * h))
    assert np.all(ds.difficult[size < DIFFICULT_SIZE])
    assert 0.03 < ds.difficult.mean() < 0.3
    # every image has a non-difficult object (as in VOC trainval)
    assert np.all(np.bincount(ds.image_index[~ds.difficult], minlength=ds.num_images) >= 1)


def test_per_class_image_sets_match_the_annotations(synth_root):
    ds = load_voc(synth_root, ["2007:test"], cache=False)
    main = synth_root / "VOC2007" / "ImageSets" / "Main"
    for c, name in enumerate(VOC_CLASSES):
        lines = (main / f"{name}_test.txt").read_text().splitlines()
        assert [ln.split()[0] for ln in lines] == ds.image_ids.tolist()
        for i, ln in enumerate(lines):
            assert ln == f"{ds.image_ids[i]} {int(ln.split()[1]):2d}"  # devkit format "%s %2d"
            mine = (ds.image_index == i) & (ds.class_index == c)
            expected = 1 if np.any(mine & ~ds.difficult) else 0 if np.any(mine) else -1
            assert int(ln.split()[1]) == expected


def test_render_image_is_what_generate_writes(synth_root):
    ds = load_voc(synth_root, ["2007:trainval", "2007:test"], cache=False)
    lookup = ds.image_lookup()
    for index in (0, 5, 17):
        image, objects = render_image(index, seed=7)
        jpg = np.asarray(Image.open(synth_root / "VOC2007" / "JPEGImages" / f"{index + 1:06d}.jpg"), np.float64)
        assert jpg.shape == image.shape
        assert np.abs(jpg - image).mean() < 4.0  # JPEG quality 90
        i = lookup[f"{index + 1:06d}"]
        rows = np.flatnonzero(ds.image_index == i)
        assert [o["bbox"] for o in objects] == [tuple(int(v) for v in ds.boxes[r]) for r in rows]
        assert [o["name"] for o in objects] == [ds.classes[ds.class_index[r]] for r in rows]


def test_boxes_are_tight_around_the_drawn_object():
    """A fully visible object's box is exactly the extent of its pixels in the owner map."""
    from vocbench.synth.generator import VOC0712_PROFILE, _class_probs, _Config, _render

    cfg = _Config("", "2007", 416, 11, _class_probs(VOC0712_PROFILE, 0.5), VOC0712_PROFILE)
    checked = 0
    for index in range(40):
        _, objects, owner = _render(cfg, index)
        for o in objects:
            ys, xs = np.nonzero(owner == o["layer"])
            assert len(xs) > 0
            x0, y0, x1, y1 = o["bbox"]
            # visible pixels always lie inside the box (1-based inclusive → 0-based)
            assert xs.min() >= x0 - 1 and xs.max() <= x1 - 1 and ys.min() >= y0 - 1 and ys.max() <= y1 - 1
            if o["visible"] == 1.0:
                assert (xs.min() + 1, ys.min() + 1, xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)
                checked += 1
            assert o["occluded"] == int(o["visible"] < 0.8)
    assert checked > 30


def test_class_styles_are_unique_and_pairwise_differ_in_two_attributes():
    assert [s.name for s in CLASS_STYLES] == list(VOC_CLASSES)
    triples = [(s.shape, s.texture, s.palette) for s in CLASS_STYLES]
    assert len(set(triples)) == 20
    for a, b in itertools.combinations(triples, 2):
        assert sum(x != y for x, y in zip(a, b)) >= 2, (a, b)
    # every class has a confuser sharing its shape and one sharing its palette
    for s in CLASS_STYLES:
        assert any(o.shape == s.shape for o in CLASS_STYLES if o is not s)
        assert any(o.palette == s.palette for o in CLASS_STYLES if o is not s)


def test_upsample_bilinear_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(4, 5, 3)).astype(np.float32)
    out = upsample_bilinear(grid, 9, 13)
    for y, x in [(0, 0), (8, 12), (3, 7), (5, 2)]:
        fy, fx = y * 3 / 8, x * 4 / 12
        y0, x0 = min(int(fy), 2), min(int(fx), 3)
        ty, tx = fy - y0, fx - x0
        ref = ((1 - ty) * ((1 - tx) * grid[y0, x0] + tx * grid[y0, x0 + 1])
               + ty * ((1 - tx) * grid[y0 + 1, x0] + tx * grid[y0 + 1, x0 + 1]))
        np.testing.assert_allclose(out[y, x], ref, rtol=1e-5, atol=1e-5)


def test_regenerating_replaces_a_previous_synthetic_set(tmp_path):
    generate(tmp_path, images=12, seed=0, workers=1)
    devkit = generate(tmp_path, images=6, seed=0, workers=1)
    assert len(list((devkit / "VOC2007" / "Annotations").glob("*.xml"))) == 6
    assert len(list((devkit / "VOC2007" / "JPEGImages").glob("*.jpg"))) == 6


def test_refuses_to_overwrite_a_real_dataset(tmp_path):
    real = tmp_path / "VOCdevkit" / "VOC2007" / "Annotations"
    real.mkdir(parents=True)
    (real / "000001.xml").write_text("<annotation/>")
    with pytest.raises(VocbenchError, match="not written by 'vocbench synth'"):
        generate(tmp_path, images=3)
    assert (real / "000001.xml").read_text() == "<annotation/>"


@pytest.mark.parametrize("kwargs, match", [({"images": 0}, "--images"), ({"size": 10}, "--size"),
                                           ({"year": "20/07"}, "--year")])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(VocbenchError, match=match):
        generate(tmp_path, **kwargs)


def test_other_year_and_size(tmp_path):
    devkit = generate(tmp_path, images=4, size=300, seed=1, year="2012", workers=1)
    ds = load_voc(devkit, ["2012:trainval", "2012:test"], cache=False)
    assert ds.num_images == 4
    assert np.all(np.maximum(ds.widths, ds.heights) == 300)


def test_cli_synth(tmp_path, capsys):
    from vocbench.cli import main

    assert main(["synth", str(tmp_path / "s"), "--images", "6", "--seed", "2", "--workers", "1", "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["images"] == 6 and out["seed"] == 2
    assert Path(out["devkit"]).name == "VOCdevkit"
    assert main(["synth", str(tmp_path / "s2"), "--images", "0"]) == 2  # bad option value: usage (exit 2)
    assert "argument --images: must be an integer in 1..1000000, got 0" in capsys.readouterr().err


def test_object_counts_look_like_voc(synth_root):
    ds = load_voc(synth_root, ["2007:trainval", "2007:test"], cache=False)
    per_image = np.bincount(ds.image_index, minlength=ds.num_images)
    assert 2.0 < per_image.mean() < 4.0  # VOC07+12 trainval: 2.85
    assert 0.3 < np.mean(per_image == 1) < 0.55  # VOC: 41 %
    assert len(set(ds.class_index.tolist())) == 20  # every class occurs
