"""Backbones by name: one registry, one factory.

Each backbone is a torchvision model without its top (classifier), followed by
global average or max pooling, so it maps a batch of RGB images in [0, 1]
(N x 3 x H x W) to N x ``dim`` encodings. The backbone's own input
preprocessing (ImageNet mean/std for every torchvision model here) is part of
the module, so callers always pass plain [0, 1] pixels and zero padding stays
black before normalisation, as in the study.

Weights: random initialisation, or ``weights=FILE``, a local torchvision state
dict (e.g. the ImageNet weights a user already has). Nothing is ever downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
import torchvision.models as tvm

from .names import BACKBONE_NAMES, DEFAULT_BACKBONE, MIN_INPUT_SIDE, POOLINGS  # noqa: F401  (re-exported)

from ..exceptions import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    dim: int                      # channels of the last feature map = encoding size
    min_size: int                 # smallest input side the network accepts
    build: Callable[[], nn.Module]                  # full torchvision model, random init
    features: Callable[[nn.Module], nn.Module]      # full model -> feature extractor (no top)
    in_study: bool = False


def _resnet_features(model: nn.Module) -> nn.Module:
    return nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                         model.layer1, model.layer2, model.layer3, model.layer4)


def _inception_features(model: nn.Module) -> nn.Module:
    keep = [m for name, m in model.named_children() if name not in ("avgpool", "dropout", "fc", "AuxLogits")]
    return nn.Sequential(*keep)


REGISTRY: dict[str, BackboneSpec] = {
    "resnet18": BackboneSpec("resnet18", 512, MIN_INPUT_SIDE["resnet18"], lambda: tvm.resnet18(weights=None),
                             _resnet_features),
    "vgg16": BackboneSpec("vgg16", 512, MIN_INPUT_SIDE["vgg16"], lambda: tvm.vgg16(weights=None),
                          lambda m: m.features, True),
    "resnet50": BackboneSpec("resnet50", 2048, MIN_INPUT_SIDE["resnet50"], lambda: tvm.resnet50(weights=None),
                             _resnet_features, True),
    "inception_v3": BackboneSpec(
        "inception_v3", 2048, MIN_INPUT_SIDE["inception_v3"],
        lambda: tvm.inception_v3(weights=None, aux_logits=True, init_weights=True, transform_input=False),
        _inception_features, True),
    "efficientnet_b4": BackboneSpec("efficientnet_b4", 1792, MIN_INPUT_SIDE["efficientnet_b4"],
                                    lambda: tvm.efficientnet_b4(weights=None), lambda m: m.features, True),
}
BACKBONES = tuple(REGISTRY)
assert BACKBONES == BACKBONE_NAMES == tuple(MIN_INPUT_SIDE), "encoder/names.py must list the registry's backbones"


class Encoder(nn.Module):
    """ImageNet normalisation -> backbone features -> global pooling -> N x dim.

    ``backbone``: the registry name the features came from (recorded in encoder.pt).
    """

    def __init__(self, features: nn.Module, dim: int, pooling: str = "avg",
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, backbone: str | None = None):
        super().__init__()
        if pooling not in POOLINGS:
            raise InputError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1) if pooling == "avg" else nn.AdaptiveMaxPool2d(1)
        self.dim = dim
        self.pooling = pooling
        self.backbone = backbone

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """N x dim x h x w: the backbone's last feature map, before pooling."""
        return self.features((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.feature_map(x)), 1)


def get_spec(name: str) -> BackboneSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None


def load_state_dict_file(path) -> dict:
    """A torchvision state dict from a local file, read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("weights file not found", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read as a torch state dict ({type(exc).__name__}: {str(exc)[:200]})",
                         path) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("not a state dict (a mapping of parameter names to tensors)", path)
    return state


def build_backbone(name: str = DEFAULT_BACKBONE, pooling: str = "avg", weights=None) -> Encoder:
    """The encoder for backbone ``name`` (see ``BACKBONES``), with ``pooling`` 'avg' or 'max'.

    ``weights``: None (random init, seeded by the caller) or a local torchvision
    state dict file for the *full* torchvision model (top included, as
    torchvision ships it); the top is dropped after loading.
    """
    spec = get_spec(name)
    model = spec.build()
    if weights is not None:
        state = load_state_dict_file(weights)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise InputError(f"weights do not fit torchvision {name}: {str(exc)[:300]}", weights) from None
        missing = [k for k in missing if not k.startswith(("fc.", "classifier.", "AuxLogits."))]
        if missing or unexpected:
            raise InputError(f"weights do not fit torchvision {name}: {len(missing)} missing key(s) "
                             f"{missing[:3]}, {len(unexpected)} unexpected {list(unexpected)[:3]}", weights)
    return Encoder(spec.features(model), spec.dim, pooling, backbone=name)
