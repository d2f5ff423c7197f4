"""Training settings, importable without torch or Lightning."""
from __future__ import annotations

from dataclasses import dataclass

from .names import DEFAULT_BACKBONE, DEFAULT_FULL_SIZE


@dataclass
class TrainConfig:
    """The study's settings (METHOD.md Step 1) are the defaults, except the backbone."""
    backbone: str = DEFAULT_BACKBONE
    pooling: str = "avg"
    method: str = "nnclr"
    queue_size: int = 0
    temperature: float = 0.07
    lr: float = 1e-5
    batch_size: int = 8
    epochs: int = 100
    seed: int = 43
    crop: int = 128
    color_jitter: float = 0.0  # 0 = the study's views; > 0 = SimCLR colour distortion strength
    scale: float = 1.0
    local_crop: int | None = None  # None = both views `crop`; N = the second view is an N x N patch
    n_local: int = 0               # > 0: both views whole, plus this many local_crop patches (multi-crop)
    dense: float = 0.0             # > 0: weight of a DenseCL-style term on the feature maps (0 = the study)
    field: int | None = None  # None = whole image (the study); N = views and encode use the centred N x N
    full_size: int = DEFAULT_FULL_SIZE
    head_hidden: int = 128
    head_out: int = 128
    patience: int = 5
    lr_patience: int = 3
    lr_floor: float = 1e-5
    min_delta: float = 1e-3
    workers: int = 2
    max_images: int | None = None  # use at most this many images (sorted order, evenly spaced)
    weights: str | None = None      # local torchvision state dict at the start (not needed on resume)
