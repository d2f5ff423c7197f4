"""Where the default pixel size comes from: the diameter of red cells in the frames.

A normal red cell is 7.5 um across on a dried, stained smear (7-8 um). In each
frame, :func:`red_cell_diameters` finds the isolated red cells (stained regions
without chromatin that are round: solidity >= 0.97, eccentricity < 0.6, not cut
by the frame edge) and returns their area-equivalent diameters in pixels; the
median over many frames, against 7.5 um, gives um per pixel. On the CellaVision
DM96 frames in ``../shared/data/wbc`` (every 20th neutrophil and lymphocyte, 360 x
363 px), 452 red cells measure a median 75.3 px (IQR 71.3-79.2), so 7.5 / 75.3 =
0.0996 um per pixel, rounded to :data:`.segment.DEFAULT_PIXEL_SIZE_UM` = 0.1 (the
7-8 um range of normal red cells spans 0.092-0.105). ``experiments/measure_validation.py``
re-computes it.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label, regionprops

from . import binary as B
from .segment import FG_OD, NUCLEUS_PURPLE
from .stain import background_rgb, optical_density

NORMAL_RBC_DIAMETER_UM = 7.5
MIN_RBC_AREA_PX = 1500


def red_cell_diameters(image: np.ndarray) -> list[float]:
    """Area-equivalent diameters (px) of the isolated, round red cells of one RGB frame."""
    od = optical_density(image, background_rgb(image), sigma=1.0)
    fg = B.opening(ndi.binary_fill_holes(od[..., 1] > FG_OD), 2)
    chromatin = (od[..., 1] - od[..., 2]) > NUCLEUS_PURPLE
    h, w = fg.shape
    out = []
    for r in regionprops(label(fg)):
        y0, x0, y1, x1 = r.bbox
        if y0 == 0 or x0 == 0 or y1 == h or x1 == w or r.area < MIN_RBC_AREA_PX:
            continue
        if r.solidity > 0.97 and r.eccentricity < 0.6 and chromatin[r.slice][r.image].mean() < 0.01:
            out.append(float(r.equivalent_diameter_area))
    return out


def pixel_size_from_red_cells(diameters_px, rbc_um: float = NORMAL_RBC_DIAMETER_UM) -> float:
    """um per pixel: the normal red-cell diameter over the median measured one."""
    return rbc_um / float(np.median(diameters_px))
