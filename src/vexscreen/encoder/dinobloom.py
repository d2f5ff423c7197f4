"""DinoBloom backbones from a local checkpoint file (issue 13 item 2).

DinoBloom (Koch et al., "DinoBloom: a foundation model for generalizable cell
embeddings in hematology", MICCAI 2024; github.com/marrlab/DinoBloom,
Apache-2.0) is DINOv2 (ViT-S/B/L/G, patch 14) trained further on about 380,000
single blood-cell images. Its checkpoints (zenodo.org/records/10908163,
``DinoBloom-S.pth`` ... ``DinoBloom-G.pth``) hold what DinoBloom's training
saves, ``torch.save({"teacher": model.teacher.state_dict()})``:

- ``teacher``: ``backbone.*`` (the DINOv2 ViT: ``cls_token``, ``pos_embed``,
  ``mask_token``, ``patch_embed.proj``, ``blocks.<i>.{norm1, attn.qkv, attn.proj,
  ls1.gamma, norm2, mlp.fc1/fc2 (w12/w3 in G's SwiGLU), ls2.gamma}``, ``norm``),
  and ``dino_head.*`` / ``ibot_head.*`` (training heads, dropped here);
- ``pos_embed`` of 1 + 16 x 16 = 257 tokens: DinoBloom trains at 224 x 224
  with patch 14 (it resamples DINOv2's 518 px grid once, before training);
  no register tokens.

DinoBloom's own loader (dinov2/eval/models/return_model.py) strips ``backbone.``,
drops the heads and loads the rest strictly into DINOv2's hub model. vexscreen
loads the same keys into timm's ``vit_*_patch14_dinov2`` (``num_classes=0``,
built without network), and lets timm's ``checkpoint_filter_fn`` convert them
(it drops ``mask_token``, renames G's ``w12``/``w3``, and resamples the position
embeddings if another ``img_size`` is asked for). Input: RGB in [0, 1],
normalised inside with ImageNet mean/std as DinoBloom does; the embedding is
the CLS token after the final norm (384 / 768 / 1024 / 1536 values).
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..exceptions import InputError
from .registry import IMAGENET_MEAN, IMAGENET_STD, REGISTRY
from .weight_files import check_tensors, read_weights

logger = logging.getLogger(__name__)

PATCH = 14
INPUT_SIZE = 224                                   # DinoBloom's training crop
TOKENS = 1 + (INPUT_SIZE // PATCH) ** 2            # 257 position embeddings
ZENODO = "https://zenodo.org/records/10908163/files/"
HEADS = ("dino_head.", "ibot_head.")


@dataclass(frozen=True)
class DinoBloomSpec:
    """Registry data for one DinoBloom backbone."""
    name: str             # vexscreen's backbone name, e.g. "dinobloom-s"
    timm_arch: str        # the timm model the weights load into
    dim: int              # embedding size (CLS token)
    depth: int            # transformer blocks
    params: str           # parameter count DinoBloom's README gives
    file: str             # the released checkpoint's name
    input_size: int = INPUT_SIZE
    patch_size: int = PATCH
    tokens: int = TOKENS
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    license: str = "Apache-2.0"

    @property
    def url(self) -> str:
        return f"{ZENODO}{self.file}"

    @property
    def source(self) -> str:
        return f"DinoBloom (Koch et al., MICCAI 2024): local file --weights FILE, released as {self.url}"

    def as_dict(self) -> dict:
        return {**asdict(self), "url": self.url, "source": self.source}


# name: (transformer blocks, parameters as DinoBloom's README gives them, released file); the timm
# architecture, embedding size, input size and preprocessing come from the backbone registry
_RELEASES = {"dinobloom-s": (12, "22M", "DinoBloom-S.pth"), "dinobloom-b": (12, "86M", "DinoBloom-B.pth"),
             "dinobloom-l": (24, "304M", "DinoBloom-L.pth"), "dinobloom-g": (40, "1136M", "DinoBloom-G.pth")}
DINOBLOOM_SPECS: dict[str, DinoBloomSpec] = {
    name: DinoBloomSpec(name, REGISTRY[name].arch, REGISTRY[name].dim, depth, params, file,
                        input_size=REGISTRY[name].input_size, mean=REGISTRY[name].mean, std=REGISTRY[name].std)
    for name, (depth, params, file) in _RELEASES.items()}


def get_dinobloom_spec(name: str) -> DinoBloomSpec:
    try:
        return DINOBLOOM_SPECS[name]
    except KeyError:
        raise InputError(f"unknown DinoBloom backbone {name!r}; choose one of {', '.join(DINOBLOOM_SPECS)}") from None


class DinoBloomEncoder(nn.Module):
    """ImageNet normalisation -> DINOv2 ViT (timm) -> CLS token: N x ``dim``.

    The interface of vexscreen's ``Encoder``: ``forward`` takes RGB in [0, 1]
    (N x 3 x S x S, S = ``input_size``) and returns N x ``dim``;
    ``feature_map`` gives the patch tokens as an N x dim x S/14 x S/14 map. The
    embedding is the CLS token, not a pooling of that map, so
    ``forward_with_map`` returns both from one pass.

    ``dynamic`` (a ViT built with timm's ``dynamic_img_size``): any side that is a
    multiple of the patch is taken, the position embeddings resampled to it
    (training crops); at ``input_size`` the result is the same as without.
    """
    pooling = "cls"

    def __init__(self, vit: nn.Module, dim: int, name: str = "dinobloom", mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.vit = vit
        self.dim = dim
        self.name = self.backbone = name
        self.patch_size = int(vit.patch_embed.patch_size[0])
        self.input_size = int(vit.patch_embed.img_size[0])
        self.dynamic = bool(getattr(vit, "dynamic_img_size", False))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """N x (1 + h*w) x dim: CLS and patch tokens after the final norm."""
        h, w = x.shape[-2:]
        if self.dynamic:
            if h % self.patch_size or w % self.patch_size:
                raise ValueError(f"{self.name} takes sides that are multiples of {self.patch_size}, got {h} x {w}")
        elif (h, w) != (self.input_size, self.input_size):
            raise ValueError(f"{self.name} takes {self.input_size} x {self.input_size} images, got {h} x {w}")
        return self.vit.forward_features((x - self.mean) / self.std)

    def _as_map(self, tokens: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, self.vit.num_prefix_tokens:]
        h, w = (side // self.patch_size for side in x.shape[-2:])
        return patches.transpose(1, 2).reshape(len(tokens), self.dim, h, w)

    def forward_with_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N x dim embeddings, N x dim x h x w patch-token map) from one pass."""
        tokens = self.tokens(x)
        return self.vit.forward_head(tokens), self._as_map(tokens, x)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self._as_map(self.tokens(x), x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit.forward_head(self.tokens(x))


def read_dinobloom_checkpoint(path) -> dict:
    """The backbone state dict (DINOv2 key names) of a DinoBloom checkpoint file; heads dropped."""
    checkpoint = read_weights(path)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("teacher"), dict):
        found = list(checkpoint)[:4] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise InputError(f"no 'teacher' dict: a DinoBloom checkpoint is {{'teacher': state dict}} (found {found})",
                         path)
    teacher = checkpoint["teacher"]
    state = {k[len("backbone."):]: v for k, v in teacher.items() if k.startswith("backbone.")}
    if not state:
        raise InputError(f"no 'backbone.' keys in the 'teacher' dict (found e.g. {list(teacher)[:3]})", path)
    other = [k for k in teacher if not k.startswith(("backbone.",) + HEADS)]
    if other:
        logger.warning("%s: %d teacher key(s) neither backbone nor head ignored, e.g. %s", path, len(other), other[0])
    return check_tensors(state, path, "DinoBloom teacher state dict")


def check_dinobloom_state(state: dict, spec: DinoBloomSpec, path=None) -> None:
    """Refuse a backbone state dict whose geometry is not ``spec``'s, naming what does not match."""
    for key in ("patch_embed.proj.weight", "pos_embed"):
        if key not in state:
            raise InputError(f"no '{key}' in the backbone: not a DINOv2 ViT checkpoint", path)
    proj = state["patch_embed.proj.weight"]
    if proj.ndim != 4 or proj.shape[1] != 3:
        raise InputError(f"patch embedding of shape {tuple(proj.shape)} in checkpoint, expected (dim, 3, 14, 14)",
                         path)
    checks = [("embedding dim", int(proj.shape[0]), spec.dim),
              ("patch size", "x".join(map(str, proj.shape[-2:])), f"{spec.patch_size}x{spec.patch_size}"),
              ("transformer blocks", _depth(state), spec.depth)]
    for what, found, expected in checks:
        if found != expected:
            raise InputError(f"{what} {found} in checkpoint, {spec.name} expects {expected}", path)
    if "register_tokens" in state:
        raise InputError(f"register tokens in checkpoint: a DINOv2-with-registers model, not {spec.name}", path)
    tokens = int(state["pos_embed"].shape[1])
    side = math.isqrt(max(tokens - 1, 0))
    if side < 1 or 1 + side * side != tokens:
        raise InputError(f"{tokens} position embeddings in checkpoint: not 1 + a square grid "
                         f"({spec.name} has {spec.tokens} = 1 + {spec.input_size // spec.patch_size}^2)", path)


def _depth(state: dict) -> int:
    return len({m.group(1) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))})


def _img_size(spec: DinoBloomSpec, img_size) -> int:
    size = spec.input_size if img_size is None else img_size
    if not isinstance(size, int) or size < spec.patch_size or size % spec.patch_size:
        raise InputError(f"{spec.name} input size must be a positive multiple of {spec.patch_size}, got {size!r}")
    return size


def build_dinobloom(name: str, weights=None, img_size: int | None = None, dynamic: bool = False) -> DinoBloomEncoder:
    """The DinoBloom encoder ``name`` (see ``DINOBLOOM_SPECS``), from checkpoint ``weights``.

    ``weights``: a DinoBloom checkpoint file, or None for timm's random
    initialisation (seeded by the caller; for tests and benchmarks).
    ``img_size``: the input side, 224 by default as DinoBloom was trained; another
    multiple of 14 resamples the position embeddings (timm, bicubic).
    ``dynamic``: take any multiple of 14 at run time (training crops; see ``DinoBloomEncoder``).
    The checkpoint is read and checked before the (possibly large) model is built.
    """
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn

    spec = get_dinobloom_spec(name)
    size = _img_size(spec, img_size)
    state = None
    if weights is not None:
        state = read_dinobloom_checkpoint(weights)
        check_dinobloom_state(state, spec, weights)
    vit = timm.create_model(spec.timm_arch, pretrained=False, img_size=size, num_classes=0, global_pool="token",
                            dynamic_img_size=dynamic)
    if state is not None:
        converted = checkpoint_filter_fn(state, vit)
        try:
            vit.load_state_dict(converted, strict=True)
        except RuntimeError as exc:
            missing, unexpected = _key_diff(vit, converted)
            raise InputError(f"checkpoint does not fit {spec.name} ({spec.timm_arch}): {len(missing)} missing "
                             f"key(s) {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}"
                             + ("" if missing or unexpected else f"; {str(exc)[:300]}"), weights) from None
    return DinoBloomEncoder(vit, spec.dim, spec.name, spec.mean, spec.std)


def _key_diff(model: nn.Module, state: dict) -> tuple[list, list]:
    expected = set(model.state_dict())
    return sorted(expected - set(state)), sorted(set(state) - expected)
