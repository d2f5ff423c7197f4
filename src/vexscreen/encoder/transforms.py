"""The pretext views (METHOD.md Step 1) and the image loading they share.

Each view: horizontal flip (p=0.5), vertical flip (p=0.5), rotation uniform in
[-180, 180] degrees (black fill, size kept), random crop to ``crop`` x ``crop``
at a uniform position, after padding centred with black to ``crop`` if the
image is smaller. The backbone's own preprocessing (ImageNet normalisation) is
inside the encoder, so views are float [0, 1] tensors.

``scale`` (default 1.0, the study) resizes every image by that factor first;
the same factor is stored in encoder.pt and applied by ``encode``, so training
crops and full-size encodings see cells at the same pixel size.

``field`` (default None, the study) restricts the views to the centred
``field`` x ``field`` square of each image (after rotation about the centre),
where the analyser puts the leukocyte: every view then shows the cell, not the
red cells and background around it, and can be taken at full resolution for
the cost of a small crop. ``encode`` then sees that same centred square.
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from .config import TrainConfig, check_views


def center_pad(img: torch.Tensor, size: int) -> torch.Tensor:
    """Pad a C x H x W tensor with zeros, centred, so both sides are >= ``size``."""
    h, w = img.shape[-2:]
    ph, pw = max(0, size - h), max(0, size - w)
    if ph == 0 and pw == 0:
        return img
    return TF.pad(img, [pw // 2, ph // 2, pw - pw // 2, ph - ph // 2], fill=0)


def rescale(img: torch.Tensor, scale: float) -> torch.Tensor:
    """Resize a C x H x W tensor by ``scale`` (antialiased); unchanged for 1.0."""
    if scale == 1.0:
        return img
    h, w = img.shape[-2:]
    return TF.resize(img, [max(1, round(h * scale)), max(1, round(w * scale))], antialias=True)


class TwoViews:
    """Callable: uint8 C x H x W tensor -> (view1, view2), float [0, 1], 3 x crop x crop.

    ``color_jitter`` = 0: the study's views (geometry only). ``s`` > 0 adds SimCLR's colour
    distortion of strength ``s`` (jitter 0.8s/0.8s/0.8s/0.2s with p=0.8, greyscale p=0.2),
    so that stain and lighting, which differ from smear to smear, cannot solve the task.
    """

    def __init__(self, crop: int = 128, rotation: float = 180.0, color_jitter: float = 0.0,
                 field: int | None = None, local_crop: int | None = None, n_local: int = 0):
        self.crop = int(crop)
        self.local_crop = None if local_crop is None else int(local_crop)
        self.n_local = int(n_local)
        self.field = None if field is None else int(field)
        check_views(self.crop, self.field, self.local_crop, self.n_local)  # InputError (a ValueError)
        s = float(color_jitter)
        self.color = None if s <= 0 else v2.Compose([
            v2.RandomApply([v2.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, min(0.5, 0.2 * s))], p=0.8),
            v2.RandomGrayscale(0.2),
        ])
        self.view = v2.Compose([
            v2.RandomHorizontalFlip(0.5),
            v2.RandomVerticalFlip(0.5),
            v2.RandomRotation(rotation, interpolation=v2.InterpolationMode.BILINEAR, fill=0),
        ])

    def one(self, img: torch.Tensor, crop: int | None = None) -> torch.Tensor:
        crop = self.crop if crop is None else int(crop)
        if self.field is not None:
            # rotate only what can reach the field: its circumscribed square, then the field
            reach = math.ceil(self.field * math.sqrt(2)) + 2
            img = TF.center_crop(img, [min(reach, img.shape[-2]), min(reach, img.shape[-1])])
            x = TF.center_crop(self.view(img), [self.field, self.field])  # pads with 0 if smaller
        else:
            x = self.view(img)
        x = center_pad(x, crop)
        h, w = x.shape[-2:]
        top = int(torch.randint(0, h - crop + 1, (1,)))
        left = int(torch.randint(0, w - crop + 1, (1,)))
        x = x[..., top:top + crop, left:left + crop]
        if self.color is not None:
            x = self.color(x)
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x

    def __call__(self, img: torch.Tensor):
        if self.n_local:
            return (self.one(img), self.one(img), *(self.one(img, self.local_crop) for _ in range(self.n_local)))
        return self.one(img), self.one(img, self.local_crop)


def read_image_tensor(path, scale: float = 1.0) -> torch.Tensor:
    """Decode an image file to a uint8 3 x H x W RGB tensor (via the scanner's ``load_rgb``)."""
    from ..data.scan import load_rgb
    return rescale(TF.pil_to_tensor(load_rgb(path)), scale)


class ViewPairDataset(Dataset):
    """Images (paths) -> pairs of views; the unlabeled training pool."""

    def __init__(self, paths, crop: int = 128, scale: float = 1.0, color_jitter: float = 0.0,
                 field: int | None = None, local_crop: int | None = None, n_local: int = 0):
        self.paths = [str(p) for p in paths]
        self.scale = float(scale)
        self.views = TwoViews(crop, color_jitter=color_jitter, field=field, local_crop=local_crop,
                              n_local=n_local)

    @classmethod
    def from_config(cls, paths, cfg: TrainConfig) -> ViewPairDataset:
        """The training pool with ``cfg``'s views (crop, scale, colour jitter, field, local crops)."""
        return cls(paths, cfg.crop, cfg.scale, cfg.color_jitter, cfg.field, cfg.local_crop, cfg.n_local)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.views(read_image_tensor(self.paths[i], self.scale))
