"""``vexscreen train-encoder``: self-supervised contrastive training (METHOD.md Step 1).

The training options are built from ``TrainConfig``'s fields (``option_fields``: flag, type,
bounds, default, help): each number is range-checked where it is parsed, and the parsed
values build the ``TrainConfig`` back, whose ``validate`` checks the combinations before any scan.
"""
from __future__ import annotations

import math

from . import (add_command, add_device_options, add_scan_options, bad_file_lines, scan_options,
               show_progress)
from .options import float_in, int_in


HELP = "train an image encoder, self-supervised (Step 1)"
DESCRIPTION = """\
Self-supervised contrastive training of a cell-image encoder, the study's settings as defaults (two
views: flips, rotation in [-180, 180], random 128 x 128 crop; head 128-128; temperature 0.07; Adam
1e-5; batch 8; seed 43; NNCLR loss with queue 0). Writes RUN/encoder.pt (best loss),
RUN/metrics.csv, RUN/config.json (settings and skipped files) and RUN/checkpoints/last.ckpt (for
--resume: kept if the run is interrupted, deleted when it ends unless --keep-checkpoints). Nothing
is downloaded."""


def register(subparsers) -> None:
    p = add_command(subparsers, "train-encoder", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("--images", required=True, metavar="ROOT",
                   help="folder of training images (any layout; labels unused)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    p.add_argument("--probe", metavar="ROOT", default=None,
                   help="images in groups (ROOT/GROUP/PATIENT/SAMPLE/img, or ROOT/GROUP/img) for the per-epoch "
                        "5-NN probe")
    p.add_argument("--resume", action="store_true", help="continue RUN from checkpoints/last.ckpt")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep RUN/checkpoints when training ends (to --resume it later with more epochs); "
                        "an interrupted run keeps them anyway")
    _add_config_options(p.add_argument_group("training settings"))
    add_scan_options(p, probe=True)
    add_device_options(p, distributed=True)


def _option_type(kind, bounds):
    """The argparse type of a ``TrainConfig`` field: its kind, range-checked by its bounds."""
    if bounds is None:
        return kind
    if kind is int:
        return int_in(int(bounds.low), None if bounds.high is None else int(bounds.high))
    return float_in(bounds.low, math.inf if bounds.high is None else bounds.high, low_open=bounds.low_open)


def _add_config_options(group) -> None:
    """One option per ``TrainConfig`` field that has CLI metadata: --name-with-dashes."""
    from ..encoder.config import option_fields

    for f, kind in option_fields():
        extra = {k: v for k, v in f.metadata.items() if k not in ("help", "bounds")}
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=f.default,
                           type=_option_type(kind, f.metadata.get("bounds")), help=f.metadata["help"], **extra)


def run(args) -> int:
    from ..encoder.config import TrainConfig, option_fields
    from ..encoder.training import train_encoder

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f, _ in option_fields()})  # checked before the scan
    out = train_encoder(args.images, args.out, cfg, probe=args.probe, resume=args.resume,
                        accelerator=args.accelerator, devices=args.devices, strategy=args.strategy,
                        num_nodes=args.num_nodes, progress=show_progress(args), probe_layout=args.probe_layout,
                        keep_checkpoints=args.keep_checkpoints, **scan_options(args))
    if not out["is_global_zero"]:  # DDP: one summary, from rank 0
        return 0
    bad = out["bad_files"]
    skipped = f" ({len(bad)} unreadable or misplaced file(s) skipped, listed in {args.out}/config.json)" if bad else ""
    print(f"trained {out['epochs_run']} epoch(s) on {out['images']} images{skipped} in {out['seconds']} s; "
          f"best loss {out['best_loss']:.4f} at epoch {out['best_epoch']}"
          + (" (stopped early)" if out["stopped_early"] else "")
          + f"; encoder: {args.out}/encoder.pt, metrics: {args.out}/metrics.csv"
          + (f"; checkpoints kept: {args.out}/checkpoints" if out["checkpoints_kept"] else ""))
    if bad:
        print("skipped:\n" + "\n".join(bad_file_lines(bad)))
    if out["probe_note"]:
        print(f"probe: {out['probe_note']}")
    return 0
