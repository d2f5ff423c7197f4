"""Cytoplasmic vacuoles: pale, round, sharply outlined holes inside the cytoplasm mask.

VEXAS vacuoles are punched-out holes in the cytoplasm, nearly as pale as the
glass around the cell, with a sharp outline. The detector looks for exactly
that, in the green channel (the one the pink/purple stains absorb most), in
grey levels 0-255 relative to the frame's own glass, sizes in um
(:class:`VacuoleParams` holds every limit):

1. **where**: the cytoplasm only (the search region: ``edge_margin_um`` inside
   the cell outline, ``nucleus_margin_um`` away from the nucleus closed over
   its folds). Red cells are already cut off the cell mask (:mod:`.segment`).
2. **candidates**: connected regions of pixels within ``extent_below_glass``
   grey levels of the glass holding a pixel within ``core_below_glass``
   (hysteresis). In pale cytoplasm the extent shrinks to 3/4 of the
   cytoplasm's *depth* (its median's distance below the glass;
   ``extent_fraction``), so that it stops short of the cytoplasm, and the
   contrast asked of the wall to half the depth (``contrast_fraction``):
   fixed limits would take in the whole cytoplasm of a pale, hypogranular
   neutrophil (joining every hole in it to the glass) and ask a wall darker
   than its cytoplasm. Real normal neutrophils lie 33-107 levels deep
   (median 67; 5% under 46), so the extent changes in the palest ~5% and
   the contrast in the palest ~10%; elsewhere the outline, which the size
   limits were calibrated on, is version 3's. Not clipped to the search region: a pale notch of the outline
   stays joined to the glass, a gap in a nuclear fold to the fold, so both fail
   ``min_inside`` (>= 90% of the spot in the search region).
3. **tests**, each aimed at a false positive seen on real normal cells:
   size (equivalent diameter ``min_diameter_um``-``max_diameter_um``) and
   roundness (solidity, axis ratio); a wall all round (the 2-px ring is darker
   than the core by ``min_rim_contrast`` at its median, ``min_wall`` at its
   palest tenth, and ``min_rim_dark`` of it by half the contrast): pale gaps
   between granules open onto other gaps; a punched-out profile
   (``min_plateau``, :func:`plateau`: a flat clear floor inside a steep wall,
   where a pale gap or patch is a dimple with sloping sides);
   ``min_edge_um`` from the outline (pale notches, the
   thin pale edge of the cytoplasm) and ``min_nucleus_um`` from the nucleus
   (pale spots at its border and in its folds); ring on the nucleus <=
   ``max_rim_nucleus`` (a gap between lobes).

Each vacuole reports its centre (px), area (um2), equivalent diameter (um),
contrast and distance below the glass (grey levels).
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
    """The detector's operating point: size (um) and contrast (grey levels, green channel) limits.

    Calibrated on real normal cells (docs/morphology.md, "Operating point"): limits that flag
    <= 3.5% of the calibration half of the normal neutrophils of ../shared/data/wbc.
    """

    core_below_glass: float = 14.0    # the hole's palest pixel is within this many grey levels of the glass
    extent_below_glass: float = 36.0  # the hole extends over pixels within this many levels of the glass ...
    extent_fraction: float = 0.75     # ... and within this fraction of the cytoplasm's depth below it
    min_rim_contrast: float = 25.0    # core (90th percentile) minus the median of the 2-px ring around it ...
    contrast_fraction: float = 0.5    # ... or this fraction of the cytoplasm's depth, if less (pale cytoplasm)
    min_wall: float = 10.0            # core minus the palest tenth of that ring: a wall all round
    min_rim_dark: float = 0.8         # fraction of the ring darker than the core by half the contrast limit
    min_plateau: float = 0.5          # punched out: radius at 25% of the step from the core / radius at 75%
    min_diameter_um: float = 0.6
    max_diameter_um: float = 3.5
    min_solidity: float = 0.8
    max_elongation: float = 1.6
    min_inside: float = 0.9           # fraction of the spot inside the search region (cytoplasm)
    min_rim_cell: float = 0.95        # fraction of the ring inside the cell (not a notch open to the glass)
    max_rim_nucleus: float = 0.4      # fraction of the ring on the nucleus (not a gap between lobes)
    min_edge_um: float = 0.4          # distance from the cell outline (pale notches, thin cytoplasm edge)
    min_nucleus_um: float = 0.4       # distance from the nucleus (pale spots at its border and in its folds)
    edge_margin_um: float = 0.2       # search region: this far inside the outline ...
    nucleus_margin_um: float = 0.1    # ... and this far from the nucleus closed over its folds
    nucleus_fold_um: float = 0.6
    split_clusters: bool = False      # cut a non-round pale spot into round parts: off (docs/morphology.md)

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
    closed = B.fill_holes(B.closing(nucleus, params.nucleus_fold_um / pixel_size))
    return inner & ~B.dilate(closed, params.nucleus_margin_um / pixel_size)


def _ring(m: np.ndarray, width: int) -> np.ndarray:
    return B.dilate(m, width) & ~m


def plateau(gs: np.ndarray, m: np.ndarray, cyto: np.ndarray) -> float:
    """How punched out a pale spot is: r25 / r75, 1 for a step, small for a dimple (0 if undefined).

    The step runs from the spot's core (90th percentile of ``gs`` in ``m``) down to the
    cytoplasm 3-8 px around it (median; within the spot's window, which reaches 7 px beyond its
    bounding box). ``r25`` and ``r75`` are the radii (of the disc of the same area) of the
    region, grown from the spot's palest pixel, that stays paler than 25% and
    75% of the way down that step. A clear hole has a flat floor and a steep wall: both regions
    nearly fill the hole (planted holes: median 0.70). A pale gap between granules or a pale
    patch is a dimple: its region shrinks as the level rises (real normal neutrophils: 0.51;
    experiments/vacuole_rules.py).
    """
    core = np.percentile(gs[m], 90)
    near = _ring(m, 8) & ~_ring(m, RIM_PX) & ~m & cyto
    step = core - np.median(gs[near]) if near.sum() >= 5 else 0.0
    if step <= 0:
        return 0.0
    iy, ix = np.unravel_index(np.argmax(np.where(m, gs, -np.inf)), m.shape)
    reach = B.dilate(m, 6)
    radii = []
    for k in (0.25, 0.75):
        lab = label((gs >= core - k * step) & reach, connectivity=1)
        radii.append(np.sqrt((lab == lab[iy, ix]).sum() / np.pi))
    return float(radii[0] / radii[1])


def depth(green: np.ndarray, glass: float, cyto: np.ndarray) -> float:
    """The cytoplasm's depth: how far its median lies below the glass, grey levels (inf: none)."""
    return glass - float(np.median(green[cyto])) if cyto.any() else np.inf


def extent_below(d: float, params: VacuoleParams = DEFAULT_PARAMS) -> float:
    """How far below the glass (grey levels) a hole extends in cytoplasm of depth ``d``."""
    return float(min(params.extent_below_glass, max(params.extent_fraction * d, 1.0)))


def candidates(green: np.ndarray, glass: float, cell: np.ndarray, nucleus: np.ndarray, pixel_size: float,
               params: VacuoleParams = DEFAULT_PARAMS) -> list[dict]:
    """Every pale spot of the search region with the features the tests use (one dict each).

    Rim features, on the ring ``RIM_PX`` wide around the spot: ``rim_cell`` the fraction in the
    cell (a notch of the outline is open to the glass), ``rim_nucleus`` the fraction on the
    nucleus (a gap between lobes is walled by chromatin), ``rim_dark`` the fraction at least
    half the contrast limit (:func:`contrast_limit`) darker than the spot's core (a hole has a wall all round;
    a gap between granules fades into its surroundings).
    """
    region = search_region(cell, nucleus, pixel_size, params)
    if not region.any():
        return []
    cyto = cell & ~nucleus
    d = depth(green, glass, cyto)
    extent = extent_below(d, params)
    pale = apply_hysteresis_threshold(green, glass - extent, glass - min(params.core_below_glass, extent))
    to_edge = ndi.distance_transform_edt(np.pad(cell, 1))[1:-1, 1:-1] * pixel_size
    to_nucleus = ndi.distance_transform_edt(~nucleus) * pixel_size if nucleus.any() else np.full(cell.shape, 99.0)
    lab = label(pale)  # not clipped: a notch stays joined to the glass, a gap to its fold
    out = []
    max_area = 4 * np.pi * (params.max_diameter_um / 2 / pixel_size) ** 2
    maps = dict(green=green, region=region, cell=cell, nucleus=nucleus, cyto=cyto, to_edge=to_edge,
                to_nucleus=to_nucleus, depth=d)
    for r in regionprops(lab):
        if r.area > max_area:  # far too large for a vacuole (the glass, a pale fold): skip its features
            continue
        sl = tuple(slice(max(0, s.start - RIM_PX - 5), s.stop + RIM_PX + 5) for s in r.slice)
        m = lab[sl] == r.label
        if region[sl][m].mean() == 0:
            continue
        parts = split_cluster(m, pixel_size, params) if params.split_clusters and not _round(r, params) else [m]
        for part in parts:
            out.append(_features(part, m, sl, glass, pixel_size, params, maps))
    return out


def _round(r, params: VacuoleParams) -> bool:
    elongation = r.axis_major_length / max(r.axis_minor_length, 1.0)
    return r.solidity >= params.min_solidity and elongation <= params.max_elongation


def split_cluster(m: np.ndarray, pixel_size: float, params: VacuoleParams = DEFAULT_PARAMS) -> list[np.ndarray]:
    """A non-round pale spot cut into its round parts: touching vacuoles merge into one spot.

    A watershed of the distance transform from its maxima at least a minimum vacuole radius
    apart (the classic split of touching discs); parts smaller than a minimum vacuole are dropped.
    One maximum: the spot unchanged.
    """
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    radius = params.min_diameter_um / 2 / pixel_size
    dist = ndi.distance_transform_edt(m)
    peaks = peak_local_max(dist, min_distance=max(1, int(round(radius))), threshold_abs=radius,
                           labels=m.astype(int), exclude_border=False)
    if len(peaks) < 2:
        return [m]
    markers = np.zeros(m.shape, int)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    ws = watershed(-dist, markers, mask=m)
    min_area = np.pi * radius ** 2
    return [ws == k for k in range(1, len(peaks) + 1) if (ws == k).sum() >= min_area]


def _features(m: np.ndarray, whole: np.ndarray, sl, glass: float, pixel_size: float, params: VacuoleParams,
              maps: dict) -> dict:
    """The features of one spot ``m`` (within the slice ``sl``); its ring leaves out the rest of the
    spot it was cut from (``whole``): two touching vacuoles share no wall."""
    (ys, xs), r = np.nonzero(m), regionprops(m.astype(np.uint8))[0]
    ring = _ring(m, RIM_PX) & ~whole
    gs = maps["green"][sl]
    core = np.percentile(gs[m], 90)
    ring_vals = gs[ring] if ring.any() else gs[_ring(m, RIM_PX)]
    ring = ring if ring.any() else _ring(m, RIM_PX)
    return dict(
        y=float(ys.mean() + sl[0].start), x=float(xs.mean() + sl[1].start),
        area_um2=float(m.sum()) * pixel_size ** 2,
        diameter_um=float(r.equivalent_diameter_area) * pixel_size,
        solidity=float(r.solidity),
        elongation=float(r.axis_major_length / max(r.axis_minor_length, 1.0)),
        contrast=float(core - np.median(ring_vals)),
        below_glass=float(glass - gs[m].max()),
        inside=float(maps["region"][sl][m].mean()),
        rim_cell=float(maps["cell"][sl][ring].mean()),
        rim_nucleus=float(maps["nucleus"][sl][ring].mean()),
        rim_dark=float((ring_vals <= core - contrast_limit(maps["depth"], params) / 2).mean()),
        wall=float(core - np.percentile(ring_vals, 90)),
        edge_um=float(maps["to_edge"][sl][m].min()),
        nucleus_um=float(maps["to_nucleus"][sl][m].min()),
        plateau=plateau(gs, m, maps["cyto"][sl]),
        depth=float(maps["depth"]),
    )


def contrast_limit(d, params: VacuoleParams = DEFAULT_PARAMS):
    """The wall contrast asked of a hole in cytoplasm of depth ``d`` (a number or an array)."""
    return np.minimum(params.min_rim_contrast, params.contrast_fraction * d)


#: Every test of the operating point, keyed by what a spot that fails it is, in the order
#: experiments/measure_validation.py reports the first failed one: each takes a candidate (a
#: dict) or a table of them (a DataFrame) and the params, and gives a bool or a boolean Series.
TESTS = {
    "size": lambda c, p: (c["diameter_um"] >= p.min_diameter_um) & (c["diameter_um"] <= p.max_diameter_um),
    "core not pale enough": lambda c, p: c["below_glass"] <= p.core_below_glass,
    "not round": lambda c, p: (c["solidity"] >= p.min_solidity) & (c["elongation"] <= p.max_elongation),
    "outside the search region": lambda c, p: (c["inside"] >= p.min_inside) & (c["rim_cell"] >= p.min_rim_cell),
    "wall": lambda c, p: ((c["contrast"] >= contrast_limit(c["depth"], p)) & (c["wall"] >= p.min_wall)
                          & (c["rim_dark"] >= p.min_rim_dark) & (c["rim_nucleus"] <= p.max_rim_nucleus)),
    "not punched out (no flat floor)": lambda c, p: c["plateau"] >= p.min_plateau,
    "near the outline or nucleus": lambda c, p: (c["edge_um"] >= p.min_edge_um) & (c["nucleus_um"] >= p.min_nucleus_um),
}


def passes(c, params: VacuoleParams = DEFAULT_PARAMS):
    """Whether a candidate passes every test of the operating point (:data:`TESTS`): one candidate
    (a dict) gives a bool, a table of candidates (a DataFrame, one per row) a boolean Series."""
    result = True
    for test in TESTS.values():
        result = result & test(c, params)
    return result


def detect_vacuoles(image: np.ndarray, cell: np.ndarray, nucleus: np.ndarray, glass_rgb, pixel_size: float,
                    params: VacuoleParams = DEFAULT_PARAMS) -> list[Vacuole]:
    """The vacuoles of one segmented cell (``image`` RGB uint8; masks from :func:`segment_cell`)."""
    green = ndi.gaussian_filter(np.asarray(image)[..., 1].astype(np.float32), 0.7)
    found = candidates(green, float(glass_rgb[1]), cell, nucleus, pixel_size, params)
    return [Vacuole(c["y"], c["x"], c["area_um2"], c["diameter_um"], c["contrast"], c["below_glass"])
            for c in found if passes(c, params)]
