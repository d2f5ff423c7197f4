"""Tiny image folders for the command tests (made on the fly; a few KB each)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_cells(paths, seed: int = 0) -> list[Path]:
    """One small cell-like PNG per path: a pink background with a dark, off-centre blob."""
    rng = np.random.default_rng(seed)
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        a = np.full((40, 44, 3), (230, 200, 190), np.uint8) + rng.integers(0, 20, (40, 44, 3), dtype=np.uint8)
        yy, xx = np.mgrid[:40, :44]
        cy, cx, r = 20 + rng.uniform(-4, 4), 22 + rng.uniform(-4, 4), rng.uniform(6, 12)
        a[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = (90, 40, 120)
        Image.fromarray(a).save(p)
    return list(paths)


@pytest.fixture
def flat_images(tmp_path) -> Path:
    """ROOT/img00.png .. img07.png and one file that is not an image (ROOT/broken.png)."""
    root = tmp_path / "images"
    write_cells([root / f"img{i:02d}.png" for i in range(8)])
    (root / "broken.png").write_bytes(b"not a png")
    return root


@pytest.fixture
def small_encoder(tmp_path) -> Path:
    """An untrained ResNet18 encoder file for 48 px cells (cheap to make, encodes in a second)."""
    from vexscreen.encoder.config import TrainConfig
    from vexscreen.encoder.training import save_untrained_encoder

    return save_untrained_encoder(tmp_path / "encoder.pt", TrainConfig(crop=32, full_size=48, workers=0))
