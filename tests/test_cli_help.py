"""Help text of every command (built-in and plug-in): every option explained, each default said once, and the
conveniences people look for (``--json`` everywhere, ``--dets`` naming every format, ``--classes auto``)."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from tests.conftest import DATA
from vocbench.cli import build_parser, main
from vocbench.commands._common import DETECTION_FORMATS

SMALL = DATA / "voc_small"


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return dict(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


def _options(name: str, sub: argparse.ArgumentParser):
    for action in sub._actions:
        if not isinstance(action, argparse._HelpAction):
            yield f"{name} {'/'.join(action.option_strings) or action.dest}", action


def test_the_walk_sees_every_command_and_the_plugins():
    names = set(_commands())
    assert {"stats", "eval", "diagnose", "compare", "anchors", "export-coco", "convert", "bench", "synth",
            "demo"} <= names
    assert {"train", "predict", "export", "profile"} <= names  # the reference-models plug-in (or its stand-ins)


def test_every_option_of_every_command_has_help():
    missing = [label for name, sub in _commands().items() for label, action in _options(name, sub)
               if not action.help or not action.help.strip()]
    assert missing == []


def test_no_doubled_default_and_none_on_required_options():
    bad = []
    for name, sub in _commands().items():
        text = sub.format_help()
        if "(default: None)" in text or "(default: False)" in text or "(default: [])" in text:
            bad.append(f"{name}: a default of nothing is printed")
        formatter = sub._get_formatter()
        for label, action in _options(name, sub):
            shown = formatter._get_help_string(action) % {"default": action.default}
            said = re.findall(r"\(default\b|\bdefault:|[;,]\s*default\b|\bdefaults? to\b", shown, flags=re.IGNORECASE)
            if len(said) > 1:
                bad.append(f"{label}: {shown}")
            if action.required and "(default:" in shown:
                bad.append(f"{label} is required and shows a default: {shown}")
    assert bad == []


def test_a_plain_default_is_still_shown_once(capsys):
    assert main(["eval", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: devkit)" in out  # --protocol: a default the help text does not say itself
    assert out.count("(default: devkit)") == 1
    assert main(["anchors", "--help"]) == 0
    assert "(default: 416)" in " ".join(capsys.readouterr().out.split())  # --input-size


@pytest.mark.parametrize("command", ["eval", "diagnose", "compare", "export-coco"])
def test_dets_help_names_every_format(command):
    sub = _commands()[command]
    dets = next(a for a in sub._actions if "--dets" in a.option_strings)
    text = dets.help.lower()
    for word in ("comp4_det_test", "coco", ".json", ".csv", "yolo", "absolute"):
        assert word in text, (command, word)
    fmt = next(a for a in sub._actions if "--format" in a.option_strings)
    assert tuple(fmt.choices) == DETECTION_FORMATS


@pytest.mark.parametrize("command", sorted({"stats", "eval", "diagnose", "compare", "anchors", "export-coco",
                                            "convert", "bench", "synth", "demo", "train", "predict", "export",
                                            "profile"}))
def test_every_command_offers_json(command):
    assert any("--json" in a.option_strings for a in _commands()[command]._actions)


def test_export_coco_json_summary(tmp_path, capsys):
    out = tmp_path / "gt.json"
    assert main(["export-coco", str(SMALL), "--set", "2007:trainval", "--classes", "car,dog,person,train",
                 "--out", str(out), "--json", "-", "--no-cache"]) == 0
    summary = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert summary["images"] == len(written["images"]) > 0
    assert summary["annotations"] == len(written["annotations"]) > 0
    assert summary["gt"] == str(out)


def test_classes_auto_reads_object_names_sorted_and_says_so(capsys):
    assert main(["stats", str(SMALL), "--set", "2007:trainval", "--classes", "auto", "--json", "-",
                 "--no-cache"]) == 0
    captured = capsys.readouterr()
    stats = json.loads(captured.out)
    # <part><name>head</name> of the person layout is not a class; the object names come back sorted
    assert "classes found in the annotations, sorted: car, dog, person, train" in captured.err
    assert tuple(stats["per_class"]) == ("car", "dog", "person", "train")


def test_classes_auto_matches_the_hand_written_list(capsys):
    assert main(["stats", str(SMALL), "--set", "2007:trainval", "--classes", "auto", "--json", "-",
                 "--no-cache"]) == 0
    auto = json.loads(capsys.readouterr().out)
    assert main(["stats", str(SMALL), "--set", "2007:trainval", "--classes", "car,dog,person,train", "--json", "-",
                 "--no-cache"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert auto == listed


@pytest.mark.parametrize("tty", [True, False])
def test_stats_html_shows_its_stages_on_a_terminal_only(tmp_path, capsys, monkeypatch, tty):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty, raising=False)
    assert main(["stats", str(SMALL), "--set", "2007:trainval", "--classes", "car,dog,person,train", "--no-cache",
                 "--html", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err
    assert ("dataset report" in err) == tty and ("report: figures" in err) == tty
