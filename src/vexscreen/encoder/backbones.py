"""Backbones by name: the registry (registry.py) and one factory, ``build_backbone``.

A torchvision backbone is the model without its top (classifier), followed by
global average or max pooling; a DinoBloom backbone is a DINOv2 ViT whose CLS
token is the embedding (dinobloom.py). Either maps a batch of RGB images in
[0, 1] (N x 3 x H x W) to N x ``dim`` encodings. The backbone's own input
preprocessing (the registry's mean/std) is part of the module, so callers
always pass plain [0, 1] pixels and zero padding stays black before
normalisation, as in the study.

Weights: None (random initialisation, seeded by the caller), ``"imagenet"``
(torchvision's ImageNet weights by name, from its cache or downloaded when the
machine is online: pretrained.py), or a local file (a torchvision state dict, or
a DinoBloom checkpoint for ``dinobloom-*``). The encoder carries ``weights``, a
plain record of where its weights came from, which encoder.pt keeps.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
import torchvision.models as tvm

from .names import BACKBONE_NAMES, DEFAULT_BACKBONE, MIN_INPUT_SIDE, POOLINGS  # noqa: F401  (re-exported)
from .registry import (IMAGENET_MEAN, IMAGENET_STD, REGISTRY, BackboneInfo, check_weights,  # noqa: F401
                       get_backbone_info, is_imagenet)
from .weight_files import check_tensors, read_weights

from ..exceptions import InputError

BACKBONES = tuple(REGISTRY)
get_spec = get_backbone_info  # the registry entry of a name (dim, min_size, ...)


def _features(model: nn.Module) -> nn.Module:
    """A torchvision classifier -> its feature extractor (everything up to the global pooling)."""
    if isinstance(model, tvm.ResNet):
        return nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                             model.layer1, model.layer2, model.layer3, model.layer4)
    if isinstance(model, tvm.Inception3):
        return nn.Sequential(*[m for name, m in model.named_children()
                               if name not in ("avgpool", "dropout", "fc", "AuxLogits")])
    return model.features  # VGG, EfficientNet


class Encoder(nn.Module):
    """Normalisation -> torchvision backbone features -> global pooling -> N x dim.

    ``backbone``: the registry name the features came from (recorded in encoder.pt);
    ``weights``: where the weights came from (``weights_record``).
    """

    def __init__(self, features: nn.Module, dim: int, pooling: str = "avg",
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, backbone: str | None = None):
        super().__init__()
        if pooling not in ("avg", "max"):
            raise InputError(f"unknown pooling {pooling!r} for a convolutional backbone; choose avg or max")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1) if pooling == "avg" else nn.AdaptiveMaxPool2d(1)
        self.dim = dim
        self.pooling = pooling
        self.backbone = backbone
        self.weights = weights_record(backbone, None) if backbone in REGISTRY else None

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """N x dim x h x w: the backbone's last feature map, before pooling."""
        return self.features((x - self.mean) / self.std)

    def forward_with_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N x dim embeddings, the N x dim x h x w map they pool) from one pass."""
        fmap = self.feature_map(x)
        return torch.flatten(self.pool(fmap), 1), fmap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.feature_map(x)), 1)


def weights_record(backbone: str, weights) -> dict:
    """Where an encoder's weights started, as encoder.pt records it (plain values; reads no file):
    ``{"source": "random" | "imagenet" | "file" | "dinobloom", "file": name or None, ...}``."""
    if weights is None:
        return {"source": "random", "file": None}
    if is_imagenet(weights):
        from .pretrained import get_pretrained_spec

        spec = get_pretrained_spec(backbone)
        return {"source": "imagenet", "file": spec.file, "variant": spec.weights, "url": spec.url}
    family = get_backbone_info(backbone).family
    return {"source": "dinobloom" if family == "dinobloom" else "file", "file": Path(weights).name}


def load_state_dict_file(path) -> dict:
    """A torchvision state dict from a local file (``weights_only=True``); a Lightning-style
    ``{"state_dict": ...}`` wrapper is unwrapped."""
    state = read_weights(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError("not a state dict (a mapping of parameter names to tensors)", path)
    return check_tensors(state, path)


def _load_torchvision(model: nn.Module, name: str, weights) -> None:
    """Load ImageNet weights (by name) or a state-dict file into the *full* torchvision model."""
    if is_imagenet(weights):
        from .pretrained import imagenet_state_dict, weights_path

        state, where = imagenet_state_dict(name), weights_path(name)
    else:
        state, where = load_state_dict_file(weights), weights
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise InputError(f"weights do not fit torchvision {name}: {str(exc)[:300]}", where) from None
    missing = [k for k in missing if not k.startswith(("fc.", "classifier.", "AuxLogits."))]
    if missing or unexpected:
        raise InputError(f"weights do not fit torchvision {name}: {len(missing)} missing key(s) "
                         f"{missing[:3]}, {len(unexpected)} unexpected {list(unexpected)[:3]}", where)


def build_backbone(name: str = DEFAULT_BACKBONE, pooling: str | None = None, weights=None, *,
                   dynamic_size: bool = False) -> nn.Module:
    """The encoder for backbone ``name`` (see ``vexscreen backbones``).

    ``pooling``: 'avg' or 'max' for torchvision backbones, 'cls' for DinoBloom;
    None = the backbone's default (avg; cls). ``weights``: None (random init,
    seeded by the caller), ``"imagenet"`` (torchvision backbones), or a file: a
    torchvision state dict for the *full* model (top included, as torchvision
    ships it; the top is dropped after loading) or a DinoBloom checkpoint.
    ``dynamic_size``: a ViT takes any multiple of its patch (training crops);
    convolutional backbones take any side anyway.
    """
    info = get_backbone_info(name)
    pooling = pooling or info.default_pooling
    if pooling not in info.poolings:
        raise InputError(f"--pooling {pooling} does not apply to {name}: it takes {' or '.join(info.poolings)}")
    check_weights(name, weights)
    if info.family == "dinobloom":
        from .dinobloom import build_dinobloom

        encoder = build_dinobloom(name, weights, dynamic=dynamic_size)
    else:
        model = tvm.get_model(info.arch, weights=None, **dict(info.build_kwargs))
        if weights is not None:
            _load_torchvision(model, name, weights)
        encoder = Encoder(_features(model), info.dim, pooling, info.mean, info.std, backbone=name)
    encoder.weights = weights_record(name, weights)
    return encoder


def backbone_table() -> list[dict]:
    """The registry as rows for ``vexscreen backbones``: name, embedding size, native input side,
    what vexscreen feeds, preprocessing, pooling, where the weights come from (file names included)."""
    from .dinobloom import DINOBLOOM_SPECS
    from .pretrained import PRETRAINED_SPECS

    rows = []
    for name, info in REGISTRY.items():
        if info.takes_imagenet:
            source = f"imagenet ({PRETRAINED_SPECS[name].file}) or FILE"
        else:
            source = f"FILE ({DINOBLOOM_SPECS[name].file})"
        rows.append({"backbone": name + (" *" if info.in_study else ""), "dim": info.dim,
                     "native": info.native_size, "vexscreen feeds": info.input_text(),
                     "preprocessing": info.preprocessing, "pooling": "/".join(info.poolings),
                     "weights (--weights)": source})
    return rows
