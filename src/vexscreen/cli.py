"""The ``vexscreen`` command: a thin layer over the Python API.

Each sub-command lives in its own module under ``vexscreen.commands`` and
exposes ``register(subparsers)``, which builds its parser with
``commands.add_command`` (one convention: one-line errors, checked numbers,
``--no-progress`` and ``--verbose`` everywhere). The library never prints: the
commands print results, and the log records are shown here, on stderr: the
library's status lines (logger ``vexscreen``), other libraries' warnings, and
with ``--verbose`` the debug lines and Lightning's start-up messages.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys

from .commands.options import CommandParser, HelpFormatter, OneLineParser
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

DESCRIPTION = (
    "Screen for VEXAS syndrome from single-leukocyte blood-smear images, after Chabrun, Lacombe et al., "
    "Clin Chem Lab Med 2023 (doi:10.1515/cclm-2022-1283): self-supervised encoder training (the paper's "
    "Step 1), the encoder consistency test (Step 2a) and phenotypic prediction (Step 2b), and the "
    "screening of new patients with a reference model. A research tool, not a diagnostic device.")

#: Lightning's loggers: their INFO lines (GPU/TPU available, tips) only --verbose shows
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command of COMMANDS (a missing command module is an ImportError)."""
    from . import __version__

    parser = OneLineParser(prog="vexscreen", description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"vexscreen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=CommandParser)
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


class _Shown(logging.Filter):
    """vexscreen's records from ``own``, every other library's from ``others``."""

    def __init__(self, own: int, others: int):
        super().__init__()
        self.own, self.others = own, others

    def filter(self, record: logging.LogRecord) -> bool:
        mine = record.name == "vexscreen" or record.name.startswith("vexscreen.")
        return record.levelno >= (self.own if mine else self.others)


@contextlib.contextmanager
def library_log(level: int = logging.INFO, *, verbose: bool = False):
    """Within the block, show log records on stderr, message only: the library's (logger
    ``vexscreen``) from ``level`` and other libraries' warnings; ``verbose``: the library's
    debug lines too, and other libraries' INFO lines (Lightning's "GPU available", its tips).

    Lightning adds handlers of its own when imported: its loggers get this block's handler
    instead and stop propagating (to the ``lightning`` logger's handler); with a root handler
    in place, an import in the block adds no other (see ``lightning/pytorch/__init__.py``).
    """
    own, others = (logging.DEBUG, logging.INFO) if verbose else (level, logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_Shown(own, others))
    root, logger = logging.getLogger(), logging.getLogger("vexscreen")
    lightning = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    saved = [(lg, lg.level, lg.propagate) for lg in (root, logger, *lightning)]
    root.setLevel(others)
    logger.setLevel(own)
    for lg in lightning:
        lg.setLevel(others)
        lg.propagate = False
        lg.addHandler(handler)
    root.addHandler(handler)
    try:
        yield
    finally:
        for lg, old_level, old_propagate in saved:
            lg.removeHandler(handler)
            lg.propagate = old_propagate
            if lg.level in (own, others):  # not set by an import in the block
                lg.setLevel(old_level)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with library_log(verbose=getattr(args, "verbose", False)):
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
