"""Drawn cells of known morphology (the phantom renderer), made on the fly and cached per session."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

import vexscreen  # noqa: F401  (sets OMP_WAIT_POLICY first)
from vexscreen.phantom.render import BG, HEIGHT, OD, WIDTH, CellSpec, render

#: a clean, typical smear: no stain shift, mild blur/noise, JPEG like the analyser's
CLEAN = dict(blur_sigma=0.6, noise_sigma=1.5, jpeg_quality=92, rbc_density=0.4)


@functools.lru_cache(maxsize=64)
def drawn(seed: int = 0, **spec):
    """render(CellSpec(**CLEAN, **spec), default_rng(seed)), cached (treat the result as read-only)."""
    return render(CellSpec(**{**CLEAN, **spec}), np.random.default_rng(seed))


def red_cells_only(seed: int = 0, n: int = 9) -> np.ndarray:
    """A frame of red cells (pale-centred pink discs) and glass, no leukocyte."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH].astype(np.float32)
    od = np.zeros((HEIGHT, WIDTH), np.float32)
    for _ in range(n):
        y, x, r = rng.uniform(0, HEIGHT), rng.uniform(0, WIDTH), rng.normal(38, 2)
        rho = np.hypot(yy - y, xx - x)
        od += 0.85 * (1 - 0.6 * np.exp(-(rho / (0.5 * r)) ** 2)) * (rho < r)
    img = BG * np.exp(-od[..., None] * OD["rbc"])
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def two_touching_cells(seed: int = 0) -> np.ndarray:
    """Two drawn neutrophils side by side, their outlines touching (absorbances add, as on a slide)."""
    a = drawn(seed, rbc_density=0.0, cell_radius=48.0)
    b = drawn(seed + 1, rbc_density=0.0, cell_radius=48.0)
    od_a = -np.log((a.image.astype(np.float32) + 1) / (BG + 1))
    od_b = -np.log((b.image.astype(np.float32) + 1) / (BG + 1))
    xa = np.nonzero(a.masks["cell"].any(0))[0]
    xb = np.nonzero(b.masks["cell"].any(0))[0]
    shift = int(xa.max() - xb.min()) - 2  # b moved right until the outlines overlap by 2 px
    od_b = np.roll(od_b, shift, axis=1)
    od_b[:, :shift] = 0
    img = BG * np.exp(-np.clip(od_a, 0, None) - np.clip(od_b, 0, None))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def save(path: Path, image: np.ndarray, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).convert(mode).save(path)
    return path


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))
