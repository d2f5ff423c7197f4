"""The demo: every stage of the method on data embedded in the package.

1. Step 2a on the study's published encoder-test encodings (bundled): the
   study's tables, exactly.
2. Step 2b on synthetic encodings with the study's neutrophil structure.
3. A small phantom cohort with the study's structure (generated images with
   known morphology).
4. Self-supervised encoder training on it -> full-size encoding -> consistency
   on the phantom's encoder-test cells -> the study's comparisons per cell type,
   aggregate level and patient level, beside the published table.
   Then the cells measured (issue 11: vacuoles, lobes, ...): per cell type the groups'
   measurement table and the comparisons with VEXAS on the measurements alone and on the
   encodings + the measurements (mean aggregates, which keep the vacuolated fraction).
5. Screening (issue 12): a reference model fitted on the phantom cohort's encodings
   (and measurements, when ``vexscreen.morphology`` is installed) screens held-out
   phantom patients it has never seen, drawn with another seed and arranged as
   patient folders; one report per patient and an index.

Callable from a notebook: ``vexscreen.demo.run_demo("demo_out")`` returns every result;
``on_step(step, info)`` is called as each step starts or ends (:data:`DEMO_STEPS`), which
``vexscreen demo`` turns into text with :func:`vexscreen.report.format_demo_step`. A re-run
resumes: finished stages are kept.
"""
from __future__ import annotations

import inspect
import os
import shutil
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
    "measurements": "start of the cell measurements: comparisons, statistic",
    "measurements_done": "measurements done: tables ({ct: measurements_by_patient}), rows ({variant: "
                         "summary rows}), seconds",
    "screening": "start of 5 (screening held-out phantom patients): settings, heldout, uses",
    "screening_model": "the reference model fitted: model (ReferenceModel), folder",
    "screened": "one held-out patient screened: patient, truth, result (ScreeningResult), report",
    "screening_done": "5 done: seconds, index, n_patients, uses",
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


#: Step 5's reference model: the study's classifier per cell type (bootstrapped medians of 10
#: cells -> RBF SVM with Platt scaling, METHOD.md Step 2b), VEXAS against both other classes
#: (the study's "VEXAS vs MDS+UBA1-WT"), neutrophils and monocytes combined by their mean.
#: Demo-sized, to keep the step within some 40 s of CPU: 50 aggregates per patient (the study:
#: 100), a type counts from 20 cells (default 30, docs/screening.md; this cohort is 2 % of the
#: study's), the interval from 50 bootstrap replicates (default 200).
DEMO_SCREENING = dict(classes=("MDS", "UBA1-WT", "VEXAS"), cell_types=("PN", "MO"), n_aggregates=50,
                      min_cells=20, n_bootstrap=50, statistic="mean")
#: Step 5's held-out patients: the phantom's ``small`` cohort (2 patients per class, 2 smears each)
#: drawn with another seed than the reference's (DEMO_PHANTOM), 12 cells of each type per smear.
DEMO_HELDOUT = dict(cohort="small", scale=2.0, seed=1, cell_types=("PN", "MO"), encoder_test_per_group=0)
#: the class folders of a patient folder, as a CellaVision export names them
CLASS_FOLDERS = {"PN": "neutrophil", "MO": "monocyte", "LY": "lymphocyte"}


def heldout_patients(phantom, out) -> dict:
    """A phantom cohort's patients as patient folders ``out/phantom-<CLASS>-<k>/<smear>/<class>/<image>``
    (class folders ``neutrophil``, ``monocyte``, ``lymphocyte``, as in an export); ``{folder: true class}``.

    Each image is a relative symbolic link to the phantom's own (a copy where links are not
    supported), so the folders cost no space and survive moving ``out`` with the phantom.
    """
    phantom, out = Path(phantom), Path(out)
    truth = {}
    for ct in (c for c in CLASS_FOLDERS if (phantom / c).is_dir()):
        for group in sorted(p for p in (phantom / ct).iterdir() if p.is_dir()):
            for patient in sorted(p for p in group.iterdir() if p.is_dir()):
                name = "phantom-" + patient.name.replace("[", "-").replace("]", "")
                truth[out / name] = group.name
                for image in sorted(patient.glob("*/*.png")):
                    _link(image, out / name / image.parent.name / CLASS_FOLDERS[ct] / image.name)
    return dict(sorted(truth.items()))


def _link(source: Path, target: Path) -> None:
    if target.is_symlink() or target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(os.path.relpath(source, target.parent), target)
    except (OSError, NotImplementedError):
        shutil.copyfile(source, target)


def measure_reference(measure_fn, images, out, workers: int = 1) -> Path:
    """Measure a reference cohort's images (``images``: one cell type's study layout) into ``out``
    with ``measure_fn(scan, out_dir)`` (given ``workers=`` when it takes it). A finished run with
    the same measuring version, settings and images is kept (``measure_scan`` checks), so a re-run
    after a change of the measuring code measures again instead of reusing stale numbers."""
    from .data.scan import scan_images

    out = Path(out)
    kwargs = {"workers": workers} if "workers" in inspect.signature(measure_fn).parameters else {}
    measure_fn(scan_images(images, progress=False), out, **kwargs)
    return out


#: the comparisons of the measurement step, and its aggregate statistic (the mean keeps the
#: fraction of vacuolated cells that a median of 10 cells erases; docs/experiments.md section 2)
DEMO_MEASUREMENTS = {"comparisons": (("UBA1-WT", "VEXAS"), ("MDS", "VEXAS")), "statistic": "mean"}


def measurement_demo(out, pipeline_out, phantom, *, workers: int = 2, n_jobs: int = 2,
                     on_step=_silent, cell_types=CELL_TYPES, evaluate_kwargs: dict | None = None) -> dict | None:
    """Measure the phantom's cells into ``out/<CT>`` (kept once written); per cell type the
    groups' measurement table and :data:`DEMO_MEASUREMENTS`' comparisons on the measurements
    alone and on ``pipeline_out/encodings/<CT>`` + the measurements. None without
    ``vexscreen.morphology``. ``evaluate_kwargs``: over evaluate's defaults (tests). Returns ``{"tables": {ct: ...}, "rows": {variant: rows}}``."""
    from .data import combine_blocks, load_encodings, write_json
    from .evaluation import evaluate
    from .evaluation.measurements import MEASURES_BY_CELL_TYPE, measurements_by_patient, read_measurements
    from .pipeline import summary_row
    from .screen.measuring import default_measure_fn

    measure_fn = default_measure_fn()
    if measure_fn is None:
        return None
    out, t0 = Path(out), time.perf_counter()
    settings = DEMO_MEASUREMENTS
    on_step("measurements", dict(settings))
    tables, rows = {}, {"measurements": [], "encodings + measurements": []}
    for ct in cell_types:
        folder = measure_reference(measure_fn, Path(phantom) / ct, out / ct, workers)
        tables[ct] = measurements_by_patient(read_measurements(folder), ("MDS", "UBA1-WT", "VEXAS"), source=folder,
                                             measures=MEASURES_BY_CELL_TYPE[ct])
        meas = load_encodings(folder)
        joint = combine_blocks([load_encodings(Path(pipeline_out) / "encodings" / ct), meas])
        for variant, enc in (("measurements", meas), ("encodings + measurements", joint)):
            for groups in settings["comparisons"]:
                name = f"evaluation_{ct}_{'_'.join(groups)}_{variant.replace(' + ', '+')}.json"
                r = evaluate(enc, groups, n_jobs=n_jobs, statistic=settings["statistic"],
                             **(evaluate_kwargs or {}))
                write_json(out / name, r)
                rows[variant].append(summary_row(ct, r))
    result = {"tables": tables, "rows": rows}
    on_step("measurements_done", {**result, "seconds": time.perf_counter() - t0})
    return result


def screening_demo(out, pipeline_out, phantom, *, workers: int = 2, on_step=_silent, settings: dict | None = None,
                   heldout: dict | None = None, measurements: bool | None = None,
                   measured: Path | None = None) -> dict:
    """Step 5: fit a reference model on the phantom cohort, screen held-out phantom patients.

    The model rests on ``pipeline_out/encodings/<CT>`` (encoded by ``pipeline_out/encoder``) and,
    with ``measurements`` (None: when ``vexscreen.morphology`` is installed), on the phantom's
    images measured into ``measured/<CT>`` (default ``out/measurements``; kept once written). It is saved to ``out/model`` and loaded back;
    the held-out cohort (``out/heldout_phantom``, :data:`DEMO_HELDOUT` updated with ``heldout``) is
    arranged as patient folders (``out/patients``, :func:`heldout_patients`) and each one screened
    into ``out/reports/<PATIENT>/`` (report.html, report.json, cells.csv; index.html for all).
    Returns ``{"model": folder, "patients": [{"patient", "truth", "result", "report"}], "index": path}``.
    """
    from .exceptions import InputError
    from .model import ReferenceModel
    from .phantom import make_cohort
    from .report.screening import render_index, render_patient_report
    from .screen.measuring import default_measure_fn

    out, t0 = Path(out), time.perf_counter()
    settings = {**DEMO_SCREENING, **(settings or {})}
    heldout = {**DEMO_HELDOUT, **(heldout or {})}
    measure_fn = None if measurements is False else default_measure_fn()
    if measurements and measure_fn is None:
        raise InputError("measurements asked for, but vexscreen.morphology is not installed")
    uses = ["encodings"] + (["measurements"] if measure_fn else [])
    on_step("screening", {"settings": settings, "heldout": heldout, "uses": uses})
    blocks = {ct: {"encodings": Path(pipeline_out) / "encodings" / ct} for ct in settings["cell_types"]}
    if measure_fn is not None:
        for ct, b in blocks.items():
            b["measurements"] = measure_reference(measure_fn, Path(phantom) / ct,
                                                  Path(measured or out / "measurements") / ct, workers)
    model = ReferenceModel.load(ReferenceModel(**settings).fit(blocks).save(out / "model"))
    on_step("screening_model", {"model": model, "folder": out / "model"})
    cohort = make_cohort(out / "heldout_phantom", workers=workers, **heldout)
    screened = []
    for folder, truth in heldout_patients(cohort, out / "patients").items():
        result = model.screen(folder, out / "reports" / folder.name, measure_fn=measure_fn)
        report = render_patient_report(result.to_dict(), out / "reports" / folder.name, result.image_root)
        screened.append({"patient": folder.name, "truth": truth, "result": result, "report": report})
        on_step("screened", screened[-1])
    index = render_index([s["result"].to_dict() for s in screened], out / "reports")[1]
    on_step("screening_done", {"seconds": time.perf_counter() - t0, "index": index, "n_patients": len(screened),
                               "uses": uses})
    return {"model": out / "model", "patients": screened, "index": index}


def run_demo(out="demo_out", plots: bool = True, n_jobs: int = 2, workers: int = 2,
             train_config=None, phantom: dict | None = None, on_step=None, progress: bool = False) -> dict:
    """Run the five steps (module docstring) into ``out``; return ``{"consistency": {ct: (order, M)},
    "synthetic": rows, "pipeline": run_image_pipeline result, "screening": screening_demo result}``.

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
    measured = measurement_demo(out / "measurements", out / "pipeline", ph, workers=workers, n_jobs=n_jobs,
                                on_step=on_step)
    screening = screening_demo(out / "screening", out / "pipeline", ph, workers=workers, on_step=on_step,
                               measured=out / "measurements")
    on_step("done", {"seconds": time.perf_counter() - t0, "out": out})
    return {"consistency": tables, "synthetic": synthetic, "pipeline": result, "measurements": measured,
            "screening": screening}
