"""The shutil-free help formatter prints the help argparse's own formatter prints, at every width, and the
`eval` command's parser no longer imports shutil."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from vocbench._argparse import WidthHelpFormatter, terminal_columns
from vocbench.commands._common import HelpFormatter


def _help(formatter) -> str:
    p = argparse.ArgumentParser(prog="vocbench", formatter_class=formatter,
                                description="A description long enough to wrap at narrow widths " * 3)
    p.add_argument("--gt", required=True, help="ground truth: a VOCdevkit folder, a COCO instances .json " * 2)
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold")
    return p.format_help()


@pytest.mark.parametrize("columns", ["30", "57", "80", "100", "213", None, "0", "junk"])
def test_help_equals_argparse_help_at_every_width(columns, monkeypatch):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _help(WidthHelpFormatter) == _help(argparse.HelpFormatter)
    import shutil  # the oracle (imported here, in the test process only)

    assert terminal_columns() == shutil.get_terminal_size().columns


def test_commands_help_formatter_keeps_its_defaults_rule(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    text = _help(HelpFormatter)
    assert "(default: 0.5)" in text and "--gt GT" in text


def test_eval_parser_does_not_import_shutil():
    code = ("import sys, json\nfrom vocbench.cli import build_parser\n"
            "build_parser(['eval', '--gt', 'g.json', '--dets', 'd.json']).parse_args("
            "['eval', '--gt', 'g.json', '--dets', 'd.json', '--metric', 'coco'])\n"
            "print(json.dumps(sorted(m for m in ('shutil', 'bz2', 'lzma') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
