"""``vexscreen demo``: the whole method on embedded defaults (what ``make demo`` runs)."""
from __future__ import annotations

from pathlib import Path

from ..encoder.names import BACKBONE_NAMES


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="run the pipeline end to end on embedded data and print the tables",
        description="1) the encoder consistency test on the study's published encoder-test "
                    "encodings (bundled); 2) a small phantom cohort with the study's structure -> "
                    "encoder training -> encoding -> consistency -> the study's comparisons per "
                    "cell type, beside the published table. Outputs go to --out; a re-run resumes.")
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    p.add_argument("--no-plots", action="store_true", help="skip figures and contact sheets")
    p.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    p.add_argument("--weights", metavar="FILE", default=None,
                   help="start the encoder from this local torchvision state dict (the study starts "
                        "from ImageNet weights; none are downloaded)")
    p.add_argument("--backbone", default="resnet18", choices=BACKBONE_NAMES,
                   help="backbone the weights are for (default resnet18)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import demo_train_config, run_demo

    cfg = demo_train_config(backbone=args.backbone, weights=args.weights)
    run_demo(args.out, plots=not args.no_plots, n_jobs=args.jobs, workers=max(1, args.jobs), train_config=cfg)
    return 0
