"""Full-size inference input (METHOD.md Step 1): each image zero-padded, centred, no crop.

The study pads every cell image to 272 x 272 with black, centred. Images larger
than that would have to be cut; we never do so silently. ``FullSizeDataset``
takes an explicit ``oversize`` policy for them and counts them:

* ``"pad"`` (default): pad everything to S = max(full_size, largest side in the
  set); nothing is cut, the network input is just larger.
* ``"resize"``: shrink only the oversize images (aspect ratio kept, antialiased bicubic) to
  fit in full_size, then pad; the cell's scale changes for those images.
* ``"crop"``: centre-crop the oversize images to full_size (cuts the border of
  the image, possibly the cell); ``oversize_count`` says how many were cut.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .errors import InputError
from .scan import ImageRecord, load_rgb

OVERSIZE_POLICIES = ("pad", "resize", "crop")


def pad_to_square(img, size: int) -> np.ndarray:
    """HxWx3 uint8 (array or PIL image) -> size x size x 3, centred on black.

    The top/left offset is ``(size - h) // 2`` (as tf.image.pad_to_bounding_box with
    a centred offset). Raises ValueError if the image is larger than ``size``:
    cutting is the caller's explicit choice.
    """
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"pad_to_square needs an H x W x 3 image, got shape {a.shape}")
    h, w = a.shape[:2]
    if h > size or w > size:
        raise ValueError(f"image {w}x{h} is larger than {size}x{size}; resize or crop it explicitly")
    out = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    out[top:top + h, left:left + w] = a
    return out


def centre_crop(a: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop each side longer than ``size`` to ``size`` (offset (side - size) // 2)."""
    h, w = a.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return a[top:top + min(h, size), left:left + min(w, size)]


def fit_within(img: Image.Image, size: int) -> Image.Image:
    """Shrink (never enlarge) so both sides are <= size, keeping the aspect ratio."""
    w, h = img.size
    if w <= size and h <= size:
        return img
    scale = size / max(w, h)
    new = (min(size, max(1, round(w * scale))), min(size, max(1, round(h * scale))))
    return img.resize(new, Image.Resampling.BICUBIC)


class FullSizeDataset(torch.utils.data.Dataset):
    """Images at full size: item i is (float32 tensor 3 x S x S in [0, 1], i).

    ``oversize_count``: images with a side > full_size (resized or cropped under those
    policies; padded to a larger S under "pad"). ``output_size``: S.
    """

    def __init__(self, records: Sequence[ImageRecord], full_size: int = 272, oversize: str = "pad"):
        if oversize not in OVERSIZE_POLICIES:
            raise ValueError(f"oversize must be one of {', '.join(OVERSIZE_POLICIES)}, got {oversize!r}")
        if full_size < 1:
            raise ValueError(f"full_size must be positive, got {full_size}")
        self.records = list(records)
        self.full_size = int(full_size)
        self.oversize = oversize
        sides = [max(r.width, r.height) for r in self.records]
        self.oversize_count = sum(s > self.full_size for s in sides)
        self.output_size = max([self.full_size, *sides]) if oversize == "pad" else self.full_size

    @property
    def cropped_count(self) -> int:
        """How many images lose pixels at their border (only under the "crop" policy)."""
        return self.oversize_count if self.oversize == "crop" else 0

    @property
    def resized_count(self) -> int:
        return self.oversize_count if self.oversize == "resize" else 0

    def __len__(self) -> int:
        return len(self.records)

    def array(self, index: int) -> np.ndarray:
        """Item ``index`` as an S x S x 3 uint8 array (before scaling to [0, 1])."""
        rec = self.records[index]
        img = load_rgb(rec.path)
        if img.size != (rec.width, rec.height):
            raise InputError(f"image is now {img.width}x{img.height} but was {rec.width}x{rec.height} "
                             "when scanned; the file changed, re-run the scan", rec.path)
        S = self.output_size
        if self.oversize == "resize":
            img = fit_within(img, S)
        a = np.asarray(img)
        if self.oversize == "crop":
            a = centre_crop(a, S)
        return pad_to_square(a, S)

    def __getitem__(self, index: int):
        a = self.array(index)
        # numpy, single-threaded: torch's multi-threaded cast of one small image is ~20x
        # slower on a busy 2-core machine. Same float32 values as tensor.float() / 255.
        chw = np.empty((3, *a.shape[:2]), dtype=np.float32)
        np.divide(a.transpose(2, 0, 1), np.float32(255), out=chw)
        return torch.from_numpy(chw), index
