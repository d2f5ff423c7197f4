"""The backbone registry: every backbone vexscreen builds, by name, as plain data (no torch import).

One entry per name (timm-style: ``list_backbones()``, ``get_backbone_info(name)``;
``backbones.build_backbone(name, pooling, weights)`` is the one factory), saying
what a user has to know to choose one: embedding size, input sizes, the
preprocessing inside the encoder, where the weights come from. The CLI reads
names and defaults from here (``names.py``), so ``vexscreen --help`` stays
instant; ``vexscreen backbones`` prints the table.

* torchvision backbones (the study's four, METHOD.md Step 1, and ResNet18):
  convolutional with global pooling, so they take any side >= ``min_size``;
  vexscreen feeds its own geometry (128 px training crops, 272 px full size),
  not the ``native_size`` their ImageNet weights were evaluated at (see
  pretrained.py). Weights: random, ``imagenet`` by name (torchvision's
  ``IMAGENET1K_V1``, pretrained.py) or a local torchvision state dict.
* DinoBloom (Koch et al., MICCAI 2024; dinobloom.py): DINOv2 ViTs with patch 14
  trained at 224 x 224; ``encode`` feeds exactly ``input_size`` = 224, training
  crops must be multiples of 14. Weights: a local DinoBloom checkpoint file.

``mean``/``std`` are those of each backbone's published weights and are applied
inside the encoder whatever the weights (random, ImageNet or a file), so one
backbone always sees one preprocessing. inception_v3's are 0.5/0.5: its
ImageNet weights expect ``(x - 0.5) / 0.5`` (pretrained.py explains).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import InputError
from ..study import FULL_SIZE

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
DEFAULT_CROP = 128   # METHOD.md Step 1: the views' random crop
IMAGENET = "imagenet"  # --weights imagenet: torchvision's ImageNet weights by name (pretrained.py)


@dataclass(frozen=True)
class BackboneInfo:
    """What one registered backbone is (plain values only)."""
    name: str
    family: str                      # "torchvision" or "dinobloom": which builder makes it
    arch: str                        # torchvision's model name, or the timm model the weights load into
    dim: int                         # embedding size
    min_size: int                    # smallest input side the network accepts
    native_size: int                 # side its published weights were trained or evaluated at
    mean: tuple                      # preprocessing inside the encoder (RGB in [0, 1] -> (x - mean) / std)
    std: tuple
    weights: str                     # named weights it takes besides a file: "imagenet", or "dinobloom" (file only)
    poolings: tuple = ("avg", "max")  # embedding from the last feature map; the first is the default
    input_size: int | None = None    # the one side vexscreen feeds it (None: any side >= min_size)
    size_multiple: int = 1           # input sides (training crops) must be multiples of this (ViT patch)
    build_kwargs: tuple = ()         # extra (keyword, value) pairs for the model's constructor
    in_study: bool = False           # one of the study's four (METHOD.md Step 1)

    @property
    def default_pooling(self) -> str:
        return self.poolings[0]

    @property
    def default_full_size(self) -> int:
        """The full-size side ``encode`` uses: 272 (METHOD.md Step 1), or the fixed input side."""
        return self.input_size or FULL_SIZE

    @property
    def default_crop(self) -> int:
        """The training crop: 128 (METHOD.md Step 1), rounded down to a multiple of ``size_multiple``."""
        return DEFAULT_CROP // self.size_multiple * self.size_multiple

    @property
    def takes_imagenet(self) -> bool:
        return self.weights == "imagenet"

    def input_text(self) -> str:
        """What vexscreen feeds it, in words."""
        if self.input_size:
            return f"{self.input_size} x {self.input_size}; crops x{self.size_multiple}"
        return f"any side >= {self.min_size}"

    @property
    def preprocessing(self) -> str:
        """The normalisation's name: "ImageNet" (mean/std of ImageNet), "0.5" (mean = std = 0.5)."""
        return PREPROCESSING_NAMES.get((self.mean, self.std), f"mean {self.mean} std {self.std}")


PREPROCESSING_NAMES = {(IMAGENET_MEAN, IMAGENET_STD): "ImageNet", (HALF, HALF): "0.5"}


def _torchvision(name, dim, native, *, min_size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD, in_study=True,
                 **kwargs) -> BackboneInfo:
    return BackboneInfo(name, "torchvision", name, dim, min_size, native, mean, std, "imagenet",
                        build_kwargs=tuple(sorted(kwargs.items())), in_study=in_study)


def _dinobloom(size: str, arch: str, dim: int) -> BackboneInfo:
    return BackboneInfo(f"dinobloom-{size}", "dinobloom", arch, dim, 14, 224, IMAGENET_MEAN, IMAGENET_STD,
                        "dinobloom", poolings=("cls",), input_size=224, size_multiple=14)


REGISTRY: dict[str, BackboneInfo] = {b.name: b for b in (
    _torchvision("resnet18", 512, 224, in_study=False),
    _torchvision("vgg16", 512, 224),
    _torchvision("resnet50", 2048, 224),
    # inception_v3: its stem needs 75 px; the aux classifier is kept so torchvision's state dicts load
    _torchvision("inception_v3", 2048, 299, min_size=75, mean=HALF, std=HALF, aux_logits=True,
                 init_weights=True, transform_input=False),
    _torchvision("efficientnet_b4", 1792, 380),
    _dinobloom("s", "vit_small_patch14_dinov2", 384),
    _dinobloom("b", "vit_base_patch14_dinov2", 768),
    _dinobloom("l", "vit_large_patch14_dinov2", 1024),
    _dinobloom("g", "vit_giant_patch14_dinov2", 1536),
)}


def list_backbones(family: str | None = None) -> list[str]:
    """Registered names, in registry order (those of one ``family`` if given)."""
    return [n for n, b in REGISTRY.items() if family is None or b.family == family]


def get_backbone_info(name: str) -> BackboneInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown backbone {name!r}; choose one of {', '.join(REGISTRY)} "
                         "(vexscreen backbones lists them)") from None


def is_imagenet(weights) -> bool:
    """Whether ``weights`` names ImageNet weights: the string "imagenet" (a file of that name: ./imagenet)."""
    return isinstance(weights, str) and weights == IMAGENET


def check_weights(name: str, weights) -> None:
    """Refuse named weights ``name`` does not have (``weights``: None, "imagenet" or a file path)."""
    info = get_backbone_info(name)
    if is_imagenet(weights) and not info.takes_imagenet:
        raise InputError(f"--weights imagenet: {name} has no ImageNet weights; give its {info.weights} "
                         "checkpoint file (--weights FILE)")
