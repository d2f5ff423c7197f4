"""Binary morphology with disc structuring elements, fast at any radius.

Small discs (radius <= 2 px) use scipy.ndimage's binary operators; larger ones
threshold a Euclidean distance transform (an erosion by a disc of radius r keeps
the pixels farther than r from the background), which costs the same whatever r.
The distance transform runs on the mask's bounding box only, widened by what the
operation can reach (r + 1 px for a dilation, 1 px of background for an erosion),
which gives exactly the same result as on the whole frame: every pixel that can
be within r of the mask is in the box, and the nearest background pixel of a
pixel inside the box is never farther than the box's own background margin
(clamping a point outside the box onto its edge only brings it closer).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import disk

_SMALL = 2


def bbox(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice]:
    """The slices of ``mask``'s bounding box widened by ``margin`` (clipped to the frame)."""
    ys, xs = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    if not len(ys):
        return slice(0, 0), slice(0, 0)
    return (slice(max(0, ys[0] - margin), min(mask.shape[0], ys[-1] + margin + 1)),
            slice(max(0, xs[0] - margin), min(mask.shape[1], xs[-1] + margin + 1)))


def _on_box(op, mask: np.ndarray, margin: int) -> np.ndarray:
    """``op(mask)`` computed on ``mask``'s bounding box widened by ``margin``, False elsewhere."""
    out = np.zeros(mask.shape, bool)
    sl = bbox(mask, margin)
    out[sl] = op(mask[sl])
    return out


def distance_within(mask: np.ndarray, r: float) -> np.ndarray:
    """``distance_transform_edt(~mask) <= r`` (pixels within r of the mask), computed on its box."""
    return _on_box(lambda m: ndi.distance_transform_edt(~m) <= r, mask, int(math.ceil(r)) + 1)


def erode(mask: np.ndarray, r: float) -> np.ndarray:
    if r <= 0:
        return mask.copy()
    if r <= _SMALL:
        return _on_box(lambda m: ndi.binary_erosion(m, structure=disk(int(round(r))), border_value=0), mask, 1)
    return _on_box(lambda m: ndi.distance_transform_edt(m) > r, mask, 1)


def dilate(mask: np.ndarray, r: float) -> np.ndarray:
    if r <= 0:
        return mask.copy()
    if r <= _SMALL:
        k = int(round(r))
        return _on_box(lambda m: ndi.binary_dilation(m, structure=disk(k)), mask, k + 1)
    return distance_within(mask, r)


def opening(mask: np.ndarray, r: float) -> np.ndarray:
    if r > _SMALL:
        return dilate(erode(mask, r), r) & mask
    k = int(round(r))
    return _on_box(lambda m: ndi.binary_opening(m, structure=disk(k)), mask, k + 1)


def closing(mask: np.ndarray, r: float) -> np.ndarray:
    """Closing that treats the frame edge as open space (padded by r, so nothing sticks to it)."""
    p = int(np.ceil(r)) + 1
    big = np.pad(mask, p)
    return erode(dilate(big, r), r)[p:-p, p:-p] | mask


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``ndi.binary_fill_holes`` on the mask's box (a 1-px background ring around it: the same holes)."""
    return _on_box(ndi.binary_fill_holes, mask, 1)
