"""The ``vexscreen`` command: a thin layer over the Python API.

Each sub-command lives in its own module under ``vexscreen.commands`` and
exposes ``register(subparsers)``, which adds its parser and sets ``func``.
The library never prints: the commands print results, and the library's status
lines (``logging``, logger ``vexscreen``) are shown here, on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys

from .exceptions import InputError

# pipeline order: images -> encoder -> encodings -> evaluation -> demo
COMMANDS = (
    "scan",
    "backbones",
    "train_encoder",
    "export_encoder",
    "encode",
    "measure",
    "consistency",
    "evaluate",
    "phantom",
    "demo",
    "fit_model",
    "screen",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command of COMMANDS (a missing command module is an ImportError)."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="vexscreen",
        description="Screen for VEXAS syndrome from single-leukocyte blood-smear images "
                    "(Chabrun, Lacombe et al., Clin Chem Lab Med 2023).")
    parser.add_argument("--version", action="version", version=f"vexscreen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


@contextlib.contextmanager
def library_log(level: int = logging.INFO):
    """Within the block, show the library's log records (logger ``vexscreen``) on stderr,
    message only."""
    logger = logging.getLogger("vexscreen")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_level = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with library_log():
            return int(args.func(args) or 0)
    except InputError as exc:
        print(f"vexscreen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vexscreen {args.command}: interrupted; completed outputs are kept, re-run to resume.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
