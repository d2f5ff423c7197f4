"""Nuclear shape: lobe count, the thinnest bridge between lobes, pseudo-Pelger, spikes.

Lobes are counted from the nucleus mask's distance transform (the half-width
at each pixel): the cores where it exceeds ``LOBE_CORE`` times the nucleus's
typical half-width (95th percentile) seed one lobe each, so a filament or a
neck narrower than that splits lobes while the gentle waist of a band does not;
a watershed of the distance transform grows the lobes from their cores. Separate nuclear parts (a filament too faint to see) are lobes too.
The bridge between two lobes is the width at their saddle on the watershed line.

* ``nucleus_lobes``: number of lobes (1 for a band, round or kidney nucleus).
* ``lobe_bridge_um``: width of the thinnest bridge between two lobes; a nucleus
  of one lobe has no bridge, and gets its own full width (no constriction).
* ``pseudo_pelger``: 1 for two round lobes of similar size (spectacles), or a
  single round/peanut nucleus (solidity >= ``PELGER_SOLIDITY``, axis ratio <=
  ``PELGER_ELONGATION``), else 0. Only meaningful for neutrophils.
* ``nuclear_spikes``: thin, short protrusions of the nuclear outline (the
  "spikes" of De Almeida Braga et al. 2025): parts removed by an opening of
  radius ``SPIKE_OPEN_UM`` that are at least ``SPIKE_MIN_LEN_UM`` long.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label, regionprops
from skimage.segmentation import watershed

from . import binary as B

LOBE_CORE = 0.55           # a neck narrower than this fraction of the nucleus's width splits lobes
MIN_LOBE_UM2 = 2.0         # smaller nuclear pieces are not lobes (drumsticks, debris)
PELGER_SOLIDITY = 0.92
PELGER_ELONGATION = 1.6    # major / minor axis of a round or peanut nucleus
PELGER_LOBE_RATIO = 0.5    # the smaller of two pelger lobes is at least this fraction of the larger
SPIKE_OPEN_UM = 0.5
SPIKE_MIN_LEN_UM = 0.6


def lobes(nucleus: np.ndarray, pixel_size: float) -> tuple[np.ndarray, int, float]:
    """(lobe label image, number of lobes, thinnest bridge width in um) of a nucleus mask."""
    min_area = MIN_LOBE_UM2 / pixel_size ** 2
    dist = ndi.distance_transform_edt(nucleus)
    if not nucleus.any():
        return np.zeros(nucleus.shape, np.int32), 0, 0.0
    peaks = label(dist > LOBE_CORE * float(np.percentile(dist[dist > 0], 95)))
    parts = label(nucleus)
    # every nuclear part gets at least one seed
    for r in regionprops(parts):
        if not peaks[parts == r.label].any():
            y, x = np.unravel_index(np.argmax(np.where(parts == r.label, dist, -1)), dist.shape)
            peaks[y, x] = peaks.max() + 1
    lab = watershed(-dist, peaks, mask=nucleus)
    sizes = np.bincount(lab.ravel())
    keep = [k for k in range(1, len(sizes)) if sizes[k] >= min_area]
    n = max(1, len(keep)) if nucleus.sum() >= min_area else len(keep)
    bridge = _thinnest_bridge(lab, dist, keep) if len(keep) > 1 else 2.0 * float(dist.max())
    return lab, n, bridge * pixel_size


def _thinnest_bridge(lab: np.ndarray, dist: np.ndarray, keep: list[int]) -> float:
    """Twice the largest distance-transform value on the line between two touching lobes (0 if apart)."""
    best = np.inf
    touching = False
    for a in keep:
        grown = ndi.binary_dilation(lab == a)
        for b in keep:
            if b <= a:
                continue
            line = grown & (lab == b)
            if line.any():
                touching = True
                best = min(best, 2.0 * float(dist[line].max()))
    return best if touching else 0.0


def pseudo_pelger(nucleus: np.ndarray, lab: np.ndarray, n_lobes: int) -> int:
    """1 if the nucleus looks pseudo-Pelger (two round lobes, or one round/peanut nucleus)."""
    if n_lobes == 1:
        props = regionprops(nucleus.astype(np.uint8))
        if not props:
            return 0
        p = props[0]
        elong = p.axis_major_length / max(p.axis_minor_length, 1e-6)
        return int(p.solidity >= PELGER_SOLIDITY and elong <= PELGER_ELONGATION)
    if n_lobes == 2:  # lobe shapes without the filament between them
        r_open = max(1, int(round(0.3 * float(ndi.distance_transform_edt(nucleus).max()))))
        bodies = label(B.opening(lab > 0, r_open) & (lab > 0)) if r_open else lab
        rs = sorted((r for r in regionprops(bodies) if r.area > 0), key=lambda r: -r.area)[:2]
        if len(rs) < 2 or rs[1].area < PELGER_LOBE_RATIO * rs[0].area:
            return 0
        return int(all(r.solidity >= PELGER_SOLIDITY and
                       r.axis_major_length / max(r.axis_minor_length, 1e-6) <= PELGER_ELONGATION for r in rs))
    return 0


def spikes(nucleus: np.ndarray, pixel_size: float) -> int:
    """Number of thin protrusions of the nuclear outline: parts an opening of radius
    ``SPIKE_OPEN_UM`` removes that reach at least ``SPIKE_MIN_LEN_UM`` out of what remains."""
    r = max(1, int(round(SPIKE_OPEN_UM / pixel_size)))
    pad = r + 1
    opened = B.opening(np.pad(nucleus, pad), r)[pad:-pad, pad:-pad]
    if not opened.any():
        return 0
    reach = ndi.distance_transform_edt(~opened)
    rest = label(nucleus & ~opened)
    n_px = SPIKE_MIN_LEN_UM / pixel_size
    return int(sum(reach[rest == k].max() >= n_px for k in range(1, rest.max() + 1)))
