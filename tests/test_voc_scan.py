"""The strict byte scanner (``vocbench/io/_voc_scan.py``) against the lxml path it stands in for.

The twin is the lxml path itself: ``_parse_one`` on every file, assembled column by column as ``load_voc`` did
before the scanner. Results must be identical byte for byte (values, dtypes, order); a file the scanner does not
fully validate must reach the lxml path (we record which files do), so its result or error is the lxml one.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from vocbench import InputError, load_voc
from vocbench.io import _voc_scan, voc
from vocbench.structures import VOC_CLASSES

C2I = {c: i for i, c in enumerate(VOC_CLASSES)}

#: Under NUMBA_DISABLE_JIT=1 (``make test-nojit``) the same tests run the scanner as plain Python.
JIT = _voc_scan.use_kernel()


@pytest.fixture(autouse=True)
def _scanner_always(monkeypatch):
    """The scanner runs in every test, compiled or (under NUMBA_DISABLE_JIT=1) as plain Python; load_voc alone
    skips it without the JIT."""
    monkeypatch.setattr(_voc_scan, "use_kernel", lambda: True)


def lxml_twin(paths, c2i=C2I):
    """What ``load_voc`` computed before the scanner: ``_parse_one`` per file, rows stacked in file order."""
    parsed = [voc._parse_one(p, c2i) for p in paths]
    n = len(parsed)
    rows = [r for p in parsed for r in p[1]]
    m = len(rows)
    return {
        "sizes": np.array([p[0] for p in parsed], dtype=np.int64).reshape(n, 3),
        "image_index": np.repeat(np.arange(n, dtype=np.int64), [len(p[1]) for p in parsed]),
        "class_index": np.array([r[0] for r in rows], dtype=np.int64),
        "boxes": np.array([r[1] for r in rows], dtype=np.float64).reshape(m, 4),
        "difficult": np.array([r[2] for r in rows], dtype=bool),
        "truncated": np.array([r[3] for r in rows], dtype=bool),
        "occluded": np.array([r[4] for r in rows], dtype=np.int8),
        "poses": np.array([r[5] for r in rows], dtype=str) if m else np.zeros(0, dtype="<U1"),
        "lines": np.array([r[6] for r in rows], dtype=np.int64),
    }


def scan(paths, c2i=C2I):
    """The scanner's columns and the files it handed to the checked path."""
    checked: list[str] = []

    def parse_files(files):
        checked.extend(files)
        return voc._parse_all(files, c2i, False)

    return _voc_scan.scan_voc(list(paths), c2i, parse_files), checked


def outcome(fn):
    try:
        return "ok", fn()
    except InputError as exc:
        return "error", str(exc)


def assert_identical(got, ref):
    assert list(got) == list(ref)
    for k in ref:
        assert got[k].dtype == ref[k].dtype, k
        assert got[k].shape == ref[k].shape, k
        assert got[k].tobytes() == ref[k].tobytes(), k  # bitwise: -0.0 vs 0.0 and NaN payloads count


# ------------------------------------------------------------------------------------------- real VOC2007+2012
def test_every_real_voc_file_identical_to_lxml(voc_root):
    """All 27,088 annotation files of VOC2007 + VOC2012 (not only a split); none needs the checked path."""
    paths = sorted(glob.glob(str(voc_root / "VOC20*" / "Annotations" / "*.xml")))
    if not JIT:  # 13 MB byte by byte in plain Python: a VOC2007 test slice stands in
        paths = [p for p in paths if "VOC2007" in p][:400]
        got, checked = scan(paths)
        assert checked == [] and len(paths) == 400
        assert_identical(got, lxml_twin(paths))
        return
    assert len(paths) > 27000
    got, checked = scan(paths)
    assert checked == []
    assert_identical(got, lxml_twin(paths))
    assert len(got["boxes"]) == 70776
    assert (got["boxes"] != np.round(got["boxes"])).any()  # VOC2012's decimal coordinates went through too


def test_load_voc_uses_the_scanner_and_matches(voc_root, monkeypatch):
    ds = load_voc(voc_root, ["2007:test"], cache=False)
    calls = []
    monkeypatch.setattr(_voc_scan, "use_kernel", lambda: calls.append(1) or False)
    ref = load_voc(voc_root, ["2007:test"], cache=False)
    assert calls == [1]
    for f in ("widths", "heights", "depths", "image_index", "class_index", "boxes", "difficult", "truncated",
              "occluded", "poses"):
        a, b = getattr(ds, f), getattr(ref, f)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f
    assert ds.issues == ref.issues


# ------------------------------------------------------------------------------------------------ hand-built
BASE = """<annotation>
\t<folder>VOC2007</folder>
\t<filename>000001.jpg</filename>
\t<owner><flickrid>Jean&amp;Vic</flickrid></owner>
\t<size>
\t\t<width>353</width>
\t\t<height>500</height>
\t\t<depth>3</depth>
\t</size>
\t<object>
\t\t<name>dog</name>
\t\t<pose>Left</pose>
\t\t<truncated>1</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>48</xmin>
\t\t\t<ymin>240</ymin>
\t\t\t<xmax>195</xmax>
\t\t\t<ymax>371</ymax>
\t\t</bndbox>
\t</object>
\t<object>
\t\t<name>person</name>
\t\t<pose>Unspecified</pose>
\t\t<occluded>1</occluded>
\t\t<bndbox><xmin>8</xmin><ymin>12</ymin><xmax>352</xmax><ymax>498</ymax></bndbox>
\t\t<part><name>head</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></part>
\t\t<difficult>1</difficult>
\t</object>
</annotation>
"""


def sub(old, new, count=1):
    assert BASE.count(old) >= count, old
    return BASE.replace(old, new, count)


#: Files the scanner must accept (and get exactly right).
REGULAR = {
    "base": BASE,
    "decl": '<?xml version="1.0" encoding="utf-8"?>\n' + BASE,
    "decl single quotes": "<?xml version='1.0'?>" + BASE,
    "leading whitespace": "\n\n  " + BASE,
    "no trailing newline": BASE.rstrip(),
    "spaces around values": sub("<name>dog</name>", "<name>\n   dog  \t</name>").replace(
        "<xmin>48</xmin>", "<xmin> 48 </xmin>"),
    "no pose, no flags": sub("\t\t<pose>Left</pose>\n\t\t<truncated>1</truncated>\n\t\t<difficult>0</difficult>\n", ""),
    "empty pose and flags": sub("<pose>Left</pose>", "<pose>  </pose>").replace(
        "<truncated>1</truncated>", "<truncated></truncated>").replace(
        "<occluded>1</occluded>", "<occluded> </occluded>"),
    "no depth": sub("\t\t<depth>3</depth>\n", ""),
    "empty depth": sub("<depth>3</depth>", "<depth> </depth>"),
    "depth 1": sub("<depth>3</depth>", "<depth>1</depth>"),
    "decimal coordinates": sub("<xmin>48</xmin>", "<xmin>48.5</xmin>").replace("<ymax>371</ymax>", "<ymax>371.</ymax>"),
    "long decimals": sub("<xmin>48</xmin>", "<xmin>45.70000076293945</xmin>").replace(
        "<ymin>240</ymin>", "<ymin>240.123456789012345678901</ymin>").replace(
        "<xmax>195</xmax>", "<xmax>0.1000000000000000055511151231257827</xmax>"),
    "negative and zero coordinates": sub("<xmin>48</xmin>", "<xmin>-0</xmin>").replace(
        "<ymin>240</ymin>", "<ymin>-3.25</ymin>").replace("<xmax>195</xmax>", "<xmax>0.0</xmax>"),
    "inverted and outside boxes": sub("<xmax>195</xmax>", "<xmax>5</xmax>").replace(
        "<ymax>498</ymax>", "<ymax>9000</ymax>"),
    "size after objects": BASE.replace(
        "\t<size>\n\t\t<width>353</width>\n\t\t<height>500</height>\n\t\t<depth>3</depth>\n\t</size>\n", "").replace(
        "</annotation>", "<size><depth>3</depth><height>500</height><width>353</width></size></annotation>"),
    "fields in any order": sub("<name>dog</name>", "").replace("</bndbox>\n\t</object>",
                                                               "</bndbox><name>dog</name>\n\t</object>", 1),
    "other root tag": BASE.replace("annotation>", "ann>"),
    "entities in ignored text": sub("<folder>VOC2007</folder>", "<folder>&lt;a&gt; &quot;b&apos; &amp;</folder>"),
    "no objects": BASE[:BASE.index("\t<object>")] + "</annotation>",
    "unknown tags": sub("<folder>", "<x-y.z_1>q</x-y.z_1><folder>"),
    "object text and nested objects": sub("<object>", "<object>text<source><object><name>zzz</name></object></source>"),
    "tags named like fields elsewhere": sub("<folder>VOC2007</folder>",
                                            "<folder><name>xx</name><width>0</width><bndbox/></folder>"),
}
REGULAR["tags named like fields elsewhere"] = REGULAR["tags named like fields elsewhere"].replace("<bndbox/>", "")

#: Files the scanner must hand to the lxml path (each is a valid or an invalid file for lxml).
IRREGULAR = {
    "comment": sub("<folder>", "<!-- c --><folder>"),
    "cdata": sub("<name>dog</name>", "<name><![CDATA[dog]]></name>"),
    "doctype": "<!DOCTYPE annotation>\n" + BASE,
    "entity in name": sub("<name>dog</name>", "<name>d&#111;g</name>"),
    "entity in pose": sub("<pose>Left</pose>", "<pose>L&amp;R</pose>"),
    "char ref in ignored text": sub("<folder>VOC2007</folder>", "<folder>&#65;</folder>"),
    "unknown entity": sub("<folder>VOC2007</folder>", "<folder>&nbsp;</folder>"),
    "attribute": sub("<object>", '<object id="1">'),
    "space in tag": sub("<name>dog</name>", "<name >dog</name >"),
    "self-closing field": sub("<truncated>1</truncated>", "<truncated/>"),
    "self-closing ignored": sub("<folder>VOC2007</folder>", "<folder/>"),
    "namespace": sub("<folder>VOC2007</folder>", "<a:folder>VOC2007</a:folder>"),
    "processing instruction": sub("<folder>", "<?pi x?><folder>"),
    "odd declaration": '<?xml version="1.0" encoding="ISO-8859-1"?>' + BASE,
    "declaration after space": ' <?xml version="1.0"?>' + BASE,
    "non-ascii": sub("<folder>VOC2007</folder>", "<folder>VOC2007 \u00e9</folder>"),
    "bom": "\ufeff" + BASE,
    "carriage returns": BASE.replace("\n", "\r\n"),
    "control char": sub("<folder>VOC2007</folder>", "<folder>VOC\x0b2007</folder>"),
    "gt in text": sub("<folder>VOC2007</folder>", "<folder>a>b</folder>"),
    "cdata end in text": sub("<folder>VOC2007</folder>", "<folder>a]]>b</folder>"),
    "repeated name": sub("<name>dog</name>", "<name>dog</name><name>cat</name>"),
    "repeated bndbox": sub("</bndbox>\n\t</object>", "</bndbox><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>"
                           "<ymax>2</ymax></bndbox>\n\t</object>"),
    "repeated size": sub("</annotation>", "<size><width>1</width><height>1</height></size></annotation>"),
    "repeated xmin": sub("<xmin>48</xmin>", "<xmin>48</xmin><xmin>49</xmin>"),
    "extra bndbox child": sub("<xmin>48</xmin>", "<xmin>48</xmin><zmin>1</zmin>"),
    "child in field": sub("<name>dog</name>", "<name>dog<b>x</b></name>"),
    "missing xmax": sub("\t\t\t<xmax>195</xmax>\n", ""),
    "missing bndbox": BASE.replace("<bndbox><xmin>8</xmin><ymin>12</ymin><xmax>352</xmax><ymax>498</ymax></bndbox>",
                                   ""),
    "missing name": sub("<name>dog</name>", ""),
    "empty name": sub("<name>dog</name>", "<name> </name>"),
    "unknown class": sub("<name>dog</name>", "<name>wolf</name>"),
    "class with inner space": sub("<name>dog</name>", "<name>potted plant</name>"),
    "missing size": BASE.replace(
        "\t<size>\n\t\t<width>353</width>\n\t\t<height>500</height>\n\t\t<depth>3</depth>\n\t</size>\n", ""),
    "missing width": sub("\t\t<width>353</width>\n", ""),
    "zero height": sub("<height>500</height>", "<height>0</height>"),
    "decimal width": sub("<width>353</width>", "<width>353.0</width>"),
    "signed width": sub("<width>353</width>", "<width>+353</width>"),
    "huge width": sub("<width>353</width>", "<width>123456789</width>"),
    "text width": sub("<width>353</width>", "<width>wide</width>"),
    "nan": sub("<xmin>48</xmin>", "<xmin>nan</xmin>"),
    "inf": sub("<xmin>48</xmin>", "<xmin>-inf</xmin>"),
    "exponent": sub("<xmin>48</xmin>", "<xmin>1e30</xmin>"),
    "small exponent": sub("<xmin>48</xmin>", "<xmin>4.8e1</xmin>"),
    "eight integer digits": sub("<xmin>48</xmin>", "<xmin>12345678</xmin>"),
    "plus sign": sub("<xmin>48</xmin>", "<xmin>+48</xmin>"),
    "leading dot": sub("<xmin>48</xmin>", "<xmin>.5</xmin>"),
    "underscore": sub("<xmin>48</xmin>", "<xmin>4_8</xmin>"),
    "two numbers": sub("<xmin>48</xmin>", "<xmin>4 8</xmin>"),
    "empty coordinate": sub("<xmin>48</xmin>", "<xmin></xmin>"),
    "difficult 2": sub("<difficult>0</difficult>", "<difficult>2</difficult>"),
    "difficult 1.0": sub("<difficult>0</difficult>", "<difficult>1.0</difficult>"),
    "difficult -1": sub("<difficult>0</difficult>", "<difficult>-1</difficult>"),
    "occluded yes": sub("<occluded>1</occluded>", "<occluded>yes</occluded>"),
    "truncated 01": sub("<truncated>1</truncated>", "<truncated>01</truncated>"),
    "mismatched close": sub("</owner>", "</ownr>"),
    "unclosed root": BASE.replace("</annotation>", ""),
    "two roots": BASE + "<annotation></annotation>",
    "text after root": BASE + "x",
    "empty file": "",
    "only whitespace": "\n  \n",
    "lone lt": sub("<folder>VOC2007</folder>", "<folder>a < b</folder>"),
    "deep nesting": sub("<folder>VOC2007</folder>", "<a>" * 40 + "</a>" * 40),
    "huge text node": sub("<folder>VOC2007</folder>", "<folder>" + "x" * (10_000_001) + "</folder>"),
    "long text run": sub("<folder>VOC2007</folder>", "<folder>" + "x y " * 300_000 + "</folder>"),
    "long tag name": sub("<folder>VOC2007</folder>", "<" + "t" * 1200 + ">1</" + "t" * 1200 + ">"),
}


def _write(tmp_path, files: dict[str, str]) -> list[str]:
    paths = []
    for i, text in enumerate(files.values()):
        p = tmp_path / f"{i:03d}.xml"
        p.write_bytes(text.encode("utf-8"))
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("name", list(REGULAR))
def test_regular_file_is_scanned_and_identical(tmp_path, name):
    (path,) = _write(tmp_path, {name: REGULAR[name]})
    ref = lxml_twin([path])
    got, checked = scan([path])
    assert checked == [], "the scanner should accept this file"
    assert_identical(got, ref)


@pytest.mark.parametrize("name", list(IRREGULAR))
def test_irregular_file_takes_the_lxml_path(tmp_path, name):
    (path,) = _write(tmp_path, {name: IRREGULAR[name]})
    kind, ref = outcome(lambda: lxml_twin([path]))
    got_kind, got = outcome(lambda: scan([path]))
    assert got_kind == kind
    if kind == "error":
        assert got == ref  # the same one-line message, file and line
    else:
        arrays, checked = got
        assert checked == [path]
        assert_identical(arrays, ref)


def test_irregular_cases_cover_both_outcomes(tmp_path):
    """The irregular list holds files lxml accepts (the fallback must give their values) and files it rejects."""
    kinds = [outcome(lambda p=p: lxml_twin([p]))[0] for p in _write(tmp_path, IRREGULAR)]
    assert kinds.count("ok") >= 10 and kinds.count("error") >= 10


def test_mixed_set_is_merged_in_file_order(tmp_path):
    """Regular and lxml-path files interleaved (only those lxml accepts): rows come back in file order."""
    (tmp_path / "probe").mkdir()
    probes = dict(zip(IRREGULAR, _write(tmp_path / "probe", IRREGULAR)))
    ok_irregular = {k: IRREGULAR[k] for k, p in probes.items() if outcome(lambda p=p: lxml_twin([p]))[0] == "ok"}
    files = {}
    for i, (a, b) in enumerate(zip(list(REGULAR.items()) * 2, ok_irregular.items())):
        files[f"r{i}"] = a[1]
        files[f"i{i}"] = b[1]
    paths = _write(tmp_path, files)
    got, checked = scan(paths)
    assert checked == [p for p, k in zip(paths, files) if k.startswith("i")]
    assert_identical(got, lxml_twin(paths))


def test_first_bad_file_reports_as_lxml_does(tmp_path):
    files = {"a": BASE, "b": IRREGULAR["comment"], "c": IRREGULAR["unknown class"], "d": BASE,
             "e": IRREGULAR["nan"]}
    paths = _write(tmp_path, files)
    with pytest.raises(InputError) as ref:
        lxml_twin(paths)
    with pytest.raises(InputError) as got:
        scan(paths)
    assert str(got.value) == str(ref.value)
    assert paths[2] in str(got.value)


def test_missing_folder_and_fifo_files_report_as_lxml_does(tmp_path):
    paths = _write(tmp_path, {"a": BASE})
    for make in ("missing", "folder", "fifo"):
        p = str(tmp_path / f"{make}.xml")
        if make == "folder":
            os.mkdir(p)
        elif make == "fifo":
            if not hasattr(os, "mkfifo"):
                continue
            os.mkfifo(p)
        ref = outcome(lambda p=p: lxml_twin([paths[0], p]))
        got = outcome(lambda p=p: scan([paths[0], p]))
        assert ref[0] == got[0] == "error"
        assert got[1] == ref[1]


def test_many_objects_grow_the_output_arrays(tmp_path):
    """Thousands of tiny objects per file overflow the first guess of the row count: the scan resumes."""
    obj = "<object><name>cat</name><bndbox><xmin>{0}</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>"
    text = "<a><size><width>9</width><height>9</height></size>" + "".join(obj.format(i % 7) for i in range(3000)) \
        + "</a>"
    paths = _write(tmp_path, {"x": text, "y": BASE, "z": text})
    got, checked = scan(paths)
    assert checked == []
    assert len(got["boxes"]) == 6002
    assert_identical(got, lxml_twin(paths))


def test_custom_classes(tmp_path):
    c2i = {"wolf": 0, "dog": 1, "person": 2, "potted plant": 3}
    text = IRREGULAR["class with inner space"]
    paths = _write(tmp_path, {"a": IRREGULAR["unknown class"], "b": text})
    got, checked = scan(paths, c2i)
    assert checked == []
    assert_identical(got, lxml_twin(paths, c2i))
    assert got["class_index"].tolist() == [0, 2, 3, 2]


def test_empty_list():
    got, checked = scan([])
    assert_identical(got, lxml_twin([]))


# ------------------------------------------------------------------------------------------ random mutations
_PIECES = ["<", ">", "/", "&", ";", "&amp;", "<!--", "-->", "<![CDATA[", "]]>", " ", "\n", "\t", "\r", "a", "1",
           "0", ".", "-", "e", "\u00e9", "<x>", "</x>", "<name>", "</name>", "<object>", "</object>", "<bndbox>",
           "\"", "=", "?", "!", "nan", "<difficult>1</difficult>", "<pose>P</pose>", ""]


@pytest.mark.parametrize("seed", range(int(os.environ.get("VOCBENCH_FUZZ_SEEDS", "4"))))
def test_random_mutations_agree_with_lxml(tmp_path, seed):
    """Insert, delete or replace a random piece at a random place: value or error identical to the lxml path."""
    rng = np.random.default_rng(seed)
    files = {}
    for k in range(300):
        text = BASE
        for _ in range(int(rng.integers(1, 3))):
            i = int(rng.integers(0, len(text) + 1))
            j = min(len(text), i + int(rng.integers(0, 4)))
            op = int(rng.integers(0, 3))
            piece = _PIECES[int(rng.integers(0, len(_PIECES)))]
            text = text[:i] + piece + text[i:] if op == 0 else text[:i] + text[j:] if op == 1 else \
                text[:i] + piece + text[j:]
        files[f"m{k}"] = text
    paths = _write(tmp_path, files)
    n_ok = n_scanned = 0
    for p in paths:
        ref = outcome(lambda p=p: lxml_twin([p]))
        got = outcome(lambda p=p: scan([p]))
        assert got[0] == ref[0], p
        if ref[0] == "error":
            assert got[1] == ref[1]
        else:
            n_ok += 1
            n_scanned += got[1][1] == []
            assert_identical(got[1][0], ref[1])
    assert n_ok >= 25 and n_scanned >= 20  # the mutations exercise both paths (seeds 0-3: 34-46, 29-42)


# ------------------------------------------------------------------------------------------------- benchmark
def test_bench_io_runs_alternate_rounds_and_is_registered():
    from vocbench.bench import suite_io
    from vocbench.bench.suites import SUITES

    calls = []
    times, results = suite_io.alternate({"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2},
                                        rounds=3, warmup=1)
    assert calls == ["a", "b"] * 4  # one warm-up round, then a, b, a, b, ...
    assert len(times["a"]) == len(times["b"]) == 3 and results == {"a": 1, "b": 2}
    assert SUITES["io"] is suite_io.bench_io and SUITES["startup"] is suite_io.bench_startup
