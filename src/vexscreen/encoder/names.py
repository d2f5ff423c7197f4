"""Names and defaults the CLI offers, importable without torch (so ``vexscreen --help`` is instant)."""
from ..study import FULL_SIZE as DEFAULT_FULL_SIZE  # noqa: F401  (METHOD.md Step 1: 272)


BACKBONE_NAMES = ("resnet18", "vgg16", "resnet50", "inception_v3", "efficientnet_b4")
DEFAULT_BACKBONE = "resnet18"
#: smallest input side each torchvision backbone accepts (InceptionV3's stem needs 75 px)
MIN_INPUT_SIDE = {"resnet18": 32, "vgg16": 32, "resnet50": 32, "inception_v3": 75, "efficientnet_b4": 32}
POOLINGS = ("avg", "max")
METHODS = ("nnclr", "simclr")
OVERSIZE = ("pad", "resize", "crop")
