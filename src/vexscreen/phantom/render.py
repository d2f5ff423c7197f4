"""The phantom cell renderer: one CellaVision-like RGB image per leukocyte.

Every image is built as an absorbance (Beer-Lambert) sum of stain densities over
a pale background, so overlapping structures mix like dyes do on a slide:

* a background of partial red cells (pale centres) and the odd platelet;
* the leukocyte: cytoplasm (type-specific colour, a slightly irregular outline,
  optional blebs), a nucleus (neutrophil lobes joined by thin filaments, band or
  pseudo-Pelger shapes; monocyte kidney/folded; lymphocyte round and dense) with
  chromatin texture, cytoplasmic granules (none/low/normal/high), clear round
  vacuoles and (monocytes) phagocytic inclusions;
* nuisance: per-smear stain shift (hue, saturation, brightness, stain
  intensities, background tint), per-cell rotation, size jitter, focus blur,
  sensor noise and a JPEG round trip like the analyser's.

:func:`render` returns the image, its masks and what was actually drawn (a
vacuole that does not fit in the cytoplasm is not drawn and not counted);
:func:`render_cell` returns the image only. All randomness comes from the
``numpy.random.Generator`` passed in, so a cell is a pure function of its spec
and its generator's seed.
"""
from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from ..study import CELL_TYPES
from .style import DRAWN, Style, get_style

#: Canvas size of a CellaVision DM96 crop (PBC dataset): width x height.
WIDTH, HEIGHT = 360, 363

#: Background (glass) colour and stain colours, measured on the real images in
#: ../shared/data/wbc (k-means centres); absorbances are taken relative to BG.
BG = np.array([252.0, 228.0, 202.0])
_COLOURS = {
    "nucleus": (82, 30, 138),
    "nucleus_ly": (78, 30, 148),
    "cyto_PN": (224, 188, 188),
    "cyto_PN_hypo": (214, 192, 206),   # hypogranular cytoplasm: paler, greyer
    "cyto_MO": (192, 172, 200),
    "cyto_LY": (172, 165, 214),
    "granule_PN": (172, 112, 162),
    "granule_toxic": (104, 46, 138),
    "granule_LY": (150, 48, 120),
    "rbc": (204, 160, 166),
    "inclusion": (96, 44, 120),
    "platelet": (128, 66, 160),
}
OD = {k: np.clip(-np.log(np.array(c, float) / BG), 0.0, None).astype(np.float32) for k, c in _COLOURS.items()}


@dataclass
class CellSpec:
    """Morphology and nuisance parameters of one phantom cell (all recorded in truth.csv)."""

    cell_type: str = "PN"             # PN, MO or LY
    cell_radius: float = 52.0         # px, before size jitter
    nucleus_scale: float = 1.0        # nucleus size relative to the cell type's usual
    nucleus_shape: str = "segmented"  # PN: segmented/band/pelger; MO: kidney/folded; LY: round
    n_lobes: int = 3                  # PN: nuclear lobes (1-6); others 1
    granulation: str = "normal"       # none/low/normal/high (high = toxic for PN, azurophilic LY)
    n_vacuoles: int = 0               # requested cytoplasmic vacuoles
    vacuole_radius: float = 4.0       # mean vacuole radius, px
    n_inclusions: int = 0             # MO phagocytic inclusions
    blebs: int = 0                    # LY cytoplasmic blebs
    large: bool = False               # LY: large (more cytoplasm) vs small mature
    angle: float = 0.0                # rotation, degrees
    size_jitter: float = 1.0          # multiplies every size
    blur_sigma: float = 0.6           # focus blur, px
    noise_sigma: float = 2.0          # sensor noise, grey levels
    jpeg_quality: int = 92            # 0 = no JPEG round trip
    stain_hue: float = 0.0            # degrees (per smear)
    stain_saturation: float = 1.0     # (per smear)
    stain_brightness: float = 1.0     # (per smear)
    stain_nucleus: float = 1.0        # nuclear stain intensity (per smear)
    stain_cytoplasm: float = 1.0      # cytoplasm stain intensity (per smear)
    background_tint: float = 0.0      # 0 pinkish-beige .. 1 bluish-grey (per smear)
    rbc_density: float = 0.45         # fraction of the canvas covered by red cells

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Rendered:
    image: np.ndarray                 # HxWx3 uint8
    masks: dict                       # name -> bool/int array, canvas coordinates
    drawn: dict = field(default_factory=dict)  # what was actually drawn


# --------------------------------------------------------------------------- helpers

_NOISE_BANK = np.random.default_rng(20231283).standard_normal(1 << 21, dtype=np.float32)


def _noise(rng, shape):
    """Standard normal sensor noise: a random window of a fixed bank (fast, and deterministic)."""
    n = int(np.prod(shape))
    off = int(rng.integers(0, _NOISE_BANK.size - n))
    return _NOISE_BANK[off:off + n].reshape(shape)


def _sig(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _smooth_noise(rng, shape, cell):
    """Smooth random field (mean 0, sd ~1) with correlation length ~cell px."""
    gh, gw = max(2, int(shape[0] / cell) + 3), max(2, int(shape[1] / cell) + 3)
    g = rng.standard_normal((gh, gw), dtype=np.float32)
    z = ndi.zoom(g, (shape[0] / (gh - 2), shape[1] / (gw - 2)), order=1, mode="nearest", grid_mode=True)
    return z[:shape[0], :shape[1]] if z.shape[0] >= shape[0] and z.shape[1] >= shape[1] else \
        np.pad(z, ((0, max(0, shape[0] - z.shape[0])), (0, max(0, shape[1] - z.shape[1]))), mode="edge")[:shape[0], :shape[1]]


def _harmonics(rng, n=5, amp=0.03):
    ks = np.arange(2, 2 + n)
    return ks, rng.normal(0, amp, n) / np.sqrt(ks - 1), rng.uniform(0, 2 * np.pi, n)


def _radial(theta, h):
    ks, a, p = h
    out = np.ones(theta.shape, np.float32)
    for k, ak, pk in zip(ks, a, p):
        out += np.float32(ak) * np.cos(np.float32(k) * theta + np.float32(pk))
    return out


def _ellipse_sdf(u, v, cx, cy, a, b, phi, h=None, bend=0.0):
    """Approximate signed distance to an ellipse (optionally bent into a bean: y -= bend * x^2 / a)."""
    c, s = np.float32(math.cos(phi)), np.float32(math.sin(phi))
    cx, cy, a, b = np.float32(cx), np.float32(cy), np.float32(a), np.float32(b)
    x, y = (u - cx) * c + (v - cy) * s, -(u - cx) * s + (v - cy) * c
    if bend:
        y = y - np.float32(bend) * x * x / a
    k = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    r = 1.0 if h is None else _radial(np.arctan2(y, x), h)
    return (k - r) * min(a, b)


def _extent(a, b, t):
    """Half-width of an ellipse (semi-axes a, b) along a direction at angle t to its a axis."""
    return math.hypot(a * math.cos(t), b * math.sin(t))


def _segment_dist(u, v, p, q):
    d = np.array(q, float) - np.array(p, float)
    L2 = float(d @ d) or 1e-9
    t = np.clip(((u - p[0]) * d[0] + (v - p[1]) * d[1]) / L2, 0, 1)
    return np.hypot(u - (p[0] + t * d[0]), v - (p[1] + t * d[1]))


def _scatter(shape, ys, xs, amps):
    m = np.zeros(shape, np.float32)
    ok = (ys >= 0) & (ys < shape[0]) & (xs >= 0) & (xs < shape[1])
    np.add.at(m, (ys[ok], xs[ok]), amps[ok])
    return m


# --------------------------------------------------------------------------- nuclei

def _neutrophil_lobes(rng, R, n, shape):
    """Lobe ellipses (cx, cy, a, b, phi) chained inside a disc of radius ~0.62 R."""
    if shape == "band":
        return None
    if shape == "pelger":
        if n <= 1:   # round / peanut, dense
            a = R * rng.uniform(0.42, 0.5)
            return [(rng.normal(0, R * 0.06), rng.normal(0, R * 0.06), a, a * rng.uniform(0.75, 0.95),
                     rng.uniform(0, np.pi))]
        b = R * rng.uniform(0.26, 0.31)
        d = 2 * b + R * rng.uniform(0.12, 0.22)
        phi = rng.uniform(0, np.pi)
        return [(s * d / 2 * math.cos(phi), s * d / 2 * math.sin(phi), b * rng.uniform(1.0, 1.12),
                 b * rng.uniform(0.88, 1.0), phi + np.pi / 2) for s in (-1, 1)]
    if n >= 4 or (n == 3 and rng.random() < 0.3):
        return _scattered_lobes(rng, R, n)
    # segmented: n lobes strung along an arc or an inward spiral (C, S, clover or snail shapes),
    # joined by filaments; many lobes curl up irregularly instead of closing into a ring
    for attempt in range(80):
        shrink = 0.97 ** attempt
        b0 = R * (0.25 - 0.015 * max(0, n - 3)) * shrink
        bs = b0 * rng.uniform(0.85, 1.15, n)
        as_ = bs * rng.uniform(1.4, 2.3 - 0.12 * max(0, n - 3), n)
        tilt = rng.normal(0, 0.4, n)           # lobe axis vs the arc tangent
        gaps = R * rng.uniform(0.1, 0.17, n)
        spiral = rng.uniform(0.25, 0.55) if n >= 4 else rng.uniform(0.0, 0.2)
        ra = R * rng.uniform(0.38, 0.5)
        rk = ra * (1 - spiral * np.arange(n) / max(1, n - 1))
        # arc length needed between consecutive centres, along the tangent
        steps = [_extent(as_[k], bs[k], tilt[k]) + _extent(as_[k + 1], bs[k + 1], tilt[k + 1]) + gaps[k]
                 for k in range(n - 1)]
        dth = [st / (0.5 * (rk[k] + rk[k + 1])) for k, st in enumerate(steps)]
        if sum(dth) > 2.1 * np.pi:
            continue
        t = rng.uniform(0, 2 * np.pi)
        direction = 1 if rng.random() < 0.5 else -1
        wob = rng.normal(0, 0.1, n)
        ts = [t]
        for d in dth:
            ts.append(ts[-1] + direction * d)
        mid = (ts[0] + ts[-1]) / 2
        off = rng.normal(0, 0.07 * R, 2) - 0.3 * ra * np.array([math.cos(mid), math.sin(mid)])
        lobes = [(off[0] + rk[k] * (1 + wob[k]) * math.cos(ts[k]), off[1] + rk[k] * (1 + wob[k]) * math.sin(ts[k]),
                  as_[k], bs[k], ts[k] + np.pi / 2 + tilt[k]) for k in range(n)]
        ok = all(math.hypot(L[0], L[1]) + 0.5 * (L[2] + L[3]) < 0.86 * R for L in lobes)
        for p in range(n):
            for q in range(p + 1, n):
                P, Q = lobes[p], lobes[q]
                h = math.atan2(Q[1] - P[1], Q[0] - P[0])
                if math.hypot(Q[0] - P[0], Q[1] - P[1]) < _extent(P[2], P[3], h - P[4]) + \
                        _extent(Q[2], Q[3], h - Q[4]) + 0.08 * R:
                    ok = False
        if ok:
            return lobes
    raise RuntimeError(f"cannot place {n} lobes")  # pragma: no cover


def _lobes_apart(P, Q, R):
    h = math.atan2(Q[1] - P[1], Q[0] - P[0])
    return math.hypot(Q[0] - P[0], Q[1] - P[1]) >= _extent(P[2], P[3], h - P[4]) + \
        _extent(Q[2], Q[3], h - Q[4]) + 0.08 * R


def _scattered_lobes(rng, R, n):
    """n lobes scattered in a cluster (no overlap), ordered into a chain by nearest neighbour."""
    for attempt in range(80):
        shrink = 0.97 ** attempt
        b0 = R * (0.23 - 0.012 * max(0, n - 4)) * shrink
        lobes = []
        for k in range(n):
            b = b0 * rng.uniform(0.85, 1.15)
            a = b * rng.uniform(1.3, 1.9)
            lim = 0.84 * R - 0.5 * (a + b)
            for _ in range(60):
                rr, th = lim * math.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
                L = (rr * math.cos(th), rr * math.sin(th), a, b, rng.uniform(0, np.pi))
                if all(_lobes_apart(L, M, R) for M in lobes):
                    lobes.append(L)
                    break
            else:
                break
        if len(lobes) < n:
            continue
        # chain: start at the lobe farthest out, then nearest neighbour
        order = [int(np.argmax([math.hypot(L[0], L[1]) for L in lobes]))]
        while len(order) < n:
            last = lobes[order[-1]]
            rest = [i for i in range(n) if i not in order]
            order.append(min(rest, key=lambda i: math.hypot(lobes[i][0] - last[0], lobes[i][1] - last[1])))
        return [lobes[i] for i in order]
    raise RuntimeError(f"cannot place {n} lobes")  # pragma: no cover


def _nucleus_field(rng, spec, R, u, v, style: Style = DRAWN):
    """Return (density field in [0,1], lobe label map or None, n_lobes drawn)."""
    ct = spec.cell_type
    ns = spec.nucleus_scale
    if ct == "PN":
        if spec.nucleus_shape == "band":
            ns = ns * style.band_nucleus_gain
            ra = R * rng.uniform(0.36, 0.44) * ns
            span = rng.uniform(2.6, 4.0)
            t0 = rng.uniform(0, 2 * np.pi)
            ts = np.linspace(t0, t0 + span, 24)
            w = R * rng.uniform(0.15, 0.19) * ns * (1 + 0.25 * np.sin(np.linspace(0, np.pi, 24)) * rng.uniform(0, 1))
            sdf = np.full(u.shape, 1e9, np.float32)
            for t, wi in zip(ts, w):
                sdf = np.minimum(sdf, np.hypot(u - ra * math.cos(t), v - ra * math.sin(t)) - wi)
            f = _sig(-sdf / 0.7)
            return f, (sdf < 0).astype(np.int32), 1
        n = int(spec.n_lobes)
        lobes = _neutrophil_lobes(rng, R * ns, n, spec.nucleus_shape)
        f = np.zeros(u.shape, np.float32)
        labels = np.zeros(u.shape, np.int32)
        for i, (cx, cy, a, b, phi) in enumerate(lobes):
            bend = rng.uniform(-0.35, 0.35) if spec.nucleus_shape == "segmented" else 0.0
            sdf = _ellipse_sdf(u, v, cx, cy, a, b, phi, _harmonics(rng, 4, 0.06), bend=bend)
            f = np.maximum(f, _sig(-sdf / 0.7))
            labels[sdf < 0] = i + 1
        # thin filaments between consecutive lobes (not in pelger round)
        for L, M in zip(lobes[:-1], lobes[1:]):
            w = rng.uniform(0.8, 1.3) * style.filament_width
            d = _segment_dist(u, v, L[:2], M[:2])
            f = np.maximum(f, min(1.0, rng.uniform(0.45, 0.6) * style.filament_density) * _sig((w - d) / 0.5))
        return f, labels, len(lobes)
    if ct == "MO":
        a, b = R * rng.uniform(0.68, 0.78) * ns, R * rng.uniform(0.54, 0.64) * ns
        cx, cy = rng.normal(0, 0.08 * R), rng.normal(0, 0.08 * R)
        sdf = _ellipse_sdf(u, v, cx, cy, a, b, 0.0, _harmonics(rng, 6, 0.09), bend=rng.uniform(-0.2, 0.2))
        # kidney: bite out of one long side; folded: a deeper, narrower bite + fold lines
        deep = spec.nucleus_shape == "folded"
        nr = b * (rng.uniform(0.55, 0.8) if deep else rng.uniform(0.6, 0.9))
        nx, ny = cx + rng.normal(0, 0.15 * a), cy + b + nr * (0.35 if deep else 0.6)
        notch = np.hypot(u - nx, v - ny) - nr
        sdf = np.maximum(sdf, -notch)
        f = _sig(-sdf / 0.8)
        if deep:
            for _ in range(rng.integers(1, 3)):
                p = (cx + rng.uniform(-a, a) * 0.6, cy + rng.uniform(-b, b) * 0.6)
                ang = rng.uniform(0, np.pi)
                q = (p[0] + 0.6 * a * math.cos(ang), p[1] + 0.6 * a * math.sin(ang))
                f = f * (1 - 0.35 * _sig((1.2 - _segment_dist(u, v, p, q)) / 0.6))
        return f, (sdf < 0).astype(np.int32), 1
    # LY: round, dense, slightly eccentric
    rn = R * (rng.uniform(0.66, 0.74) if spec.large else rng.uniform(0.8, 0.88)) * ns
    off = R - rn
    ang = rng.uniform(0, 2 * np.pi)
    e = rng.uniform(0.2, 0.7) * off
    cx, cy = e * math.cos(ang), e * math.sin(ang)
    sdf = _ellipse_sdf(u, v, cx, cy, rn, rn * rng.uniform(0.9, 1.0), rng.uniform(0, np.pi), _harmonics(rng, 4, 0.03))
    # a small nuclear cleft now and then
    f = _sig(-sdf / 0.7)
    return f, (sdf < 0).astype(np.int32), 1


# --------------------------------------------------------------------------- render

def _place_discs(rng, allowed, radii, gap=1.5):
    """Place discs of the given radii fully inside ``allowed``; return [(y, x, r)] that fit."""
    placed = []
    if not len(radii) or not allowed.any():
        return placed
    dist = ndi.distance_transform_edt(allowed)
    pts = np.argwhere(dist >= min(radii) + gap)
    dpts = dist[pts[:, 0], pts[:, 1]]
    for i, r in enumerate(radii):
        ok = dpts >= r + gap
        for (py, px, pr, _) in placed:
            ok &= (pts[:, 0] - py) ** 2 + (pts[:, 1] - px) ** 2 > (r + pr + gap + 2) ** 2
        cand = pts[ok]
        if len(cand) == 0:
            continue
        y, x = cand[rng.integers(len(cand))]
        placed.append((float(y), float(x), float(r), i))
    return placed


def _background(rng, spec, cx, cy, Rc):
    """Red cells + platelets: returns an (H, W, 3) absorbance image."""
    od = np.zeros((HEIGHT, WIDTH), np.float32)
    od_pl = np.zeros((HEIGHT, WIDTH), np.float32)
    any_pl = False
    target = spec.rbc_density * HEIGHT * WIDTH
    covered = 0.0
    rbcs = []
    for _ in range(400):
        if covered >= target:
            break
        r = rng.normal(39, 3.0) * spec.size_jitter ** 0.3
        x, y = rng.uniform(-r * 0.6, WIDTH + r * 0.6), rng.uniform(-r * 0.6, HEIGHT + r * 0.6)
        if math.hypot(x - cx, y - cy) < Rc + r * 0.55:
            continue
        if any(math.hypot(x - a, y - b) < (r + c) * 0.82 for a, b, c in rbcs):
            continue
        rbcs.append((x, y, r))
        covered += np.pi * r * r * 0.85
    for x, y, r in rbcs:
        y0, y1 = max(0, int(y - r - 3)), min(HEIGHT, int(y + r + 4))
        x0, x1 = max(0, int(x - r - 3)), min(WIDTH, int(x + r + 4))
        if y1 <= y0 or x1 <= x0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        ecc = rng.uniform(0.92, 1.0)
        phi = rng.uniform(0, np.pi)
        c, s = math.cos(phi), math.sin(phi)
        dx, dy = xx - x, yy - y
        rho = np.hypot(dx * c + dy * s, (-dx * s + dy * c) / ecc)
        pale = rng.uniform(0.55, 0.8)
        prof = (1 - pale * np.exp(-(rho / (0.52 * r)) ** 2)) * (1 + 0.35 * np.exp(-((rho - 0.86 * r) / (0.1 * r)) ** 2))
        od[y0:y1, x0:x1] += rng.uniform(0.75, 0.95) * prof * _sig((r - rho) / 0.6)
    for _ in range(rng.poisson(0.8)):
        x, y = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)
        if math.hypot(x - cx, y - cy) < Rc + 10:
            continue
        r = rng.uniform(3, 6)
        y0, y1 = max(0, int(y - r - 3)), min(HEIGHT, int(y + r + 4))
        x0, x1 = max(0, int(x - r - 3)), min(WIDTH, int(x + r + 4))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        rho = np.hypot(xx - x, yy - y)
        od_pl[y0:y1, x0:x1] += _sig((r - rho) / 0.8) * (0.6 + 0.5 * rng.random(rho.shape))
        any_pl = True
    return od, (od_pl if any_pl else None)


_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def stain_matrix(hue: float, saturation: float, brightness: float) -> np.ndarray:
    """3x3 RGB matrix: hue rotation (degrees), saturation and brightness scaling in YIQ space."""
    h = math.radians(hue)
    c, s = math.cos(h), math.sin(h)
    k = np.array([[brightness, 0, 0], [0, c * saturation, -s * saturation], [0, s * saturation, c * saturation]])
    return (np.linalg.inv(_YIQ) @ k @ _YIQ).astype(np.float32)


def _stain_shift(img, spec):
    """Per-smear stain shift of an (H, W, 3) float image."""
    m = stain_matrix(spec.stain_hue, spec.stain_saturation, spec.stain_brightness)
    # written out rather than ``img @ m.T``: no BLAS threads (workers must not oversubscribe cores)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return np.stack([m[k, 0] * r + m[k, 1] * g + m[k, 2] * b for k in range(3)], axis=-1)


@dataclass
class _Crop:
    """The square of canvas around the leukocyte: canvas coordinates (yy, xx) and the cell's own
    rotated frame (u, v; polar rho, theta) centred on (cx, cy)."""

    R: float
    cx: float
    cy: float
    y0: int
    x0: int
    half: int
    yy: np.ndarray
    xx: np.ndarray
    u: np.ndarray
    v: np.ndarray
    rho: np.ndarray
    theta: np.ndarray

    def slices(self):
        """(crop slices, canvas slices) of the part of the crop inside the canvas."""
        cy0, cy1 = max(0, self.y0), min(HEIGHT, self.y0 + 2 * self.half)
        cx0, cx1 = max(0, self.x0), min(WIDTH, self.x0 + 2 * self.half)
        return ((slice(cy0 - self.y0, cy1 - self.y0), slice(cx0 - self.x0, cx1 - self.x0)),
                (slice(cy0, cy1), slice(cx0, cx1)))


def _crop(rng, spec) -> _Crop:
    """Place the cell near the canvas centre, rotated by ``spec.angle``."""
    R = spec.cell_radius * spec.size_jitter
    cx = WIDTH / 2 + rng.normal(0, 4)
    cy = HEIGHT / 2 + rng.normal(0, 4)
    half = int(R * 1.3) + 8
    y0, x0 = int(cy) - half, int(cx) - half
    yy, xx = np.mgrid[y0:y0 + 2 * half, x0:x0 + 2 * half].astype(np.float32)
    th = math.radians(spec.angle)
    c, s = math.cos(th), math.sin(th)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    return _Crop(R, cx, cy, y0, x0, half, yy, xx, u, v, np.hypot(u, v), np.arctan2(v, u))


def _outline(rng, spec, crop: _Crop):
    """(outline radius per pixel angle, soft cell mask): a slightly irregular disc, optional blebs."""
    R = crop.R
    rc = R * _radial(crop.theta, _harmonics(rng, 5, 0.035 if spec.cell_type != "MO" else 0.06))
    if spec.blebs:
        for _ in range(int(spec.blebs)):
            t0 = rng.uniform(-np.pi, np.pi)
            dth = np.angle(np.exp(1j * (crop.theta - t0)))
            rc = rc + R * rng.uniform(0.1, 0.2) * np.exp(-(dth / rng.uniform(0.1, 0.18)) ** 2)
    return rc, _sig((rc - crop.rho) / 0.8)


def _chromatin(rng, spec, nuc, style: Style = DRAWN):
    """Nuclear stain density: clumped (neutrophils, lymphocytes dense; monocytes lacy), darker
    under the nuclear membrane."""
    shape = nuc.shape
    fine = ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 1.3)
    fine /= fine.std() + 1e-9
    coarse = _smooth_noise(rng, shape, 7)
    if spec.cell_type == "MO":
        nden = 0.85 * (1 + 0.28 * fine + 0.1 * coarse)
    elif spec.cell_type == "LY":
        nden = 1.2 * (1 + 0.12 * fine + 0.08 * coarse)
    else:
        dense = 1.3 if spec.nucleus_shape == "pelger" else 1.2
        clump = ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 2.0)
        clump /= clump.std() + 1e-9
        nden = dense * (1 + 0.14 * fine + 0.16 * clump + 0.06 * coarse)
    edge = np.clip(nuc - ndi.gaussian_filter(nuc, 2.5), 0, None)
    nden = nden * (1 + 0.6 * edge)
    gain = style.chromatin.get(spec.cell_type, 1.0)
    if spec.cell_type == "PN" and spec.nucleus_shape == "band":
        gain *= style.band_chromatin
    return np.clip(nden, 0.2, None) * nuc * (spec.stain_nucleus * gain)


def _cytoplasm(rng, spec, crop: _Crop, rc, style: Style = DRAWN):
    """(stain optical density, RGB; stain density map) of the cytoplasm."""
    shape = crop.u.shape
    cyto_key = {"PN": "cyto_PN", "MO": "cyto_MO", "LY": "cyto_LY"}[spec.cell_type]
    if spec.cell_type == "PN" and spec.granulation in ("none", "low"):
        cyto_key = "cyto_PN_hypo"
    colour = OD[cyto_key] if cyto_key == "cyto_PN_hypo" else style.cytoplasm_od.get(spec.cell_type, OD[cyto_key])
    cyto_den = (1 + 0.1 * _smooth_noise(rng, shape, 10)) * spec.stain_cytoplasm
    if spec.cell_type == "MO":
        cyto_den = cyto_den * (1 + 0.1 * ndi.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 1.0) * 3)
    if spec.cell_type == "LY":
        # deeper blue at the rim of lymphocyte cytoplasm
        cyto_den = cyto_den * (0.8 + 0.5 * _sig((crop.rho - rc + 4) / 1.5))
    if style.cytoplasm_cell_sd > 0:   # drawn only by styles that have it: the default's images stay as they were
        cyto_den = cyto_den * np.float32(math.exp(rng.normal(0.0, style.cytoplasm_cell_sd)))
    return colour, cyto_den


@dataclass
class _Discs:
    """Vacuoles and inclusions placed in the cytoplasm, as density maps (crop coordinates)."""

    hole: np.ndarray        # clear vacuole interiors (0..1)
    rim: np.ndarray         # their faint rims
    body: np.ndarray        # the phagocytosed bodies inside inclusions
    vac_labels: np.ndarray  # vacuole k+1 where disc k is a vacuole
    discs: list             # (y, x, r) in crop coordinates
    kinds: list             # "vacuole" or "inclusion", per disc


def _vacuoles_and_inclusions(rng, spec, crop: _Crop, cell, nuc) -> _Discs:
    """Place inclusions, then vacuoles, in the cytoplasm away from the nucleus and the membrane."""
    nuc_bin = nuc > 0.3
    allowed = (cell > 0.5) & ~ndi.binary_dilation(nuc_bin, iterations=2)
    allowed &= ndi.binary_erosion(cell > 0.5, iterations=3)
    vr = [max(1.8, rng.normal(spec.vacuole_radius, 0.28 * spec.vacuole_radius)) for _ in range(int(spec.n_vacuoles))]
    ir = [rng.uniform(4.0, 6.5) for _ in range(int(spec.n_inclusions))]
    placed = _place_discs(rng, allowed, ir + vr)   # inclusions first, then vacuoles
    kinds = ["inclusion" if i < len(ir) else "vacuole" for *_, i in placed]
    discs = [p[:3] for p in placed]
    shape = cell.shape
    d = _Discs(np.zeros(shape, np.float32), np.zeros(shape, np.float32), np.zeros(shape, np.float32),
               np.zeros(shape, np.int32), discs, kinds)
    yy, xx = crop.yy - crop.y0, crop.xx - crop.x0
    for k, ((py, px, r), kind) in enumerate(zip(discs, kinds)):
        dist = np.hypot(yy - py, xx - px) - r
        d.hole = np.maximum(d.hole, _sig(-dist / 0.6))
        d.rim = d.rim + np.exp(-(dist / 0.9) ** 2)
        if kind == "vacuole":
            d.vac_labels[dist < 0] = k + 1
        else:
            bx, by = px + rng.normal(0, r * 0.2), py + rng.normal(0, r * 0.2)
            br = r * rng.uniform(0.45, 0.65)
            d.body = np.maximum(d.body, _sig((br - np.hypot(yy - by, xx - bx)) / 0.7)
                                * (0.8 + 0.4 * rng.random(shape)))
    return d


#: cell type -> (granule colour key, {granulation: (granules per cytoplasm px, size px)}, amplitude);
#: PN toxic granulation ("high") uses its own colour and amplitude.
_GRANULES = {
    "PN": ("granule_PN", {"none": (0.0, 0.6), "low": (0.06, 0.6), "normal": (0.35, 0.6), "high": (0.1, 0.8)}, 0.28),
    "MO": ("granule_PN", {"none": (0.0, 0.7), "low": (0.03, 0.7), "normal": (0.08, 0.7), "high": (0.14, 0.8)}, 0.35),
    "LY": ("granule_LY", {"none": (0.0, 1.0), "low": (0.0015, 1.1), "normal": (0.0015, 1.1),
                          "high": (0.004, 1.2)}, 2.0),
}


def _granules(rng, spec, cell, nuc, cyto_mask, style: Style = DRAWN):
    """(granule density map, colour key, number drawn): impulses blurred to granule size."""
    gkey, table, gamp = _GRANULES[spec.cell_type]
    gdens, gsize = table[spec.granulation]
    gdens = gdens * style.granules.get(spec.cell_type, 1.0)
    if spec.cell_type == "PN" and spec.granulation == "high":
        gkey, gamp = "granule_toxic", 0.6
    gamp *= style.granule_amplitude.get(spec.cell_type, 1.0)
    gsize *= style.granule_size.get(spec.cell_type, 1.0)
    area = float(cyto_mask.sum()) or 1.0
    shape = cell.shape
    n_gran = rng.poisson(gdens * area)
    gran = np.zeros(shape, np.float32)
    if n_gran:
        pts = np.argwhere(cell > 0.5)
        pick = pts[rng.integers(len(pts), size=n_gran)]
        amp = rng.uniform(0.6, 1.4, n_gran) * (2 * np.pi * gsize ** 2) * gamp
        gran = ndi.gaussian_filter(_scatter(shape, pick[:, 0], pick[:, 1], amp), gsize)
        gran = gran * (1 - nuc) * cell
    return gran, gkey, n_gran


def _compose(rng, spec, crop: _Crop, cell, cell_od):
    """The leukocyte's absorbance over red cells and platelets on the glass, then the camera:
    stain shift, focus blur, sensor noise, JPEG. Returns (uint8 image, red-cell density)."""
    rbc_den, pl_den = _background(rng, spec, crop.cx, crop.cy, crop.R)
    sl_c, sl_f = crop.slices()
    cover = np.zeros((HEIGHT, WIDTH), np.float32)
    cover[sl_f] = cell[sl_c]
    under = (1 - 0.85 * cover).astype(np.float32)
    total = (rbc_den * under).astype(np.float32)[..., None] * OD["rbc"]
    if pl_den is not None:
        total += (pl_den * under)[..., None] * OD["platelet"]
    total[sl_f] += cell_od[sl_c]
    bg = BG * (1 - spec.background_tint) + np.array([228.0, 226.0, 232.0]) * spec.background_tint
    img = bg.astype(np.float32) * np.exp(-total, out=total)
    img = _stain_shift(img, spec)
    if spec.blur_sigma > 0:
        img = ndi.gaussian_filter(img, (spec.blur_sigma, spec.blur_sigma, 0))
    if spec.noise_sigma > 0:
        img = img + _noise(rng, img.shape) * np.float32(spec.noise_sigma)
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if spec.jpeg_quality:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=int(spec.jpeg_quality))
        img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return img, rbc_den


def render(spec: CellSpec, rng: np.random.Generator, style: Style | str = DRAWN) -> Rendered:
    """Render one cell in a style (:mod:`.style`); return the image, its masks and what was drawn."""
    if spec.cell_type not in CELL_TYPES:
        raise ValueError(f"unknown cell type {spec.cell_type!r}")
    style = get_style(style)
    crop = _crop(rng, spec)
    rc, cell = _outline(rng, spec, crop)
    nuc, labels, n_lobes = _nucleus_field(rng, spec, crop.R, crop.u, crop.v, style)
    nuc = nuc * cell
    nucleus_od = _chromatin(rng, spec, nuc, style)
    cyto_colour, cyto_den = _cytoplasm(rng, spec, crop, rc, style)
    cyto_mask = (cell > 0.5) & (nuc < 0.05)
    d = _vacuoles_and_inclusions(rng, spec, crop, cell, nuc)
    gran, gkey, n_gran = _granules(rng, spec, cell, nuc, cyto_mask, style)
    keep = 1 - 0.88 * d.hole
    cell_od = (cyto_den * cell * (1 - nuc) * keep)[..., None] * cyto_colour
    cell_od += (0.18 * d.rim * cell * (1 - nuc))[..., None] * cyto_colour
    cell_od = cell_od + nucleus_od[..., None] * OD["nucleus_ly" if spec.cell_type == "LY" else "nucleus"]
    cell_od += (gran * keep * spec.stain_cytoplasm)[..., None] * OD[gkey]
    cell_od += (1.1 * d.body)[..., None] * OD["inclusion"]
    img, rbc_den = _compose(rng, spec, crop, cell, cell_od)
    masks = _masks(crop, cell, nuc, labels, d.vac_labels, rbc_den)
    vac = [(py + crop.y0, px + crop.x0, r) for (py, px, r), k in zip(d.discs, d.kinds) if k == "vacuole"]
    drawn = {
        "center_x": round(crop.cx, 1), "center_y": round(crop.cy, 1),
        "n_lobes_drawn": n_lobes,
        "n_vacuoles_drawn": len(vac),
        "vacuole_radii": ";".join(f"{r:.1f}" for _, _, r in vac),
        "vacuole_centers": ";".join(f"{x:.0f}:{y:.0f}" for y, x, _ in vac),
        "n_inclusions_drawn": d.kinds.count("inclusion"),
        "n_granules": int(n_gran),
        "cell_area": int(masks["cell"].sum()),
        "nucleus_area": int(masks["nucleus"].sum()),
    }
    return Rendered(img, masks, drawn)


def _masks(crop: _Crop, cell, nuc, labels, vac_labels, rbc_den) -> dict:
    """The renderer's masks on the full canvas."""
    sl_c, sl_f = crop.slices()

    def full(a, dtype):
        out = np.zeros((HEIGHT, WIDTH), dtype)
        out[sl_f] = a[sl_c]
        return out

    return {"cell": full(cell > 0.5, bool), "nucleus": full(nuc > 0.5, bool),
            "lobes": full(labels * (cell > 0.5), np.int32), "vacuoles": full(vac_labels, np.int32),
            "rbc": rbc_den > 0.3}


def render_cell(spec: CellSpec, rng: np.random.Generator, style: Style | str = DRAWN) -> np.ndarray:
    """Render one cell: an HEIGHT x WIDTH x 3 uint8 RGB image."""
    return render(spec, rng, style).image
