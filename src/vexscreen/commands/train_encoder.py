"""``vexscreen train-encoder``: self-supervised contrastive training (METHOD.md Step 1)."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from ..encoder.config import TrainConfig
    from ..encoder.names import BACKBONE_NAMES as BACKBONES
    from ..encoder.names import DEFAULT_BACKBONE, METHODS, POOLINGS

    d = TrainConfig()
    p = subparsers.add_parser(
        "train-encoder", help="train an image encoder, self-supervised (METHOD.md Step 1)",
        description="Self-supervised contrastive training of a cell-image encoder, the study's settings as "
                    "defaults (two views: flips, rotation in [-180, 180], random 128 x 128 crop; head "
                    "128-128; temperature 0.07; Adam 1e-5; batch 8; seed 43; NNCLR loss with queue 0). "
                    "Writes RUN/encoder.pt (best loss), RUN/metrics.csv, RUN/config.json and "
                    "RUN/checkpoints/last.ckpt (for --resume). Nothing is downloaded.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--images", required=True, help="folder of training images (any layout; labels unused)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    p.add_argument("--probe", metavar="ROOT", default=None,
                   help="labeled images (ROOT/GROUP/PATIENT/SAMPLE/img) for the per-epoch 5-NN probe")
    p.add_argument("--backbone", choices=BACKBONES, default=DEFAULT_BACKBONE)
    p.add_argument("--pooling", choices=POOLINGS, default=d.pooling)
    p.add_argument("--weights", metavar="FILE", default=None,
                   help="local torchvision state dict to start from (e.g. ImageNet weights)")
    p.add_argument("--method", choices=METHODS, default=d.method,
                   help="nnclr: the study's loss (SimCLR-like at queue 0); simclr: lightly's NT-Xent")
    p.add_argument("--queue-size", type=int, default=d.queue_size,
                   help="NNCLR queue (0 = the study; > 0 = nearest-neighbour positives)")
    p.add_argument("--temperature", type=float, default=d.temperature)
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    p.add_argument("--lr-floor", type=float, default=d.lr_floor, help="LR halving stops here")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--epochs", type=int, default=d.epochs, help="maximum; early stopping may end sooner")
    p.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience (epochs)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--crop", type=int, default=d.crop, help="view crop side (px)")
    p.add_argument("--color-jitter", type=float, default=d.color_jitter, metavar="S",
                   help="SimCLR colour distortion of strength S in the views (0 = the study's views)")
    p.add_argument("--local-crop", type=int, default=None, metavar="N",
                   help="make the second view a smaller N x N patch (local-to-global pairs); default: both --crop")
    p.add_argument("--n-local", type=int, default=0, metavar="K",
                   help="keep both views whole and add K --local-crop patches per cell (multi-crop)")
    p.add_argument("--dense", type=float, default=d.dense, metavar="W",
                   help="add a DenseCL-style term on the feature maps with weight W in (0, 1]: every "
                        "region of the cell described, not only the whole (default 0, the study)")
    p.add_argument("--field", type=int, default=None, metavar="N",
                   help="cut the views from the centred N x N square, where the analyser puts the cell, "
                        "and encode that square (default: the whole image, the study)")
    p.add_argument("--scale", type=float, default=d.scale,
                   help="resize every image by this factor first (also applied by encode)")
    p.add_argument("--full-size", type=int, default=d.full_size, help="full-size side for the probe and encode")
    p.add_argument("--max-images", type=int, default=None, help="train on at most this many images")
    p.add_argument("--workers", type=int, default=d.workers, help="DataLoader workers")
    p.add_argument("--resume", action="store_true", help="continue RUN from checkpoints/last.ckpt")
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator (cpu, gpu, auto, ...)")
    p.add_argument("--devices", default="auto", help="Lightning devices (e.g. 1, 4, auto)")
    p.add_argument("--strategy", default="auto", help="Lightning strategy (auto, ddp, ...)")
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _devices(text: str):
    try:
        return int(text)
    except ValueError:
        return text


def run(args) -> int:
    from ..exceptions import InputError
    from ..encoder.training import TrainConfig, train_encoder

    if args.batch_size < 2:
        raise InputError("--batch-size must be at least 2 (contrastive loss needs negatives)")
    if args.epochs < 1:
        raise InputError("--epochs must be at least 1")
    if args.scale <= 0:
        raise InputError("--scale must be > 0")
    cfg = TrainConfig(backbone=args.backbone, pooling=args.pooling, method=args.method,
                      queue_size=args.queue_size, temperature=args.temperature, lr=args.lr,
                      batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, crop=args.crop,
                      color_jitter=args.color_jitter, field=args.field, local_crop=args.local_crop, n_local=args.n_local,
                      dense=args.dense,
                      scale=args.scale, full_size=args.full_size, lr_floor=args.lr_floor, patience=args.patience,
                      workers=args.workers, max_images=args.max_images, weights=args.weights)
    out = train_encoder(args.images, args.out, cfg, probe=args.probe, resume=args.resume,
                        accelerator=args.accelerator, devices=_devices(args.devices), strategy=args.strategy,
                        num_nodes=args.num_nodes, progress=not args.no_progress)
    if not out["is_global_zero"]:  # DDP: one summary, from rank 0
        return 0
    print(f"trained {out['epochs_run']} epoch(s) on {out['images']} images in {out['seconds']} s; "
          f"best loss {out['best_loss']:.4f} at epoch {out['best_epoch']}"
          + (" (stopped early)" if out["stopped_early"] else "")
          + f"; encoder: {args.out}/encoder.pt, metrics: {args.out}/metrics.csv")
    return 0
