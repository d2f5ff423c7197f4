"""The CLI's parser, help formatter and checked option types.

* ``OneLineParser``: errors are one line, ``vexscreen CMD: error: ...``, exit 2;
  ``CommandParser`` (every sub-command's parser) also reports an unknown option
  itself instead of leaving it to the top-level parser.
* ``HelpFormatter``: shows an option's default where it has one (never
  "default: None", never on a flag, never beside a help text that already
  speaks of the default); descriptions are printed as written.
* ``type=positive_int`` etc. make argparse refuse a bad value with exit status 2
  and one line naming the option and the allowed range, before any work starts.
"""
from __future__ import annotations

import argparse
import math


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``vexscreen CMD: error: ...``), exit 2.

    argparse's default prints the whole usage first; a lab scientist reading a log
    wants the one line that says what is wrong (``--help`` still shows the usage).
    """

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class CommandParser(OneLineParser):
    """A sub-command's parser: an unknown option is its own error (``vexscreen CMD: error:
    unrecognized arguments: ...``), not the top-level parser's."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return namespace, extras


class HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help when X says something: not for a required
    option, a flag, a default of None, or a help text that already names its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.required or action.default in (None, argparse.SUPPRESS)
                or isinstance(action.default, bool) or action.nargs == 0 or "default" in text
                or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        return text + " (default: %(default)s)"


def _number(kind, text: str, what: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def int_in(low: int, high: int | None = None):
    """argparse type: an integer in [low, high] (no upper end when ``high`` is None)."""
    def parse(text):
        value = _number(int, text, "a whole number")
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {low}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{value} is above the maximum {high}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def int_at_least(low: int):
    """argparse type: an integer >= ``low``."""
    return int_in(low)


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
#: a seed numpy and torch both take
seed = int_in(0, 2 ** 32 - 1)
#: aggregates per patient: Platt scaling's 5 folds need 5 training aggregates of a class, even
#: when they come from one patient
aggregates = int_at_least(5)


def float_in(low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    """argparse type: a finite float in [low, high] (ends open where asked)."""
    def parse(text):
        value = _number(float, text, "a number")
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            if high == math.inf:
                raise argparse.ArgumentTypeError(f"{value:g} is not {'above' if low_open else 'at least'} {low:g}")
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


def devices(text: str):
    """argparse type: Lightning's ``devices``: ``auto``, a count >= 1, -1 (all), or device
    indices ``0,2``; returned as Lightning takes it (str for ``auto`` and index lists, else int)."""
    text = text.strip()
    if text == "auto":
        return text
    if "," in text:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            raise argparse.ArgumentTypeError(f"{text!r}: give auto, a count, -1 or indices like 0,1")
        return ",".join(parts) + ("," if len(parts) == 1 else "")  # Lightning: "1," is index 1
    value = _number(int, text, "auto, a count, -1 or indices like 0,1")
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"{value}: give 1 or more devices, -1 for all, or indices like 0,1")
    return value


#: vexscreen.aggregation.STATISTICS, spelled out so that --help does not import scikit-learn (tested)
STATISTICS = ("median", "mean")


def add_aggregate_options(p) -> None:
    """--aggregates, --aggregate-size, --statistic: how a patient's cells become aggregates
    (METHOD.md Step 2b), the same for evaluate and fit-model."""
    p.add_argument("--aggregates", type=aggregates, default=100, metavar="N",
                   help="aggregates per patient, at least 5")
    p.add_argument("--aggregate-size", type=positive_int, default=10, metavar="N", help="cells per aggregate")
    p.add_argument("--statistic", choices=STATISTICS, default="median",
                   help="how an aggregate summarises its cells: median (the study's) or mean (keeps "
                        "features a minority of cells carry, e.g. the vacuolated fraction of measurements)")
