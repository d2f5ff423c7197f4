"""CLI sub-commands, one module each; each exposes ``register(subparsers)``."""
from __future__ import annotations

import argparse


def split_list(text):
    """Parse a comma-separated CLI list (``A,B,C``); None stays None."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def add_encoding_input(parser: argparse.ArgumentParser) -> None:
    """DIR (study layout) or --encodings FILE --metadata FILE."""
    parser.add_argument("dir", nargs="?", metavar="DIR",
                        help="folder with encodings.npy + metadata.csv, or encoder_test_encodings.npy "
                             "+ encoder_test_metadata.csv")
    parser.add_argument("--encodings", metavar="FILE", help="encodings .npy (instead of DIR)")
    parser.add_argument("--metadata", metavar="FILE", help="metadata .csv (instead of DIR)")


def load_encoding_input(args):
    from ..data import load_encodings

    return load_encodings(args.dir, encodings=args.encodings, metadata=args.metadata)
