"""Nuclear shape: lobe count, the thinnest bridge between lobes, constriction, notches, pseudo-Pelger, spikes.

Lobes are counted from the nucleus mask's distance transform (the half-width
at each pixel): the cores where it exceeds ``LOBE_CORE`` times the nucleus's
typical half-width (95th percentile) seed one lobe each, so a filament or a
neck narrower than that splits lobes while the gentle waist of a band does not;
a watershed of the distance transform grows the lobes from their cores.
Separate nuclear parts (a filament too faint to see) are lobes too. Lobes that
overlap or press on each other leave no thin neck but two sharp notches in the
outline, facing each other where the lobes meet (a haematologist's cue for a
segmented nucleus whose filament is hidden): two such notches joined by a chord
inside the nucleus, shorter than the nucleus's width, cut it there before the
lobes are counted (each notch at most once, shortest chord first). The bridge
between two lobes is the width at their saddle on the line where they meet.

* ``nucleus_lobes``: number of lobes (1 for a band, round or kidney nucleus).
* ``lobe_bridge_um``: width of the thinnest bridge between two lobes; a nucleus
  of one lobe has no bridge, and gets its own full width (no constriction).
* ``lobe_constriction``: the nucleus's narrowest neck over its typical width
  (twice the 95th-percentile half-width): the lowest saddle of the distance
  transform between two parts of at least ``MIN_LOBE_UM2``, over that
  half-width; 1 = no neck (a band of even width is near 1), 0 = parts apart.
  The CAP rule calls a nucleus segmented when its narrowest part is under a
  third of its widest; this is the continuous form of that cue.
* ``nuclear_notches``: sharp concave corners of the nuclear outline (the
  outline turns inward by more than 60 degrees over ``NOTCH_ARC_UM`` on each
  side, at least ``NOTCH_MIN_DEPTH_UM`` inside the convex hull): where lobes
  meet or overlap. The smooth inner curve of a band's C is not a notch.
* ``pseudo_pelger``: 1 for two round lobes of similar size (spectacles), or a
  single round/peanut nucleus (solidity >= ``PELGER_SOLIDITY``, axis ratio <=
  ``PELGER_ELONGATION``), else 0. Only meaningful for neutrophils.
* ``nuclear_spikes``: thin, short protrusions of the nuclear outline (the
  "spikes" of De Almeida Braga et al. 2025): parts removed by an opening of
  radius ``SPIKE_OPEN_UM`` that are at least ``SPIKE_MIN_LEN_UM`` long.

The notch limits were chosen on every 2nd band/segmented neutrophil of
``../shared/data/wbc`` (by file name) and checked on the other half
(docs/morphology.md, "Band vs segmented").
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import line
from skimage.measure import find_contours, label, regionprops
from skimage.morphology import convex_hull_image
from skimage.segmentation import watershed

from . import binary as B

LOBE_CORE = 0.55           # a neck narrower than this fraction of the nucleus's width splits lobes
MIN_LOBE_UM2 = 2.0         # smaller nuclear pieces are not lobes (drumsticks, debris)
PELGER_SOLIDITY = 0.92
PELGER_ELONGATION = 1.6    # major / minor axis of a round or peanut nucleus
PELGER_LOBE_RATIO = 0.5    # the smaller of two pelger lobes is at least this fraction of the larger
SPIKE_OPEN_UM = 0.5
SPIKE_MIN_LEN_UM = 0.6
NOTCH_ARC_UM = 1.4         # the outline's turn at a point: chords to the outline points this far on each side
NOTCH_MAX_ANGLE = 120.0    # a notch: those two chords meet at less than this angle (degrees), opening outward
NOTCH_MIN_DEPTH_UM = 0.4   # ... at a point at least this far inside the nucleus's convex hull
NOTCH_SMOOTH_UM = 0.1      # the mask is smoothed this much (Gaussian sigma) before its outline is traced
NOTCH_CUT_RATIO = 1.0      # two notches split lobes when their chord is shorter than this x the nucleus's width
CHORD_INSIDE = 0.9         # ... and at least this fraction of the chord (2 px at each end left out) lies on the nucleus
_PAD = 4


def lobes(nucleus: np.ndarray, pixel_size: float, notch_points=None) -> tuple[np.ndarray, int, float]:
    """(lobe label image, number of lobes, thinnest bridge width in um) of a nucleus mask.

    ``notch_points``: the nucleus's :func:`notches`, if already computed.
    """
    if not nucleus.any():
        return np.zeros(nucleus.shape, np.int32), 0, 0.0
    min_area = MIN_LOBE_UM2 / pixel_size ** 2
    dist = ndi.distance_transform_edt(nucleus)
    half = float(np.percentile(dist[dist > 0], 95))
    if notch_points is None:
        notch_points = notches(nucleus, pixel_size)
    cut = cut_at_notches(nucleus, notch_points, 2.0 * half)
    cdist = dist if cut is nucleus else ndi.distance_transform_edt(cut)
    peaks = label(cdist > LOBE_CORE * half)
    parts = label(cut)
    # every nuclear part gets at least one seed
    for r in regionprops(parts):
        if not peaks[parts == r.label].any():
            y, x = np.unravel_index(np.argmax(np.where(parts == r.label, cdist, -1)), cdist.shape)
            peaks[y, x] = peaks.max() + 1
    lab = watershed(-cdist, peaks, mask=cut)
    if cut is not nucleus:  # the cut's pixels go to the nearest lobe
        idx = ndi.distance_transform_edt(lab == 0, return_distances=False, return_indices=True)
        lab = np.where(nucleus, lab[tuple(idx)], 0)
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
            line_ab = grown & (lab == b)
            if line_ab.any():
                touching = True
                best = min(best, 2.0 * float(dist[line_ab].max()))
    return best if touching else 0.0


def notches(nucleus: np.ndarray, pixel_size: float, hull: np.ndarray | None = None) -> list[tuple[float, float, float]]:
    """Sharp concave corners of the nuclear outline: ``(y, x, angle in degrees)``, one per notch.

    At each point of the (lightly smoothed) outline, the chords to the outline points
    ``NOTCH_ARC_UM`` before and after it meet at an angle; a concave point (the chords'
    far ends' midpoint lies outside the nucleus) sharper than ``NOTCH_MAX_ANGLE`` and at
    least ``NOTCH_MIN_DEPTH_UM`` inside the convex hull belongs to a notch; each run of
    such points gives its sharpest point. ``hull``: the nucleus's convex hull image, if known.
    """
    if not nucleus.any():
        return []
    k = max(2, int(round(NOTCH_ARC_UM / pixel_size)))
    padded = np.pad(nucleus, _PAD)
    smooth = ndi.gaussian_filter(padded.astype(np.float32), NOTCH_SMOOTH_UM / pixel_size)
    depth = ndi.distance_transform_edt(convex_hull_image(padded) if hull is None else np.pad(hull, _PAD))
    min_depth = NOTCH_MIN_DEPTH_UM / pixel_size
    out = []
    for c in find_contours(smooth, 0.5):
        if len(c) < 4 * k or not np.allclose(c[0], c[-1]):
            continue
        c = c[:-1]
        a, b = np.roll(c, k, 0) - c, np.roll(c, -k, 0) - c
        angle = np.degrees(np.arctan2(np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]), (a * b).sum(1)))
        mid = _pixel(c + (a + b) / 2, smooth.shape)
        at = _pixel(c, smooth.shape)
        concave = ((smooth[mid[:, 0], mid[:, 1]] <= 0.5) & (angle < NOTCH_MAX_ANGLE)
                   & (depth[at[:, 0], at[:, 1]] >= min_depth))
        for run in _circular_runs(concave):
            i = run[np.argmin(angle[run])]
            out.append((float(c[i, 0]) - _PAD, float(c[i, 1]) - _PAD, float(angle[i])))
    return out


def _pixel(points: np.ndarray, shape) -> np.ndarray:
    return np.clip(np.round(points).astype(int), 0, np.array(shape) - 1)


def _circular_runs(flags: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the runs of True in a circular boolean array."""
    if not flags.any():
        return []
    if flags.all():
        return [np.arange(len(flags))]
    start = int(np.argmin(flags))  # a False: no run wraps past it
    order = np.roll(np.arange(len(flags)), -start)
    f = flags[order]
    edges = np.diff(np.r_[0, f.astype(np.int8), 0])
    return [order[s:e] for s, e in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0])]


def cut_at_notches(nucleus: np.ndarray, notch_points, width: float) -> np.ndarray:
    """The nucleus cut along chords joining two notches (shorter than ``NOTCH_CUT_RATIO`` x ``width``
    px, at least ``CHORD_INSIDE`` on the nucleus); each notch used once, shortest chord first.
    Returns ``nucleus`` itself when nothing is cut."""
    h, w = nucleus.shape
    chords = []
    for (i, p), (j, q) in itertools.combinations(enumerate(notch_points), 2):
        length = float(np.hypot(q[0] - p[0], q[1] - p[1]))
        if not 2 <= length < NOTCH_CUT_RATIO * width:
            continue
        rr, cc = line(int(round(p[0])), int(round(p[1])), int(round(q[0])), int(round(q[1])))
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        rr, cc = rr[ok], cc[ok]
        inner = slice(2, -2) if len(rr) > 6 else slice(None)  # its ends sit on the (smoothed) outline
        if len(rr) and nucleus[rr[inner], cc[inner]].mean() >= CHORD_INSIDE:
            chords.append((length, i, j, rr, cc))
    if not chords:
        return nucleus
    out, used = nucleus.copy(), set()
    for _, i, j, rr, cc in sorted(chords, key=lambda t: t[0]):
        if i in used or j in used:
            continue
        used |= {i, j}
        out[rr, cc] = False
        out[np.minimum(rr + 1, h - 1), cc] = False  # two pixels thick: no diagonal leak
    return out


def constriction(nucleus: np.ndarray, pixel_size: float) -> float:
    """The nucleus's narrowest neck over its typical half-width (1 = none, 0 = parts apart).

    The lowest saddle of the distance transform at which two parts of at least
    ``MIN_LOBE_UM2`` join (a merge tree of the watershed basins of every local maximum,
    joined from the highest saddle down), over the 95th-percentile half-width.
    """
    if not nucleus.any():
        return 0.0
    min_area = MIN_LOBE_UM2 / pixel_size ** 2
    dist = ndi.distance_transform_edt(nucleus)
    half = float(np.percentile(dist[dist > 0], 95))
    seeds = label((dist >= ndi.maximum_filter(dist, 3)) & nucleus)
    basins = watershed(-dist, seeds, mask=nucleus)
    area = np.bincount(basins.ravel()).astype(float)
    parent = np.arange(len(area))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    lowest = None
    for s, p, q in _saddles(basins, dist):
        rp, rq = root(p), root(q)
        if rp == rq:
            continue
        if area[rp] >= min_area and area[rq] >= min_area:
            lowest = s  # saddles come highest first: the last one is the narrowest neck
        parent[rq] = rp
        area[rp] += area[rq]
    big = sum(area[root(i)] >= min_area for i in {root(i) for i in range(1, len(area))})
    if big >= 2:
        return 0.0
    return 1.0 if lowest is None else min(1.0, lowest / half)


def _saddles(basins: np.ndarray, dist: np.ndarray) -> list[tuple[float, int, int]]:
    """``(saddle, a, b)`` for every pair of touching basins, highest first: the saddle is the largest
    min(dist) over 8-neighbouring pixel pairs across their border."""
    h, w = basins.shape
    keys, vals = [], []
    n = int(basins.max()) + 1
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        sa = (slice(0, h - dy), slice(max(0, -dx), w - max(0, dx)))
        sb = (slice(dy, h), slice(max(0, dx), w - max(0, -dx)))
        a, b = basins[sa], basins[sb]
        m = (a > 0) & (b > 0) & (a != b)
        keys.append(np.minimum(a[m], b[m]).astype(np.int64) * n + np.maximum(a[m], b[m]))
        vals.append(np.minimum(dist[sa][m], dist[sb][m]))
    keys, vals = np.concatenate(keys), np.concatenate(vals)
    if not len(keys):
        return []
    uniq, inv = np.unique(keys, return_inverse=True)
    best = np.full(len(uniq), -np.inf)
    np.maximum.at(best, inv, vals)
    order = np.argsort(-best, kind="stable")
    return [(float(best[o]), int(uniq[o] // n), int(uniq[o] % n)) for o in order]
def pseudo_pelger(nucleus: np.ndarray, lab: np.ndarray, n_lobes: int, props=None) -> int:
    """1 if the nucleus looks pseudo-Pelger (two round lobes, or one round/peanut nucleus).

    ``props``: the nucleus's ``regionprops`` (all of it one region), if already computed."""
    if n_lobes == 2:  # lobe shapes without the filament between them
        r_open = max(1, int(round(0.3 * float(ndi.distance_transform_edt(nucleus).max()))))
        rs = _largest(regionprops(label(B.opening(lab > 0, r_open) & (lab > 0))), 2)
        if len(rs) == 2:
            if rs[1].area < PELGER_LOBE_RATIO * rs[0].area:
                return 0
            return int(all(_round(r) for r in rs))
        # two lobes pressed together, no filament between them: judged as one peanut nucleus
    if n_lobes in (1, 2):
        if props is None:
            found = regionprops(nucleus.astype(np.uint8))
            props = found[0] if found else None
        return int(props is not None and _round(props))
    return 0


def _round(r) -> bool:
    return r.solidity >= PELGER_SOLIDITY and r.axis_major_length / max(r.axis_minor_length, 1e-6) <= PELGER_ELONGATION


def _largest(regions, n: int) -> list:
    return sorted((r for r in regions if r.area > 0), key=lambda r: -r.area)[:n]


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
