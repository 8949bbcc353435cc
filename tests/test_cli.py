"""CLI contract: exit 0 / 1 (bad input, one line, no traceback) / 2 (bad usage); --help for every command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import DATA, REPO
from vocbench.cli import COMMAND_MODULES, build_parser, chosen_command, main

BAD = DATA / "voc_bad"


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"stats", "eval", "anchors"} <= set(sub.choices)
    for name in sub.choices:
        assert name in out
        assert main([name, "--help"]) == 0


def _subparsers(parser):
    return next(a for a in parser._actions if a.dest == "command").choices


def test_chosen_command():
    assert chosen_command(["eval", "--gt", "x"]) == "eval"
    assert chosen_command(["--debug", "export-coco"]) == "export-coco"
    for argv in ([], ["--help"], ["-h", "eval"], ["--version"], ["--bogus", "eval"], ["export_coco"], ["train"],
                 ["no-such-command"]):
        assert chosen_command(argv) is None, argv


def test_one_command_parser_equals_that_command_in_the_full_parser():
    """``build_parser(argv)`` builds only the named command, and builds it exactly as the full parser does."""
    full = _subparsers(build_parser())
    assert set(COMMAND_MODULES) <= set(full)
    for name in COMMAND_MODULES:
        only = _subparsers(build_parser([name, "--help"]))
        assert list(only) == [name]
        assert only[name].format_help() == full[name].format_help()
    argv = ["eval", "--gt", "G", "--set", "2007:test", "--dets", "D", "--iou", "0.7", "--metric", "coco"]
    assert build_parser(argv).parse_args(argv) == build_parser().parse_args(argv)


def test_bad_usage_exit_2(capsys):
    assert main(["stats"]) == 2
    assert main(["no-such-command"]) == 2


@pytest.mark.parametrize("split", ["malformed", "unknown", "missingxml", "badnumber", "nosuchsplit"])
def test_bad_input_one_line_exit_1(split):
    proc = subprocess.run([sys.executable, "-m", "vocbench", "stats", str(BAD), "--set", f"2007:{split}",
                           "--no-cache"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vocbench: error: ")
    assert ".txt" in lines[0] or ".xml" in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_root_exit_1(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "nope"), "--set", "2007:test"]) == 1
    assert "dataset root not found" in capsys.readouterr().err


def test_strict_turns_warnings_into_errors(capsys):
    assert main(["stats", str(BAD), "--set", "2007:border", "--no-cache", "--json", "-"]) == 0
    assert main(["stats", str(BAD), "--set", "2007:border", "--no-cache", "--strict"]) == 1
    assert "--strict" in capsys.readouterr().err
