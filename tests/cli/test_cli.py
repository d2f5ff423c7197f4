"""The command line: every command documents itself, and bad input ends in one line and exit 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vexscreen import cli
from vexscreen.cli import COMMANDS, build_parser, main

NAMES = [c.replace("_", "-") for c in COMMANDS]


def test_every_command_module_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: vexscreen {name}")
    assert "--help" in out and len(out.splitlines()) > 4


def test_missing_command_module_fails_loudly(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", (*COMMANDS, "no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="no_such_command"):
        build_parser()


def _bad_inputs(tmp):
    missing = str(tmp / "missing")
    out = str(tmp / "out")
    return {
        "scan": ["scan", missing],
        "train-encoder": ["train-encoder", "--images", missing, "--out", out],
        "encode": ["encode", "--encoder", str(tmp / "missing.pt"), "--images", str(tmp), "--out", out],
        "consistency": ["consistency", missing, "--out", out],
        "evaluate": ["evaluate", missing, "--groups", "MDS,VEXAS", "--out", out],
        "phantom --scale 0": ["phantom", "--out", out, "--scale", "0"],
        "phantom --scale nan": ["phantom", "--out", out, "--scale", "nan"],
        "phantom --seed -1": ["phantom", "--out", out, "--seed", "-1"],
        "phantom --workers 0": ["phantom", "--out", out, "--workers", "0"],
        "phantom --encoder-test-per-group -1": ["phantom", "--out", out, "--encoder-test-per-group", "-1"],
        "phantom --cell-types XX": ["phantom", "--out", out, "--cell-types", "XX"],
        "demo --jobs 0": ["demo", "--out", out, "--jobs", "0"],
        "demo --weights missing": ["demo", "--out", out, "--weights", str(tmp / "missing.pth")],
    }


CASES = list(_bad_inputs(Path()))


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    argv = _bad_inputs(tmp_path)[case]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"vexscreen {argv[0]}: error: "), captured.err
    assert captured.out == ""
    assert not (tmp_path / "out").exists()  # nothing written before the check


@pytest.mark.parametrize("argv", [["no-such-command"], ["phantom"], ["phantom", "--out", "x", "--scale", "much"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: vexscreen") and "error:" in err.splitlines()[-1]


def test_as_a_process_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vexscreen.cli", "scan", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr == f"vexscreen scan: error: {tmp_path / 'missing'}: no such folder\n"
