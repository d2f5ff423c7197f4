"""Binary morphology with disc structuring elements, fast at any radius.

Small discs (radius <= 2 px) use scipy.ndimage's binary operators; larger ones
threshold a Euclidean distance transform (an erosion by a disc of radius r keeps
the pixels farther than r from the background), which costs the same whatever r.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import disk

_SMALL = 2


def erode(mask: np.ndarray, r: float) -> np.ndarray:
    if r <= 0:
        return mask.copy()
    if r <= _SMALL:
        return ndi.binary_erosion(mask, structure=disk(int(round(r))), border_value=0)
    return ndi.distance_transform_edt(mask) > r


def dilate(mask: np.ndarray, r: float) -> np.ndarray:
    if r <= 0:
        return mask.copy()
    if r <= _SMALL:
        return ndi.binary_dilation(mask, structure=disk(int(round(r))))
    return ndi.distance_transform_edt(~mask) <= r


def opening(mask: np.ndarray, r: float) -> np.ndarray:
    return dilate(erode(mask, r), r) & mask if r > _SMALL else \
        ndi.binary_opening(mask, structure=disk(int(round(r))))


def closing(mask: np.ndarray, r: float) -> np.ndarray:
    """Closing that treats the frame edge as open space (padded by r, so nothing sticks to it)."""
    p = int(np.ceil(r)) + 1
    big = np.pad(mask, p)
    return erode(dilate(big, r), r)[p:-p, p:-p] | mask
