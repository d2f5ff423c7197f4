"""Real-texture mode: plant vacuoles into real single-cell images.

Instead of drawing a cell from scratch, take a real CellaVision-like image (one
leukocyte, centred), find its cytoplasm by colour segmentation and plant clear
round vacuoles there. Everything else in the image is left as it was. A cell
whose cytoplasm cannot be found (no nucleus near the centre, or too little
cytoplasm around it) is used unchanged, and that is recorded.

Segmentation, all on a lightly smoothed image:

* background (glass): the colour of the brightest pixels; a pixel belongs to
  the slide's stained matter when it is far enough from that colour;
* nucleus: dark pixels (green channel below half the background's), the
  component nearest the centre plus any other within reach (lobes);
* cytoplasm: stained, non-nucleus pixels inside a disc around the nucleus
  (its largest radius plus a margin), in the component touching the nucleus,
  not coloured like a red cell (a red cell touching or lying on the leukocyte
  is not cytoplasm: a "vacuole" there would be a hole in a red cell).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from ..exceptions import InputError
from ..data.scan import IMAGE_SUFFIXES

#: Folder names accepted for each cell type under --source-images.
SOURCE_FOLDERS = {"PN": ("PN", "neutrophil", "neutrophils"), "MO": ("MO", "monocyte", "monocytes"),
                  "LY": ("LY", "lymphocyte", "lymphocytes")}
MIN_CYTOPLASM = 400   # px
#: Red cells absorb blue at ~0.6 of green (0.62 on the red cells that the star took in, in every
#: 15th frame of ../shared/data/wbc), leukocyte cytoplasm at ~0.4 (neutrophils) and ~0.3 (monocytes).
RED_RATIO = 0.55
ENCLOSED_PX = 3       # cytoplasm kept all round a planted vacuole, px (beyond the placing gap)


@dataclass
class Cytoplasm:
    mask: np.ndarray          # bool HxW: cytoplasm
    nucleus: np.ndarray       # bool HxW
    background: np.ndarray    # RGB of the glass


def load_rgb(path) -> np.ndarray:
    """A source image as an H x W x 3 uint8 array, through the scanner's safe RGB conversion."""
    from ..data.scan import load_rgb as load_checked

    return np.asarray(load_checked(path))


def find_cytoplasm(image: np.ndarray) -> Cytoplasm | None:
    """Segment the centred cell's cytoplasm; ``None`` if it cannot be found."""
    a = ndi.gaussian_filter(image.astype(np.float32), (1.2, 1.2, 0))
    h, w = a.shape[:2]
    grey = a.mean(axis=2)
    bright = grey >= np.percentile(grey, 90)
    bg = np.median(a[bright], axis=0)
    if bg[1] < 60:
        return None
    stained = np.linalg.norm(a - bg, axis=2) > 28
    dark = a[..., 1] < 0.5 * bg[1]
    dark = ndi.binary_opening(dark, iterations=1)
    lab, n = ndi.label(dark)
    if n == 0:
        return None
    idx = np.arange(1, n + 1)
    areas = ndi.sum(dark, lab, idx)
    cents = np.array(ndi.center_of_mass(dark, lab, idx)).reshape(-1, 2)
    dist = np.hypot(cents[:, 0] - h / 2, cents[:, 1] - w / 2)
    ok = (areas >= 150) & (dist < 0.35 * min(h, w))
    if not ok.any():
        return None
    first = int(np.argmin(np.where(ok, dist, np.inf)))
    anchor = cents[first]
    keep = [i for i in range(n) if areas[i] >= 60 and np.hypot(*(cents[i] - anchor)) < 0.22 * min(h, w)]
    nucleus = ndi.binary_fill_holes(np.isin(lab, [i + 1 for i in keep]))
    yy, xx = np.nonzero(nucleus)
    cy, cx = yy.mean(), xx.mean()
    rn = np.sqrt(((yy - cy) ** 2 + (xx - cx) ** 2).max())
    cell = _star_cell(stained | nucleus, cy, cx, rn)
    # stained: no glass inside the star; not red: no red cell touching or lying on the leukocyte
    mask = cell & stained & ~_red(a, bg) & ~ndi.binary_dilation(nucleus, iterations=1)
    mask = ndi.binary_opening(mask, iterations=1)
    if mask.sum() < MIN_CYTOPLASM:
        return None
    return Cytoplasm(mask=mask, nucleus=nucleus, background=bg)


def _red(a: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Pixels coloured like red cells: optical density blue / green above ``RED_RATIO``."""
    od = -np.log(np.clip(a / np.maximum(bg, 1.0), 1e-3, None))
    return od[..., 2] > RED_RATIO * np.maximum(od[..., 1], 0.05)


def _star_cell(stained, cy, cx, rn, n_rays=180):
    """Star-shaped cell mask around (cy, cx): along each ray, the stained run from the centre.

    Per-ray radii are median-filtered over angle and capped at 1.12x their median,
    so a red cell touching the leukocyte is cut off at the cell's outline.
    """
    h, w = stained.shape
    t = np.linspace(0, 2 * np.pi, n_rays, endpoint=False)
    rmax = int(min(h, w) * 0.5)
    r = np.arange(rmax)
    ys = np.clip(np.rint(cy + np.sin(t)[:, None] * r[None]).astype(int), 0, h - 1)
    xs = np.clip(np.rint(cx + np.cos(t)[:, None] * r[None]).astype(int), 0, w - 1)
    along = stained[ys, xs]
    along[:, :max(1, int(rn * 0.5))] = True
    first = np.where(along.all(axis=1), rmax, np.argmin(along, axis=1)).astype(float)
    first = ndi.median_filter(first, size=9, mode="wrap")
    first = np.minimum(first, 1.12 * np.median(first)) - 1.5
    Y, X = np.mgrid[:h, :w]
    ang = np.mod(np.arctan2(Y - cy, X - cx), 2 * np.pi)
    k = np.rint(ang / (2 * np.pi) * n_rays).astype(int) % n_rays
    return np.hypot(Y - cy, X - cx) <= first[k]


def plant_vacuoles(image: np.ndarray, n: int, radius: float, rng: np.random.Generator,
                   cytoplasm: Cytoplasm | None = None):
    """Plant up to ``n`` vacuoles (mean radius ``radius`` px) in the cytoplasm.

    Returns ``(image, record)``; ``record['texture_status']`` says what happened:
    ``planted``, ``no_vacuoles_requested`` or ``no_cytoplasm_found`` (image unchanged).
    """
    from .render import _place_discs

    rec = {"texture_status": "", "n_vacuoles_drawn": 0, "vacuole_radii": "", "vacuole_centers": ""}
    if n <= 0:
        rec["texture_status"] = "no_vacuoles_requested"
        return image, rec
    cyto = cytoplasm if cytoplasm is not None else find_cytoplasm(image)
    if cyto is None:
        rec["texture_status"] = "no_cytoplasm_found"
        return image, rec
    # A vacuole is enclosed by cytoplasm: like the drawn cells (render._vacuoles_and_inclusions), each
    # disc keeps >= 3 px (+ the placing gap) of the stained mask all round, never straddling the cell's
    # outline (a hole open to the glass is a notch, not a vacuole) or touching the nucleus.
    allowed = ndi.binary_erosion(cyto.mask, iterations=ENCLOSED_PX) & ~ndi.binary_dilation(cyto.nucleus, iterations=2)
    radii = [max(1.8, rng.normal(radius, 0.28 * radius)) for _ in range(int(n))]
    placed = _place_discs(rng, allowed, radii)
    out = image.astype(np.float32)
    Y, X = np.ogrid[:image.shape[0], :image.shape[1]]
    hole_colour = cyto.background * 0.985
    for y, x, r, _ in placed:
        d = np.sqrt((Y - y) ** 2 + (X - x) ** 2) - r
        alpha = (0.9 / (1 + np.exp(d / 0.6)))[..., None]
        rim = (0.07 * np.exp(-(d / 0.9) ** 2))[..., None]
        out = out * (1 - alpha) + hole_colour * alpha
        out = out * (1 - rim)
    if not placed:
        rec["texture_status"] = "no_room_in_cytoplasm"
        return image, rec
    rec.update(texture_status="planted", n_vacuoles_drawn=len(placed),
               vacuole_radii=";".join(f"{r:.1f}" for _, _, r, _ in placed),
               vacuole_centers=";".join(f"{x:.0f}:{y:.0f}" for y, x, _, _ in placed))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), rec


def source_images(root, cell_types) -> dict:
    """Real images per cell type under ``root``: ``root/<PN|neutrophil|...>/*``.

    A flat folder of images is accepted when exactly one cell type is asked for.
    Cell types with no folder get an empty list (rendered from scratch).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("--source-images must be a folder of real single-cell images", root)

    def images(folder):
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                      and not p.name.startswith("."))

    out = {}
    for ct in cell_types:
        for name in SOURCE_FOLDERS[ct]:
            if (root / name).is_dir():
                out[ct] = images(root / name)
                break
        else:
            out[ct] = []
    if not any(out.values()):
        flat = images(root)
        if flat and len(cell_types) == 1:
            out[cell_types[0]] = flat
        elif flat:
            raise InputError("a flat folder of source images needs exactly one cell type (--cell-types); "
                             "otherwise use subfolders PN/MO/LY or neutrophil/monocyte/lymphocyte", root)
        else:
            raise InputError("no source images found (expected subfolders PN/MO/LY or "
                             "neutrophil/monocyte/lymphocyte holding images)", root)
    return out
