"""Cytoplasmic vacuoles: pale, round, sharply outlined holes inside the cytoplasm mask.

VEXAS vacuoles are punched-out holes in the cytoplasm, nearly as pale as the
glass around the cell. The detector looks for exactly that, in the green
channel (the one the pink/purple stains absorb most), in grey levels 0-255:

1. **where**: the cytoplasm only, ``EDGE_MARGIN_UM`` inside the cell outline
   (pale notches at the edge are not holes) and ``NUCLEUS_MARGIN_UM`` away from
   the nucleus closed over its folds (pale spots in the nucleus and between
   lobes are not vacuoles). Red cells are already cut off the cell mask.
2. **candidates**: connected regions of pixels at most ``EXTENT_BELOW_GLASS``
   grey levels darker than the glass, holding at least one pixel at most
   ``CORE_BELOW_GLASS`` darker (hysteresis), clipped to the search region.
3. **tests** on each candidate (:class:`VacuoleParams`, all in um and grey levels):
   equivalent diameter in [``min_diameter_um``, ``max_diameter_um``]; round
   (solidity >= ``min_solidity``, axis ratio <= ``max_elongation``); a rim:
   the 1-px ring around it lies in the cytoplasm for >= ``min_rim_cytoplasm``
   of its length and is >= ``min_rim_contrast`` grey levels darker than the
   hole's core (pale gaps between granules are small and low in contrast).

Each vacuole reports its centre, area and equivalent diameter (um).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import apply_hysteresis_threshold
from skimage.measure import label, regionprops

from . import binary as B


@dataclass(frozen=True)
class VacuoleParams:
    """The detector's operating point: size (um) and contrast (grey levels) limits."""

    core_below_glass: float = 14.0    # the hole's palest pixel is within this many grey levels of the glass
    extent_below_glass: float = 30.0  # the hole extends over pixels within this many levels of the glass
    min_rim_contrast: float = 25.0    # core minus surrounding ring, grey levels
    min_diameter_um: float = 0.35
    max_diameter_um: float = 3.5
    min_solidity: float = 0.8
    max_elongation: float = 2.0
    min_inside: float = 0.9           # fraction of the spot inside the search region (cytoplasm)
    min_rim_cell: float = 0.95        # fraction of the rim inside the cell (not a notch open to the glass)
    max_rim_nucleus: float = 0.4      # fraction of the rim on the nucleus (not a gap between lobes)
    min_rim_dark: float = 0.8         # fraction of the rim darker than the core by min_rim_contrast / 2
    edge_margin_um: float = 0.2
    nucleus_margin_um: float = 0.1
    nucleus_fold_um: float = 0.6     # the nucleus is closed over folds this wide before the margin

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_PARAMS = VacuoleParams()
RIM_PX = 2


@dataclass(frozen=True)
class Vacuole:
    y: float
    x: float
    area_um2: float
    diameter_um: float
    contrast: float       # core minus ring, grey levels
    below_glass: float    # glass minus the core's palest level, grey levels


def search_region(cell: np.ndarray, nucleus: np.ndarray, pixel_size: float,
                  params: VacuoleParams = DEFAULT_PARAMS) -> np.ndarray:
    """Cytoplasm pixels where a vacuole may lie: away from the cell edge and the (closed) nucleus."""
    edge = params.edge_margin_um / pixel_size
    inner = B.erode(cell, edge)
    closed = ndi.binary_fill_holes(B.closing(nucleus, params.nucleus_fold_um / pixel_size))
    return inner & ~B.dilate(closed, params.nucleus_margin_um / pixel_size)


def _ring(m: np.ndarray, width: int) -> np.ndarray:
    return B.dilate(m, width) & ~m


def candidates(green: np.ndarray, glass: float, cell: np.ndarray, nucleus: np.ndarray, pixel_size: float,
               params: VacuoleParams = DEFAULT_PARAMS) -> list[dict]:
    """Every pale spot of the search region with the features the tests use (one dict each).

    Rim features, on the ring ``RIM_PX`` wide around the spot: ``rim_cell`` the fraction in the
    cell (a notch of the outline is open to the glass), ``rim_nucleus`` the fraction on the
    nucleus (a gap between lobes is walled by chromatin), ``rim_dark`` the fraction at least
    ``min_rim_contrast / 2`` grey levels darker than the spot's core (a hole has a wall all round;
    a gap between granules fades into its surroundings).
    """
    region = search_region(cell, nucleus, pixel_size, params)
    if not region.any():
        return []
    pale = apply_hysteresis_threshold(green, glass - params.extent_below_glass, glass - params.core_below_glass)
    lab = label(pale)  # not clipped: a notch stays joined to the glass, a gap to its fold
    out = []
    max_area = 4 * np.pi * (params.max_diameter_um / 2 / pixel_size) ** 2
    for r in regionprops(lab):
        if r.area > max_area:  # far too large for a vacuole (the glass, a pale fold): skip its features
            continue
        sl = tuple(slice(max(0, s.start - RIM_PX - 1), s.stop + RIM_PX + 1) for s in r.slice)
        m = lab[sl] == r.label
        inside = float(region[sl][m].mean())
        if inside == 0:
            continue
        ring = _ring(m, RIM_PX)
        gs = green[sl]
        core = np.percentile(gs[m], 90)
        ring_vals = gs[ring]
        out.append(dict(
            y=float(r.centroid[0]), x=float(r.centroid[1]),
            area_um2=float(r.area) * pixel_size ** 2,
            diameter_um=float(r.equivalent_diameter_area) * pixel_size,
            solidity=float(r.solidity),
            elongation=float(r.axis_major_length / max(r.axis_minor_length, 1.0)),
            contrast=float(core - np.median(ring_vals)),
            below_glass=float(glass - gs[m].max()),
            inside=inside,
            rim_cell=float(cell[sl][ring].mean()),
            rim_nucleus=float(nucleus[sl][ring].mean()),
            rim_dark=float((ring_vals <= core - params.min_rim_contrast / 2).mean()),
        ))
    return out


def passes(c: dict, params: VacuoleParams = DEFAULT_PARAMS) -> bool:
    """Whether one candidate passes every test of the operating point."""
    return (params.min_diameter_um <= c["diameter_um"] <= params.max_diameter_um
            and c["solidity"] >= params.min_solidity and c["elongation"] <= params.max_elongation
            and c["inside"] >= params.min_inside and c["rim_cell"] >= params.min_rim_cell and c["rim_nucleus"] <= params.max_rim_nucleus
            and c["rim_dark"] >= params.min_rim_dark and c["contrast"] >= params.min_rim_contrast
            and c["below_glass"] <= params.core_below_glass)


def detect_vacuoles(image: np.ndarray, cell: np.ndarray, nucleus: np.ndarray, glass_rgb, pixel_size: float,
                    params: VacuoleParams = DEFAULT_PARAMS) -> list[Vacuole]:
    """The vacuoles of one segmented cell (``image`` RGB uint8; masks from :func:`segment_cell`)."""
    green = ndi.gaussian_filter(np.asarray(image)[..., 1].astype(np.float32), 0.7)
    found = candidates(green, float(glass_rgb[1]), cell, nucleus, pixel_size, params)
    return [Vacuole(c["y"], c["x"], c["area_um2"], c["diameter_um"], c["contrast"], c["below_glass"])
            for c in found if passes(c, params)]
