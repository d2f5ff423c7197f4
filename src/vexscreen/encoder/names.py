"""Names and defaults the CLI offers, importable without torch (so ``vexscreen --help`` is instant).

The backbone names and sizes come from the one registry (``registry.py``).
"""
from ..study import FULL_SIZE as DEFAULT_FULL_SIZE  # noqa: F401  (METHOD.md Step 1: 272)
from .registry import REGISTRY

BACKBONE_NAMES = tuple(REGISTRY)
DEFAULT_BACKBONE = "resnet18"
#: smallest input side each backbone accepts (InceptionV3's stem needs 75 px; a ViT one patch)
MIN_INPUT_SIDE = {name: info.min_size for name, info in REGISTRY.items()}
POOLINGS = ("avg", "max", "cls")   # global average / max pooling of the last feature map; a ViT's CLS token
METHODS = ("nnclr", "simclr")
OVERSIZE = ("pad", "resize", "crop")
