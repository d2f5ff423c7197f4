"""Names and defaults the CLI offers, importable without torch (so ``vexscreen --help`` is instant)."""

BACKBONE_NAMES = ("resnet18", "vgg16", "resnet50", "inception_v3", "efficientnet_b4")
DEFAULT_BACKBONE = "resnet18"
POOLINGS = ("avg", "max")
METHODS = ("nnclr", "simclr")
OVERSIZE = ("pad", "resize", "crop")
DEFAULT_FULL_SIZE = 272  # METHOD.md Step 1: full-size inference pads to 272 x 272
