"""The ``vexscreen`` command: a thin layer over the Python API.

Each sub-command lives in its own module under ``vexscreen.commands`` and
exposes ``register(subparsers)``, which adds its parser and sets ``func``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .exceptions import InputError

# pipeline order: images -> encoder -> encodings -> evaluation -> demo
COMMANDS = (
    "scan",
    "train_encoder",
    "encode",
    "measure",
    "consistency",
    "evaluate",
    "phantom",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="vexscreen",
        description="Screen for VEXAS syndrome from single-leukocyte blood-smear images "
                    "(Chabrun, Lacombe et al., Clin Chem Lab Med 2023).")
    parser.add_argument("--version", action="version", version=f"vexscreen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.commands.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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
