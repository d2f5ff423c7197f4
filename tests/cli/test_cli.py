"""The command line: one convention for every command.

Every command documents every option (no "(default: None)", no "%%"), has the common
options, refuses a bad number where it is parsed (one line naming the option, exit 2),
reports an unknown option itself, and bad input ends in one line and exit 2.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from vexscreen import cli
from vexscreen.cli import COMMANDS, build_parser, main
from vexscreen.commands import options

NAMES = [c.replace("_", "-") for c in COMMANDS]

#: the fewest arguments each command parses with (parsing only: nothing runs)
MINIMAL = {
    "scan": ["ROOT"],
    "backbones": [],
    "train-encoder": ["--images", "x", "--out", "y"],
    "export-encoder": ["--backbone", "resnet18", "--out", "e.pt"],
    "encode": ["--encoder", "e.pt", "--images", "x", "--out", "y"],
    "measure": ["--images", "x", "--out", "y"],
    "consistency": ["DIR", "--out", "o"],
    "evaluate": ["DIR", "--groups", "A,B", "--out", "o"],
    "phantom": ["--out", "o"],
    "demo": [],
    "fit-model": ["--groups", "A,B", "--out", "o"],
    "screen": ["PATIENT", "--model", "m", "--out", "o"],
}


def subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices[name]


def parse_error(argv, capsys) -> str:
    """The stderr of a parse that must fail with exit status 2."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_every_command_module_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == NAMES
    assert set(MINIMAL) >= set(NAMES), "add the new command's minimal arguments to MINIMAL"


def test_top_level_help_cites_the_paper(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "doi:10.1515/cclm-2022-1283" in out and "Chabrun, Lacombe et al." in out
    assert "METHOD.md" not in out


@pytest.mark.parametrize("name", NAMES)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: vexscreen {name}")
    assert "(default: None)" not in out and "%%" not in out and "METHOD.md" not in out
    parser = subparser(name)
    for action in parser._actions:
        what = f"{name} {action.option_strings or action.dest}"
        assert action.help and action.help.strip(), f"{what}: no help text"
        shown = parser._get_formatter()._expand_help(action)  # the option's help as printed
        assert shown.count("default") <= 1, f"{what}: two defaults in {shown!r}"
        assert "(default: None)" not in shown and "(default: False)" not in shown, f"{what}: {shown!r}"
        if action.required:
            assert "default" not in shown, f"{what}: {shown!r}"


def test_percent_signs_print_as_written(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "95% CIs" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["consistency", "--help"])
    out = capsys.readouterr().out
    assert "95% CI per pair" in " ".join(out.split()) and "95% confidence" in " ".join(out.split())


def _flags(name):
    return {s: a for a in subparser(name)._actions for s in a.option_strings}


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_the_common_options(name):
    flags = _flags(name)
    assert {"--no-progress", "--verbose"} <= set(flags)
    assert "--quiet" not in flags  # one switch for all commands: --no-progress
    args = build_parser().parse_args([name, *MINIMAL[name], "--no-progress", "--verbose"])
    assert args.no_progress and args.verbose


@pytest.mark.parametrize("name", ["scan", "encode", "train-encoder", "measure"])
def test_commands_that_scan_take_the_same_scan_options(name):
    flags, reference = _flags(name), _flags("scan")
    for flag in ("--layout", "--strict"):
        assert (flags[flag].choices, flags[flag].help) == (reference[flag].choices, reference[flag].help)
    args = build_parser().parse_args([name, *MINIMAL[name], "--layout", "flat", "--strict"])
    assert (args.layout, args.strict) == ("flat", True)


@pytest.mark.parametrize("name", ["encode", "train-encoder"])
def test_device_options_speak_lightning(name):
    flags = _flags(name)
    assert {"--accelerator", "--devices"} <= set(flags)
    args = build_parser().parse_args([name, *MINIMAL[name], "--accelerator", "gpu", "--devices", "0,2"])
    assert (args.accelerator, args.devices) == ("gpu", "0,2")
    assert build_parser().parse_args([name, *MINIMAL[name], "--devices", "2"]).devices == 2


def _numeric_options():
    for name in NAMES:
        for action in subparser(name)._actions:
            numeric = (isinstance(action.default, (int, float)) and not isinstance(action.default, bool)
                       or action.type in (int, float) or getattr(action.type, "__module__", "") == options.__name__)
            if numeric and action.option_strings:
                yield name, action


@pytest.mark.parametrize("name, flag", [(n, a.option_strings[0]) for n, a in _numeric_options()])
def test_every_numeric_option_is_checked_where_it_is_parsed(name, flag, capsys):
    action = _flags(name)[flag]
    assert action.type not in (None, int, float), f"{name} {flag}: unchecked type {action.type}"
    for bad in ("-1000000000000", "lots"):
        err = parse_error([name, *MINIMAL[name], flag, bad], capsys)
        assert err.count("\n") == 1 and err.startswith(f"vexscreen {name}: error: argument {flag}"), err


# the bad values issue 10 names, and more: each refused with one line naming the option, exit 2
BAD_NUMBERS = [
    ("evaluate", "--aggregate-size", "0"), ("evaluate", "--aggregate-size", "-3"), ("evaluate", "--aggregates", "0"),
    ("evaluate", "--aggregates", "4"), ("evaluate", "--iterations", "0"), ("evaluate", "--jobs", "0"),
    ("evaluate", "--threshold", "2"), ("evaluate", "--train-fraction", "1"), ("evaluate", "--seed", "-1"),
    ("evaluate", "--min-cells", "-1"),
    ("encode", "--batch-size", "0"), ("encode", "--workers", "-1"), ("encode", "--full-size", "0"),
    ("encode", "--devices", "0"),
    ("phantom", "--scale", "0"), ("phantom", "--scale", "nan"), ("phantom", "--seed", "-1"),
    ("phantom", "--workers", "0"), ("phantom", "--encoder-test-per-group", "-1"),
    ("demo", "--jobs", "0"),
    ("train-encoder", "--lr", "-1"), ("train-encoder", "--batch-size", "1"), ("train-encoder", "--epochs", "0"),
    ("train-encoder", "--temperature", "0"), ("train-encoder", "--seed", "-1"), ("train-encoder", "--dense", "1.5"),
    ("train-encoder", "--max-images", "1"), ("train-encoder", "--scale", "inf"), ("train-encoder", "--num-nodes", "0"),
    ("train-encoder", "--devices", "-2"), ("train-encoder", "--workers", "-1"),
    ("fit-model", "--aggregates", "0"), ("fit-model", "--aggregates", "4"), ("fit-model", "--threshold", "1.5"),
    ("fit-model", "--interval", "1"),
    ("screen", "--workers", "-1"),
    ("measure", "--pixel-size", "0"), ("measure", "--workers", "0"), ("export-encoder", "--seed", "-1"),
]


@pytest.mark.parametrize("name, flag, value", BAD_NUMBERS)
def test_bad_numbers_exit_2_with_one_line(name, flag, value, capsys):
    err = parse_error([name, *MINIMAL[name], flag, value], capsys)
    assert err.count("\n") == 1 and err.startswith(f"vexscreen {name}: error: argument {flag}: "), err


@pytest.mark.parametrize("name", NAMES)
def test_unknown_option_is_the_sub_commands_error(name, capsys):
    err = parse_error([name, *MINIMAL[name], "--no-such-option"], capsys)
    assert err == f"vexscreen {name}: error: unrecognized arguments: --no-such-option (see --help)\n"


@pytest.mark.parametrize("argv", [["no-such-command"], [], ["phantom"], ["phantom", "--out", "x", "--scale", "much"]])
def test_usage_errors_are_one_line(argv, capsys):
    err = parse_error(argv, capsys)
    assert err.count("\n") == 1 and err.startswith("vexscreen") and ": error: " in err, err


def test_help_formatter_defaults():
    p = options.OneLineParser(prog="t", formatter_class=options.HelpFormatter)
    p.add_argument("--req", required=True, help="a required one")
    p.add_argument("--unset", default=None, help="unset")
    p.add_argument("--flag", action="store_true", help="a flag")
    p.add_argument("--n", type=int, default=3, help="a count")
    p.add_argument("--said", type=int, default=3, help="a count (default: three)")
    text = " ".join(p.format_help().split())
    assert "a required one --unset" in text and "unset --flag" in text and "a flag --n" in text
    assert "a count (default: 3)" in text and "(default: three) " in text + " " and text.count("default") == 2


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
        "encode --accelerator tpu": ["encode", "--encoder", str(tmp / "missing.pt"), "--images", str(tmp),
                                     "--out", out, "--accelerator", "tpu"],
        "consistency": ["consistency", missing, "--out", out],
        "evaluate": ["evaluate", missing, "--groups", "MDS,VEXAS", "--out", out],
        "phantom --cell-types XX": ["phantom", "--out", out, "--cell-types", "XX"],
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


def test_as_a_process_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vexscreen.cli", "scan", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr == f"vexscreen scan: error: {tmp_path / 'missing'}: no such folder\n"
