"""``vexscreen demo``: the whole method on embedded defaults (what ``make demo`` runs)."""
from __future__ import annotations

from pathlib import Path

from ..encoder.names import BACKBONE_NAMES
from . import add_command, show_progress
from .options import positive_int


HELP = "run the pipeline end to end on embedded data and print the tables"
DESCRIPTION = """\
1) the encoder consistency test on the study's published encoder-test encodings (bundled); 2)
phenotypic prediction on synthetic encodings with the study's neutrophil structure; 3) a small
phantom cohort with the study's structure; 4) encoder training on it -> encoding -> consistency ->
the study's comparisons per cell type, beside the published table. Outputs go to --out; a re-run
resumes."""


def register(sub) -> None:
    p = add_command(sub, "demo", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    p.add_argument("--no-plots", action="store_true", help="skip figures and contact sheets")
    p.add_argument("--jobs", type=positive_int, default=2, metavar="N", help="parallel workers, at least 1")
    p.add_argument("--weights", metavar="imagenet|FILE", default=None,
                   help="start the encoder from ImageNet weights (imagenet: torchvision's, by name, from "
                        "$TORCH_HOME/hub/checkpoints or downloaded if online; the study starts from them) or a "
                        "local file (torchvision state dict; DinoBloom checkpoint for dinobloom-*)")
    p.add_argument("--backbone", default="resnet18", choices=BACKBONE_NAMES,
                   help="backbone by name, see `vexscreen backbones`")


def run(args) -> int:
    from ..demo import demo_train_config, run_demo
    from ..report import format_demo_step

    cfg = demo_train_config(backbone=args.backbone, weights=args.weights)

    def show(step: str, info: dict) -> None:
        print(format_demo_step(step, info), flush=True)

    run_demo(args.out, plots=not args.no_plots, n_jobs=args.jobs, workers=args.jobs, train_config=cfg,
             on_step=show, progress=show_progress(args))
    return 0
