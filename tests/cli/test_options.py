"""The CLI's checked option types: bad numbers are refused in one line, exit 2."""
from __future__ import annotations

import argparse

import pytest

from vexscreen.commands.options import (OneLineParser, jobs, open_fraction, positive_float, positive_int,
                                        probability)


def parser():
    p = OneLineParser(prog="vexscreen test")
    p.add_argument("--n", type=positive_int, default=1)
    p.add_argument("--p", type=probability, default=0.5)
    p.add_argument("--f", type=open_fraction, default=0.5)
    p.add_argument("--s", type=positive_float, default=1.0)
    p.add_argument("--jobs", type=jobs, default=1)
    return p


@pytest.mark.parametrize("argv", [["--n", "0"], ["--n", "-3"], ["--n", "2.5"], ["--n", "ten"],
                                  ["--p", "2"], ["--p", "-0.1"], ["--p", "nan"], ["--f", "1"], ["--f", "0"],
                                  ["--s", "0"], ["--s", "inf"], ["--jobs", "0"], ["--jobs", "-2"]])
def test_bad_numbers_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vexscreen test: error: argument " + argv[0]), err


def test_good_numbers_parse():
    a = parser().parse_args(["--n", "3", "--p", "1", "--f", "0.25", "--s", "1e-5", "--jobs", "-1"])
    assert (a.n, a.p, a.f, a.s, a.jobs) == (3, 1.0, 0.25, 1e-5, -1)
    assert isinstance(a.n, int)


def test_types_name_the_range():
    with pytest.raises(argparse.ArgumentTypeError, match="below the minimum 1"):
        positive_int("0")
