"""``vexscreen phantom``: write a phantom cohort of known morphology (see docs/phantom.md)."""
from __future__ import annotations

from . import add_command, show_progress
from .options import nonnegative_int, positive_float, positive_int


#: vexscreen.phantom.style.STYLES, named here so `--help` does not import scikit-learn (tested)
STYLE_NAMES = ("drawn", "calibrated")

HELP = "generate a labeled phantom cohort of single-cell images with known morphology"
DESCRIPTION = """\
Write generated single-leukocyte images in the study's layout, one root per cell type:
DIR/<PN|MO|LY>/GROUP/PATIENT/SAMPLE/cell_NNNNN.png, an encoder test set
DIR/encoder_test/<CELL_TYPE>/<GROUP>/*.png and DIR/truth.csv (one row per image: path, labels, every
morphology parameter, what was drawn). The same seed gives the same images whatever --workers; an
interrupted run resumes."""


def register(subparsers) -> None:
    p = add_command(subparsers, "phantom", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (new, or a phantom to resume)")
    p.add_argument("--cohort", choices=("study", "small", "null"), default="study",
                   help="study: the paper's 12 patients/176 samples; small: 2 patients per group, 2 samples, "
                        "6 cells (x --scale); null: the study's structure with no group phenotype")
    p.add_argument("--patients-per-group", type=positive_int, default=None, metavar="N",
                   help="study and null: N patients per group, each with the samples and cell counts of a "
                        "study patient drawn at random (seeded; default: the study's 3/3/6 patients)")
    p.add_argument("--scale", type=positive_float, default=1.0, metavar="F",
                   help="cells per sample x F, > 0 (at least 1 cell per sample)")
    p.add_argument("--seed", type=nonnegative_int, default=0, metavar="N", help="random seed, >= 0")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N", help="worker processes, at least 1")
    p.add_argument("--cell-types", default="PN,MO,LY", metavar="LIST", help="comma-separated, among PN,MO,LY")
    p.add_argument("--encoder-test-per-group", type=nonnegative_int, default=30, metavar="N",
                   help="encoder test images per morphology group (0: none)")
    p.add_argument("--preview", action="store_true",
                   help="also write DIR/preview/<CELL_TYPE>_<GROUP>.png contact sheets")
    p.add_argument("--source-images", metavar="SRC", default=None,
                   help="real-texture mode: plant vacuoles into real single-cell images from "
                        "SRC/<PN|MO|LY or neutrophil|monocyte|lymphocyte>/ instead of drawing cells")
    p.add_argument("--style", choices=STYLE_NAMES, default="drawn",
                   help="how cells are drawn: drawn (the phantom every documented result used) or calibrated "
                        "(sizes, nuclei, chromatin, cytoplasm colour and granules brought to real normal "
                        "cells' measurements; docs/phantom.md)")


def run(args) -> int:
    import time

    import pandas as pd

    from ..exceptions import InputError
    from ..phantom.cohort import make_cohort

    cell_types = tuple(c.strip().upper() for c in args.cell_types.split(",") if c.strip())
    if not cell_types:
        raise InputError("--cell-types is empty")
    t0 = time.time()
    out = make_cohort(args.out, cohort=args.cohort, scale=args.scale, seed=args.seed,
                      workers=args.workers, cell_types=cell_types,
                      encoder_test_per_group=args.encoder_test_per_group, preview=args.preview,
                      source_images=args.source_images, progress=show_progress(args),
                      patients_per_group=args.patients_per_group, style=args.style)
    truth_path = out / "truth.csv"
    truth = pd.read_csv(truth_path, usecols=["set", "cell_type"])
    counts = truth.groupby(["set", "cell_type"]).size()
    per_group = "" if args.patients_per_group is None else f", {args.patients_per_group} patients per group"
    per_group += "" if args.style == "drawn" else f", {args.style} style"
    print(f"phantom ({args.cohort}{per_group}, scale {args.scale}, seed {args.seed}): {len(truth)} images in "
          f"{time.time() - t0:.1f} s -> {args.out}")
    for (s, ct), n in counts.items():
        print(f"  {s:12s} {ct}: {n}")
    print(f"wrote {truth_path}" + (f" and {args.out}/preview/" if args.preview else ""))
    return 0
