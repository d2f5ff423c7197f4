"""Slide background and optical density: the colour space every other step works in.

A May-Grünwald-Giemsa smear is a transmitted-light image: each stain absorbs,
and the absorbance (optical density, Beer-Lambert) ``OD = -log(I / I_glass)``
adds where stains overlap. Working in OD relative to the slide's own background
makes thresholds independent of the lamp and the white balance of a frame.

* :func:`background_rgb`: the glass colour, the median of the brightest tenth
  of the pixels (every CellaVision frame shows glass between the red cells; a
  frame with none gets the brightest pixels it has).
* :func:`optical_density`: per-channel OD (float32, >= 0), lightly smoothed.
* ``purple = OD_green - OD_blue``: chromatin and azurophilic granules absorb
  green but let blue through; red cells and neutrophil cytoplasm absorb both
  about equally. On the real DM96 frames in ``../shared/data/wbc`` nuclei have
  purple ~1.6-1.9, red cells ~0.1-0.2, cytoplasm < 0.4.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

#: Fraction of the brightest pixels taken as glass.
BACKGROUND_QUANTILE = 0.90


def background_rgb(image: np.ndarray) -> np.ndarray:
    """The slide's background colour (3 floats, 0-255): median of the brightest 10% of pixels."""
    px = image[::3, ::3].reshape(-1, 3).astype(np.float32)  # a subsample is plenty
    s = px.sum(1)
    bright = px[s >= np.quantile(s, BACKGROUND_QUANTILE)]
    return np.median(bright, axis=0)


def optical_density(image: np.ndarray, background: np.ndarray, sigma: float = 0.0) -> np.ndarray:
    """OD = -ln((I + 1) / (I_bg + 1)) per channel, clipped at 0, optionally Gaussian-smoothed."""
    levels = np.arange(256, dtype=np.float32)[:, None]
    lut = np.clip(-np.log((levels + 1.0) / (np.asarray(background, np.float32) + 1.0)), 0.0, None)
    image = np.asarray(image)
    od = lut[image, np.arange(3)]  # uint8 -> a table look-up, per channel
    if sigma > 0:
        od = ndi.gaussian_filter(od, (sigma, sigma, 0))
    return od
