"""``vexscreen measure``: cell measurements (masks, lobes, granularity, vacuoles) of every image."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from ..morphology.segment import DEFAULT_PIXEL_SIZE_UM
    from ..morphology.run import default_workers

    p = subparsers.add_parser(
        "measure", help="measure every cell image: size, nucleus, lobes, granularity, vacuoles",
        description="Segment the centred leukocyte of every image under ROOT and measure it (docs/morphology.md). "
                    "Writes MEAS/measurements.csv (metadata, quality flag, measurements in um), the "
                    "standardised measurements as an encoding set (MEAS/encodings.npy + MEAS/metadata.csv, or "
                    "encoder_test_* for ROOT/GROUP/img) that consistency and evaluate read like encode's, and "
                    "MEAS/measure.json. Rows in the sorted scan order; atomic; an interrupted run resumes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--images", required=True, metavar="ROOT", help="image folder")
    p.add_argument("--out", required=True, metavar="MEAS", help="output folder")
    p.add_argument("--pixel-size", type=float, default=DEFAULT_PIXEL_SIZE_UM, metavar="UM",
                   help="um per pixel (default: CellaVision DM96, from the red-cell diameter)")
    p.add_argument("--workers", type=int, default=default_workers(), help="processes")
    p.add_argument("--layout", choices=("labeled", "encoder_test", "flat"), default=None,
                   help="image layout; detected from the folder depth when not given")
    p.add_argument("--strict", action="store_true", help="fail on any bad file instead of skipping it")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


PIXEL_SIZE_RANGE = (0.01, 5.0)
MAX_WORKERS = 64


def run(args) -> int:
    from ..data.scan import scan_images
    from ..exceptions import InputError
    from ..morphology.run import measure_scan

    lo, hi = PIXEL_SIZE_RANGE
    if not lo <= args.pixel_size <= hi:
        raise InputError(f"--pixel-size must be within {lo}-{hi} um per pixel, got {args.pixel_size}")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise InputError(f"--workers must be within 1-{MAX_WORKERS}, got {args.workers}")
    scan = scan_images(args.images, strict=args.strict, layout=args.layout, progress=not args.no_progress)
    if scan.bad:
        print(f"skipped {len(scan.bad)} bad file(s) (listed in {args.out}/measure.json; "
              f"see `vexscreen scan {args.images}`; --strict to fail)")
    bar = None
    if not args.no_progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(scan.images), desc="measure", unit="cell", dynamic_ncols=True)
    try:
        s = measure_scan(scan, args.out, pixel_size=args.pixel_size, workers=args.workers,
                         progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    speed = f", {s['cells_per_second']} cells/s" if s["cells_per_second"] else ""
    print(f"measured {s['images']} images ({s['layout']} layout) at {s['pixel_size_um']} um/px{speed}")
    print("quality: " + ", ".join(f"{k} {v}" for k, v in s["quality"].items()))
    print("wrote " + ", ".join(f"{args.out}/{f}" for f in s["files"]))
    return 0
