"""``vexscreen export-encoder``: an encoder file from a backbone's weights as they are, without training.

The way to use ImageNet or DinoBloom weights as a frozen encoder for ``encode``
(and the untrained baseline a training run has to beat): the same file
``train-encoder`` writes (``save_untrained_encoder``: backbone, weights record,
normalisation, geometry; ``training`` is None), from the same settings and checks.
"""
from __future__ import annotations

from . import add_command
from .options import positive_float, positive_int, seed

HELP = "write an encoder file from ImageNet, DinoBloom or random weights, untrained"
DESCRIPTION = """\
Build a backbone from its weights (--weights imagenet: torchvision's ImageNet weights by name; a
DinoBloom checkpoint or torchvision state dict FILE; none: random, seeded) and write it as an encoder
file for `vexscreen encode`, never trained on cells. `vexscreen backbones` lists the backbones."""


def register(subparsers) -> None:
    from ..encoder.names import BACKBONE_NAMES, POOLINGS

    p = add_command(subparsers, "export-encoder", help=HELP, description=DESCRIPTION, func=run)
    p.add_argument("--backbone", required=True, choices=BACKBONE_NAMES, help="backbone by name")
    p.add_argument("--weights", metavar="imagenet|FILE", default=None,
                   help="imagenet, or a local file (torchvision state dict; DinoBloom checkpoint for dinobloom-*); "
                        "none: random initialisation at --seed")
    p.add_argument("--out", required=True, metavar="ENCODER.pt", help="encoder file to write")
    p.add_argument("--pooling", choices=POOLINGS, default=None,
                   help="avg or max for torchvision backbones (default avg); DinoBloom: cls (its CLS token)")
    p.add_argument("--full-size", type=positive_int, default=None, metavar="PX",
                   help="full-size side encode pads images to (default 272; DinoBloom: 224, its input side)")
    p.add_argument("--field", type=positive_int, default=None, metavar="N",
                   help="encode sees the centred N x N square (larger images centre-cropped)")
    p.add_argument("--scale", type=positive_float, default=1.0, metavar="F", help="resize every image by this factor first")
    p.add_argument("--seed", type=seed, default=43, metavar="N", help="seed of a random initialisation")


def run(args) -> int:
    from ..encoder.config import TrainConfig
    from ..encoder.encoder_file import read_encoder_file
    from ..encoder.registry import get_backbone_info
    from ..encoder.training import save_untrained_encoder

    crop = min(get_backbone_info(args.backbone).default_crop, args.field) if args.field else None
    cfg = TrainConfig(backbone=args.backbone, pooling=args.pooling, weights=args.weights,
                      full_size=args.full_size, field=args.field, crop=crop, scale=args.scale, seed=args.seed)
    path = save_untrained_encoder(args.out, cfg)
    file = read_encoder_file(path)
    config, geometry = file.config, file.geometry
    weights = config["weights"]
    start = f"random weights (seed {args.seed})" if weights["source"] == "random" else \
        f"{weights['source']} weights {weights['file']}"
    side, oversize = geometry.for_encoding()
    print(f"wrote {path}: {config['backbone']} ({config['dim']}-d, {config['pooling']}) from {start}, untrained; "
          f"encode brings images to {side} x {side} (larger ones: {oversize})")
    return 0
