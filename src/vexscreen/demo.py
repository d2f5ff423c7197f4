"""The demo: every stage of the method on data embedded in the package.

1. Step 2a on the study's published encoder-test encodings (bundled): the
   study's tables, exactly.
2. Step 2b on synthetic encodings with the study's neutrophil structure.
3. A small phantom cohort with the study's structure (generated images with
   known morphology).
4. Self-supervised encoder training on it -> full-size encoding -> consistency
   on the phantom's encoder-test cells -> the study's comparisons per cell type,
   aggregate level and patient level, beside the published table.

Callable from a notebook: ``vexscreen.demo.run_demo("demo_out")`` returns every result;
``on_step(step, info)`` is called as each step starts or ends (:data:`DEMO_STEPS`), which
``vexscreen demo`` turns into text with :func:`vexscreen.report.format_demo_step`. A re-run
resumes: finished stages are kept.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from .study import CELL_TYPE_NAMES, CELL_TYPES, published_encoder_test

#: the steps :func:`run_demo` reports, in order, and what their ``info`` holds
DEMO_STEPS = {
    "published": "start of 1 (Step 2a on the published encodings): {}",
    "published_table": "one cell type done: cell_type, cells, dims, order, auc",
    "synthetic": "start of 2 (Step 2b on synthetic encodings): {}",
    "synthetic_rows": "2 done: rows (summary rows)",
    "phantom": "start of 3 (phantom cohort): scale",
    "phantom_done": "3 done: seconds, folder",
    "pipeline": "start of 4 (train, encode, consistency, evaluate): config (TrainConfig)",
    "pipeline_done": "4 done: result (run_image_pipeline's)",
    "done": "the end: seconds, out",
}


def _silent(step: str, info: dict) -> None:
    pass


# Small enough for about 10 minutes on 2 CPU cores; see README for the larger proof run.
DEMO_PHANTOM = dict(cohort="study", scale=0.02, seed=0, encoder_test_per_group=20)


def demo_train_config(max_images: int = 600, epochs: int = 4, backbone: str = "resnet18",
                      weights: str | None = None):
    """CPU-sized training settings (README, "The proof"): the study's loss and geometric views
    plus colour distortion (without it the encoder learns the smear's stain, not the cell),
    batch 64, Adam 1e-3, and 128 px views cut at full resolution from the centred 192 px
    field that holds the cell (``field``; encode sees that field too). A backbone taking one
    input size (DinoBloom: 224) gets that size as its field and its own crop (126, patch 14).

    ``weights``: where ``backbone`` starts: None (random), "imagenet" (torchvision's ImageNet
    weights by name, as the study starts from, METHOD.md Step 1) or a local file (torchvision
    state dict, DinoBloom checkpoint)."""
    from .encoder.config import TrainConfig
    from .encoder.registry import get_backbone_info

    info = get_backbone_info(backbone)
    return TrainConfig(backbone=backbone, batch_size=64, lr=1e-3, lr_floor=1e-5, epochs=epochs,
                       scale=1.0, crop=info.default_crop, field=info.input_size or 192, color_jitter=0.5,
                       queue_size=0, workers=2, max_images=max_images,
                       weights=None if weights is None else str(weights))


def published_consistency(out: Path, plots: bool = True, on_step=_silent) -> dict:
    """Step 2a on the study's published encoder-test encodings: the study's tables, exactly.
    ``{cell type: (order, M)}``; each also written to ``out/<CT>.json|csv`` with its 95% CI
    per pair (``out/<CT>_ci.csv``; a seeded bootstrap over cells) and its UMAP."""
    from .evaluation import consistency_ci
    from .pipeline import encoder_test_consistency
    from .report import consistency_umap_figure, write_consistency

    tables = {}
    for ct in CELL_TYPES:
        enc = published_encoder_test(ct)
        order, M = tables[ct] = encoder_test_consistency(enc, ct)
        low, high = consistency_ci(enc.X, enc.labels, order)
        write_consistency(out, order, M, name=ct, low=low, high=high)
        on_step("published_table", {"cell_type": ct, "cells": len(enc), "dims": enc.X.shape[1],
                                    "order": order, "auc": M, "low": low, "high": high})
        if plots:
            consistency_umap_figure(enc.X, enc.labels, order, out / f"{ct}_umap.png",
                                    title=f"Published {CELL_TYPE_NAMES[ct]} encoder-test encodings")
    return tables


def synthetic_evaluation(out: Path, n_jobs: int = 2) -> list[dict]:
    """Step 2b on synthetic encodings with the study's PN structure; only VEXAS carries a signal."""
    from .data import save_encodings
    from .study import STUDY_COMPARISONS, study_structure
    from .data.synthetic import synthetic_encodings
    from .pipeline import evaluate_cell_type

    enc = synthetic_encodings(study_structure("PN"), dim=128, signal=0.5, patient_effect=0.5,
                              scale=0.25, seed=2023)
    save_encodings(out / "encodings", enc.X, enc.meta)
    rows = evaluate_cell_type(out / "encodings", "PN", out, STUDY_COMPARISONS, n_jobs=n_jobs, progress=False)
    for r in rows:
        r["published"] = ""
    return rows


def run_demo(out="demo_out", plots: bool = True, n_jobs: int = 2, workers: int = 2,
             train_config=None, phantom: dict | None = None, on_step=None, progress: bool = False) -> dict:
    """Run the four steps (module docstring) into ``out``; return
    ``{"consistency": {ct: (order, M)}, "synthetic": rows, "pipeline": run_image_pipeline result}``.

    ``on_step(step, info)``: called at each step of :data:`DEMO_STEPS`; ``progress``: progress
    bars (phantom, training, encoding). ``phantom``: settings over :data:`DEMO_PHANTOM`.
    """
    from .phantom import make_cohort
    from .pipeline import run_image_pipeline

    on_step = on_step or _silent
    out = Path(out)
    cfg = train_config or demo_train_config()
    if cfg.weights is not None:  # a wrong file (or no ImageNet file offline) fails now, not after the phantom
        from .encoder.backbones import build_backbone

        build_backbone(cfg.backbone, cfg.pooling, weights=cfg.weights)
    t0 = time.perf_counter()
    on_step("published", {})
    tables = published_consistency(out / "published_consistency", plots, on_step)
    on_step("synthetic", {})
    synthetic = synthetic_evaluation(out / "synthetic", n_jobs)
    on_step("synthetic_rows", {"rows": synthetic})

    settings = {**DEMO_PHANTOM, **(phantom or {})}
    on_step("phantom", {"scale": settings["scale"]})
    t = time.perf_counter()
    ph = make_cohort(out / "phantom", workers=workers, progress=progress, preview=plots, **settings)
    on_step("phantom_done", {"seconds": time.perf_counter() - t, "folder": ph})

    on_step("pipeline", {"config": cfg})
    result = run_image_pipeline(ph, out / "pipeline", replace(cfg), n_jobs=n_jobs, progress=progress,
                                encode_workers=workers, plots=plots)
    on_step("pipeline_done", {"result": result})
    on_step("done", {"seconds": time.perf_counter() - t0, "out": out})
    return {"consistency": tables, "synthetic": synthetic, "pipeline": result}
