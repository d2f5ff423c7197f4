"""CLI sub-commands, one module each; each exposes ``register(subparsers)``.

One convention for every command, from the helpers here. A command module holds
``HELP`` (one line), ``DESCRIPTION`` (a paragraph, printed as written: ``%`` is ``%``),
``register(subparsers)`` and ``run(args)``:

* ``p = add_command(subparsers, name, help=HELP, description=DESCRIPTION, func=run)``
  makes the sub-command's parser (one-line errors, an unknown option reported by the
  sub-command, the shared help formatter: an option's help text is %-formatted, so a
  percent sign there is ``%%``) with the options every command has (``--no-progress``,
  ``--verbose``; :func:`add_common_options`); every option gets a help text (tested);
* a command that scans images calls :func:`add_scan_options` (``--layout``,
  ``--strict``) and passes :func:`scan_options` to ``scan_images``; it names skipped
  files with :func:`bad_file_lines`;
* a command that runs a model on devices calls :func:`add_device_options`
  (Lightning's ``--accelerator``, ``--devices``; ``--strategy``, ``--num-nodes``);
* numbers are checked where they are parsed, with the types of ``commands.options``.

The library is passed ``progress=show_progress(args)``: True = a bar on a terminal,
log lines in a file or pipe (``vexscreen.progress``); False with ``--no-progress``.
"""
from __future__ import annotations

import argparse

from .options import HelpFormatter, devices, positive_int

#: the scanner's layouts (``vexscreen.data.scan.LAYOUT_DEPTHS``), named here so ``--help`` stays light
LAYOUTS = ("labeled", "encoder_test", "flat")
#: how many skipped files a command names before "... and N more"
BAD_FILES_SHOWN = 10


def add_command(subparsers, name: str, *, help: str, description: str, func) -> argparse.ArgumentParser:
    """The parser of sub-command ``name``, with the common options; ``func(args)`` runs it.

    ``help``: the one line ``vexscreen --help`` lists; ``description``: what ``vexscreen
    NAME --help`` prints first (plain text, a ``%`` is printed as written).
    """
    p = subparsers.add_parser(name, help=help, description=description, formatter_class=HelpFormatter)
    add_common_options(p)
    p.set_defaults(func=func)
    return p


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` and ``--verbose``, on every command."""
    g = parser.add_argument_group("output")
    g.add_argument("--no-progress", action="store_true",
                   help="no progress (by default: a bar on a terminal, a log line every few seconds in a file "
                        "or pipe)")
    g.add_argument("--verbose", action="store_true",
                   help="also show debug messages and the start-up messages of Lightning and other libraries")


def show_progress(args) -> bool:
    """The ``progress`` argument for the library: True unless ``--no-progress``."""
    return not args.no_progress


def add_scan_options(parser: argparse.ArgumentParser, *, probe: bool = False) -> None:
    """``--layout`` and ``--strict`` (and ``--probe-layout`` for a second, grouped scan)."""
    g = parser.add_argument_group("image scan")
    g.add_argument("--layout", choices=LAYOUTS,
                   help="the images' layout: labeled ROOT/GROUP/PATIENT/SAMPLE/img, encoder_test ROOT/GROUP/img "
                        "or flat ROOT/img (default: detected from the folder depth; files at another depth "
                        "are then skipped as bad)")
    g.add_argument("--strict", action="store_true",
                   help="fail (exit 2) on any bad file instead of skipping and naming it")
    if probe:
        g.add_argument("--probe-layout", choices=LAYOUTS[:2],
                       help="layout of the --probe images (default: detected from the folder depth)")


def scan_options(args) -> dict:
    """The ``scan_images`` keywords (``strict``, ``layout``) the options of :func:`add_scan_options`
    give (``--probe-layout`` is ``args.probe_layout``)."""
    return {"strict": args.strict, "layout": args.layout}


def bad_file_lines(bad: list[dict], limit: int = BAD_FILES_SHOWN) -> list[str]:
    """Indented lines naming skipped files (``{"path", "reason"}``): the first ``limit``, then
    "... and N more"."""
    lines = [f"  {b['path']}: {b['reason']}" for b in bad[:limit]]
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit} more")
    return lines


def add_device_options(parser: argparse.ArgumentParser, *, distributed: bool = False) -> None:
    """Lightning's device words: ``--accelerator``, ``--devices`` (and ``--strategy``,
    ``--num-nodes`` when ``distributed``)."""
    g = parser.add_argument_group("devices (as Lightning names them)")
    g.add_argument("--accelerator", default="cpu", metavar="NAME", help="cpu, gpu, mps or auto")
    g.add_argument("--devices", type=devices, default="auto", metavar="N|LIST",
                   help="how many devices (e.g. 1, 4, -1 for all), which ones (e.g. 0,2), or auto")
    if distributed:
        g.add_argument("--strategy", default="auto", metavar="NAME", help="Lightning strategy (auto, ddp, ...)")
        g.add_argument("--num-nodes", type=positive_int, default=1, metavar="N",
                       help="machines (DDP across nodes), at least 1")


def split_list(text):
    """Parse a comma-separated CLI list (``A,B,C``); None stays None."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def add_encoding_input(parser: argparse.ArgumentParser) -> None:
    """DIR... (study layout; several folders of the same cells are combined) or --encodings FILE --metadata FILE."""
    parser.add_argument("dir", nargs="*", metavar="DIR",
                        help="folder with encodings.npy + metadata.csv, or encoder_test_encodings.npy "
                             "+ encoder_test_metadata.csv; several folders of the same cells (e.g. ENC MEAS "
                             "from encode and measure) are matched by IMAGE, each L2-normalised, and joined")
    parser.add_argument("--encodings", metavar="FILE", help="encodings .npy (instead of DIR)")
    parser.add_argument("--metadata", metavar="FILE", help="metadata .csv (instead of DIR)")


def load_encoding_input(args):
    """The encoding set of ``args``: one DIR or the files as given, or several DIRs combined
    (:func:`vexscreen.data.combine_blocks`)."""
    from ..data import combine_blocks, load_encodings
    from ..exceptions import InputError

    dirs = list(args.dir or [])
    if len(dirs) <= 1:
        return load_encodings(dirs[0] if dirs else None, encodings=args.encodings, metadata=args.metadata)
    if args.encodings is not None or args.metadata is not None:
        raise InputError("give several DIRs or --encodings/--metadata, not both")
    return combine_blocks([load_encodings(d) for d in dirs])
