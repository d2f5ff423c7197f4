"""``vexscreen scan ROOT``: check every image under ROOT and print what was found."""
from __future__ import annotations

from . import add_command, add_scan_options, scan_options, show_progress


HELP = "check and count the images under a folder (labeled, encoder-test or flat layout)"
DESCRIPTION = """\
Walk ROOT (ROOT/GROUP/PATIENT/SAMPLE/<image>, ROOT/GROUP/<image> or a flat folder), fully decode
every image, and print counts per group/patient/sample, image sizes, conversions to RGB and every
file that cannot be used, with the reason."""


def register(subparsers) -> None:
    p = add_command(subparsers, "scan", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("root", metavar="ROOT", help="folder holding the images")
    p.add_argument("--csv", metavar="OUT.csv",
                   help="write the metadata table (PATIENT,SAMPLE,GROUP,IMAGE / GROUP,IMAGE / IMAGE)")
    add_scan_options(p)


def run(args) -> int:
    from ..data.atomic import write_csv
    from ..data.scan import scan_images

    result = scan_images(args.root, progress=show_progress(args), **scan_options(args))
    print(result.summary())
    if args.csv:
        out = write_csv(args.csv, result.metadata())
        print(f"\nmetadata ({len(result.images)} rows) written to {out}")
    return 0
