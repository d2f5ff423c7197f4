"""The demo: every stage of the method on data embedded in the package.

1. Step 2a on the study's published encoder-test encodings (bundled): the
   study's tables, exactly.
2. A small phantom cohort with the study's structure (generated images with
   known morphology) -> self-supervised encoder training -> full-size encoding
   -> consistency on the phantom's encoder-test cells -> the study's
   comparisons per cell type, aggregate level and patient level, beside the
   published table.

Callable from a notebook: ``vexscreen.demo.run_demo("demo_out")``. A re-run
resumes: finished stages are kept.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from .data import write_json
from .study import CELL_TYPE_NAMES, CELL_TYPES, ENCODER_TEST_GROUPS, published_encoder_test
from .evaluation import consistency_matrix
from .report import consistency_umap_figure, format_consistency, matrix_to_json

# Small enough for about 10 minutes on 2 CPU cores; see README for the larger proof run.
DEMO_PHANTOM = dict(cohort="study", scale=0.02, seed=0, encoder_test_per_group=20)


def demo_train_config(max_images: int = 600, epochs: int = 4, backbone: str = "resnet18",
                      weights: str | None = None):
    """CPU-sized training settings (README, "The proof"): the study's loss and geometric views
    plus colour distortion (without it the encoder learns the smear's stain, not the cell),
    batch 64, Adam 1e-3, and 128 px views cut at full resolution from the centred 192 px
    field that holds the cell (``field``; encode sees that field too).

    ``weights``: a local torchvision state dict for ``backbone`` to start from (the study
    starts from ImageNet weights, METHOD.md Step 1; none can be downloaded here)."""
    from .encoder.config import TrainConfig

    return TrainConfig(backbone=backbone, batch_size=64, lr=1e-3, lr_floor=1e-5, epochs=epochs,
                       scale=1.0, crop=128, field=192, color_jitter=0.5, queue_size=0, workers=2,
                       max_images=max_images, weights=None if weights is None else str(weights))


def published_consistency(out: Path, plots: bool = True) -> dict:
    """Step 2a on the study's published encoder-test encodings: the study's tables, exactly."""
    tables = {}
    for ct in CELL_TYPES:
        enc = published_encoder_test(ct)
        order, M = consistency_matrix(enc.X, enc.groups, ENCODER_TEST_GROUPS[ct])
        tables[ct] = (order, M)
        write_json(out / f"{ct}.json", {"groups": order, "auc": matrix_to_json(M)})
        print(f"\n[{ct}: {CELL_TYPE_NAMES[ct]}, {len(enc)} cells, {enc.X.shape[1]} dims]")
        print(format_consistency(order, M))
        if plots:
            consistency_umap_figure(enc.X, enc.groups, order, out / f"{ct}_umap.png",
                                    title=f"Published {CELL_TYPE_NAMES[ct]} encoder-test encodings")
    return tables


def synthetic_evaluation(out: Path, n_jobs: int = 2) -> list[dict]:
    """Step 2b on synthetic encodings with the study's PN structure; only VEXAS carries a signal."""
    from .data import save_encodings
    from .study import STUDY_COMPARISONS, study_structure
    from .data.synthetic import synthetic_encodings
    from .pipeline import evaluate_cell_type, format_summary

    enc = synthetic_encodings(study_structure("PN"), dim=128, signal=0.5, patient_effect=0.5,
                              scale=0.25, seed=2023)
    save_encodings(out / "encodings", enc.X, enc.meta)
    rows = evaluate_cell_type(out / "encodings", "PN", out, STUDY_COMPARISONS, n_jobs=n_jobs, progress=False)
    for r in rows:
        r["published"] = ""
    print(format_summary(rows))
    return rows


def run_demo(out="demo_out", plots: bool = True, n_jobs: int = 2, workers: int = 2,
             train_config=None, phantom: dict | None = None) -> dict:
    from .phantom import make_cohort
    from .pipeline import print_pipeline_result, run_image_pipeline

    out = Path(out)
    cfg = train_config or demo_train_config()
    if cfg.weights is not None:  # a wrong file fails now, not after the phantom is drawn
        from .encoder.backbones import build_backbone

        build_backbone(cfg.backbone, cfg.pooling, weights=cfg.weights)
    t0 = time.perf_counter()
    print("== 1. Encoder consistency on the study's published encodings (Step 2a) ==")
    tables = published_consistency(out / "published_consistency", plots)

    print("\n== 2. Phenotypic prediction on synthetic encodings (Step 2b) ==\n"
          "   The study's neutrophil structure (12 patients, 4,819 cells = 25%), 128 dims; only VEXAS\n"
          "   carries a planted signal, and every patient has its own offset. UBA1-WT vs MDS has no\n"
          "   signal: watch the aggregate-level CI and the patient-level p-value.")
    synthetic = synthetic_evaluation(out / "synthetic", n_jobs)

    settings = {**DEMO_PHANTOM, **(phantom or {})}
    print(f"\n== 3. Phantom cohort with the study's structure (scale {settings['scale']}) ==")
    t = time.perf_counter()
    ph = make_cohort(out / "phantom", workers=workers, progress=True, preview=plots, **settings)
    print(f"   generated in {time.perf_counter() - t:.0f} s: {ph}")

    start = f"from {cfg.weights}" if cfg.weights else "from random weights"
    print(f"\n== 4. Encoder training ({cfg.backbone} {start}, {cfg.method}, batch {cfg.batch_size}, "
          f"lr {cfg.lr}, <= {cfg.epochs} epochs), encoding, evaluation ==")
    result = run_image_pipeline(ph, out / "pipeline", replace(cfg), n_jobs=n_jobs, progress=True,
                                encode_workers=workers, plots=plots)
    print_pipeline_result(result)
    print("\nAUC aggregates: the study's figure (100 aggregates per test patient, 10 patient splits).\n"
          "AUC LOPO: leave-one-patient-out, one score per patient, exact permutation p-value (biased\n"
          "low when the signal is weak); AUC LPO: leave-pair-out, without that bias but without a\n"
          "p-value: with 3 patients a group a null phantom also reaches 0.89 (README, \"The proof\").\n"
          "The probe table says which drawn features the encodings hold: nuclear shape and\n"
          "granulation, not yet the VEXAS vacuoles.")
    print(f"\ndone in {time.perf_counter() - t0:.0f} s; outputs in {out}/")
    return {"consistency": tables, "synthetic": synthetic, "pipeline": result}
