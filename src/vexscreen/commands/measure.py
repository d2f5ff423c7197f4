"""``vexscreen measure``: cell measurements (masks, lobes, granularity, vacuoles) of every image."""
from __future__ import annotations

from . import add_command, add_scan_options, bad_file_lines, scan_options, show_progress
from .options import float_in, int_in

PIXEL_SIZE_RANGE = (0.01, 5.0)
MAX_WORKERS = 64

HELP = "measure every cell image: size, nucleus, lobes, granularity, vacuoles"
DESCRIPTION = """\
Segment the centred leukocyte of every image under ROOT and measure it (docs/morphology.md). Writes
MEAS/measurements.csv (metadata, quality flag, measurements in um), the standardised measurements as
an encoding set (MEAS/encodings.npy + MEAS/metadata.csv, or encoder_test_* for ROOT/GROUP/img) that
consistency and evaluate read like encode's, and MEAS/measure.json. Rows in the sorted scan order;
atomic; an interrupted run resumes."""


def register(subparsers) -> None:
    from ..morphology.segment import DEFAULT_PIXEL_SIZE_UM
    from ..morphology.run import default_workers

    p = add_command(subparsers, "measure", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("--images", required=True, metavar="ROOT", help="image folder")
    p.add_argument("--out", required=True, metavar="MEAS", help="output folder")
    p.add_argument("--pixel-size", type=float_in(*PIXEL_SIZE_RANGE), default=DEFAULT_PIXEL_SIZE_UM, metavar="UM",
                   help=f"um per pixel, {PIXEL_SIZE_RANGE[0]} to {PIXEL_SIZE_RANGE[1]} (default: CellaVision DM96, "
                        "from the red-cell diameter)")
    p.add_argument("--workers", type=int_in(1, MAX_WORKERS), default=default_workers(), metavar="N",
                   help=f"processes, 1 to {MAX_WORKERS}")
    add_scan_options(p)


def run(args) -> int:
    from ..data.scan import scan_images
    from ..morphology.run import measure_scan
    from ..progress import Progress

    scan = scan_images(args.images, progress=show_progress(args), **scan_options(args))
    if scan.bad:
        print(f"skipped {len(scan.bad)} bad file(s) (listed in {args.out}/measure.json; --strict to fail):")
        print("\n".join(bad_file_lines(scan.bad_files())))
    with Progress(show_progress(args), len(scan.images), "measure", unit="cell") as bar:
        s = measure_scan(scan, args.out, pixel_size=args.pixel_size, workers=args.workers, progress=bar.update)
    speed = f", {s['cells_per_second']} cells/s" if s["cells_per_second"] else ""
    print(f"measured {s['images']} images ({s['layout']} layout) at {s['pixel_size_um']} um/px{speed}")
    print("quality: " + ", ".join(f"{k} {v}" for k, v in s["quality"].items()))
    print("wrote " + ", ".join(f"{args.out}/{f}" for f in s["files"]))
    return 0
