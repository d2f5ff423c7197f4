"""Tiny cell images with a planted signal, drawn on the fly (the suite stays fast).

A cell: pinkish background, a lilac cytoplasm disc, a dark nucleus; a positive
("VEXAS") patient's cells mostly carry several large white vacuoles. Sizes vary
(56-67 px), so images are padded as real exports are.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def cell_image(rng: np.random.Generator, vacuoles: int) -> Image.Image:
    h, w = (int(v) for v in rng.integers(56, 68, size=2))
    a = np.empty((h, w, 3), np.float32)
    a[:] = (228, 200, 192)
    a += rng.normal(0, 4, size=a.shape)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = h / 2 + rng.uniform(-3, 3), w / 2 + rng.uniform(-3, 3)
    r = rng.uniform(19, 24)
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    a[d2 < r * r] = (176, 140, 190)
    ny, nx = cy + rng.uniform(-4, 4), cx + rng.uniform(-4, 4)
    a[(yy - ny) ** 2 + ((xx - nx) * 0.8) ** 2 < (0.45 * r) ** 2] = (84, 40, 118)
    for _ in range(vacuoles):
        ang, rad = rng.uniform(0, 2 * np.pi), rng.uniform(0.6, 0.8) * r
        vy, vx = cy + rad * np.sin(ang), cx + rad * np.cos(ang)
        a[(yy - vy) ** 2 + (xx - vx) ** 2 < rng.uniform(3.5, 5.0) ** 2] = (250, 248, 250)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def draw_cells(folder: Path, n: int, positive: bool, seed: int, prefix: str = "c") -> list[Path]:
    """``n`` PNG cells in ``folder``; a positive patient's cells are mostly vacuolated."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        k = int(rng.integers(3, 7)) if positive and rng.random() < 0.8 else 0
        p = folder / f"{prefix}{i:03d}.png"
        cell_image(rng, k).save(p)
        paths.append(p)
    return paths
