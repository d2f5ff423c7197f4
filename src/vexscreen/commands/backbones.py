"""``vexscreen backbones``: the backbone registry as a table (name, sizes, preprocessing, weights)."""
from __future__ import annotations

from . import add_command


HELP = "list the backbones train-encoder and export-encoder build, and their weights"
DESCRIPTION = """\
Every registered backbone: embedding size, the input side its published weights were made at
(native) and what vexscreen feeds it, the preprocessing inside the encoder, the pooling, and what
--weights takes. Nothing is downloaded."""


def register(subparsers) -> None:
    add_command(subparsers, "backbones", help=HELP, description=DESCRIPTION, func=run)


def table_text(rows: list[dict]) -> str:
    """Rows of equal keys as a plain-text table, columns as wide as their widest cell."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}

    def line(values) -> str:
        return "  ".join(str(v).ljust(widths[c]) for c, v in zip(columns, values)).rstrip()

    return "\n".join([line(columns), line("-" * widths[c] for c in columns)]
                     + [line(r[c] for c in columns) for r in rows])


def run(args) -> int:
    from ..encoder.backbones import backbone_table
    from ..encoder.pretrained import weights_dir
    from ..encoder.registry import HALF, IMAGENET_MEAN, IMAGENET_STD
    from ..study import FULL_SIZE

    print(table_text(backbone_table()))
    print(f"""
* one of the study's four (METHOD.md Step 1); the default is resnet18.
native: the side the published weights were trained or evaluated at. The torchvision CNNs take any side:
  vexscreen feeds them its own geometry (128 px training crops, full size {FULL_SIZE}), not the native side.
  DinoBloom takes exactly 224 x 224: encode centre-crops larger images to 224 (or --oversize resize) and
  pads smaller ones; training crops must be multiples of its patch, 14.
preprocessing (inside the encoder, on RGB in [0, 1]): ImageNet = mean {'/'.join(map(str, IMAGENET_MEAN))},
  std {'/'.join(map(str, IMAGENET_STD))}; 0.5 = mean = std = {HALF[0]} (inception_v3's ImageNet weights).
weights: none = random initialisation (seeded); imagenet = torchvision's IMAGENET1K_V1 file, read from
  {weights_dir()} ($TORCH_HOME/hub/checkpoints), downloaded there if the machine is online;
  FILE = a local torchvision state dict, or the DinoBloom checkpoint (zenodo.org/records/10908163).""")
    return 0
