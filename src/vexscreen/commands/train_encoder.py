"""``vexscreen train-encoder``: self-supervised contrastive training (METHOD.md Step 1).

The training options are built from ``TrainConfig``'s fields (``option_fields``: flag, type,
default, help), and the parsed values build the ``TrainConfig`` back; its ``validate`` checks them.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-encoder", help="train an image encoder, self-supervised (METHOD.md Step 1)",
        description="Self-supervised contrastive training of a cell-image encoder, the study's settings as "
                    "defaults (two views: flips, rotation in [-180, 180], random 128 x 128 crop; head "
                    "128-128; temperature 0.07; Adam 1e-5; batch 8; seed 43; NNCLR loss with queue 0). "
                    "Writes RUN/encoder.pt (best loss), RUN/metrics.csv, RUN/config.json and "
                    "RUN/checkpoints/last.ckpt (for --resume: kept if the run is interrupted, deleted when it "
                    "ends unless --keep-checkpoints). Nothing is downloaded.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--images", required=True, help="folder of training images (any layout; labels unused)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    p.add_argument("--probe", metavar="ROOT", default=None,
                   help="images in groups (ROOT/GROUP/PATIENT/SAMPLE/img, or ROOT/GROUP/img) for the per-epoch "
                        "5-NN probe")
    _add_config_options(p.add_argument_group("training settings"))
    p.add_argument("--resume", action="store_true", help="continue RUN from checkpoints/last.ckpt")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep RUN/checkpoints when training ends (to --resume it later with more epochs); "
                        "an interrupted run keeps them anyway")
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator (cpu, gpu, auto, ...)")
    p.add_argument("--devices", default="auto", help="Lightning devices (e.g. 1, 4, auto)")
    p.add_argument("--strategy", default="auto", help="Lightning strategy (auto, ddp, ...)")
    p.add_argument("--num-nodes", type=int, default=1, help="Lightning nodes (DDP across machines)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _add_config_options(group) -> None:
    """One option per ``TrainConfig`` field that has CLI metadata: --name-with-dashes."""
    from ..encoder.config import option_fields

    for f, kind in option_fields():
        extra = {k: v for k, v in f.metadata.items() if k != "help"}
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=f.default,
                           help=f.metadata["help"], **extra)


def _devices(text: str):
    try:
        return int(text)
    except ValueError:
        return text


def run(args) -> int:
    from ..exceptions import InputError
    from ..encoder.config import TrainConfig, option_fields
    from ..encoder.training import train_encoder

    if args.num_nodes < 1:
        raise InputError("--num-nodes must be at least 1")
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f, _ in option_fields()})
    out = train_encoder(args.images, args.out, cfg, probe=args.probe, resume=args.resume,
                        accelerator=args.accelerator, devices=_devices(args.devices), strategy=args.strategy,
                        num_nodes=args.num_nodes, progress=not args.no_progress,
                        keep_checkpoints=args.keep_checkpoints)
    if not out["is_global_zero"]:  # DDP: one summary, from rank 0
        return 0
    print(f"trained {out['epochs_run']} epoch(s) on {out['images']} images in {out['seconds']} s; "
          f"best loss {out['best_loss']:.4f} at epoch {out['best_epoch']}"
          + (" (stopped early)" if out["stopped_early"] else "")
          + f"; encoder: {args.out}/encoder.pt, metrics: {args.out}/metrics.csv"
          + (f"; checkpoints kept: {args.out}/checkpoints" if out["checkpoints_kept"] else ""))
    if out["probe_note"]:
        print(f"probe: {out['probe_note']}")
    return 0
