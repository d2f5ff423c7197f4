"""CLI sub-commands, one module each; each exposes ``register(subparsers)``."""
from __future__ import annotations

import argparse


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
