"""Tiny image sets for the encoder tests (synthetic, made on the fly, so the suite stays fast)."""
from __future__ import annotations


import vexscreen  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch loads)

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def cell_image(rng: np.random.Generator, w: int = 44, h: int = 40) -> Image.Image:
    """A pinkish background with a dark off-centre blob: asymmetric, so views differ."""
    a = np.empty((h, w, 3), np.uint8)
    a[:] = (230, 200, 190)
    a += rng.integers(0, 20, size=a.shape, dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = h / 2 + rng.uniform(-4, 4), w / 2 + rng.uniform(-4, 4)
    r = rng.uniform(6, 12)
    a[(yy - cy) ** 2 + ((xx - cx) * rng.uniform(0.6, 1.4)) ** 2 < r * r] = (90, 40, 120)
    return Image.fromarray(a)


def write_images(paths, seed: int = 0):
    rng = np.random.default_rng(seed)
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        cell_image(rng, int(rng.integers(36, 50)), int(rng.integers(36, 50))).save(p)
    return paths


@pytest.fixture
def flat_dir(tmp_path) -> Path:
    root = tmp_path / "flat"
    write_images([root / f"img{i:02d}.png" for i in range(8)])
    return root


@pytest.fixture
def labeled_dir(tmp_path) -> Path:
    """ROOT/GROUP/PATIENT/SAMPLE/img: 2 groups x 2 patients x 2 samples x 2 images."""
    root = tmp_path / "labeled"
    paths = [root / g / f"{g}_p{p}" / f"s{s}" / f"c{c}.png"
             for g in ("MDS", "VEXAS") for p in range(2) for s in range(2) for c in range(2)]
    write_images(paths, seed=1)
    return root


@pytest.fixture
def small_cfg():
    from vexscreen.encoder.config import TrainConfig
    return TrainConfig(batch_size=4, epochs=2, crop=32, full_size=48, workers=0, lr=1e-3)
