"""The fixed measurement vector of one cell image (what a haematologist looks at).

:data:`MEASUREMENTS` lists every column, in order, with its unit; docs/morphology.md
explains each. Areas and lengths are in um (``pixel_size`` um per pixel, default
for CellaVision DM96 frames in :data:`.segment.DEFAULT_PIXEL_SIZE_UM`). Colours
are optical densities relative to the frame's own glass (:mod:`.stain`), so they
do not depend on the lamp. A cell whose quality is not ``ok`` gets NaN for every
measurement (its row is kept, with the flag).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import regionprops

from . import nucleus as N
from .segment import DEFAULT_PIXEL_SIZE_UM, bbox, segment_cell
from .vacuoles import DEFAULT_PARAMS, VacuoleParams, detect_vacuoles

#: (column, unit, what it is) in the order of measurements.csv and of the encoding vector.
MEASUREMENTS = (
    ("cell_area_um2", "um2", "area of the leukocyte"),
    ("cell_diameter_um", "um", "diameter of the disc of the same area"),
    ("cell_roundness", "", "4 pi area / perimeter^2 (1 = disc)"),
    ("nucleus_area_um2", "um2", "area of the nucleus"),
    ("nc_ratio", "", "nucleus area / cell area"),
    ("nucleus_lobes", "count", "nuclear lobes (1 = band, round or kidney nucleus)"),
    ("lobe_bridge_um", "um", "width of the thinnest bridge between lobes (one lobe: the nucleus's width)"),
    ("lobe_constriction", "", "narrowest neck of the nucleus / its typical width (1 = none, 0 = parts apart)"),
    ("pseudo_pelger", "0/1", "two round lobes of similar size, or one round/peanut nucleus"),
    ("nuclear_spikes", "count", "thin short protrusions of the nuclear outline"),
    ("nuclear_notches", "count", "sharp concave corners of the nuclear outline (where lobes meet or overlap)"),
    ("nucleus_solidity", "", "nucleus area / its convex hull's area"),
    ("nucleus_od", "OD", "mean green optical density of the nucleus (chromatin density)"),
    ("cytoplasm_od_red", "OD", "mean red optical density of the cytoplasm (vacuoles excluded)"),
    ("cytoplasm_od_green", "OD", "mean green optical density of the cytoplasm"),
    ("cytoplasm_od_blue", "OD", "mean blue optical density of the cytoplasm (basophilia)"),
    ("granularity", "OD", "texture energy of the cytoplasm: RMS of the band-pass (granule-sized) green OD"),
    ("vacuole_count", "count", "cytoplasmic vacuoles detected"),
    ("vacuole_area_um2", "um2", "total area of the vacuoles"),
    ("vacuole_max_diameter_um", "um", "equivalent diameter of the largest vacuole (0 if none)"),
)
COLUMNS = tuple(m[0] for m in MEASUREMENTS)

#: granules are ~0.2-0.5 um: difference of Gaussians between these scales (um)
GRANULE_SIGMAS_UM = (0.1, 0.4)


def _granularity(od_g: np.ndarray, where: np.ndarray, pixel_size: float) -> float:
    lo, hi = (s / pixel_size for s in GRANULE_SIGMAS_UM)
    band = ndi.gaussian_filter(od_g, lo) - ndi.gaussian_filter(od_g, hi)
    return float(np.sqrt(np.mean(band[where] ** 2))) if where.any() else 0.0


def _roundness(mask: np.ndarray) -> float:
    p = regionprops(mask.astype(np.uint8))[0]
    return float(min(1.0, 4 * np.pi * p.area / max(p.perimeter, 1.0) ** 2))


def _hull_image(props, shape) -> np.ndarray | None:
    """The convex hull of the one region of ``props`` as a mask of ``shape`` (None if no region)."""
    if not props:
        return None
    hull = np.zeros(shape, bool)
    y0, x0, y1, x1 = props[0].bbox
    hull[y0:y1, x0:x1] = props[0].image_convex
    return hull


def empty_row() -> dict:
    return {c: np.nan for c in COLUMNS}


def measure_masks(image, masks, pixel_size: float = DEFAULT_PIXEL_SIZE_UM,
                  params: VacuoleParams = DEFAULT_PARAMS) -> tuple[dict, list]:
    """(measurement dict, vacuoles) of a cell already segmented (``masks.ok`` must be true)."""
    sl = bbox(masks.cell, int(round(1.0 / pixel_size)))
    img, cell, nuc = np.asarray(image)[sl], masks.cell[sl], masks.nucleus[sl]
    od = masks.od[sl]
    a2 = pixel_size ** 2
    nsl = bbox(nuc, 2)
    nprops = regionprops(nuc[nsl].astype(np.uint8))  # one convex hull for solidity, notches and pelger
    lab = np.zeros(nuc.shape, np.int32)
    notches = N.notches(nuc[nsl], pixel_size, hull=_hull_image(nprops, nuc[nsl].shape))
    lab[nsl], n_lobes, bridge = N.lobes(nuc[nsl], pixel_size, notches)
    vac = detect_vacuoles(img, cell, nuc, masks.background, pixel_size, params)
    cyto = cell & ~nuc
    holes = np.zeros(cyto.shape, bool)
    for v in vac:  # leave the vacuoles out of the cytoplasm colour and texture
        yy, xx = np.ogrid[:cyto.shape[0], :cyto.shape[1]]
        holes |= (yy - v.y) ** 2 + (xx - v.x) ** 2 <= (v.diameter_um / pixel_size / 2 + 1) ** 2
    plain = cyto & ~holes
    cell_area, nuc_area = float(cell.sum()) * a2, float(nuc.sum()) * a2
    col = od[plain].mean(0) if plain.any() else np.zeros(3)
    row = {
        "cell_area_um2": cell_area,
        "cell_diameter_um": 2 * np.sqrt(cell_area / np.pi),
        "cell_roundness": _roundness(cell),
        "nucleus_area_um2": nuc_area,
        "nc_ratio": nuc_area / cell_area,
        "nucleus_lobes": float(n_lobes),
        "lobe_bridge_um": bridge,
        "lobe_constriction": N.constriction(nuc[nsl], pixel_size),
        "pseudo_pelger": float(N.pseudo_pelger(nuc, lab, n_lobes, nprops[0] if nprops else None)),
        "nuclear_spikes": float(N.spikes(nuc[nsl], pixel_size)),
        "nuclear_notches": float(len(notches)),
        "nucleus_solidity": float(nprops[0].solidity) if nprops else 0.0,
        "nucleus_od": float(od[..., 1][nuc].mean()) if nuc.any() else 0.0,
        "cytoplasm_od_red": float(col[0]), "cytoplasm_od_green": float(col[1]),
        "cytoplasm_od_blue": float(col[2]),
        "granularity": _granularity(od[..., 1], plain, pixel_size),
        "vacuole_count": float(len(vac)),
        "vacuole_area_um2": float(sum(v.area_um2 for v in vac)),
        "vacuole_max_diameter_um": float(max((v.diameter_um for v in vac), default=0.0)),
    }
    shift = (sl[0].start, sl[1].start)
    return row, [dataclasses.replace(v, y=v.y + shift[0], x=v.x + shift[1]) for v in vac]


def measure_cell(image, pixel_size: float = DEFAULT_PIXEL_SIZE_UM,
                 params: VacuoleParams = DEFAULT_PARAMS) -> dict:
    """``{"quality", "quality_detail", <every column of MEASUREMENTS>}`` for one RGB uint8 image.

    A cell that cannot be measured (quality other than ``ok``) gets NaN measurements.
    """
    masks = segment_cell(image, pixel_size)
    row = {"quality": masks.quality, "quality_detail": masks.reason}
    if not masks.ok:
        row.update(empty_row())
        return row
    values, _ = measure_masks(image, masks, pixel_size, params)
    row.update(values)
    return row
