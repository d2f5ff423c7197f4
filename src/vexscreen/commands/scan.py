"""``vexscreen scan ROOT``: check every image under ROOT and print what was found."""
from __future__ import annotations

from ..data.atomic import write_csv
from ..data.scan import LAYOUT_DEPTHS, scan_images


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scan", help="check and count the images under a folder (labeled, encoder-test or flat layout)",
        description="Walk ROOT (ROOT/GROUP/PATIENT/SAMPLE/<image>, ROOT/GROUP/<image> or a flat folder), "
                    "fully decode every image, and print counts per group/patient/sample, image sizes, "
                    "conversions to RGB and every file that cannot be used, with the reason.")
    p.add_argument("root", metavar="ROOT", help="folder holding the images")
    p.add_argument("--strict", action="store_true",
                   help="fail (exit 2) if any file is bad, instead of skipping and listing it")
    p.add_argument("--layout", choices=tuple(LAYOUT_DEPTHS),
                   help="force the layout (default: detect from folder depth; files at another depth "
                        "are then listed as bad)")
    p.add_argument("--csv", metavar="OUT.csv",
                   help="write the metadata table (PATIENT,SAMPLE,GROUP,IMAGE / GROUP,IMAGE / IMAGE)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    result = scan_images(args.root, strict=args.strict, layout=args.layout,
                         progress=not args.no_progress)
    print(result.summary())
    if args.csv:
        out = write_csv(args.csv, result.metadata())
        print(f"\nmetadata ({len(result.images)} rows) written to {out}")
    return 0
