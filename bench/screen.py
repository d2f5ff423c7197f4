"""Benchmark `vexscreen screen`: one phantom patient of 500 cells, end to end (issue 12, item 8).

The patient: a VEXAS phantom patient, two smears, 400 neutrophils and 100 monocytes, as
a patient folder (<smear>/neutrophil/, <smear>/monocyte/). The model: VEXAS against
MDS+UBA1-WT, neutrophils and monocytes, the model's defaults (100 aggregates, 200
bootstrap replicates), fitted on a small phantom reference cohort encoded by an
untrained ResNet18 at the demo's geometry (the centred 192 px field); speed does not
depend on what the weights learnt. `--demo DEMO` uses a demo's encoder and encodings
instead (12 reference patients).

Reported: the end-to-end seconds of `ReferenceModel.screen` + the report (as `vexscreen
screen` runs them), and the share of each stage, timed one after the other on the same
patient: scan (find and decode every image), encode (the model's encoder), measure
(vexscreen.morphology, when installed; else skipped with a note), classify (solitary cell
scores, aggregates, bootstrap interval, result) and report (report.html with embedded
images and figures, report.json, cells.csv); the model folder's size and load time.
Beside it, in the same run, the baseline: `encode` alone of the same 500 images, and the
ratio of the end-to-end time to it.

    nice .venv/bin/python bench/screen.py [--demo demo_out] [--workers 0]

Writes bench/results/screen.json. The machine may be shared: wall-clock times of this run,
with the load average recorded.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import write_results  # noqa: E402
from _common import ROOT  # noqa: E402

from vexscreen.model import ReferenceModel  # noqa: E402
from vexscreen.report.screening import render_patient_report  # noqa: E402
from vexscreen.screen import cell_features, scan_patient  # noqa: E402
from vexscreen.screen.measuring import default_measure_fn  # noqa: E402

CLASSES, CELL_TYPES = ("MDS", "UBA1-WT", "VEXAS"), ("PN", "MO")
PATIENT_CELLS = {"PN": 400, "MO": 100}
FOLDERS = {"PN": "neutrophil", "MO": "monocyte"}


def phantom_patient(folder: Path, seed: int = 7) -> Path:
    """One VEXAS phantom patient of 500 cells in two smears, as a patient folder (kept once drawn)."""
    from vexscreen.phantom import phenotypes as P
    from vexscreen.phantom.cohort import _save_png
    from vexscreen.phantom.render import render

    if sum(1 for _ in folder.rglob("*.png")) == sum(PATIENT_CELLS.values()):
        return folder
    pheno = P.patient_phenotype("VEXAS", "bench-VEXAS", seed)
    for ct, n in PATIENT_CELLS.items():
        for i in range(n):
            smear = f"smear{i % 2 + 1}"
            rng = P.generator(seed, P.TYPE_IDS[ct], i)
            spec = P.cell_spec(ct, pheno, P.smear_nuisance(smear, seed), rng)
            _save_png(folder / smear / FOLDERS[ct] / f"cell_{i:04d}.png", render(spec, rng).image)
    return folder


def reference_model(work: Path, demo: Path | None, workers: int) -> Path:
    """The model folder: fitted on a demo's encodings, or on a small phantom encoded by an untrained encoder."""
    from vexscreen.pipeline import encode_folder

    if demo is not None:
        enc_root = demo / "pipeline" / "encodings"
    else:
        from vexscreen.demo import demo_train_config
        from vexscreen.encoder.training import save_untrained_encoder
        from vexscreen.phantom import make_cohort

        ph = make_cohort(work / "reference_phantom", cohort="small", scale=2.0, seed=0, workers=2,
                         cell_types=CELL_TYPES, encoder_test_per_group=0)
        encoder = work / "encoder.pt"
        if not encoder.is_file():
            save_untrained_encoder(encoder, demo_train_config())
        enc_root = work / "encodings"
        for ct in CELL_TYPES:
            encode_folder(encoder, ph / ct, enc_root / ct, workers=workers, progress=False)
    model = ReferenceModel(classes=CLASSES, cell_types=CELL_TYPES).fit({ct: enc_root / ct for ct in CELL_TYPES})
    return model.save(work / "model")


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def stages(model, patient: Path, work: Path, workers: int) -> dict:
    """Seconds of each stage, one after the other on the same patient (the encodings of one stage feed the next)."""
    out = {}
    out["scan"], scan = timed(scan_patient, patient)
    t = time.perf_counter()
    for ct in model.classifiers_:
        cell_features(model, ct, scan, work / ct, workers=workers)
    out["encode"] = time.perf_counter() - t
    measure = default_measure_fn()
    if measure is not None:
        t = time.perf_counter()
        for ct in model.classifiers_:
            measure(scan.scan_result(ct), work / ct / "measurements")
        out["measure"] = time.perf_counter() - t
    out["classify"], result = timed(model.screen, scan, work, workers=workers)  # encodings there: resumed
    out["report"], _ = timed(render_patient_report, result.to_dict(), work, result.image_root)
    return out


def encode_alone(model, patient: Path, work: Path, workers: int) -> float:
    """Baseline: the model's encoder alone on the same images (``encode_scan`` per cell type, the
    images already found), what any encoding-based screening has to spend."""
    from vexscreen.encoder.inference import encode_scan
    from vexscreen.screen.screening import encode_geometry

    scan = scan_patient(patient)
    t = time.perf_counter()
    for ct in model.classifiers_:
        g = encode_geometry(model.encoders_[ct]["settings"])
        encode_scan(model.encoders_[ct]["source"], scan.scan_result(ct), work / ct, full_size=g["full_size"],
                    oversize=g["oversize"], workers=workers, progress=False)
    return time.perf_counter() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=None, help="use this demo output's encoder and encodings")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers, as `screen --workers` (default 0)")
    ap.add_argument("--repeats", type=int, default=3, help="model loads timed (median)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "screen")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "screen.json"))
    args = ap.parse_args(argv)
    print(f"screen benchmark ({os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f})", flush=True)
    patient = phantom_patient(args.work / "patients" / "bench-VEXAS")
    model_dir = reference_model(args.work, args.demo, args.workers)
    loads = [timed(ReferenceModel.load, model_dir)[0] for _ in range(args.repeats)]
    model = ReferenceModel.load(model_dir)
    files = {p.name: p.stat().st_size for p in sorted(model_dir.iterdir())}
    tmp = Path(tempfile.mkdtemp(prefix="vexscreen_bench_screen_"))
    try:
        t = time.perf_counter()  # end to end, as `vexscreen screen` does it: nothing cached
        result = model.screen(patient, tmp / "e2e", workers=args.workers)
        render_patient_report(result.to_dict(), tmp / "e2e", result.image_root)
        end_to_end = time.perf_counter() - t
        parts = stages(model, patient, tmp / "stages", args.workers)
        baseline = encode_alone(model, patient, tmp / "encode", args.workers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(parts.values())
    n = sum(PATIENT_CELLS.values())
    print(f"\none patient, {n} cells ({', '.join(f'{v} {k}' for k, v in PATIENT_CELLS.items())}): "
          f"{result.statement}")
    print(f"end to end (screen + report): {end_to_end:.1f} s ({n / end_to_end:.0f} cells/s)")
    print(f"{'stage':<9} {'s':>7} {'share':>6}")
    for k, v in parts.items():
        print(f"{k:<9} {v:7.2f} {100 * v / total:5.0f}%")
    if "measure" not in parts:
        print("measure   skipped: vexscreen.morphology is not installed (the model uses encodings only)")
    print(f"\nbaseline, in the same run: encode alone of the same {n} images {baseline:.1f} s; "
          f"screening end to end / encode alone = {end_to_end / baseline:.2f}x")
    size = sum(files.values())
    print(f"model folder {size / 2**20:.1f} MiB ({', '.join(f'{k} {v / 2**20:.2f}' for k, v in files.items())}); "
          f"load {statistics.median(loads):.2f} s (median of {args.repeats})")
    write_results(args.json, {
        "patient_cells": PATIENT_CELLS, "statement": result.statement, "workers": args.workers,
        "reference": "demo encodings" if args.demo else "small phantom, untrained resnet18 (demo geometry)",
        "model_settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()},
        "end_to_end_s": round(end_to_end, 2), "cells_per_second": round(n / end_to_end, 1),
        "stages_s": {k: round(v, 2) for k, v in parts.items()},
        "stages_share": {k: round(v / total, 3) for k, v in parts.items()},
        "measure": "timed" if "measure" in parts else "skipped: vexscreen.morphology not installed",
        "baseline_encode_alone_s": round(baseline, 2), "ratio_end_to_end_to_encode": round(end_to_end / baseline, 2),
        "model_bytes": size, "model_files_bytes": files, "model_load_s": round(statistics.median(loads), 3),
        "load_average": round(os.getloadavg()[0], 1), "cpus": os.cpu_count()})
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
