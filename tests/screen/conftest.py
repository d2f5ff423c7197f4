"""Screening fixtures: tiny cell images with a planted signal, a tiny untrained encoder, a fitted model.

Everything is drawn on the fly and session-scoped, so the suite stays fast. A cell:
pinkish background, a lilac cytoplasm disc, a dark nucleus; a positive ("VEXAS")
patient's cells mostly carry several large white vacuoles, which even an untrained
encoder's features separate. ``stand_in_measure`` is a measuring function
``(scan, out_dir) -> folder`` in the shape ``vexscreen measure`` writes, standing in
for vexscreen.morphology (built in parallel).
"""
from __future__ import annotations

import vexscreen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

CLASSES = ("UBA1-WT", "VEXAS")
PIXEL_UM = 0.1


def cell_image(rng: np.random.Generator, vacuoles: int) -> Image.Image:
    h, w = (int(v) for v in rng.integers(56, 68, size=2))
    a = np.empty((h, w, 3), np.float32)
    a[:] = (228, 200, 192)
    a += rng.normal(0, 4, size=a.shape)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = h / 2 + rng.uniform(-3, 3), w / 2 + rng.uniform(-3, 3)
    r = rng.uniform(19, 24)
    a[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = (176, 140, 190)
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


def _blob_rows(scan, pixel_um: float, white: int) -> list[dict]:
    """Per image: white blobs of at least 12 px as vacuoles, and the image's mean grey (raw units)."""
    from scipy import ndimage

    from vexscreen.data.scan import load_rgb

    rows = []
    for rec in scan.images:
        a = np.asarray(load_rgb(rec.path))
        mask = (a > white).all(axis=2)
        lab, n = ndimage.label(mask)
        sizes = np.bincount(lab.ravel())[1:]
        vac = sizes[sizes >= 12]
        rows.append({"IMAGE": rec.rel, "vacuole_count": int(len(vac)),
                     "vacuole_area_um2": float(vac.sum() * pixel_um ** 2), "white_share": float(mask.mean()),
                     "mean_grey": float(a.mean()), "nucleus_lobes": 1, "quality": "ok"})
    return rows


def measure_images(scan, out_dir, *, pixel_um: float = PIXEL_UM, white: int = 240):
    """Stand-in for vexscreen.morphology: white blobs as vacuoles, written as `measure` would."""
    from vexscreen.data import save_encodings, write_csv, write_json

    rows = _blob_rows(scan, pixel_um, white)
    feats = [[r["vacuole_count"] / 3.0 - 1.0, r["white_share"] * 50 - 1.0, r["mean_grey"] / 64.0 - 3.0]
             for r in rows]
    out_dir = Path(out_dir)
    save_encodings(out_dir, np.asarray(feats, np.float32), scan.metadata())
    write_csv(out_dir / "measurements.csv", pd.DataFrame(rows).drop(columns=["white_share", "mean_grey"]))
    write_json(out_dir / "measure.json", {"settings": {"pixel_um": pixel_um, "white": white},
                                          "images": len(rows), "seconds": 0.0})
    return out_dir


#: the raw columns :func:`measure_like_morphology` z-scores
Z_COLUMNS = ["vacuole_count", "white_share", "mean_grey"]


def measure_like_morphology(scan, out_dir, *, pixel_size_um: float = PIXEL_UM):
    """Stand-in in the shape of ``vexscreen.morphology.measure_scan``: raw values in measurements.csv,
    the encodings z-scored over THIS scan's cells, a flat measure.json with ``columns``, ``mean`` and
    ``std``; returns the summary dict (not the folder). The last cell is flagged not measurable."""
    from vexscreen.data import save_encodings, write_csv, write_json

    table = pd.DataFrame(_blob_rows(scan, pixel_size_um, 240))
    table.loc[len(table) - 1, "quality"] = "no_nucleus"
    table.loc[len(table) - 1, Z_COLUMNS] = np.nan
    ok = (table["quality"] == "ok").to_numpy()
    values = table[Z_COLUMNS].to_numpy(float)
    mean, std = values[ok].mean(0), values[ok].std(0)
    std = np.where(std > 1e-12, std, 1.0)
    X = np.zeros(values.shape, np.float32)
    X[ok] = (values[ok] - mean) / std
    out_dir = Path(out_dir)
    save_encodings(out_dir, X, scan.metadata())
    write_csv(out_dir / "measurements.csv", pd.concat([scan.metadata(), table.drop(columns="IMAGE")], axis=1))
    summary = {"version": 1, "pixel_size_um": pixel_size_um, "images": len(table), "images_sha256": "x" * len(table),
               "chunk": 32, "layout": scan.layout, "dim": len(Z_COLUMNS), "columns": Z_COLUMNS,
               "quality": {"ok": int(ok.sum()), "no_nucleus": int((~ok).sum())},
               "mean": dict(zip(Z_COLUMNS, map(float, mean))), "std": dict(zip(Z_COLUMNS, map(float, std))),
               "seconds": 0.1, "measured_now": len(table), "cells_per_second": 10.0, "bad_files": []}
    write_json(out_dir / "measure.json", summary)
    return summary


@pytest.fixture(scope="session")
def stand_in_measure():
    return measure_images


@pytest.fixture(scope="session")
def morphology_measure():
    return measure_like_morphology


@pytest.fixture(scope="session")
def draw():
    return draw_cells


@pytest.fixture(scope="session")
def encoder_file(tmp_path_factory) -> Path:
    from vexscreen.encoder.config import TrainConfig
    from vexscreen.encoder.training import save_untrained_encoder

    return save_untrained_encoder(tmp_path_factory.mktemp("encoder") / "encoder.pt",
                                  TrainConfig(backbone="resnet18", full_size=64, workers=0))


@pytest.fixture(scope="session")
def reference(tmp_path_factory, encoder_file) -> dict:
    """A reference cohort (3 UBA1-WT, 3 VEXAS patients; PN and MO), encoded and measured."""
    from vexscreen.data.scan import scan_images
    from vexscreen.encoder.inference import encode_scan

    root = tmp_path_factory.mktemp("reference")
    seed = 0
    for ct in ("PN", "MO"):
        for g in CLASSES:
            for p in range(3):
                seed += 1
                draw_cells(root / "images" / ct / g / f"{g}-{p}" / "s1", 16, g == "VEXAS", seed)
    for ct in ("PN", "MO"):
        scan = scan_images(root / "images" / ct, progress=False)
        encode_scan(encoder_file, scan, root / "enc" / ct, workers=0, progress=False)
        measure_images(scan, root / "meas" / ct)
        measure_like_morphology(scan, root / "morph" / ct)
    return {"root": root, "enc": root / "enc", "meas": root / "meas", "morph": root / "morph"}


SMALL = dict(n_aggregates=20, min_cells=8, n_bootstrap=16)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, reference) -> Path:
    """A model on the encodings only, saved."""
    from vexscreen.model import ReferenceModel

    model = ReferenceModel(classes=CLASSES, cell_types=("PN", "MO"), **SMALL)
    model.fit({ct: reference["enc"] / ct for ct in ("PN", "MO")})
    return model.save(tmp_path_factory.mktemp("models") / "model")


@pytest.fixture(scope="session")
def model(model_dir):
    from vexscreen.model import ReferenceModel

    return ReferenceModel.load(model_dir)


@pytest.fixture(scope="session")
def patients(tmp_path_factory) -> dict:
    """Patient folders (never modified by tests; copy one to change it)."""
    root = tmp_path_factory.mktemp("patients")
    pos, neg, few = root / "P-pos", root / "P-neg", root / "P-few"
    draw_cells(pos / "neutrophil", 12, True, 101)
    draw_cells(pos / "Monocytes", 10, True, 102)
    draw_cells(pos / "eosinophil", 3, True, 103)
    draw_cells(neg / "s1" / "segmented_neutrophils", 6, False, 201)
    draw_cells(neg / "s2" / "Band neutrophil", 6, False, 202)
    draw_cells(neg / "s1" / "monocyte", 10, False, 203)
    draw_cells(few / "neutrophil", 12, True, 301)
    draw_cells(few / "monocyte", 3, True, 302)
    return {"pos": pos, "neg": neg, "few": few}


@pytest.fixture(scope="session")
def foreign_patient(patients, tmp_path_factory) -> Path:
    """P-neg's cells with red and blue swapped: another lab's stain, as far as the model can tell."""
    import shutil

    out = tmp_path_factory.mktemp("foreign") / "P-foreign"
    shutil.copytree(patients["neg"], out)
    for f in out.rglob("*.png"):
        Image.fromarray(np.asarray(Image.open(f).convert("RGB"))[:, :, ::-1]).save(f)
    return out

