"""The proof (issue 4, item 5): the full image pipeline on phantom cohorts with known truth.

A study-structured phantom (`--scale`) and a `null` phantom (same structure and
nuisance, no group phenotype): train the encoder on each cohort's unlabeled
images, encode, test consistency on the encoder-test cells, evaluate every
comparison of the study per cell type. Expected: VEXAS separated from UBA1-WT
and MDS on neutrophils and monocytes, chance on lymphocytes, chance everywhere
on the null cohort. `--untrained` adds the same backbone never trained, as the
baseline the training has to beat.

`--measurements` (issue 11, item 5c) also measures every phantom cell (`vexscreen.morphology.
measure_scan`, once per cohort) and evaluates the same comparisons on the measurements alone
and on each encoder's encodings + the measurements (each block L2-normalised, joined:
`vexscreen.data.combine_blocks`), with the per-patient measurement table beside them.
`--patients-per-group N` draws N patients per group (`vexscreen phantom --patients-per-group`).

Run: `.venv/bin/python experiments/phantom_proof.py --out experiments/out/proof [--scale 0.05]`
(resumable: finished stages are kept). Writes OUT/summary.json: every run's rows, timing,
feature table and consistency, with the command and commit.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from vexscreen.cli import library_log
from vexscreen.data import combine_blocks, load_encodings
from vexscreen.study import CELL_TYPES, STUDY_COMPARISONS
from vexscreen.demo import demo_train_config
from vexscreen.phantom import make_cohort
from vexscreen.phantom.style import STYLES
from vexscreen.pipeline import run_image_pipeline
from vexscreen.report import format_pipeline_result, format_summary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _provenance import write_results  # noqa: E402


def untrained_encoder(path: Path, cfg) -> Path:
    """encoder.pt of the initialisation training starts from (seed 43, or --weights), never trained
    on cells (kept once written)."""
    from vexscreen.encoder.training import save_untrained_encoder

    return path if path.is_file() else save_untrained_encoder(path, cfg)


def measure_cohort(phantom: Path, out: Path, workers: int, cell_types=CELL_TYPES) -> dict:
    """measurements of each cell type's phantom cells: ``{ct: folder}``."""
    from vexscreen.data import scan_images
    from vexscreen.morphology import measure_scan

    dirs = {}
    for ct in cell_types:  # a finished measurement with the same version and settings is kept
        dirs[ct] = out / ct
        t = time.perf_counter()
        s = measure_scan(scan_images(phantom / ct, layout="labeled"), dirs[ct], workers=workers)
        print(f"measured {s['images']} {ct} cells (version {s['version']}) in {time.perf_counter() - t:.0f} s; "
              f"quality {s['quality']}")
    return dirs


def evaluate_blocks(enc, ct: str, comparisons, out: Path, kwargs: dict) -> list[dict]:
    """The comparisons on one (possibly combined) encoding set; one summary row each."""
    from vexscreen.data import write_json
    from vexscreen.evaluation import evaluate
    from vexscreen.pipeline import summary_row

    rows = []
    for groups in comparisons:
        r = evaluate(enc, groups, n_jobs=2, **kwargs)
        write_json(out / f"evaluation_{ct}_{'_'.join(groups)}.json", r)
        rows.append(summary_row(ct, r))
    return rows


def measurement_runs(ph: Path, cohort: str, variants: list, args, comparisons, kwargs) -> dict:
    """Measurements alone and each variant's encodings + measurements, per cell type; the
    per-patient measurement tables."""
    from vexscreen.evaluation.measurements import (MEASURES_BY_CELL_TYPE, format_measurements_by_patient,
                                                   measurements_by_patient, read_measurements)
    from vexscreen.report import format_summary

    meas = measure_cohort(ph, args.out / f"measurements_{cohort}", args.workers, args.cell_types)
    tag = "" if kwargs.get("statistic", "median") == "median" else f"_{kwargs['statistic']}"
    runs = {"measurements": [], **{f"{name}+measurements": [] for name, _ in variants}}
    tables = {}
    for ct in args.cell_types:
        m = load_encodings(meas[ct])
        runs["measurements"] += evaluate_blocks(m, ct, comparisons, args.out / f"{cohort}_measurements{tag}",
                                                kwargs)
        for name, _ in variants:
            joint = combine_blocks([load_encodings(args.out / f"{cohort}_{name}" / "encodings" / ct), m])
            runs[f"{name}+measurements"] += evaluate_blocks(joint, ct, comparisons,
                                                            args.out / f"{cohort}_{name}+measurements{tag}",
                                                            kwargs)
        table = read_measurements(meas[ct])
        for groups in comparisons:
            r = measurements_by_patient(table, groups, measures=MEASURES_BY_CELL_TYPE[ct])
            print(f"\n[{cohort} {ct} {'/'.join(groups)}: measurements per patient]")
            print(format_measurements_by_patient(r))
            tables[f"{ct} {'/'.join(groups)}"] = {"table": r["table"].to_dict(orient="records"), "tests": r["tests"]}
    for name, rows in runs.items():
        print(f"\n--- {cohort} cohort, {name} ---")
        print(format_summary(rows))
    return {"rows": runs, "by_patient": tables}


def parse_args():
    """The command line, checked; ``cell_types`` as a tuple."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("experiments/out/proof"))
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--max-images", type=int, default=1200)
    ap.add_argument("--crop", type=int, default=None)
    ap.add_argument("--color-jitter", type=float, default=None)
    ap.add_argument("--field", type=int, default=None,
                    help="views and encode from the centred N x N square (0 = whole image; default: the demo's)")
    ap.add_argument("--image-scale", type=float, default=None, help="train/encode images at this scale")
    ap.add_argument("--tag", default="trained", help="name of the trained variant's output folder")
    ap.add_argument("--cohorts", default="study,null")
    ap.add_argument("--untrained", action="store_true", help="also run the untrained baseline")
    ap.add_argument("--untrained-only", action="store_true", help="only the untrained baseline")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--weights", default=None, metavar="imagenet|FILE",
                    help="start from ImageNet weights (imagenet: torchvision's by name, as the study) or a local "
                         "file (torchvision state dict; DinoBloom checkpoint for dinobloom-*)")
    ap.add_argument("--backbone", default="resnet18", help="backbone by name (`vexscreen backbones`)")
    ap.add_argument("--patients-per-group", type=int, default=None, metavar="N",
                    help="N patients per group (default: the study's 3/3/6)")
    ap.add_argument("--measurements", action="store_true",
                    help="also evaluate on cell measurements alone and on encodings + measurements")
    ap.add_argument("--vexas-only", action="store_true",
                    help="only the comparisons with VEXAS (UBA1-WT/VEXAS, MDS/VEXAS): half the evaluation time")
    ap.add_argument("--aggregates", type=int, default=100, help="aggregates per patient (study: 100)")
    ap.add_argument("--statistic", choices=("median", "mean"), default="median",
                    help="aggregate statistic of the measurement runs (the encoder runs keep the study's median); "
                         "mean keeps the vacuolated fraction that a median of 10 cells erases")
    ap.add_argument("--cell-types", default=",".join(CELL_TYPES), help="comma-separated (default: all)")
    ap.add_argument("--source-images", type=Path, default=None, metavar="DIR",
                    help="real-texture phantom: real normal cells of DIR (../shared/data/wbc) with the "
                         "phenotype's vacuoles planted (phantom --source-images); no encoder test set")
    ap.add_argument("--style", choices=tuple(STYLES), default="drawn",
                    help="how the phantom's cells are drawn (phantom --style; docs/phantom.md)")
    args = ap.parse_args()
    args.cell_types = tuple(args.cell_types.split(","))
    unknown = [ct for ct in args.cell_types if ct not in CELL_TYPES]
    if unknown:
        ap.error(f"--cell-types: unknown {unknown}; choose from {','.join(CELL_TYPES)}")
    return args


def main():
    args = parse_args()
    comparisons = tuple(c for c in STUDY_COMPARISONS if not args.vexas_only or c in (("UBA1-WT", "VEXAS"),
                                                                                     ("MDS", "VEXAS")))
    kwargs = {"aggregates": args.aggregates}
    cfg = demo_train_config(max_images=args.max_images, epochs=args.epochs or 5, backbone=args.backbone,
                            weights=args.weights)
    if args.crop:
        cfg.crop = args.crop
    if args.color_jitter is not None:
        cfg.color_jitter = args.color_jitter
    if args.image_scale:
        cfg.scale = args.image_scale
    if args.field is not None:
        cfg.field = args.field or None
    summary, measured = {}, {}
    for cohort in args.cohorts.split(","):
        t = time.perf_counter()
        ph = make_cohort(args.out / f"phantom_{cohort}", cohort=cohort, scale=args.scale, seed=0,
                         workers=args.workers, cell_types=args.cell_types,
                         encoder_test_per_group=20 if cohort == "study" and not args.source_images else 0,
                         progress=True, patients_per_group=args.patients_per_group,
                         source_images=args.source_images, style=args.style)
        print(f"[{cohort}] phantom ready in {time.perf_counter() - t:.0f} s")
        # the null cohort is encoded by the encoder trained on the study cohort's images:
        # whatever it has learned, with no group phenotype any signal would be leakage
        study_encoder = args.out / f"study_{args.tag}" / "encoder" / "encoder.pt"
        if cohort == "null" and not study_encoder.is_file() and not args.untrained_only:
            raise SystemExit(f"the null cohort is encoded by the study cohort's encoder: run --cohorts study "
                             f"first ({study_encoder} missing)")
        variants = [] if args.untrained_only else [(args.tag, study_encoder if cohort == "null" else None)]
        if args.untrained or args.untrained_only:
            name = "untrained" if args.tag == "trained" else f"untrained_{args.tag}"
            variants.insert(0, (name, untrained_encoder(args.out / f"{name}_{cohort}.pt", cfg)))
        for name, enc in variants:
            r = run_image_pipeline(ph, args.out / f"{cohort}_{name}", cfg, encoder_path=enc,
                                   cell_types=args.cell_types,
                                   encode_workers=args.workers, progress=True, comparisons=comparisons,
                                   evaluate_kwargs=kwargs)
            print(f"\n===== {cohort} cohort, {name} encoder; timing {r['timing']} =====")
            print(format_pipeline_result(r))
            summary[(cohort, name)] = r
        if args.measurements:
            measured[cohort] = measurement_runs(ph, cohort, variants, args, comparisons,
                                                {**kwargs, "statistic": args.statistic})
    print("\n\n========== summary ==========")
    for (cohort, name), r in summary.items():
        print(f"\n--- {cohort} cohort, {name} encoder (scale {args.scale}); timing {r['timing']} ---")
        print(format_summary(r["rows"]))
    runs = {f"{c}_{n}": json.loads((args.out / f"{c}_{n}" / "summary.json").read_text()) for c, n in summary}
    runs.update({f"{c}_measured": m for c, m in measured.items()})
    print(f"\nwrote {write_results(args.out / 'summary.json', {'train': dataclasses.asdict(cfg), **runs})}")


if __name__ == "__main__":
    with library_log():  # the pipeline's status lines (encoding counts) on stderr
        main()
