"""Masks of the centred leukocyte, its nucleus and its cytoplasm in one cell image.

CellaVision frames hold one leukocyte near the centre, surrounded by red cells
(pink discs with a pale centre), platelets, and now and then a second
leukocyte. The steps, all in optical density relative to the frame's own glass
(:mod:`.stain`):

1. **foreground**: OD_green > ``FG_OD``; small holes (vacuoles, red-cell pallor)
   filled.
2. **nucleus**: ``purple = OD_green - OD_blue > NUCLEUS_PURPLE`` (chromatin), opened
   to drop granules; the component nearest the frame centre, plus the parts
   within ``LOBE_GAP_UM`` of it (lobes whose filament is too faint to see).
3. **red cells found as discs and removed**: the foreground's distance
   transform peaks inside every red cell (radius ~3.75 um); each peak of radius
   >= ``RBC_MIN_RADIUS_UM`` away from the nucleus seeds a competing region, and a
   watershed of the distance transform cuts the leukocyte from the red cells
   at the necks where they touch.
4. **cell**: the watershed region of the nucleus, holes filled, smoothed;
   **cytoplasm** = cell minus nucleus.

Quality flags (``QUALITY_FLAGS``): ``no_cell`` (no nucleus near the centre:
blank frame, only red cells), ``cut_at_border`` (the cell touches the frame
edge), ``several_cells`` (a second nucleus touches the cell),
``segmentation_failed`` (the cell's area or shape is implausible, e.g. a red
cell merged into it), else ``ok``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.measure import CircleModel, label, regionprops
from skimage.morphology import convex_hull_image, disk, remove_small_objects
from skimage.segmentation import watershed

from . import binary as B
from .binary import bbox  # noqa: F401  (re-exported: measure.py and callers use segment.bbox)
from .stain import background_rgb, optical_density

QUALITY_FLAGS = ("ok", "no_cell", "cut_at_border", "several_cells", "segmentation_failed")

#: Default pixel size of CellaVision DM96 frames (360 x 363 px), um per pixel: isolated round red
#: cells in ../shared/data/wbc measure a median 75.3 px across (IQR 71.3-79.2, n = 452, see
#: :mod:`vexscreen.morphology.calibration`), against the normal 7.5 um: 0.0996, rounded.
DEFAULT_PIXEL_SIZE_UM = 0.1

FG_OD = 0.09                 # OD_green above which a pixel is stained (not glass)
NUCLEUS_PURPLE = 0.6         # OD_green - OD_blue above which a pixel is chromatin
MIN_NUCLEUS_PART_UM2 = 1.0   # smaller purple specks are granules or debris
MIN_NUCLEUS_UM2 = 4.0        # the centred nucleus is at least this large (a platelet is smaller)
OTHER_NUCLEUS_UM2 = 20.0     # a second nucleus this large touching the cell = several cells
MAX_CENTRE_OFFSET = 0.35     # nucleus must come within this fraction of the frame's half-side of the centre
LOBE_GAP_UM = 1.2            # nuclear parts this close to the central nucleus are its lobes
HOLE_UM2 = 20.0              # holes in the foreground up to this area are filled (vacuoles, pallor)
RBC_MIN_RADIUS_UM = 2.6      # distance-transform peaks at least this deep seed a red cell
RBC_CLEAR_UM = 1.5           # ... when at least this far from the nucleus
OPEN_UM = 0.8                # opening radius that cuts thin attached fragments off the cell
CLIP_MARGIN_UM = 0.4         # slack outside the circle fitted to the glass-facing outline
CIRCLE_RMS_UM = 0.3          # that outline is a circle if it deviates from it by at most this (RMS)
CLIP_MIN_FRACTION = 0.03     # ... and the cell is cut to it if more than this fraction pokes out
RBC_COLOUR_GAP = 0.15        # red cells and cytoplasm told apart by colour only when this far apart
GLASS_MIN_FRACTION = 0.25    # the fit needs at least this fraction of the outline facing glass
CELL_AREA_UM2 = (15.0, 400.0)  # plausible leukocyte areas (a lymphocyte ~40, a monocyte up to ~300)
MIN_SOLIDITY = 0.85          # below: a red cell or debris merged into the cell
CLIP_SOLIDITY = 0.93         # below: try cutting the cell to the circle of its glass-facing outline
NUCLEUS_HOLE_UM2 = 1.5       # pale chromatin holes up to this area belong to the nucleus
COARSE = 2                   # the cell is segmented at 1/COARSE resolution
BORDER_TOUCH_PX = 3          # cell pixels on the frame edge tolerated before ``cut_at_border``


@dataclass
class CellMasks:
    """The masks of one cell image and the quality of its segmentation."""

    quality: str
    reason: str = ""
    cell: np.ndarray | None = None
    nucleus: np.ndarray | None = None
    cytoplasm: np.ndarray | None = None
    background: np.ndarray | None = None      # glass RGB
    od: np.ndarray | None = None              # H x W x 3 optical density (smoothed)
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.quality == "ok"


def _px(um: float, pixel_size: float) -> float:
    return um / pixel_size


def _px2(um2: float, pixel_size: float) -> float:
    return um2 / pixel_size ** 2


def _nucleus_parts(purple: np.ndarray, od_g: np.ndarray, pixel_size: float) -> np.ndarray:
    raw = (purple > NUCLEUS_PURPLE) & (od_g > NUCLEUS_PURPLE)
    raw = ndi.binary_opening(raw, structure=disk(1))
    return label(remove_small_objects(raw, max_size=int(_px2(MIN_NUCLEUS_PART_UM2, pixel_size))))


def _central_nucleus(parts: np.ndarray, pixel_size: float) -> tuple[np.ndarray | None, str]:
    """The nucleus component nearest the centre plus its lobes; (None, reason) if none."""
    h, w = parts.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    best, best_d = 0, np.inf
    for r in regionprops(parts):
        if r.area < _px2(MIN_NUCLEUS_UM2, pixel_size):
            continue
        c = r.coords
        d = np.sqrt(((c[:, 0] - cy) ** 2 + (c[:, 1] - cx) ** 2).min())
        if d < best_d:
            best, best_d = r.label, d
    if not best:
        return None, "no nucleus-sized purple region"
    if best_d > MAX_CENTRE_OFFSET * min(h, w) / 2:
        return None, f"nearest nucleus is {best_d * pixel_size:.1f} um from the centre"
    nucleus = parts == best
    gap = _px(LOBE_GAP_UM, pixel_size)
    for _ in range(6):  # lobes chained by invisible filaments
        near = B.distance_within(nucleus, gap)
        add = np.unique(parts[near & (parts > 0) & ~nucleus])
        if not len(add):
            break
        nucleus |= np.isin(parts, add)
    return nucleus, ""


def _foreground(od_g: np.ndarray, pixel_size: float) -> np.ndarray:
    fg = od_g > FG_OD
    holes = ndi.binary_fill_holes(fg) & ~fg  # filled before the opening, which would break a thin rim
    small = remove_small_objects(holes, max_size=int(_px2(HOLE_UM2, pixel_size)))
    return ndi.binary_opening(fg | (holes & ~small), structure=disk(2))


def _rbc_markers(dist, fg, nucleus, pixel_size) -> np.ndarray:
    """Seeds of the regions competing with the cell: deep distance-transform peaks (red cells,
    another leukocyte) outside the nucleus's convex hull widened by ``RBC_CLEAR_UM``."""
    markers = np.zeros(fg.shape, np.int32)
    markers[nucleus] = 1
    hull = np.zeros(nucleus.shape, bool)
    sl = B.bbox(nucleus, 1)  # the same hull as on the whole frame, at a fraction of the cost
    hull[sl] = convex_hull_image(nucleus[sl])
    clear = ~B.distance_within(hull, _px(RBC_CLEAR_UM, pixel_size))
    r = _px(RBC_MIN_RADIUS_UM, pixel_size)
    peaks = peak_local_max(dist, min_distance=int(r), threshold_abs=r, labels=fg.astype(np.int32),
                           exclude_border=False)
    for k, (y, x) in enumerate(p for p in peaks if clear[p[0], p[1]]):
        markers[y, x] = k + 2
    return markers


def _keep_with(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    lab = label(mask)
    keep = np.unique(lab[seed & mask])
    return np.isin(lab, keep[keep > 0])


def _clip_to_circle(cell: np.ndarray, fg: np.ndarray, pixel_size: float, force: bool) -> np.ndarray:
    """Cut what juts out of the circle fitted to the cell's glass-facing outline (a red cell
    lying on the cytoplasm leaves no neck for the watershed; the outline against glass is true).

    Done when the cell is not convex (``force``), or when the glass-facing outline is a good circle
    (RMS residual <= ``CIRCLE_RMS_UM``, so an irregular monocyte keeps its shape) and the cell
    pokes out of it by more than ``CLIP_MIN_FRACTION`` of its area.
    """
    edge = cell & ~ndi.binary_erosion(cell)
    glass = edge & ndi.binary_dilation(~fg, structure=disk(2))
    pts = np.argwhere(glass).astype(float)
    if len(pts) < max(12, GLASS_MIN_FRACTION * edge.sum()):
        return cell
    circle = CircleModel.from_estimate(pts)
    if not circle:
        return cell
    (cy, cx), r = circle.center, circle.radius
    rms = float(np.sqrt(np.mean(circle.residuals(pts) ** 2)))
    yy, xx = np.ogrid[:cell.shape[0], :cell.shape[1]]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= (r + _px(CLIP_MARGIN_UM, pixel_size)) ** 2
    if force or (rms <= _px(CIRCLE_RMS_UM, pixel_size) and (cell & ~inside).sum() > CLIP_MIN_FRACTION * cell.sum()):
        return cell & inside
    return cell


def _drop_red_coloured(cell, nucleus, ratio, fg, pixel_size) -> np.ndarray:
    """Cut off the parts of the cell at its outline that have the colour of the red cells around it.

    Colour = OD_blue / OD_green: red cells absorb blue about half as much as green (~0.6), the
    cytoplasm of a monocyte hardly (~0.3), of a neutrophil somewhat (~0.4). The frame's own sure
    cytoplasm (within 1 um of the nucleus) and sure red cells (stained, outside the cell) give
    the two levels; nothing is cut unless they differ by ``RBC_COLOUR_GAP``.
    """
    sure_cyto = B.dilate(nucleus, _px(1.0, pixel_size)) & cell & ~nucleus
    sure_rbc = fg & ~B.dilate(cell, 3)
    if sure_cyto.sum() < 20 or sure_rbc.sum() < 50:
        return cell
    c, r = float(np.median(ratio[sure_cyto])), float(np.median(ratio[sure_rbc]))
    if r - c < RBC_COLOUR_GAP:
        return cell
    red = B.opening((ratio > (c + r) / 2) & cell & ~B.dilate(nucleus, _px(1.0, pixel_size)), 2)
    outline = cell & ~B.erode(cell, 1)
    lab = label(red)
    touching = np.unique(lab[outline & red])
    red = np.isin(lab, touching[touching > 0])
    if not red.any():
        return cell
    return _keep_with(B.opening(cell & ~red, _px(OPEN_UM, pixel_size)) | nucleus, nucleus)


def _cell_region(fg: np.ndarray, nucleus: np.ndarray, parts: np.ndarray, ratio: np.ndarray,
                 pixel_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell, nucleus, regions): the leukocyte's watershed region of the foreground's distance
    transform, red cells (and other cells) as rivals, fragments opened off; nuclear parts lying
    inside the cell join the nucleus. ``regions`` labels the rivals (for the quality check)."""
    fg = fg | nucleus
    dist = ndi.distance_transform_edt(fg)
    regions = watershed(-dist, _rbc_markers(dist, fg, nucleus, pixel_size), mask=fg)
    cell = B.fill_holes(regions == 1)
    cell = _keep_with(B.opening(cell, _px(OPEN_UM, pixel_size)) | nucleus, nucleus)
    cell = _drop_red_coloured(cell, nucleus, ratio, fg, pixel_size)
    force = _solidity(cell) < CLIP_SOLIDITY
    cell = _keep_with(_clip_to_circle(cell, fg, pixel_size, force) | nucleus, nucleus)
    inner = np.unique(parts[cell & (parts > 0) & ~nucleus])
    for k in inner:  # a lobe whose filament is invisible, lying inside the cell
        part = parts == k
        if (part & cell).sum() >= 0.8 * part.sum():
            nucleus = nucleus | part
    return cell, nucleus, regions


def _solidity(mask: np.ndarray) -> float:
    props = regionprops(mask.astype(np.uint8))
    return float(props[0].solidity) if props else 0.0


def _second_nucleus(cell, nucleus, parts, fg, regions, pixel_size) -> float:
    """Chromatin area (um2) of the largest other nucleus touching the cell, directly or through
    the watershed region of its own cytoplasm (all its lobes summed); 0 if none."""
    rim = B.dilate(cell, 3) & fg & ~cell
    chromatin = (parts > 0) & ~nucleus
    areas = [float((parts == k).sum()) for k in np.unique(parts[rim & chromatin])]
    areas += [float(((regions == k) & chromatin).sum()) for k in np.unique(regions[rim]) if k > 1]
    return max(areas, default=0.0) * pixel_size ** 2


def _quality(cell, nucleus, parts, fg, regions, pixel_size) -> tuple[str, str]:
    edge = np.concatenate([cell[0], cell[-1], cell[:, 0], cell[:, -1]]).sum()
    if edge > BORDER_TOUCH_PX:
        return "cut_at_border", f"{int(edge)} cell pixels on the frame edge"
    other = _second_nucleus(cell, nucleus, parts, fg, regions, pixel_size)
    if other >= OTHER_NUCLEUS_UM2:
        return "several_cells", f"a second nucleus ({other:.0f} um2) touches the cell"
    area = float(cell.sum()) * pixel_size ** 2
    lo, hi = CELL_AREA_UM2
    if not lo <= area <= hi:
        return "segmentation_failed", f"cell area {area:.0f} um2 outside {lo:.0f}-{hi:.0f}"
    solidity = _solidity(cell)
    if solidity < MIN_SOLIDITY:
        return "segmentation_failed", f"cell solidity {solidity:.2f} < {MIN_SOLIDITY}"
    return "ok", ""


def _block_mean(a: np.ndarray) -> np.ndarray:
    """Mean over COARSE x COARSE blocks (the frame's last odd row/column dropped)."""
    h, w = (a.shape[0] // COARSE) * COARSE, (a.shape[1] // COARSE) * COARSE
    a = a[:h, :w]
    if COARSE == 2:  # 7x faster than the reshape mean, and bit-identical to it (pairs summed the same way)
        return ((a[0::2, 0::2] + a[0::2, 1::2]) + (a[1::2, 0::2] + a[1::2, 1::2])) / np.asarray(4, a.dtype)
    return a.reshape(h // COARSE, COARSE, w // COARSE, COARSE).mean(axis=(1, 3))


def _upsample(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A coarse mask back at full resolution (bilinear, cut at 0.5: no blocky staircase)."""
    up = np.repeat(np.repeat(mask.astype(np.float32), COARSE, 0), COARSE, 1)
    up = ndi.uniform_filter(up, COARSE + 1) > 0.5
    out = np.zeros(shape, bool)
    h, w = min(shape[0], up.shape[0]), min(shape[1], up.shape[1])
    out[:h, :w] = up[:h, :w]
    if h < shape[0]:
        out[h:, :w] = out[h - 1:h, :w]
    if w < shape[1]:
        out[:, w:] = out[:, w - 1:w]
    return out


def _full_nucleus(purple, od_g, coarse_nucleus, pixel_size) -> np.ndarray:
    """The nucleus at full resolution: chromatin pixels near the coarse nucleus, small gaps closed."""
    near = _upsample(B.dilate(coarse_nucleus, 2), purple.shape)
    sl = bbox(near, 2)
    nuc = (purple[sl] > NUCLEUS_PURPLE) & (od_g[sl] > NUCLEUS_PURPLE) & near[sl]
    nuc = ndi.binary_closing(nuc, structure=disk(1))
    holes = ndi.binary_fill_holes(nuc) & ~nuc
    small = remove_small_objects(holes, max_size=int(_px2(NUCLEUS_HOLE_UM2, pixel_size)))
    nuc |= holes & ~small
    out = np.zeros(purple.shape, bool)
    out[sl] = remove_small_objects(nuc, max_size=int(_px2(MIN_NUCLEUS_PART_UM2, pixel_size)))
    return out


def segment_cell(image: np.ndarray, pixel_size: float = DEFAULT_PIXEL_SIZE_UM) -> CellMasks:
    """Segment the centred leukocyte of an RGB uint8 image; never raises on a bad picture.

    The cell is found on a 2x downsampled copy (4x faster; red cells and cells are
    ~40-150 px across there), the nucleus is then traced at full resolution.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {image.shape}")
    bg = background_rgb(image)
    od = optical_density(image, bg)
    od_g = od[..., 1]
    purple = od_g - od[..., 2]
    ps = pixel_size * COARSE
    c_g, c_p = _block_mean(od_g), _block_mean(purple)
    parts = _nucleus_parts(c_p, c_g, ps)
    nucleus, why = _central_nucleus(parts, ps)
    if nucleus is None:
        return CellMasks("no_cell", why, background=bg, od=od)
    fg = _foreground(c_g, ps)
    c_b = _block_mean(od[..., 2])
    ratio = ndi.gaussian_filter(c_b, 1.0) / np.maximum(ndi.gaussian_filter(c_g, 1.0), 0.02)
    cell, nucleus, regions = _cell_region(fg, nucleus, parts, ratio, ps)
    quality, why = _quality(cell, nucleus, parts, fg, regions, ps)
    nucleus = _full_nucleus(purple, od_g, nucleus, pixel_size)
    cell = (_upsample(cell, od_g.shape) | nucleus)
    return CellMasks(quality, why, cell, nucleus, cell & ~nucleus, bg, od)
