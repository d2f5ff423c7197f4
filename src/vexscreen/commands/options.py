"""Checked option types for the CLI: every numeric option is range-checked where it is parsed.

``type=positive_int`` etc. make argparse refuse a bad value with exit status 2
and one line naming the option and the allowed range (see ``OneLineParser``),
before any work starts.
"""
from __future__ import annotations

import argparse
import math
import sys


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``vexscreen CMD: error: ...``), exit 2.

    argparse's default prints the whole usage first; a lab scientist reading a log
    wants the one line that says what is wrong (``--help`` still shows the usage).
    """

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind, text: str, what: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def int_at_least(low: int):
    """argparse type: an integer >= ``low``."""
    def parse(text):
        value = _number(int, text, "a whole number")
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {low}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def float_in(low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    """argparse type: a finite float in [low, high] (ends open where asked)."""
    def parse(text):
        value = _number(float, text, "a number")
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"{value:g} is outside {lo}{low:g}, {high:g}{hi}")
        return value
    parse.__name__ = "number"
    return parse


probability = float_in(0.0, 1.0)
open_fraction = float_in(0.0, 1.0, low_open=True, high_open=True)
positive_float = float_in(0.0, math.inf, low_open=True)
nonnegative_float = float_in(0.0, math.inf)


def jobs(text: str) -> int:
    """argparse type: parallel workers, >= 1, or -1 for every core (joblib's convention)."""
    value = _number(int, text, "a whole number")
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"{value}: give 1 or more workers, or -1 for all cores")
    return value


def progress_default() -> bool:
    """Progress bars only when stderr is a terminal: a log file or pipe gets no bar updates."""
    return sys.stderr.isatty()
